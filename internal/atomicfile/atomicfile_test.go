package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCommitAndAbort(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "sub", "x.txt")
	if err := WriteFile(target, []byte("one")); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(target)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o644 {
		t.Fatalf("committed file mode = %v, want 0644 like a file others may read", info.Mode().Perm())
	}
	f, err := Create(target)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("two")
	f.Abort()
	got, _ := os.ReadFile(target)
	if string(got) != "one" {
		t.Fatalf("aborted write changed the target: %q", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(target))
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
	if err := f.Commit(); err == nil {
		t.Fatal("commit after abort succeeded")
	}
}
