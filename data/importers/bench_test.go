package importers

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkImportAndMine measures import + BM25 hard-negative mining
// throughput (records/s) on bundled domains: each iteration imports every
// record of the domain and mines 7 negatives for all of them.
func BenchmarkImportAndMine(b *testing.B) {
	dir := dataDir(b)
	for _, src := range DefaultSources([]string{"de"}) {
		if src.Name != "korquad" && src.Name != "agnews" && src.Name != "ko_chatbot" && src.Name != "stsb_mt-de" {
			continue
		}
		paths, _ := filepath.Glob(filepath.Join(dir, src.Files[0]))
		b.Run(src.Name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				res, err := Import(src.Format, paths, Options{SkipBad: true})
				if err != nil {
					b.Fatal(err)
				}
				if err := MineNegatives(context.Background(), res.Records, nil, MineOptions{Negatives: 7, Seed: 1}); err != nil {
					b.Fatal(err)
				}
				n += len(res.Records)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
