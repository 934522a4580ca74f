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
	var skipped bool
	t.Run("missing", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Dir(t, "no/such/folder")
	})
	if !skipped {
		t.Fatal("Dir did not skip for a missing path")
	}
}
