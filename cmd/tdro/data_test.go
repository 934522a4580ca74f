package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/internal/shareddata"
)

// execute runs a fresh command with args and returns its stdout and stderr.
func execute(cmd *cobra.Command, args ...string) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err = cmd.Execute()
	return out.String(), errb.String(), err
}

// TestDataImportSkipBad: a malformed item stops the import with its file,
// line and field, or, with --skip-bad, is skipped, counted and listed, and
// every good item is written. jsonl streams; ko_qpair goes through the
// importers; both with and without mining.
func TestDataImportSkipBad(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		format, src string
		extra       []string
		wantErr     string // without --skip-bad
		wantRecords int    // with it
	}{
		{"jsonl", `{"query":"a","pos":["p1"]}` + "\n" + `{"query":"","pos":["p2"]}` + "\n" + `{"query":"c","pos":["p3"]}` + "\n",
			nil, `line 2: field "query": empty`, 2},
		{"ko_qpair", "question1,question2,is_duplicate\n사과,사과는,0\n배,배는,7\n감,감은,0\n딸기,딸기는,0\n",
			[]string{"--negatives", "1"}, `line 3: field "is_duplicate"`, 3},
	} {
		t.Run(tc.format, func(t *testing.T) {
			in := filepath.Join(dir, tc.format+".in")
			if err := os.WriteFile(in, []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, tc.format+".jsonl")
			args := append([]string{"--format", tc.format, "--out", out}, tc.extra...)
			_, _, err := execute(dataImportCmd(), append(args, in)...)
			if err == nil || !strings.Contains(err.Error(), in) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("without --skip-bad: got %v, want an error naming %s and %q", err, in, tc.wantErr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("a failed import left an output file")
			}
			stdout, stderr, err := execute(dataImportCmd(), append(append(args, "--skip-bad"), in)...)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := data.ReadRecords(out)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != tc.wantRecords || !strings.Contains(stdout, "1 malformed skipped") || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("--skip-bad: %d records (want %d); stdout %q; stderr %q", len(recs), tc.wantRecords, stdout, stderr)
			}
		})
	}
}

// TestDataPrepareAndCheck runs tdro data prepare on two bundled domains
// twice (identical bytes), reads the table, and validates the result with
// tdro data check; a broken records file fails the check at its line.
func TestDataPrepareAndCheck(t *testing.T) {
	shared := shareddata.Dir(t, "train/agnews", "train/conala", "eval")
	var outs [2]string
	var table string
	for i := range outs {
		outs[i] = t.TempDir()
		stdout, _, err := execute(dataPrepareCmd(), "--out", outs[i], "--data", shared, "--domains", "agnews,conala",
			"--max-per-domain", "30", "--negatives", "2")
		if err != nil {
			t.Fatal(err)
		}
		table = stdout
	}
	for _, col := range []string{"domain", "lang", "records", "% hard neg", "dup removed", "agnews", "conala"} {
		if !strings.Contains(table, col) {
			t.Errorf("prepare table lacks %q:\n%s", col, table)
		}
	}
	for _, f := range []string{"mixture.json", "agnews.jsonl", "conala.jsonl"} {
		a, errA := os.ReadFile(filepath.Join(outs[0], f))
		b, errB := os.ReadFile(filepath.Join(outs[1], f))
		if errA != nil || errB != nil || !bytes.Equal(a, b) || len(a) == 0 {
			t.Errorf("%s: not identical across runs with the same seed (%v, %v)", f, errA, errB)
		}
	}
	mix := filepath.Join(outs[0], "mixture.json")
	stdout, _, err := execute(dataCheckCmd(), mix)
	counted := 0
	for _, l := range strings.Split(stdout, "\n") {
		if f := strings.Fields(l); len(f) == 4 && strings.HasSuffix(f[0], ".jsonl") && f[1] == "30" && f[3] == "60" {
			counted++
		}
	}
	if err != nil || counted != 2 {
		t.Errorf("check of the prepared mixture: %v; want 2 domains of 30 records with 60 negatives:\n%s", err, stdout)
	}
	bad := filepath.Join(outs[0], "conala.jsonl")
	os.WriteFile(bad, []byte(`{"query":"x","pos":["y"]}`+"\n"+`{"query":"x"`+"\n"), 0o644)
	if _, _, err := execute(dataCheckCmd(), mix); err == nil || !strings.Contains(err.Error(), bad+" line 2") {
		t.Errorf("check of a broken domain file: got %v, want %s line 2", err, bad)
	}
}
