package data

import (
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const indexedLines = `{"query_id":"q1","query":"first","positive_passages":[{"docid":"d1","title":"T","text":"one"}],"negative_passages":[{"docid":"d2","text":"two"}]}

{"query":"flag line","pos":["a positive"],"neg":["n1","n2"]}
   {"query_id":7,"query":"numeric id, indented","positive_passages":[{"text":"x"}]}
{"query":"last line without newline","pos":["p"]}`

func TestIndexRecordsReadsWhatReadRecordsReads(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "d.jsonl")
	if err := os.WriteFile(plain, []byte(indexedLines), 0o644); err != nil {
		t.Fatal(err)
	}
	gz := filepath.Join(dir, "d.jsonl.gz")
	f, err := os.Create(gz)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	zw.Write([]byte(indexedLines))
	zw.Close()
	f.Close()
	want, err := ReadRecords(plain)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 4 || want[1].QueryID != "d:3" {
		t.Fatalf("fixture: %d records, FlagEmbedding id %q (want 4, <file stem>:<line> = d:3)", len(want), want[1].QueryID)
	}
	for _, path := range []string{plain, gz} {
		recs, err := IndexRecords(path)
		if err != nil {
			t.Fatal(err)
		}
		if recs.Len() != len(want) {
			t.Fatalf("%s: %d records, want %d", path, recs.Len(), len(want))
		}
		for _, i := range []int{3, 0, 2, 1, 0} { // any order, repeatedly
			got, err := recs.Record(i)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want[i]) {
				t.Errorf("%s record %d = %+v, want %+v", path, i, got, want[i])
			}
		}
	}
	if _, ok := mustIndex(t, plain).(*RecordFile); !ok {
		t.Error("a plain file should be indexed, not held in memory")
	}
}

func mustIndex(t *testing.T, path string) Records {
	t.Helper()
	r, err := IndexRecords(path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestIndexRecordsErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(indexedLines+"\n"+`{"query":"q","positive_passages":[{"text":""}]}`+"\n"), 0o644)
	_, err := IndexRecords(bad)
	var le *LineError
	if !errors.As(err, &le) || le.File != bad || le.Line != 6 || le.Field != "positive_passages[0].text" {
		t.Errorf("bad line: got %v, want a LineError at %s line 6, field positive_passages[0].text", err, bad)
	}
	if _, err := IndexRecords(filepath.Join(dir, "missing.jsonl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}

	// A file rewritten after indexing is an error, never another record.
	path := filepath.Join(dir, "d.jsonl")
	os.WriteFile(path, []byte(indexedLines), 0o644)
	recs := mustIndex(t, path)
	later := time.Now().Add(time.Hour)
	os.WriteFile(path, []byte(strings.Replace(indexedLines, "first", "FIRST", 1)), 0o644)
	os.Chtimes(path, later, later)
	if _, err := recs.Record(0); err == nil || !strings.Contains(err.Error(), "changed since it was indexed") {
		t.Errorf("changed file: got %v", err)
	}
}
