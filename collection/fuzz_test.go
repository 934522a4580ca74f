package collection

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tdro/tdro/data/squad"
)

// FuzzSMART: any .ALL/.QRY/.REL content loads or fails with a message
// naming the file — never a panic — and what loads validates.
func FuzzSMART(f *testing.F) {
	f.Add(".I 1\n.T\nt\n.W\nw\n", ".I 1\n.W\nq\n", "1 1 0 0.0\n")
	f.Add(".I 001\r\n.W\r\nw\r\n.I 2\r\n.W\r\nx\r\n", ".I 001\n.W\nq\n.I 004\n.W\nr\n", "1 1 2\n2 2 -1\n")
	f.Add("x\n.I 1\n", ".I\n", "a b c d e\n")
	f.Fuzz(func(t *testing.T, all, qry, rel string) {
		loadsOrNamesFile(t, map[string]string{"X.ALL": all, "X.QRY": qry, "X.REL": rel}, LoadSMART)
	})
}

// FuzzBEIR: corpus, queries and qrels of any content load or fail naming a file.
func FuzzBEIR(f *testing.F) {
	f.Add(`{"_id":"d1","title":"t","text":"x"}`+"\n", `{"_id":"q1","text":"q"}`+"\n", "query-id\tcorpus-id\tscore\nq1\td1\t1\n")
	f.Add(`{"_id":1,"text":"x"}`, `{"_id":"q1","text":""}`, "q1 0 d1 2\n")
	f.Add(`{"_id":null}`, `[]`, "q1\td1\n")
	f.Fuzz(func(t *testing.T, corpus, queries, qrels string) {
		files := map[string]string{"corpus.jsonl": corpus, "queries.jsonl": queries, "qrels/test.tsv": qrels}
		loadsOrNamesFile(t, files, func(dir string) (*Collection, error) { return LoadBEIR(dir, "test") })
	})
}

// loadsOrNamesFile writes files (slash path -> content) into a fresh
// directory and loads it: the load must yield a valid collection or an
// error naming the directory (or the collection) — never a panic.
func loadsOrNamesFile(t *testing.T, files map[string]string, load func(dir string) (*Collection, error)) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := load(dir)
	if err != nil {
		if !strings.Contains(err.Error(), dir) && !strings.Contains(err.Error(), "collection ") {
			t.Fatalf("error without file: %v", err)
		}
		return
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// FuzzXQuADR: SQuAD/XQuAD-R JSON of any content parses or fails with a
// line, and a parsed file yields a valid collection or a located error.
func FuzzXQuADR(f *testing.F) {
	f.Add([]byte(`{"data":[{"title":"T","paragraphs":[{"context":"A b. C d.","sentences":["A b.","C d."],"sentence_breaks":[[0,4],[5,9]],"qas":[{"id":"1","question":"q?","answers":[{"text":"C","answer_start":5}]}]}]}]}`))
	f.Add([]byte(`{"data":[{"paragraphs":[{"context":"x","sentences":["x"],"sentence_breaks":[],"qas":[]}]}]}`))
	f.Add([]byte(`{"data":[{"paragraphs":[{"context":"x","qas":[{"id":1,"question":"q","answers":[{"answer_start":-1}]}]}]}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		sf, err := squad.Parse(doc, "x.json", nil)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "x.json line ") {
				t.Fatalf("error without file and line: %v", err)
			}
			return
		}
		c, err := xquadr(&squadFile{path: "x.json", f: sf}, &squadFile{path: "x.json", f: sf}, "en", "en", nil)
		if err != nil {
			if !strings.Contains(err.Error(), "x.json") && !strings.Contains(err.Error(), "collection ") {
				t.Fatalf("error without file: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
	})
}
