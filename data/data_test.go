package data

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readAll(t *testing.T, in string) ([]Record, error) {
	t.Helper()
	rd := NewReader(strings.NewReader(in), "in.jsonl")
	var out []Record
	for {
		r, err := rd.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
}

func TestReaderFormats(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Record
	}{
		{
			name: "tevatron",
			in:   `{"query_id":"q1","query":"what is go","positive_passages":[{"docid":"d1","title":"Go","text":"a language"}],"negative_passages":[{"docid":"d2","title":"","text":"a game"}]}`,
			want: []Record{{QueryID: "q1", Query: "what is go",
				Positives: []Passage{{DocID: "d1", Title: "Go", Text: "a language"}},
				Negatives: []Passage{{DocID: "d2", Text: "a game"}}}},
		},
		{
			name: "tevatron numeric ids, no negatives, extra fields, blank lines",
			in:   "\n{\"query_id\":7,\"query\":\"q\",\"answers\":[\"x\"],\"positive_passages\":[{\"docid\":12,\"text\":\"p\"}]}\n\n",
			want: []Record{{QueryID: "7", Query: "q", Positives: []Passage{{DocID: "12", Text: "p"}}, Negatives: []Passage{}}},
		},
		{
			name: "flagembedding gets <file stem>:<line> ids",
			in:   "{\"query\":\"a\",\"pos\":[\"p1\",\"p2\"],\"neg\":[\"n1\"]}\r\n{\"query\":\"b\",\"pos\":[\"p3\"]}",
			want: []Record{
				{QueryID: "in:1", Query: "a", Positives: []Passage{{Text: "p1"}, {Text: "p2"}}, Negatives: []Passage{{Text: "n1"}}},
				{QueryID: "in:2", Query: "b", Positives: []Passage{{Text: "p3"}}, Negatives: []Passage{}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(t, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestReaderErrorsNameFileLineField(t *testing.T) {
	good := `{"query":"q","pos":["p"]}`
	tests := []struct {
		line  string
		field string
		msg   string
	}{
		{`{"query":"q","pos":["p"]`, "", "invalid JSON"},
		{`[1,2]`, "", "want a JSON object"},
		{`{"pos":["p"]}`, "query", "missing"},
		{`{"query":"","pos":["p"]}`, "query", "empty"},
		{`{"query":3,"pos":["p"]}`, "query", "want a string"},
		{`{"query":"q","pos":[]}`, "pos", "no positive"},
		{`{"query":"q","pos":["p",""]}`, "pos[1]", "empty"},
		{`{"query":"q","neg":["n"]}`, "pos", "no positive"},
		{`{"query":"q","pos":"p"}`, "pos", "want an array"},
		{`{"query":"q","positive_passages":[{"text":""}]}`, "positive_passages[0].text", "empty"},
		{`{"query":"q","positive_passages":[{"text":5}]}`, "positive_passages.text", "want a string"},
		{`{"query":"q","positive_passages":[{"text":"p"}],"negative_passages":[{"title":"","text":""}]}`, "negative_passages[0].text", "empty"},
		{`{"query":"q","positive_passages":[{"docid":{},"text":"p"}]}`, "", "string or a number"},
		{`{"query":"q","positive_passages":[{"text":"p"}],"pos":["x"]}`, "pos", "mixes"},
	}
	for _, tc := range tests {
		in := good + "\n\n" + tc.line + "\n" + good + "\n"
		rd := NewReader(strings.NewReader(in), "train.jsonl")
		if _, err := rd.Next(); err != nil {
			t.Fatalf("%s: first line: %v", tc.line, err)
		}
		_, err := rd.Next()
		var le *LineError
		if !errors.As(err, &le) {
			t.Fatalf("%s: got %v, want *LineError", tc.line, err)
		}
		if le.File != "train.jsonl" || le.Line != 3 || (tc.field != "" && le.Field != tc.field) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: got %q (field %q), want line 3, field %q, message containing %q", tc.line, err, le.Field, tc.field, tc.msg)
		}
		// The reader is positioned after the bad line: --skip-bad can go on.
		if r, err := rd.Next(); err != nil || r.QueryID != "train:4" { // FlagEmbedding: <file stem>:<line>
			t.Errorf("%s: after bad line got %+v, %v", tc.line, r, err)
		}
		if _, err := rd.Next(); err != io.EOF {
			t.Errorf("%s: want EOF, got %v", tc.line, err)
		}
	}
}

func TestWriterRoundTripAndScan(t *testing.T) {
	dir := t.TempDir()
	recs := []Record{
		{QueryID: "a", Query: "x < y & z", Positives: []Passage{{DocID: "1", Title: "t", Text: "if a < b: pass"}}},
		{QueryID: "b", Query: "中文问题", Positives: []Passage{{Text: "답변"}}, Negatives: []Passage{{DocID: "n", Text: "neg"}}},
	}
	path := filepath.Join(dir, "d.jsonl")
	if err := WriteRecords(path, recs); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !bytes.Contains(b, []byte(`"x < y & z"`)) || !bytes.Contains(b, []byte(`"negative_passages":[]`)) {
		t.Errorf("writer output not readable/normalised:\n%s", b)
	}
	got, err := ReadRecords(path)
	if err != nil {
		t.Fatal(err)
	}
	recs[0].Negatives = []Passage{}
	if !reflect.DeepEqual(got, recs) {
		t.Errorf("round trip:\n got  %+v\n want %+v", got, recs)
	}
	var lines []int
	if err := ScanRecords(path, func(line int, _ Record) error { lines = append(lines, line); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(lines, []int{1, 2}) {
		t.Errorf("lines %v", lines)
	}
	stop := errors.New("stop")
	if err := ScanRecords(path, func(int, Record) error { return stop }); err != stop {
		t.Errorf("ScanRecords should return fn's error, got %v", err)
	}
	if err := WriteRecords(filepath.Join(dir, "bad.jsonl"), []Record{{QueryID: "z"}}); err == nil || !strings.Contains(err.Error(), `"query"`) {
		t.Errorf("writing an invalid record: got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.jsonl")); !os.IsNotExist(err) {
		t.Errorf("failed write left a file behind")
	}
}

func TestScanRecordsStopsAtBadLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.jsonl")
	os.WriteFile(path, []byte("{\"query\":\"q\",\"pos\":[\"p\"]}\n{\"query\":\"q\"}\n"), 0o644)
	n := 0
	err := ScanRecords(path, func(int, Record) error { n++; return nil })
	if !IsLineError(err) || n != 1 || !strings.Contains(err.Error(), path+" line 2") {
		t.Errorf("got n=%d err=%v", n, err)
	}
}

func TestMixtureRoundTrip(t *testing.T) {
	dir := t.TempDir()
	m := &Mixture{Domains: []Domain{
		{Name: "a", Path: filepath.Join(dir, "a.jsonl"), Language: "en", Weight: 0.5, Instructions: []string{"Given a question, retrieve passages that answer it"}},
		{Name: "b", Path: "sub/b.jsonl", Language: "zh", Weight: 0.5, Symmetric: true, Records: 3, LossScale: 2},
	}}
	path := filepath.Join(dir, "mixture.json")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !bytes.Contains(b, []byte(`"path": "a.jsonl"`)) {
		t.Errorf("absolute path not written relative to the file:\n%s", b)
	}
	got, err := LoadMixture(path)
	if err != nil {
		t.Fatal(err)
	}
	want := *m
	want.Domains = append([]Domain(nil), m.Domains...)
	want.Domains[1].Path = filepath.Join(dir, "sub/b.jsonl")
	if !reflect.DeepEqual(got, &want) {
		t.Errorf("got %+v\nwant %+v", got, &want)
	}
	if w := got.Weights(); w[0] != 0.5 || w[1] != 0.5 {
		t.Errorf("weights %v", w)
	}
}

func TestLoadMixtureErrors(t *testing.T) {
	tests := []struct{ doc, want string }{
		{`{"domains":[]}`, `"domains": no domains`},
		{`{"domains":[{"name":"a","path":"a","weight":1},{"name":"a","path":"b","weight":1}]}`, `"domains[1].name": "a" repeats domains[0]`},
		{`{"domains":[{"name":"a","path":"","weight":1}]}`, `"domains[0].path": empty`},
		{`{"domains":[{"name":"a","path":"a","weight":-1}]}`, `"domains[0].weight"`},
		{`{"domains":[{"name":"a","path":"a","weight":0}]}`, `every weight is 0`},
		{`{"domains":[{"name":"a","path":"a","weight":1,"loss_scale":-2}]}`, `"domains[0].loss_scale"`},
		{`{"domains":[{"name":"a","path":"a","wieght":1}]}`, `unknown field "wieght"`},
		{"{\"domains\":[\n{\"name\":\"a\",\n\"path\":\"a\",\n\"weight\":\"1\"}]}", `line 4: field "domains[0].weight": want float64`},
		{"{\"domains\":[\n{\"name\":\"a\",,}]}", `line 2: invalid JSON`},
	}
	for _, tc := range tests {
		path := filepath.Join(t.TempDir(), "m.json")
		os.WriteFile(path, []byte(tc.doc), 0o644)
		_, err := LoadMixture(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: got %v, want error containing %q and the file name", tc.doc, err, tc.want)
		}
	}
}

func TestReadGzip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.jsonl.gz")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("{\"query\":\"q\",\"pos\":[\"p\"]}\n{\"query\":\"r\",\"pos\":[\"s\"]}\n"))
	zw.Close()
	os.WriteFile(path, buf.Bytes(), 0o644)
	recs, err := ReadRecords(path)
	if err != nil || len(recs) != 2 || recs[1].Query != "r" {
		t.Errorf("gzip: %v %+v", err, recs)
	}
	os.WriteFile(path, []byte("not gzip"), 0o644)
	if _, err := ReadRecords(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("bad gzip: %v", err)
	}
}

func TestTitleText(t *testing.T) {
	for _, tc := range []struct{ title, text, want string }{
		{"T", "body", "T body"},
		{"", "body", "body"},
		{"T", "", "T"},
		{"", "", ""},
	} {
		if got := TitleText(tc.title, tc.text); got != tc.want {
			t.Errorf("TitleText(%q, %q) = %q, want %q", tc.title, tc.text, got, tc.want)
		}
	}
}
