package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

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
	// The copy has the layout and modes a directory written in place has
	// (MkdirTemp's 0700 would make every copied model private, and empty
	// folders such as 2_Normalize, which modules.json lists, must come too).
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	err = filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		switch {
		case info.IsDir():
			return os.MkdirAll(filepath.Join(tmp, rel), 0o755)
		case info.Mode().IsRegular():
			return copyFile(p, filepath.Join(tmp, rel))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// isTemp reports whether name is an interrupted atomic write's temporary
// (atomicfile's file, copyDir's directory): ".NAME.tmp-RANDOM".
func isTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-")
}

// removeTemps deletes the temporaries a kill left in and beside path: a
// stage that runs again owns them, and a half-copied model must not stay on
// disk. Results never depended on them (manifests skip hidden files).
func removeTemps(path string) error {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "."+filepath.Base(path)+".tmp-") {
			if err := os.RemoveAll(filepath.Join(filepath.Dir(path), e.Name())); err != nil {
				return err
			}
		}
	}
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != path && isTemp(d.Name()) {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
			if d.IsDir() {
				return filepath.SkipDir
			}
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
