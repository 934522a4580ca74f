package data

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzReader checks that no input makes the JSONL reader panic or loop, that
// every failure is a *LineError with a valid line number, and that every
// record it accepts survives a write/read round trip unchanged.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		`{"query_id":"q1","query":"what","positive_passages":[{"docid":"d1","title":"t","text":"p"}],"negative_passages":[]}`,
		`{"query":"a","pos":["p1"],"neg":["n1","n2"]}`,
		"{\"query\":\"中文\",\"pos\":[\"답\"]}\n\n{\"query\":\"\"}\n",
		`{"query":"q","positive_passages":[{"docid":3,"text":"x"}]}`,
		`{"query":"q","pos":[""]}`,
		`[]`, `null`, `{`, "\xff\xfe", `{"query":"q","pos":["p"],"positive_passages":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rd := NewReader(bytes.NewReader(in), "fuzz.jsonl")
		lines := bytes.Count(in, []byte{'\n'}) + 1
		var recs []Record
		for i := 0; ; i++ {
			if i > lines+1 {
				t.Fatalf("reader returned more results than lines")
			}
			r, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				var le *LineError
				if !errors.As(err, &le) || le.Line < 1 || le.Line > lines {
					t.Fatalf("bad error %v", err)
				}
				continue
			}
			if r.Validate() != nil {
				t.Fatalf("reader accepted an invalid record %+v", r)
			}
			recs = append(recs, r)
		}
		var buf bytes.Buffer
		w := NewWriter(&buf)
		for _, r := range recs {
			if err := w.Write(r); err != nil {
				t.Fatalf("write accepted record: %v", err)
			}
		}
		rd = NewReader(&buf, "again")
		for _, want := range recs {
			got, err := rd.Next()
			if err != nil {
				t.Fatalf("re-read: %v", err)
			}
			if got.QueryID != want.QueryID || got.Query != want.Query || len(got.Positives) != len(want.Positives) || len(got.Negatives) != len(want.Negatives) {
				t.Fatalf("round trip changed %+v into %+v", want, got)
			}
		}
	})
}

// FuzzIndexRecords checks that an indexed file gives exactly the records the
// streaming reader gives, in order, or fails at the same first bad line.
func FuzzIndexRecords(f *testing.F) {
	for _, s := range []string{
		"{\"query\":\"a\",\"pos\":[\"p\"]}\n\n  {\"query_id\":\"x\",\"query\":\"b\",\"positive_passages\":[{\"text\":\"t\"}]}",
		"{\"query\":\"a\",\"pos\":[\"p\"]}\r\n{\"query\":\"\",\"pos\":[\"p\"]}\n",
		"\n\n\n", "{", "{\"query\":\"中文\",\"pos\":[\"답\"]}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		path := filepath.Join(t.TempDir(), "d.jsonl")
		if err := os.WriteFile(path, in, 0o644); err != nil {
			t.Fatal(err)
		}
		want, wantErr := ReadRecords(path)
		got, err := IndexRecords(path)
		if wantErr == nil && len(want) == 0 { // an empty domain is refused
			if err == nil || !strings.Contains(err.Error(), "no records") {
				t.Fatalf("empty file indexed: %v", err)
			}
			return
		}
		var le, wantLE *LineError
		if wantErr != nil {
			if !errors.As(err, &le) || !errors.As(wantErr, &wantLE) || le.Line != wantLE.Line || le.Field != wantLE.Field {
				t.Fatalf("index error %v, reader error %v", err, wantErr)
			}
			return
		}
		if err != nil || got.Len() != len(want) {
			t.Fatalf("index: %v, %d records; reader: %d", err, got.Len(), len(want))
		}
		for i := range want {
			r, err := got.Record(i)
			if err != nil || !reflect.DeepEqual(r, want[i]) {
				t.Fatalf("record %d: %+v (%v), reader %+v", i, r, err, want[i])
			}
		}
	})
}
