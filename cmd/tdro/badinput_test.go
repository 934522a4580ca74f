package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tdro/tdro/internal/shareddata"
)

// TestMain lets the test binary be the tdro binary: with TDRO_AS_MAIN set
// it runs main() on its arguments, so the bad-input corpus runs real
// processes (exit codes, panics) without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("TDRO_AS_MAIN") == "1" {
		os.Args = append([]string{"tdro"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// badCase is one entry of testdata/badinput/cases.json.
type badCase struct {
	Name        string              `json:"name"`
	Args        []string            `json:"args"`
	Stdin       string              `json:"stdin"`
	Exit        int                 `json:"exit"`
	Stderr      []string            `json:"stderr"`
	NotStderr   []string            `json:"not_stderr"`
	Stdout      []string            `json:"stdout"`
	StdoutEmpty bool                `json:"stdout_empty"`
	Absent      []string            `json:"absent"`
	Present     []string            `json:"present"`
	File        map[string][]string `json:"file"`
}

// tdroProcess runs the test binary as tdro with args.
func tdroProcess(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "TDRO_AS_MAIN=1")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run tdro %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// TestBadInputCorpus runs every case of testdata/badinput/cases.json: each
// bad input must give its exit code and its message fragments, never a
// panic, never exit 0 where it should fail, and leave no output that looks
// complete.
func TestBadInputCorpus(t *testing.T) {
	dataDir := shareddata.Dir(t)
	b, err := os.ReadFile("testdata/badinput/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var corpus struct{ Cases []badCase }
	if err := json.Unmarshal(b, &corpus); err != nil {
		t.Fatal(err)
	}
	d := t.TempDir()
	if err := os.CopyFS(d, os.DirFS("testdata/badinput")); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	tok := filepath.Join(dataDir, "tokenizers/all-MiniLM-L6-v2")
	m1, m2, run := filepath.Join(work, "a", "model"), filepath.Join(work, "b", "model"), filepath.Join(work, "run")
	for _, setup := range [][]string{
		{"model", "init", "--preset", "tiny-bert", "--tokenizer", tok, "--out", m1},
		{"model", "init", "--preset", "tiny-bert", "--tokenizer", tok, "--out", m2, "--seed", "2"},
		{"train", "--mixture", filepath.Join(d, "mix_good.json"), "--tokenizer", tok, "--steps", "2", "--batch-size", "4",
			"--lr", "0.001", "--query-max-len", "8", "--passage-max-len", "16", "--checkpoint-every", "1", "--out", run},
	} {
		if _, stderr, code := tdroProcess(t, "", setup...); code != 0 {
			t.Fatalf("setup tdro %v: exit %d\n%s", setup, code, stderr)
		}
	}
	link := filepath.Join(work, "link-to-model")
	if err := os.Symlink(m1, link); err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer("$DATA", dataDir, "$TOK", tok, "$MLINK", link, "$M1", m1, "$M2", m2, "$RUN", run, "$D", d)
	for _, c := range corpus.Cases {
		t.Run(c.Name, func(t *testing.T) {
			out := t.TempDir()
			expand := func(s string) string { return strings.ReplaceAll(vars.Replace(s), "$T", out) }
			args := make([]string, len(c.Args))
			for i, a := range c.Args {
				args[i] = expand(a)
			}
			t0 := time.Now()
			stdout, stderr, code := tdroProcess(t, c.Stdin, args...)
			if strings.Contains(stderr, "panic:") || strings.Contains(stderr, "goroutine ") {
				t.Fatalf("tdro %v panicked:\n%s", args, stderr)
			}
			if code != c.Exit {
				t.Fatalf("tdro %v: exit %d, want %d\nstdout: %s\nstderr: %s", args, code, c.Exit, stdout, stderr)
			}
			for _, f := range c.Stderr {
				if !strings.Contains(stderr, expand(f)) {
					t.Errorf("stderr lacks %q:\n%s", f, stderr)
				}
			}
			for _, f := range c.NotStderr {
				if strings.Contains(stderr, expand(f)) {
					t.Errorf("stderr holds %q:\n%s", f, stderr)
				}
			}
			for _, f := range c.Stdout {
				if !strings.Contains(stdout, expand(f)) {
					t.Errorf("stdout lacks %q:\n%s", f, stdout)
				}
			}
			if c.StdoutEmpty && stdout != "" {
				t.Errorf("stdout should be empty (a partial output that looks complete):\n%s", stdout)
			}
			for _, p := range c.Absent {
				if _, err := os.Stat(expand(p)); err == nil {
					t.Errorf("%s exists after a refused input", expand(p))
				}
			}
			for _, p := range c.Present {
				if _, err := os.Stat(expand(p)); err != nil {
					t.Errorf("%s: %v", expand(p), err)
				}
			}
			for p, frags := range c.File {
				b, err := os.ReadFile(expand(p))
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range frags {
					if !strings.Contains(string(b), f) {
						t.Errorf("%s lacks %q:\n%s", p, f, b)
					}
				}
			}
			if strings.Contains(c.Name, "--check") && time.Since(t0) > 5*time.Second {
				t.Errorf("run --check took %v", time.Since(t0)) // a process start included; well under a second of checking
			}
		})
	}
}
