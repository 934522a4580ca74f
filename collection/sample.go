package collection

import (
	"crypto/sha256"
	"sort"
)

// Sample keeps at most maxQueries queries and maxDocs documents of c (0:
// all). The choice is a fixed pseudo-random one — by the SHA-256 of the id —
// so it is spread over the whole collection and identical for every model
// and run; kept items stay in collection order. Every document judged for a
// kept query stays in the corpus, even past maxDocs, so no relevant document
// is lost.
func Sample(c *Collection, maxQueries, maxDocs int) *Collection {
	// Everything but the sample itself carries over (name, language, instruction...).
	out := &Collection{}
	*out = *c
	out.Docs, out.Queries, out.Qrels = nil, nil, map[string]map[string]int{}
	qids := make([]string, len(c.Queries))
	for i, q := range c.Queries {
		qids[i] = q.ID
	}
	keepQ := pick(qids, maxQueries, nil)
	keepD := map[string]bool{}
	for _, q := range c.Queries {
		if keepQ[q.ID] {
			out.Queries = append(out.Queries, q)
			out.Qrels[q.ID] = c.Qrels[q.ID]
			for d := range c.Qrels[q.ID] {
				keepD[d] = true
			}
		}
	}
	dids := make([]string, len(c.Docs))
	for i, d := range c.Docs {
		dids[i] = d.ID
	}
	keepD = pick(dids, maxDocs, keepD)
	for _, d := range c.Docs {
		if keepD[d.ID] {
			out.Docs = append(out.Docs, d)
		}
	}
	return out
}

// pick adds ids to keep, in the order of their SHA-256, until it holds n
// (n <= 0: all ids).
func pick(ids []string, n int, keep map[string]bool) map[string]bool {
	if keep == nil {
		keep = map[string]bool{}
	}
	if n <= 0 || n >= len(ids) {
		for _, id := range ids {
			keep[id] = true
		}
		return keep
	}
	hashed := make([][2]string, len(ids))
	for i, id := range ids {
		h := sha256.Sum256([]byte(id))
		hashed[i] = [2]string{string(h[:]), id}
	}
	sort.Slice(hashed, func(i, j int) bool { return hashed[i][0] < hashed[j][0] })
	for _, h := range hashed {
		if len(keep) >= n {
			break
		}
		keep[h[1]] = true
	}
	return keep
}
