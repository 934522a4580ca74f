package collection

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tdro/tdro/internal/shareddata"
)

func find(c *Collection, qid string) Query {
	for _, q := range c.Queries {
		if q.ID == qid {
			return q
		}
	}
	return Query{}
}

func byName(t *testing.T, cs []*Collection, name string) *Collection {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no collection %s", name)
	return nil
}

func TestBundledContent(t *testing.T) {
	cs, err := Bundled(shareddata.Dir(t))
	if err != nil {
		t.Fatal(err)
	}
	judgments := map[string]int{"cisi": 3114, "med": 696, "adi": 170, "cran": 1837, "msmarco-trec-dl19-5k": 4102, "dbpedia-entity-5k": 3709}
	for name, n := range judgments {
		if got := byName(t, cs, name).Stats().Judgments; got != n {
			t.Errorf("%s: %d judgments, want %d (lines of the qrels file)", name, got, n)
		}
	}
	cisi := byName(t, cs, "cisi")
	if cisi.Docs[0].Title != "18 Editions of the Dewey Decimal Classifications" || !strings.HasPrefix(cisi.Docs[0].Text, "The present study is a history of the DEWEY Decimal Classification.") {
		t.Errorf("CISI doc 1: %+v", cisi.Docs[0])
	}
	if cisi.Qrels["1"]["28"] != 1 {
		t.Errorf("CISI qrels 1/28 = %d", cisi.Qrels["1"]["28"])
	}
	// Cranfield: judgments number queries by position; cran.qry's third query has id 004.
	cran := byName(t, cs, "cran")
	if q := find(cran, "3"); !strings.HasPrefix(q.Text, "what problems of heat conduction in composite slabs") {
		t.Errorf("cran query 3 = %q", q.Text)
	}
	if g := cran.Qrels["1"]["184"]; g != 3 { // cranqrel "1 184 2": grade 2 of 1..4 -> 3
		t.Errorf("cran 1/184 grade %d, want 3", g)
	}
	if g := cran.Qrels["1"]["13"]; g != 1 { // "1 13 4" -> 1
		t.Errorf("cran 1/13 grade %d, want 1", g)
	}
	msm := byName(t, cs, "msmarco-trec-dl19-5k")
	if msm.Qrels["19335"]["1729"] != 2 || find(msm, "19335").Text != "anthropological definition of environment" {
		t.Errorf("msmarco: %v %q", msm.Qrels["19335"]["1729"], find(msm, "19335").Text)
	}
	// XQuAD-R: the answer sentence; cross-lingual keeps the zh question and the en sentence.
	const qid = "56beb4343aeaaa14008c925b"
	for _, name := range []string{"xquadr-en", "xquadr-zh-en"} {
		c := byName(t, cs, name)
		idx := c.DocIndex()
		var rel []string
		for d := range c.Qrels[qid] {
			rel = append(rel, c.Docs[idx[d]].Text)
		}
		if len(rel) != 1 || !strings.HasPrefix(rel[0], "The Panthers defense gave up just 308 points") {
			t.Errorf("%s: relevant sentences %q", name, rel)
		}
	}
	if q := find(byName(t, cs, "xquadr-zh-en"), qid).Text; q != find(byName(t, cs, "xquadr-zh"), qid).Text || q == find(byName(t, cs, "xquadr-en"), qid).Text {
		t.Errorf("zh-en question %q should be the zh one", q)
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadBEIR(t *testing.T) {
	corpus := `{"_id":"d1","title":"T","text":"one"}` + "\n" + `{"_id":2,"title":"","text":"two"}` + "\n"
	queries := `{"_id":"q1","text":"first"}` + "\n" + `{"_id":"q2","text":"unjudged"}` + "\n"
	for name, qrels := range map[string]string{
		"header":    "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\t2\t0\n",
		"no header": "q1\td1\t1\nq1\t2\t0\n",
		"trec":      "q1 0 d1 1\nq1 0 2 0\n",
	} {
		dir := writeFiles(t, map[string]string{"corpus.jsonl": corpus, "queries.jsonl": queries, "qrels/test.tsv": qrels})
		c, err := LoadBEIR(dir, "test")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(c.Docs) != 2 || c.Docs[1].ID != "2" || len(c.Queries) != 1 || c.Qrels["q1"]["d1"] != 1 || c.Qrels["q1"]["2"] != 0 {
			t.Errorf("%s: %+v", name, c)
		}
	}
	bad := []struct{ file, body, want string }{
		{"corpus.jsonl", "{\"_id\":\"d1\",\"text\":\"x\"}\n{\"title\":\"t\",\"text\":\"y\"}\n", `corpus.jsonl line 2: field "_id": missing`},
		{"corpus.jsonl", "{\"_id\":\"d1\",\"text\":5}\n", `corpus.jsonl line 1: field "text"`},
		{"corpus.jsonl", "{\"_id\":\"d1\",\"text\":\"x\"}\n{oops\n", `corpus.jsonl line 2: invalid JSON`},
		{"queries.jsonl", "{\"_id\":\"q1\",\"text\":\"\"}\n", `queries.jsonl line 1: field "text"`},
		{"qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\thigh\n", `test.tsv line 2: field "score"`},
		{"qrels/test.tsv", "q1\td1\n", `test.tsv line 1: want 3 columns`},
	}
	for _, tc := range bad {
		files := map[string]string{"corpus.jsonl": corpus, "queries.jsonl": queries, "qrels/test.tsv": "q1\td1\t1\n"}
		files[tc.file] = tc.body
		_, err := LoadBEIR(writeFiles(t, files), "test")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: got %v, want %q", tc.file, tc.body, err, tc.want)
		}
	}
}

func TestLoadSMART(t *testing.T) {
	all := ".I 1\n.T\nTitle one\n.A\nSomebody\n.W\n  text of\n one\n.X\n1 2 3\n.I 2\n.T \nTwo\n.W\ntwo . dots\n.I 3\n.W\n.Also a line\n"
	qry := ".I 001\n.W\nfirst query\n.I 004\n.W\nsecond\nquery\n"
	cases := []struct {
		name, rel string
		want      map[string]map[string]int
	}{
		{"cisi style, ids by value", "1 1 0 0.000000\n4 2 0 0.0\n", nil},
		{"cranfield scale, ids by position", "1 1 1\n1 3 -1\n2 2 4\n", map[string]map[string]int{"1": {"1": 4, "3": 0}, "2": {"2": 1}}},
		{"cranfield in TREC layout", "1 0 1 1\n1 Q0 3 -1\n2 0 2 4\n", map[string]map[string]int{"1": {"1": 4, "3": 0}, "2": {"2": 1}}},
	}
	for _, tc := range cases {
		dir := writeFiles(t, map[string]string{"X.ALL": all, "X.QRY": qry, "X.REL": tc.rel})
		c, err := LoadSMART(dir)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(c.Docs) != 3 || c.Docs[0].Title != "Title one" || c.Docs[0].Text != "text of one" || c.Docs[1].Title != "Two" || c.Docs[2].Text != ".Also a line" {
			t.Errorf("%s: docs %+v", tc.name, c.Docs)
		}
		if tc.want == nil {
			if len(c.Queries) != 2 || c.Queries[1].ID != "4" || c.Queries[1].Text != "second query" || c.Qrels["4"]["2"] != 1 {
				t.Errorf("%s: %+v", tc.name, c)
			}
			continue
		}
		if c.Queries[1].ID != "2" || len(c.Qrels) != 2 || c.Qrels["1"]["1"] != 4 || c.Qrels["1"]["3"] != 0 || c.Qrels["2"]["2"] != 1 {
			t.Errorf("%s: queries %+v qrels %v", tc.name, c.Queries, c.Qrels)
		}
	}
	bad := []struct{ file, body, want string }{
		{"X.ALL", "text first\n.I 1\n", "X.ALL line 1: text before the first .I"},
		{"X.ALL", ".I 1\n.W\na\n.I 1\n.W\nb\n", `X.ALL line 4: field ".I": id "1" repeats line 1`},
		{"X.REL", "1 9 0 0\n", `X.REL line 1: field "document": "9" is not in the collection`},
		{"X.REL", "1 1 x\n", `X.REL line 1: field "relevance"`},
		{"X.REL", "7 1 1\n", `X.REL line 1: field "query": "7" is not in the queries file`},
		{"X.REL", "1 1 -1\n1 2 9\n", `X.REL line 2: field "relevance": 9 is outside Cranfield's scale`},
	}
	for _, tc := range bad {
		files := map[string]string{"X.ALL": all, "X.QRY": ".I 1\n.W\nq\n.I 4\n.W\nr\n", "X.REL": "1 1 0\n"}
		files[tc.file] = tc.body
		_, err := LoadSMART(writeFiles(t, files))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: got %v, want %q", tc.file, tc.body, err, tc.want)
		}
	}
	if _, err := LoadSMART(writeFiles(t, map[string]string{"X.ALL": all})); err == nil {
		t.Error("folder without .QRY/.REL should fail")
	}
}

func TestLoadBySpec(t *testing.T) {
	d := shareddata.Dir(t)
	for spec, want := range map[string]string{
		filepath.Join(d, "eval", "beir", "dbpedia-entity-5k"):                                               "dbpedia-entity-5k",
		filepath.Join(d, "eval", "classic", "adi"):                                                          "adi",
		filepath.Join(d, "eval", "xquadr", "de.json"):                                                       "xquadr-de",
		filepath.Join(d, "eval", "xquadr", "de.json") + ":" + filepath.Join(d, "eval", "xquadr", "en.json"): "xquadr-de-en",
	} {
		c, err := Load(spec)
		if err != nil || c.Name != want {
			t.Errorf("Load(%s) = %v, %v; want %s", spec, c, err, want)
		}
	}
	if _, err := Load(filepath.Join(d, "MANIFEST.md")); err == nil {
		t.Error("a non-JSON file should not load")
	}
	if _, err := Load("/nonexistent"); err == nil {
		t.Error("a missing path should not load")
	}
}

// TestSMARTVariants: other common file names are found; a missing file is
// named with the names tried; an empty .W query is left out with a warning
// that gives its line (and its judgments go with it); the files can be
// named explicitly.
func TestSMARTVariants(t *testing.T) {
	all := ".I 1\n.W\ntext of one\n.I 2\n.W\ntext of two\n"
	qry := ".I 1\n.W\nfirst query\n.I 2\n.W\n.I 3\n.W\nthird query\n"
	rel := "1 1\n2 2\n3 2\n"
	dir := writeFiles(t, map[string]string{"cacm.all": all, "query.text": qry, "qrels.text": rel})
	c, err := LoadSMART(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Queries) != 2 || c.Queries[1].ID != "3" || c.Qrels["2"] != nil || c.Qrels["3"]["2"] != 1 {
		t.Errorf("queries %+v qrels %v", c.Queries, c.Qrels)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "query.text line 4: query 2 has no text") {
		t.Errorf("warnings %v", c.Warnings)
	}
	_, err = LoadSMART(writeFiles(t, map[string]string{"x.all": all, "x.qry": qry}))
	if err == nil || !strings.Contains(err.Error(), "no judgments file (tried *.rel, *qrel*, qrels.text, rlv-ass") || strings.Contains(err.Error(), "no queries file") {
		t.Errorf("missing judgments: %v", err)
	}
	odd := writeFiles(t, map[string]string{"D": all, "Q": qry, "R": rel})
	c, err = Load("docs=" + filepath.Join(odd, "D") + ",queries=" + filepath.Join(odd, "Q") + ",qrels=" + filepath.Join(odd, "R") + ",name=mine")
	if err != nil || c.Name != "mine" || len(c.Docs) != 2 || len(c.Queries) != 2 {
		t.Errorf("explicit files: %+v, %v", c, err)
	}
	if _, err := Load("docs=" + filepath.Join(odd, "D")); err == nil || !strings.Contains(err.Error(), "all three files") {
		t.Errorf("one file named: %v", err)
	}
}

// TestGlasgowLayout reads a collection in the slash-terminated layout of
// the Glasgow test collections (NPL's doc-text, query-text, rlv-ass),
// written here by hand.
func TestGlasgowLayout(t *testing.T) {
	docs := "1\ncompact memories have flexible capacities\n  a digital data storage system\n   /\n2\nthe transistor as a switch\n   /\n3\nmagnetic cores\n   /\n"
	queries := "1\nmemory storage systems\n/\n2\n/\n3\nswitching circuits\n/\n"
	rels := "1\n 1  3\n/\n2\n 2\n/\n3\n 2\n   /\n"
	dir := writeFiles(t, map[string]string{"doc-text": docs, "query-text": queries, "rlv-ass": rels})
	c, err := LoadSMART(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Docs) != 3 || c.Docs[0].Text != "compact memories have flexible capacities a digital data storage system" {
		t.Errorf("docs %+v", c.Docs)
	}
	if len(c.Queries) != 2 || c.Queries[0].Text != "memory storage systems" || c.Queries[1].ID != "3" {
		t.Errorf("queries %+v", c.Queries)
	}
	if c.Qrels["1"]["1"] != 1 || c.Qrels["1"]["3"] != 1 || c.Qrels["3"]["2"] != 1 || c.Qrels["2"] != nil {
		t.Errorf("qrels %v", c.Qrels)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "query-text line 4: query 2 has no text") {
		t.Errorf("warnings %v", c.Warnings)
	}
	bad := writeFiles(t, map[string]string{"doc-text": docs, "query-text": queries, "rlv-ass": "1\n 9\n/\n"})
	if _, err := LoadSMART(bad); err == nil || !strings.Contains(err.Error(), `document "9" is not in the collection`) {
		t.Errorf("unknown document: %v", err)
	}
	unended := writeFiles(t, map[string]string{"doc-text": "1\ntext\n/\n2\nmore\n", "query-text": queries, "rlv-ass": rels})
	if _, err := LoadSMART(unended); err == nil || !strings.Contains(err.Error(), "doc-text line 4: record 2 is not ended") {
		t.Errorf("unended record: %v", err)
	}
}
