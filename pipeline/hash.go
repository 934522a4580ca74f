package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
)

// HashPath returns the SHA-256 of a file's content, or of a directory's
// regular files (relative names and contents, in lexical order). Hidden
// files (temporary files of atomicfile, locks) are left out.
func HashPath(path string) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if !info.IsDir() {
		if err := hashFile(h, path); err != nil {
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != path && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(path, p)
		fmt.Fprintf(h, "%s\x00", filepath.ToSlash(rel))
		return hashFile(h, p)
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(h io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("hash %s: %w", path, err)
	}
	fmt.Fprintf(h, "\x00%d\x00", n)
	return nil
}

// Versions identifies the software that produced a stage. It is recorded in
// manifests but not part of a stage's key: rebuilding tdro does not by itself
// invalidate finished stages.
type Versions struct {
	Tdro  string `json:"tdro"`
	GoMLX string `json:"gomlx"`
	Go    string `json:"go"`
}

// CurrentVersions reads the versions from the binary's build information.
func CurrentVersions() Versions {
	v := Versions{Tdro: "unknown", GoMLX: "unknown", Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Tdro = bi.Main.Version
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v.Tdro += " " + rev + dirty
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/gomlx/gomlx" {
			v.GoMLX = d.Version
		}
	}
	return v
}
