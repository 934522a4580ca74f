package collection

import (
	"path/filepath"
	"testing"

	"github.com/tdro/tdro/internal/shareddata"
)

func TestBundledCountsMatchManifest(t *testing.T) {
	cs, err := Bundled(shareddata.Dir(t))
	if err != nil {
		t.Fatal(err)
	}
	// Docs and judged queries; MANIFEST.md: BEIR subsets 5,000 passages with
	// 43 and 40 judged of 50 queries; CISI 1,460 docs (76 of its 112 queries
	// judged); Cranfield 1,400 docs, 225 queries; MED 1,033 docs, 30 queries;
	// ADI 82 docs, 35 queries; XQuAD-R 1,190 questions per language.
	want := map[string][2]int{
		"dbpedia-entity-5k":    {5000, 40},
		"msmarco-trec-dl19-5k": {5000, 43},
		"cisi":                 {1460, 76},
		"cran":                 {1400, 225},
		"med":                  {1033, 30},
		"adi":                  {82, 35},
		"xquadr-ar":            {1222, 1190},
		"xquadr-de":            {1276, 1190},
		"xquadr-en":            {1180, 1190},
		"xquadr-es":            {1215, 1190},
		"xquadr-ru":            {1219, 1190},
		"xquadr-zh":            {1196, 1190},
		"xquadr-zh-en":         {1180, 1190},
		"xquadr-ar-en":         {1180, 1190},
		"xquadr-de-en":         {1180, 1190},
	}
	got := map[string]bool{}
	for _, c := range cs {
		got[c.Name] = true
		w, ok := want[c.Name]
		if !ok {
			t.Errorf("unexpected collection %s", c.Name)
			continue
		}
		s := c.Stats()
		if s.Docs != w[0] || s.Queries != w[1] {
			t.Errorf("%s: %d docs, %d queries; want %d, %d", c.Name, s.Docs, s.Queries, w[0], w[1])
		}
		if s.Relevant < s.Queries && c.Name != "dbpedia-entity-5k" {
			t.Errorf("%s: only %d relevant judgments for %d queries", c.Name, s.Relevant, s.Queries)
		}
		if err := c.Validate(); err != nil {
			t.Error(err)
		}
		if c.Instruction == "" {
			t.Errorf("%s: no query instruction (evaluation would not match instructed training)", c.Name)
		}
	}
	for name := range want {
		if !got[name] {
			t.Errorf("missing collection %s", name)
		}
	}
}

func TestSMARTRawCounts(t *testing.T) {
	d := shareddata.Dir(t)
	for _, tc := range []struct {
		file string
		n    int
	}{
		{"cisi/CISI.ALL", 1460}, {"cisi/CISI.QRY", 112}, {"cran/cran.all.1400", 1400}, {"cran/cran.qry", 225},
		{"med/MED.ALL", 1033}, {"med/MED.QRY", 30}, {"adi/ADI.ALL", 82}, {"adi/ADI.QRY", 35},
	} {
		es, err := readSMART(filepath.Join(d, "eval", "classic", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != tc.n {
			t.Errorf("%s: %d entries, want %d", tc.file, len(es), tc.n)
		}
	}
}

// MANIFEST.md: each BEIR subset has 50 queries (before dropping unjudged ones).
func TestBEIRRawQueryCounts(t *testing.T) {
	d := shareddata.Dir(t)
	for _, name := range []string{"msmarco-trec-dl19-5k", "dbpedia-entity-5k"} {
		n := 0
		err := scanJSONL(filepath.Join(d, "eval", "beir", name, "queries.jsonl"), func(int, []byte) error { n++; return nil })
		if err != nil || n != 50 {
			t.Errorf("%s: %d queries (%v), want 50", name, n, err)
		}
	}
}

func TestDefaultInstruction(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"msmarco-trec-dl19-5k", "Given a web search query, retrieve relevant passages that answer the query"},
		{"dbpedia-entity-5k", "Given a query, retrieve relevant entity descriptions from DBPedia"},
		{"SciFact", "Given a scientific claim, retrieve documents that support or refute the claim"},
		{"cran", "Given a question on aeronautics, retrieve scientific abstracts that answer the question"},
		{"my-own-set", ""},
		// Exact names only: no prefix guessing (these once got MEDLINE's and NQ's).
		{"medical-faq", ""},
		{"nqueens-docs", ""},
		{"mini", ""},
		{"xquadr-zh-en", ""}, // the XQuAD-R loader sets it
	} {
		if got := DefaultInstruction(tc.name); got != tc.want {
			t.Errorf("DefaultInstruction(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
