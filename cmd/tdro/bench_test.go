package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/tdro/tdro/internal/shareddata"
)

// TestBenchEvalPrintsItsTable runs tdro bench eval at a tiny size, in memory
// and streamed, and reads the table: every row it promises, with positive
// throughputs, so the bench command cannot rot between measurements.
func TestBenchEvalPrintsItsTable(t *testing.T) {
	data := shareddata.Dir(t, "eval/xquadr")
	for _, extra := range [][]string{nil, {"--stream", "--skip-encode"}} {
		args := append([]string{"--data-dir", data, "--texts", "24", "--max-len", "16", "--batch", "8",
			"--corpus", "3000", "--dim", "32", "--queries", "8", "--k", "10"}, extra...)
		out, _, err := execute(newBenchEvalCmd(), args...)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"gomlx, 1 worker(s)", "gomlx, 2 worker(s)", "go kernel, 1 worker(s)", "go kernel, 2 worker(s)"}
		if extra == nil {
			want = append(want, "length-sorted (eval.Encode)", "input order")
		}
		for _, row := range want {
			line := ""
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, row) {
					line = l
				}
			}
			f := strings.Fields(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), row)))
			if len(f) < 2 {
				t.Errorf("%v: no row %q in\n%s", extra, row, out)
				continue
			}
			if v, err := strconv.ParseFloat(f[1], 64); err != nil || v <= 0 { // time, then tokens/s or GFLOP/s
				t.Errorf("%v: row %q: throughput %q not a positive number", extra, row, f[1])
			}
		}
	}
}
