package metrics

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tdro/tdro/internal/shareddata"
)

// TestTrecEvalParity checks every per-query and mean value that trec_eval
// printed for the bundled fixtures (trec_eval -c -q -m ndcg_cut.10,100
// -m recall.10,100 -m recip_rank -m map -m P.10).
func TestTrecEvalParity(t *testing.T) {
	root := filepath.Join(shareddata.Dir(t), "fixtures", "trec_eval")
	measures, err := ParseMeasures("ndcg_cut.10", "ndcg_cut.100", "recall.10", "recall.100", "recip_rank", "map", "P.10")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"msmarco", "cisi"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(root, name)
			qrels, err := ReadQrels(filepath.Join(dir, "qrels.txt"))
			if err != nil {
				t.Fatal(err)
			}
			run, _, err := ReadRun(filepath.Join(dir, "run.trec"))
			if err != nil {
				t.Fatal(err)
			}
			s, err := Evaluate(qrels, run, measures, Options{CountMissing: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Missing) != 1 {
				t.Errorf("missing queries = %v, want the one the fixture left out", s.Missing)
			}
			byTrec := map[string]int{}
			for i, m := range measures {
				byTrec[m.TrecName()] = i
			}
			f, err := os.Open(filepath.Join(dir, "trec_eval_c_q.expected.txt"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			checked, queries := 0, map[string]bool{}
			for sc.Scan() {
				fl := strings.Fields(sc.Text())
				if len(fl) != 3 {
					t.Fatalf("bad expected line %q", sc.Text())
				}
				i, ok := byTrec[fl[0]]
				if !ok {
					t.Fatalf("unexpected measure %s", fl[0])
				}
				want, _ := strconv.ParseFloat(fl[2], 64)
				var got float64
				if fl[1] == "all" {
					got = s.Mean[i]
				} else {
					queries[fl[1]] = true
					v, ok := s.PerQuery[fl[1]]
					if !ok {
						t.Errorf("query %s not evaluated", fl[1])
						continue
					}
					got = v[i]
				}
				if math.Abs(got-want) > 1e-4 { // trec_eval prints 4 decimals
					t.Errorf("%s query %s: got %.6f, trec_eval %.4f", fl[0], fl[1], got, want)
				}
				checked++
			}
			if len(queries) != len(s.Queries) {
				t.Errorf("evaluated %d queries, trec_eval %d", len(s.Queries), len(queries))
			}
			if checked < 7*(len(queries)+1) {
				t.Errorf("checked only %d values", checked)
			}
		})
	}
}
