package pipeline

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/tdro/tdro/internal/atomicfile"
)

// copyFile atomically copies src to dst.
func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(dst, b)
}

// copyDir copies the regular files of src (recursively) into a fresh dst:
// it fills a temporary sibling directory and renames it into place, so dst
// is either absent or complete.
func copyDir(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	err = filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil || !info.Mode().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		return copyFile(p, filepath.Join(tmp, rel))
	})
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
