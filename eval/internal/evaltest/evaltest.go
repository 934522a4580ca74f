// Package evaltest locates the bundled data for eval's tests and benchmarks.
package evaltest

import (
	"os"
	"path/filepath"
	"testing"
)

// DataDir returns ../shared/data relative to the repository root (found by
// walking up to go.mod), skipping tb when it is absent.
func DataDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("repository root (go.mod) not found")
		}
		dir = parent
	}
	data := filepath.Join(dir, "..", "shared", "data")
	if _, err := os.Stat(data); err != nil {
		tb.Skipf("bundled data not found at %s", data)
	}
	return data
}
