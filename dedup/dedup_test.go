package dedup

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestSimHashNearDuplicates(t *testing.T) {
	tests := []struct {
		a, b string
		near bool
	}{
		{"What is the capital of France?", "what is the capital of france", true},
		{"What is the capital of France?", "WHAT IS THE CAPITAL OF FRANCE ?!", true},
		{"中文问题是什么", "中文问题是什么？", true},
		{"ＡＢＣ news today", "abc news today", true},
		{"What is the capital of France?", "How do I bake sourdough bread at home?", false},
		{"中文问题是什么", "한국어 질문 답변", false},
	}
	for _, tc := range tests {
		a, _ := SimHash(tc.a)
		b, _ := SimHash(tc.b)
		if d := Distance(a, b); (d <= PaperDistance) != tc.near {
			t.Errorf("%q vs %q: distance %d, want near=%v", tc.a, tc.b, d, tc.near)
		}
	}
	if _, ok := SimHash("?!..."); ok {
		t.Error("text without words should have no fingerprint")
	}
}

// The block index must find exactly what a linear scan finds.
func TestSetMatchesLinearScan(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	words := make([]string, 200)
	for i := range words {
		words[i] = fmt.Sprintf("w%d", i)
	}
	sentence := func(n int) string {
		s := ""
		for range n {
			s += words[r.IntN(len(words))] + " "
		}
		return s
	}
	var evals []string
	var hashes []uint64
	for range 2000 {
		evals = append(evals, sentence(3+r.IntN(6)))
		h, _ := SimHash(evals[len(evals)-1])
		hashes = append(hashes, h)
	}
	for _, d := range []int{0, 2, 3, 5} {
		set := NewSet(d)
		for i, e := range evals {
			set.Add(e, fmt.Sprint(i))
		}
		for range 2000 {
			q := sentence(3 + r.IntN(6))
			if r.IntN(4) == 0 {
				q = evals[r.IntN(len(evals))] // exact repeats must match
			}
			hq, _ := SimHash(q)
			want := ""
			for i, he := range hashes {
				if Distance(hq, he) <= d {
					want = fmt.Sprint(i)
					break
				}
			}
			got, ok := set.Match(q)
			if got != want || ok != (want != "") {
				t.Fatalf("d=%d %q: got %q,%v want %q", d, q, got, ok, want)
			}
		}
	}
}

func TestSetIgnoresEmpty(t *testing.T) {
	s := NewSet(2)
	s.Add("...", "x")
	if s.Len() != 0 {
		t.Error("empty text added")
	}
	if _, ok := s.Match("!!!"); ok {
		t.Error("empty text matched")
	}
}
