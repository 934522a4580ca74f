package prepare

import (
	"math/rand/v2"
	"sort"
)

// Window is the range of a retriever's ranks (0-based, From inclusive, To
// exclusive) that hard negatives are drawn from.
type Window struct{ From, To int }

// PaperWindow is the tDRO recipe: ranks [2, 100) of the query's results —
// the top two are skipped because they are often unlabelled positives.
var PaperWindow = Window{From: 2, To: 100}

// sampleRanked draws up to n documents uniformly without replacement from
// ranks [w.From, w.To) of ranked (documents best first, from any
// retriever), skipping those for which isPositive returns true (nil: none).
// The result is in rank order and depends only on the arguments and rng's
// state.
func sampleRanked(ranked []int, w Window, n int, isPositive func(doc int) bool, rng *rand.Rand) []int {
	if n <= 0 || w.To <= w.From {
		return nil
	}
	var cand []int // ranks
	for i := w.From; i < min(len(ranked), w.To); i++ {
		if isPositive == nil || !isPositive(ranked[i]) {
			cand = append(cand, i)
		}
	}
	if len(cand) > n {
		// Partial Fisher-Yates: the first n slots become a uniform sample.
		for i := 0; i < n; i++ {
			j := i + rng.IntN(len(cand)-i)
			cand[i], cand[j] = cand[j], cand[i]
		}
		cand = cand[:n]
		sort.Ints(cand)
	}
	out := make([]int, len(cand))
	for i, c := range cand {
		out[i] = ranked[c]
	}
	return out
}
