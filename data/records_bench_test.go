package data

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// BenchmarkDomainMemory holds a 20,000-record domain (7 hard negatives of
// ~60 words each) the two ways: indexed on disk (IndexRecords, what the
// trainer does) and in memory (ReadRecords, the peer), and reports the heap
// each keeps per record and how fast records are read back.
func BenchmarkDomainMemory(b *testing.B) {
	const n = 20000
	words := strings.Repeat("lorem ipsum dolor sit amet consectetur ", 10)
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{QueryID: fmt.Sprint(i), Query: fmt.Sprintf("query %d about something", i),
			Positives: []Passage{{DocID: fmt.Sprintf("p%d", i), Text: words}}}
		for j := range 7 {
			recs[i].Negatives = append(recs[i].Negatives, Passage{DocID: fmt.Sprintf("n%d-%d", i, j), Text: words})
		}
	}
	path := filepath.Join(b.TempDir(), "d.jsonl")
	if err := WriteRecords(path, recs); err != nil {
		b.Fatal(err)
	}
	recs = nil
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	for _, way := range []struct {
		name string
		load func() (Records, error)
	}{
		{"indexed", func() (Records, error) { return IndexRecords(path) }},
		{"in-memory", func() (Records, error) { r, err := ReadRecords(path); return RecordSlice(r), err }},
	} {
		b.Run(way.name, func(b *testing.B) {
			before := heap()
			rs, err := way.load()
			if err != nil {
				b.Fatal(err)
			}
			held := heap() - before
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := rs.Record(i * 7919 % rs.Len()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(held)/n, "heap-B/record")
			runtime.KeepAlive(rs)
		})
	}
}
