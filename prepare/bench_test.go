package prepare

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tdro/tdro/data/importers"
	"github.com/tdro/tdro/internal/shareddata"
)

// BenchmarkImportAndMine measures import + BM25 hard-negative mining
// throughput (records/s) on bundled domains: each iteration imports every
// record of the domain and mines 7 negatives for all of them. The
// "import" sub-benchmarks, measured in the same run, are the peer: the
// ratio of the two is what mining costs.
func BenchmarkImportAndMine(b *testing.B) {
	dir := shareddata.Dir(b, "train")
	for _, src := range DefaultSources([]string{"de"}) {
		switch src.Name {
		case "korquad", "ko_chatbot", "agnews", "stsb_mt-de":
		default:
			continue
		}
		paths, _ := filepath.Glob(filepath.Join(dir, src.Files[0]))
		for _, mine := range []bool{false, true} {
			name := src.Name + "/import"
			if mine {
				name += "+mine"
			}
			b.Run(name, func(b *testing.B) {
				n := 0
				for b.Loop() {
					res, err := importers.Import(src.Format, paths, importers.Options{SkipBad: true})
					if err != nil {
						b.Fatal(err)
					}
					if mine {
						if err := MineNegatives(context.Background(), res.Records, nil, MineOptions{Negatives: 7, Seed: 1}); err != nil {
							b.Fatal(err)
						}
					}
					n += len(res.Records)
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}
