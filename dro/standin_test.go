package dro

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tdro/tdro/backend"
	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/train"
)

// hashEncoder tokenizes words by hashing them into vocab ids (0 is padding).
func hashEncoder(vocab, maxLen int) TokenizeFunc {
	tok := func(texts []string) train.Tokens {
		t := train.Tokens{Rows: len(texts), Len: maxLen, IDs: make([]int32, len(texts)*maxLen), Mask: make([]int32, len(texts)*maxLen)}
		for r, text := range texts {
			for j, w := range strings.Fields(text) {
				if j == maxLen {
					break
				}
				h := fnv.New32a()
				h.Write([]byte(w))
				t.IDs[r*maxLen+j] = int32(1 + h.Sum32()%uint32(vocab-1))
				t.Mask[r*maxLen+j] = 1
			}
		}
		return t
	}
	return func(b train.Batch) (*train.Inputs, error) {
		var qs, ps []string
		for _, ex := range b.Examples {
			qs = append(qs, ex.Query)
			ps = append(ps, ex.Passages...)
		}
		return &train.Inputs{Queries: tok(qs), Passages: tok(ps)}, nil
	}
}

// synthDomains makes k domains of n records each; domain g's queries and
// passages share topic words, its negatives are other topics of the domain.
func synthDomains(k, n int, seed uint64) []train.Domain {
	rng := rand.New(rand.NewPCG(seed, 7))
	doms := make([]train.Domain, k)
	for g := range k {
		doms[g].Domain = data.Domain{Name: fmt.Sprintf("dom%d", g), Path: fmt.Sprintf("dom%d.jsonl", g), Weight: 1}
		var recs data.RecordSlice
		for i := range n {
			topic := fmt.Sprintf("t%d_%d", g, i)
			words := func(m int) string {
				var s []string
				for range m {
					s = append(s, fmt.Sprintf("w%d_%d", g, rng.IntN(30+20*g)))
				}
				return strings.Join(s, " ")
			}
			rec := data.Record{QueryID: topic, Query: topic + " " + words(3),
				Positives: []data.Passage{{DocID: topic, Text: topic + " " + words(6)}}}
			for j := range 3 {
				other := fmt.Sprintf("t%d_%d", g, (i+1+j)%n)
				rec.Negatives = append(rec.Negatives, data.Passage{DocID: other, Text: other + " " + words(6)})
			}
			recs = append(recs, rec)
		}
		doms[g].Records = recs
	}
	return doms
}

func testBackend(t testing.TB) {
	t.Helper()
	if _, err := backend.Get(); err != nil {
		t.Fatal(err)
	}
}
