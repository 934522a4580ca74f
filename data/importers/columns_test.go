package importers

import (
	"strings"
	"testing"
)

func TestPairsFormat(t *testing.T) {
	four := 4.0
	for _, tc := range []struct {
		name, file, src string
		cols            Columns
		min             *float64
		want            []string // query -> pos [| neg]
		filtered        int
		err             string
	}{
		{name: "csv header", file: "faq.csv", src: "question,answer,bad\nhow to?,like this,not this\nwhy?,because,no\n",
			cols: Columns{Query: "question", Pos: "answer", Neg: "bad"}, want: []string{"how to? -> like this | not this", "why? -> because | no"}},
		{name: "tsv positions", file: "faq.tsv", src: "q one\tp one\t5\nq two\tp two\t1\n",
			cols: Columns{Query: "1", Pos: "2", Score: "3", NoHeader: true}, min: &four, want: []string{"q one -> p one"}, filtered: 1},
		{name: "jsonl keys", file: "faq.jsonl", src: `{"q":"a question","doc":"its answer","s":0.9}` + "\n",
			cols: Columns{Query: "q", Pos: "doc", Score: "s"}, want: []string{"a question -> its answer"}},
		{name: "missing header column", file: "x.csv", src: "a,b\n1,2\n", cols: Columns{Query: "question", Pos: "b"}, err: `field "question": column missing`},
		{name: "empty passage", file: "x.csv", src: "q,p\nhello,  \n", cols: Columns{Query: "q", Pos: "p"}, err: `x.csv line 2: field "p": empty`},
		{name: "NaN score", file: "x.csv", src: "q,p,s\nhello,there,NaN\n", cols: Columns{Query: "q", Pos: "p", Score: "s"}, err: `field "s": want a finite number`},
		{name: "no columns", file: "x.csv", src: "q,p\n", cols: Columns{Query: "q"}, err: "--query-col and --pos-col"},
		{name: "bad position", file: "x.csv", src: "a,b\n", cols: Columns{Query: "0", Pos: "b", NoHeader: true}, err: "1-based"},
	} {
		res := &Result{}
		cols := tc.cols
		err := Formats["pairs"].Convert(tc.file, []byte(tc.src), Options{Columns: &cols, MinScore: tc.min}, res)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []string
		for _, r := range res.Records {
			s := r.Query + " -> " + r.Positives[0].Text
			if len(r.Negatives) > 0 {
				s += " | " + r.Negatives[0].Text
			}
			got = append(got, s)
			if !strings.HasPrefix(r.QueryID, strings.Split(tc.file, ".")[0]+":") {
				t.Errorf("%s: query id %q, want <stem>:<line>", tc.name, r.QueryID)
			}
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") || res.Filtered != tc.filtered {
			t.Errorf("%s: got %q (filtered %d), want %q (filtered %d)", tc.name, got, res.Filtered, tc.want, tc.filtered)
		}
	}
}
