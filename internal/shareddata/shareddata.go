// Package shareddata locates the bundled data (../shared/data beside the
// repository root) for tests and benchmarks, so that every package finds it
// the same way and skips where it is absent — except under CI (CI=true),
// where missing data fails the test: a CI without the data must not be green.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the bundled data directory, ../shared/data relative to the
// repository root, or $TDRO_SHARED_DATA when set (a test binary carried to
// another machine, scripts/gpu/check.sh). Unless the directory, and each of needs (slash-separated
// paths inside it, such as "train" or "eval/classic/adi"), exists, it skips
// tb, or fails it when CI=true.
func Dir(tb testing.TB, needs ...string) string {
	tb.Helper()
	dir := os.Getenv("TDRO_SHARED_DATA")
	if dir == "" {
		dir = filepath.Join(repoRoot(tb), "..", "shared", "data")
	}
	for _, p := range append([]string{"."}, needs...) {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p))); err != nil {
			missing(tb, err)
		}
	}
	return dir
}

// missing skips tb, or fails it under CI.
func missing(tb testing.TB, err error) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("bundled data not found (CI=true: the data must be there): %v", err)
	}
	tb.Skipf("bundled data not found: %v", err)
}

// repoRoot is the nearest directory at or above the working directory (the
// package under test) that holds go.mod; tb fails when there is none.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("repository root (go.mod) not found above the package")
		}
		dir = parent
	}
}
