// Package dedup finds training queries that (nearly) repeat evaluation
// queries, with 64-bit SimHash fingerprints (Charikar 2002) compared by
// Hamming distance — the tDRO paper drops training queries within distance
// 2 of any evaluation query.
//
// Features are the terms of bm25.Analyze (NFKC-folded, lower-cased words;
// CJK characters and bigrams), so case, punctuation and width variants of a
// query get the same fingerprint, and Chinese or Korean queries are
// fingerprinted by their characters rather than as one opaque "word".
package dedup

import (
	"hash/fnv"
	"math/bits"

	"github.com/tdro/tdro/bm25"
)

// PaperDistance is the paper's threshold: Hamming distance <= 2.
const PaperDistance = 2

// SimHash returns text's 64-bit SimHash and whether it has any feature
// (text without letters or digits has none, and matches nothing).
func SimHash(text string) (uint64, bool) {
	terms := bm25.Analyze(text)
	if len(terms) == 0 {
		return 0, false
	}
	var v [64]int
	for _, t := range terms {
		h := featureHash(t)
		for i := range 64 {
			if h&(1<<i) != 0 {
				v[i]++
			} else {
				v[i]--
			}
		}
	}
	var out uint64
	for i := range 64 {
		if v[i] > 0 {
			out |= 1 << i
		}
	}
	return out, true
}

// featureHash is FNV-1a followed by a 64-bit finaliser (splitmix64), so
// that every output bit depends on every input byte.
func featureHash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Distance is the Hamming distance between two fingerprints.
func Distance(a, b uint64) int { return bits.OnesCount64(a ^ b) }

// Set holds evaluation-query fingerprints and answers "is this query within
// MaxDistance of one of them?". Fingerprints are split into four 16-bit
// blocks: two fingerprints within distance 3 agree exactly on at least one
// block, so each lookup only compares against fingerprints sharing a block.
type Set struct {
	maxDist int
	hashes  []uint64
	sources []string
	blocks  [4]map[uint16][]int32
}

// NewSet makes an empty set matching within maxDistance (0..64; above 3
// lookups fall back to a linear scan).
func NewSet(maxDistance int) *Set {
	s := &Set{maxDist: maxDistance}
	for i := range s.blocks {
		s.blocks[i] = map[uint16][]int32{}
	}
	return s
}

// Add fingerprints text, remembering source (e.g. the collection name) to
// report matches. Texts without features are ignored.
func (s *Set) Add(text, source string) {
	h, ok := SimHash(text)
	if !ok {
		return
	}
	id := int32(len(s.hashes))
	s.hashes = append(s.hashes, h)
	s.sources = append(s.sources, source)
	for i := range s.blocks {
		b := uint16(h >> (16 * i))
		s.blocks[i][b] = append(s.blocks[i][b], id)
	}
}

// Len is the number of fingerprints in the set.
func (s *Set) Len() int { return len(s.hashes) }

// Match reports whether text is within the set's distance of a stored
// text, and the source of the earliest-added such text.
func (s *Set) Match(text string) (source string, ok bool) {
	h, ok := SimHash(text)
	if !ok {
		return "", false
	}
	best := int32(-1)
	consider := func(id int32) {
		if (best < 0 || id < best) && Distance(h, s.hashes[id]) <= s.maxDist {
			best = id
		}
	}
	if s.maxDist > 3 {
		for id := range s.hashes {
			consider(int32(id))
		}
	} else {
		for i := range s.blocks {
			for _, id := range s.blocks[i][uint16(h>>(16*i))] {
				consider(id)
			}
		}
	}
	if best < 0 {
		return "", false
	}
	return s.sources[best], true
}
