package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDirFindsTheBundledData(t *testing.T) {
	dir := Dir(t, "train")
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.md")); err != nil {
		t.Fatalf("Dir = %s without MANIFEST.md: %v", dir, err)
	}
}

func TestDirSkipsWhenANeedIsMissing(t *testing.T) {
	t.Setenv("CI", "")
	var skipped bool
	t.Run("missing", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Dir(t, "no/such/folder")
	})
	if !skipped {
		t.Fatal("Dir did not skip for a missing path")
	}
}

// TestMissingDataFailsUnderCI: with CI=true a missing path fails, never
// skips (the check runs on a recording stand-in for testing.TB).
func TestMissingDataFailsUnderCI(t *testing.T) {
	t.Setenv("CI", "true")
	rec := &recorder{TB: t}
	func() {
		defer func() { recover() }() // Fatalf ends the stand-in's "test" with a panic
		missing(rec, os.ErrNotExist)
	}()
	if !rec.failed || rec.skipped {
		t.Fatalf("CI=true: failed %v, skipped %v; want a failure", rec.failed, rec.skipped)
	}
}

type recorder struct {
	testing.TB
	failed, skipped bool
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(string, ...any) {
	r.failed = true
	panic("fatal")
}
func (r *recorder) Skipf(string, ...any) {
	r.skipped = true
	panic("skip")
}
