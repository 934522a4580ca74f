package importers

import (
	"os"
	"path/filepath"
	"testing"
)

// dataDir finds ../shared/data from the repo root, or skips.
func dataDir(t testing.TB) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			t.Skip("repo root not found")
		}
		dir = filepath.Dir(dir)
	}
	d := filepath.Join(dir, "..", "shared", "data")
	if _, err := os.Stat(filepath.Join(d, "train")); err != nil {
		t.Skip("bundled data not found")
	}
	return d
}
