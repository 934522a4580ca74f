// Package atomicfile writes files so that a crash never leaves a half-written
// one behind: data goes to a temporary file in the same directory, which is
// synced and renamed over the target only when complete.
package atomicfile

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// File is a file being written; the target appears only after Commit.
type File struct {
	*bufio.Writer
	f      *os.File
	target string
	done   bool
}

// Create starts writing target (its directory is created if needed).
func Create(target string) (*File, error) {
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", target, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", target, err)
	}
	return &File{Writer: bufio.NewWriterSize(f, 1<<16), f: f, target: target}, nil
}

// Commit flushes, syncs and renames the temporary file over the target.
func (a *File) Commit() error {
	if a.done {
		return fmt.Errorf("commit %s: already closed", a.target)
	}
	a.done = true
	err := a.Flush()
	if err == nil {
		// CreateTemp makes files 0600; results are for sharing, like os.Create's.
		err = a.f.Chmod(0o644)
	}
	if err == nil {
		err = a.f.Sync()
	}
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(a.f.Name(), a.target)
	}
	if err != nil {
		os.Remove(a.f.Name())
		return fmt.Errorf("write %s: %w", a.target, err)
	}
	return nil
}

// Abort discards the temporary file; it is a no-op after Commit, so
// `defer f.Abort()` is safe.
func (a *File) Abort() {
	if a.done {
		return
	}
	a.done = true
	a.f.Close()
	os.Remove(a.f.Name())
}

// WriteFile atomically replaces target with data.
func WriteFile(target string, data []byte) error {
	f, err := Create(target)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	return f.Commit()
}

// WriteJSON atomically writes v as indented JSON.
func WriteJSON(target string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", target, err)
	}
	return WriteFile(target, append(b, '\n'))
}

// CheckWritable creates dir if needed and makes sure a file can be written
// in it, so a command finds an unwritable output before hours of work.
func CheckWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("%s is not writable: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}
