// Package metrics computes retrieval metrics with the exact semantics of
// trec_eval (usnistgov/trec_eval, the code pytrec_eval, BEIR and MTEB wrap),
// so numbers reported by tdro match the community's to the fourth decimal.
//
// The rules followed: a run is ranked by score descending with ties broken by
// docid in descending byte order (the rank column of a run file is ignored);
// relevance >= 1 is relevant; nDCG gains are the relevance grades with a
// log2(rank+1) discount and an ideal ranking built from every judged document
// of the query; queries without judgements are skipped; queries judged but
// absent from the run count as 0 when Options.CountMissing is set
// (trec_eval -c).
package metrics

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Qrels maps query id -> doc id -> graded relevance.
type Qrels map[string]map[string]int

// Result is one retrieved document with its score.
type Result struct {
	DocID string
	Score float64
}

// Run maps query id -> retrieved documents (in any order).
type Run map[string][]Result

// Kind is a family of measures.
type Kind int

const (
	NDCG      Kind = iota // graded nDCG@k (trec_eval ndcg_cut.k)
	Recall                // relevant retrieved in top k / relevant (recall.k)
	MRR                   // reciprocal rank of the first relevant in top k (recip_rank; k=0: no cutoff)
	MAP                   // average precision over the top k (map; k=0: no cutoff)
	Precision             // relevant in top k / k (P.k)
	Accuracy              // 1 if any relevant in top k, MKQA-style (success.k)
)

var kindNames = []struct {
	kind  Kind
	short string // tdro's name: ndcg@10
	trec  string // trec_eval's name: ndcg_cut_10
	mteb  string // MTEB's name: ndcg_at_10
}{
	{NDCG, "ndcg", "ndcg_cut", "ndcg_at"},
	{Recall, "recall", "recall", "recall_at"},
	{MRR, "mrr", "recip_rank", "mrr_at"},
	{MAP, "map", "map", "map_at"},
	{Precision, "p", "P", "precision_at"},
	{Accuracy, "acc", "success", "accuracy_at"},
}

// Measure is one metric at one cutoff (K = 0: no cutoff, only for MRR and MAP).
type Measure struct {
	Kind Kind
	K    int
}

// String is tdro's name, e.g. "ndcg@10", "map", "mrr@10".
func (m Measure) String() string {
	n := kindNames[m.Kind].short
	if m.K == 0 {
		return n
	}
	return n + "@" + strconv.Itoa(m.K)
}

// TrecName is the name trec_eval prints, e.g. "ndcg_cut_10", "recip_rank", "P_10".
func (m Measure) TrecName() string {
	n := kindNames[m.Kind].trec
	if m.K == 0 {
		return n
	}
	if m.Kind == MRR || m.Kind == MAP {
		return n + "_cut_" + strconv.Itoa(m.K)
	}
	return n + "_" + strconv.Itoa(m.K)
}

// MTEBName is the key MTEB result files use, e.g. "ndcg_at_10", "map".
func (m Measure) MTEBName() string {
	n := kindNames[m.Kind].mteb
	if m.K == 0 {
		return strings.TrimSuffix(n, "_at")
	}
	return n + "_" + strconv.Itoa(m.K)
}

// ParseMeasure reads a measure in tdro's form ("ndcg@10", "mrr", "acc@5"),
// trec_eval's flag form ("ndcg_cut.10", "P.10", "recip_rank") or its printed
// form ("ndcg_cut_10", "P_10").
func ParseMeasure(s string) (Measure, error) {
	name, k := s, ""
	if i := strings.IndexAny(s, "@."); i >= 0 {
		name, k = s[:i], s[i+1:]
	} else if i := strings.LastIndexByte(s, '_'); i >= 0 {
		if _, err := strconv.Atoi(s[i+1:]); err == nil {
			name, k = s[:i], s[i+1:]
		}
	}
	name = strings.TrimSuffix(name, "_cut")
	for _, kn := range kindNames {
		if name == kn.short || name == kn.trec || name == kn.mteb || strings.EqualFold(name, kn.short) {
			m := Measure{Kind: kn.kind}
			if k != "" {
				v, err := strconv.Atoi(k)
				if err != nil || v <= 0 {
					return Measure{}, fmt.Errorf("measure %q: cutoff must be a positive integer", s)
				}
				m.K = v
			} else if kn.kind != MRR && kn.kind != MAP {
				return Measure{}, fmt.Errorf("measure %q needs a cutoff, e.g. %s@10", s, kn.short)
			}
			return m, nil
		}
	}
	return Measure{}, fmt.Errorf("unknown measure %q (known: ndcg@k, recall@k, mrr[@k], map[@k], p@k, acc@k)", s)
}

// ParseMeasures parses a list of measures (see ParseMeasure).
func ParseMeasures(names ...string) ([]Measure, error) {
	out := make([]Measure, 0, len(names))
	for _, n := range names {
		m, err := ParseMeasure(strings.TrimSpace(n))
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// Default is what tdro reports unless told otherwise: the paper's headline
// metrics (nDCG@10, Recall@100, Acc@k) plus trec_eval's usual companions.
var Default = []Measure{
	{NDCG, 10}, {NDCG, 100}, {Recall, 10}, {Recall, 100}, {MRR, 10}, {MRR, 0}, {MAP, 0},
	{Precision, 10}, {Accuracy, 1}, {Accuracy, 5}, {Accuracy, 20}, {Accuracy, 100},
}

// Options changes how queries enter the mean.
type Options struct {
	// CountMissing counts judged queries absent from the run as 0 (trec_eval -c).
	CountMissing bool
}

// Scores holds per-query values and their means, keyed by Measure.String().
type Scores struct {
	Measures []Measure
	Queries  []string             // evaluated query ids, sorted
	PerQuery map[string][]float64 // query id -> value per measure (same order as Measures)
	Mean     []float64            // mean per measure over Queries
	Missing  []string             // judged queries absent from the run (0 when CountMissing)
	Unjudged []string             // run queries without judgements (skipped)
}

// Value returns the mean of measure m, and whether it was computed.
func (s *Scores) Value(m Measure) (float64, bool) {
	for i, x := range s.Measures {
		if x == m {
			return s.Mean[i], true
		}
	}
	return 0, false
}

// Column returns measure m per query in the order of s.Queries.
func (s *Scores) Column(m Measure) ([]float64, bool) {
	for i, x := range s.Measures {
		if x == m {
			out := make([]float64, len(s.Queries))
			for j, q := range s.Queries {
				out[j] = s.PerQuery[q][i]
			}
			return out, true
		}
	}
	return nil, false
}

// Rank returns results sorted the trec_eval way: score descending, ties by
// docid descending. It copies; the input is unchanged.
func Rank(results []Result) []Result {
	out := append([]Result(nil), results...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].DocID > out[j].DocID
	})
	return out
}

// Evaluate scores run against qrels. It fails on NaN or infinite scores
// (ranks among them mean nothing) and on a document retrieved twice for one
// query, naming the query.
func Evaluate(qrels Qrels, run Run, measures []Measure, opts Options) (*Scores, error) {
	s := &Scores{Measures: measures, PerQuery: map[string][]float64{}}
	for q, res := range run {
		if _, ok := qrels[q]; !ok {
			s.Unjudged = append(s.Unjudged, q)
			continue
		}
		seen := make(map[string]struct{}, len(res))
		for _, r := range res {
			if math.IsNaN(r.Score) || math.IsInf(r.Score, 0) {
				return nil, fmt.Errorf("query %s: document %s has a non-finite score (%v)", q, r.DocID, r.Score)
			}
			if _, dup := seen[r.DocID]; dup {
				return nil, fmt.Errorf("query %s: document %s retrieved twice", q, r.DocID)
			}
			seen[r.DocID] = struct{}{}
		}
		s.PerQuery[q] = Query(qrels[q], Rank(res), measures)
	}
	for q := range qrels {
		if _, ok := run[q]; !ok {
			s.Missing = append(s.Missing, q)
			if opts.CountMissing {
				s.PerQuery[q] = make([]float64, len(measures))
			}
		}
	}
	sort.Strings(s.Missing)
	sort.Strings(s.Unjudged)
	for q := range s.PerQuery {
		s.Queries = append(s.Queries, q)
	}
	sort.Strings(s.Queries)
	s.Mean = make([]float64, len(measures))
	if len(s.Queries) > 0 {
		for _, q := range s.Queries {
			for i, v := range s.PerQuery[q] {
				s.Mean[i] += v
			}
		}
		for i := range s.Mean {
			s.Mean[i] /= float64(len(s.Queries))
		}
	}
	return s, nil
}

// Query computes every measure for one query from its judgements and its
// ranking (already sorted best first, see Rank).
func Query(judged map[string]int, ranked []Result, measures []Measure) []float64 {
	numRel := 0
	for _, r := range judged {
		if r >= 1 {
			numRel++
		}
	}
	rels := make([]int, len(ranked))
	for i, r := range ranked {
		rels[i] = judged[r.DocID]
	}
	out := make([]float64, len(measures))
	for i, m := range measures {
		out[i] = measure(m, judged, rels, numRel)
	}
	return out
}

func measure(m Measure, judged map[string]int, rels []int, numRel int) float64 {
	k := len(rels)
	if m.K > 0 && m.K < k {
		k = m.K
	}
	top := rels[:k]
	switch m.Kind {
	case NDCG:
		return ndcg(judged, top, m.K)
	case Recall:
		if numRel == 0 {
			return 0
		}
		return float64(countRel(top)) / float64(numRel)
	case Precision:
		return float64(countRel(top)) / float64(m.K)
	case Accuracy:
		if countRel(top) > 0 {
			return 1
		}
		return 0
	case MRR:
		for i, r := range top {
			if r >= 1 {
				return 1 / float64(i+1)
			}
		}
		return 0
	case MAP:
		if numRel == 0 {
			return 0
		}
		sum, hits := 0.0, 0
		for i, r := range top {
			if r >= 1 {
				hits++
				sum += float64(hits) / float64(i+1)
			}
		}
		return sum / float64(numRel)
	}
	panic(fmt.Sprintf("metrics: unknown kind %d", m.Kind))
}

func countRel(rels []int) int {
	n := 0
	for _, r := range rels {
		if r >= 1 {
			n++
		}
	}
	return n
}

// ndcg follows trec_eval's ndcg_cut: gain = grade for grades > 0, discount
// log2(rank+1), ideal ranking from all judged documents cut at k.
func ndcg(judged map[string]int, top []int, k int) float64 {
	dcg := 0.0
	for i, r := range top {
		if r > 0 {
			dcg += float64(r) / math.Log2(float64(i+2))
		}
	}
	if dcg == 0 {
		return 0
	}
	ideal := make([]int, 0, len(judged))
	for _, r := range judged {
		if r > 0 {
			ideal = append(ideal, r)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(ideal)))
	if k > 0 && k < len(ideal) {
		ideal = ideal[:k]
	}
	idcg := 0.0
	for i, r := range ideal {
		idcg += float64(r) / math.Log2(float64(i+2))
	}
	return dcg / idcg
}
