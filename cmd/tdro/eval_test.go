package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tdro/tdro/internal/shareddata"
)

func runEval(t *testing.T, args ...string) error {
	t.Helper()
	cmd := newEvalCmd()
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	return cmd.Execute()
}

// TestEvalCommand runs BM25 on ADI, then scores its run file as an
// external run beside the earlier results read back with --compare.
func TestEvalCommand(t *testing.T) {
	data := shareddata.Dir(t, "eval/classic/adi")
	first := t.TempDir()
	if err := runEval(t, "--model", "bm25", "--data", "adi", "--data-dir", data, "--no-cache", "--out", first); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"results.md", "report.html", "results/bm25/adi.json", "runs/adi/bm25.trec"} {
		if _, err := os.Stat(filepath.Join(first, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	second := t.TempDir()
	if err := runEval(t, "--run", "again="+filepath.Join(first, "runs", "adi", "bm25.trec"), "--compare", first,
		"--baseline", "bm25", "--data", "adi", "--data-dir", data, "--out", second); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(second, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	// The same run scored twice: identical values, both bold, no mark.
	var row string
	for _, l := range strings.Split(string(md), "\n") {
		if strings.HasPrefix(l, "| adi |") {
			row = l
			break
		}
	}
	cells := strings.Split(row, "|")
	if len(cells) < 4 || strings.TrimSpace(cells[2]) != strings.TrimSpace(cells[3]) || !strings.Contains(cells[2], "**") || strings.ContainsAny(row, "†‡") {
		t.Errorf("adi row %q: want the same bold value twice and no significance mark\n%s", row, md)
	}
	err = runEval(t, "--model", "bm25", "--data", "nosuchset", "--data-dir", data, "--out", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "bundled:") {
		t.Errorf("unknown set: %v", err)
	}
}
