package metrics

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestQueryHandComputed(t *testing.T) {
	judged := map[string]int{"a": 2, "b": 1, "c": 0, "z": 1}
	// Ranked: c(0) a(2) x(unjudged) b(1); z never retrieved.
	ranked := Rank([]Result{{"b", 0.1}, {"x", 0.5}, {"a", 0.5}, {"c", 0.9}})
	if got := []string{ranked[0].DocID, ranked[1].DocID, ranked[2].DocID}; strings.Join(got, "") != "cxa" {
		t.Fatalf("rank order %v, want c x a (ties by docid descending)", got)
	}
	// Order: c(0) x(0) a(2) b(1)
	dcg3 := 2 / math.Log2(4)
	idcg3 := 2 + 1/math.Log2(3) + 1/math.Log2(4)
	tests := []struct {
		m    string
		want float64
	}{
		{"ndcg@3", dcg3 / idcg3},
		{"ndcg@10", (dcg3 + 1/math.Log2(5)) / idcg3},
		{"recall@3", 1.0 / 3},
		{"recall@4", 2.0 / 3},
		{"p@2", 0},
		{"p@4", 0.5},
		{"p@10", 0.2},
		{"mrr", 1.0 / 3},
		{"mrr@2", 0},
		{"map", (1.0/3 + 2.0/4) / 3},
		{"map@3", (1.0 / 3) / 3},
		{"acc@2", 0},
		{"acc@3", 1},
	}
	for _, tc := range tests {
		m, err := ParseMeasure(tc.m)
		if err != nil {
			t.Fatal(err)
		}
		got := Query(judged, ranked, []Measure{m})[0]
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", tc.m, got, tc.want)
		}
	}
}

func TestParseMeasureNames(t *testing.T) {
	for in, want := range map[string]string{
		"ndcg_cut.10": "ndcg@10", "ndcg_cut_10": "ndcg@10", "ndcg_at_10": "ndcg@10", "P.10": "p@10", "P_10": "p@10",
		"recip_rank": "mrr", "map": "map", "success.5": "acc@5", "recall_100": "recall@100", "mrr@10": "mrr@10",
	} {
		m, err := ParseMeasure(in)
		if err != nil || m.String() != want {
			t.Errorf("ParseMeasure(%q) = %v, %v; want %s", in, m, err, want)
		}
	}
	for _, bad := range []string{"ndcg", "foo@3", "p@0", "recall@x"} {
		if _, err := ParseMeasure(bad); err == nil {
			t.Errorf("ParseMeasure(%q) accepted", bad)
		}
	}
	m, _ := ParseMeasure("ndcg@10")
	if m.TrecName() != "ndcg_cut_10" || m.MTEBName() != "ndcg_at_10" {
		t.Errorf("names %s %s", m.TrecName(), m.MTEBName())
	}
}

func TestEvaluateMissingAndUnjudged(t *testing.T) {
	qrels := Qrels{"1": {"d1": 1}, "2": {"d2": 1}}
	run := Run{"1": {{"d1", 1}}, "3": {{"d2", 1}}}
	ms := []Measure{{MRR, 0}}
	for _, tc := range []struct {
		count bool
		n     int
		mean  float64
	}{{false, 1, 1}, {true, 2, 0.5}} {
		s, err := Evaluate(qrels, run, ms, Options{CountMissing: tc.count})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Queries) != tc.n || s.Mean[0] != tc.mean {
			t.Errorf("CountMissing=%v: %d queries mean %v, want %d %v", tc.count, len(s.Queries), s.Mean[0], tc.n, tc.mean)
		}
		if len(s.Missing) != 1 || s.Missing[0] != "2" || len(s.Unjudged) != 1 || s.Unjudged[0] != "3" {
			t.Errorf("missing %v unjudged %v", s.Missing, s.Unjudged)
		}
	}
	for _, bad := range []float64{math.Inf(1), math.Inf(-1)} {
		if _, err := Evaluate(qrels, Run{"1": {{"d1", bad}}}, ms, Options{}); err == nil || !strings.Contains(err.Error(), "non-finite") {
			t.Errorf("score %v: got %v, want a non-finite score error", bad, err)
		}
	}
	if _, err := Evaluate(qrels, Run{"1": {{"d1", math.NaN()}}}, ms, Options{}); err == nil {
		t.Error("NaN score accepted")
	}
	if _, err := Evaluate(qrels, Run{"1": {{"d1", 1}, {"d1", 2}}}, ms, Options{}); err == nil {
		t.Error("duplicate document accepted")
	}
}

func TestRunRoundTripAndErrors(t *testing.T) {
	run := Run{"q2": {{"a", 0.5}, {"b", 0.25}}, "q1": {{"c", 3}}}
	var buf bytes.Buffer
	if err := FormatRun(&buf, run, "tdro", 1); err != nil {
		t.Fatal(err)
	}
	want := "q1 Q0 c 1 3 tdro\nq2 Q0 a 1 0.5 tdro\n"
	if buf.String() != want {
		t.Fatalf("FormatRun:\n%s\nwant\n%s", buf.String(), want)
	}
	back, tag, err := ParseRun(&buf)
	if err != nil || tag != "tdro" || len(back["q2"]) != 1 || back["q2"][0] != (Result{"a", 0.5}) {
		t.Fatalf("round trip: %v %q %v", back, tag, err)
	}
	for _, tc := range []struct{ in, errHas string }{
		{"q1 Q0 d 1 nan t\n", "line 1"},
		{"q1 Q0 d 1 1 t\nq1 Q0 d 2 0.5 t\n", "line 2: query q1 document d already listed on line 1"},
		{"q1 Q0 d 1 t\n", "want 6 fields"},
		{"q1 Q0 d 1 x t\n", "not a number"},
	} {
		_, _, err := ParseRun(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.errHas) {
			t.Errorf("ParseRun(%q) error %v, want one containing %q", tc.in, err, tc.errHas)
		}
	}
	if _, err := ParseQrels(strings.NewReader("1 0 d 1\n1 0 d 2\n")); err == nil {
		t.Error("conflicting judgements accepted")
	}
	if _, err := ParseQrels(strings.NewReader("1 0 d x\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad relevance: %v", err)
	}
}
