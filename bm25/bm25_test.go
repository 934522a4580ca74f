package bm25

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"sync"
	"testing"
)

// bruteForce scores every document directly from the formula.
func bruteForce(texts []string, query string, p Params) []Hit {
	docs := make([][]string, len(texts))
	df := map[string]int{}
	total := 0
	for i, t := range texts {
		docs[i] = Analyze(t)
		total += len(docs[i])
		seen := map[string]bool{}
		for _, w := range docs[i] {
			if !seen[w] {
				df[w]++
				seen[w] = true
			}
		}
	}
	n := float64(len(texts))
	avg := float64(total) / n
	var hits []Hit
	for i, d := range docs {
		tf := map[string]float64{}
		for _, w := range d {
			tf[w]++
		}
		s, matched := 0.0, false
		for _, q := range Analyze(query) {
			if tf[q] == 0 {
				continue
			}
			matched = true
			idf := math.Log(1 + (n-float64(df[q])+0.5)/(float64(df[q])+0.5))
			s += idf * tf[q] / (tf[q] + p.K1*(1-p.B+p.B*float64(len(d))/avg))
		}
		if matched {
			hits = append(hits, Hit{i, s})
		}
	}
	sort.SliceStable(hits, func(a, b int) bool { return hits[a].Score > hits[b].Score })
	return hits
}

var corpus = []string{
	"the quick brown fox jumps over the lazy dog",
	"a quick brown dog",
	"foxes are quick and clever animals, the fox is quick",
	"lazy afternoon",
	"中文信息检索的基本问题",
	"信息检索系统",
	"한국어 질문 답변",
	"the dog",
}

func TestSearchMatchesFormula(t *testing.T) {
	for _, p := range []Params{DefaultParams, {K1: 1.2, B: 0.75}} {
		ix := NewWithOptions(corpus, Options{Params: p})
		for _, q := range []string{"quick fox", "the dog", "lazy lazy dog", "信息检索", "한국어 답변", "absent words"} {
			got := ix.Search(q, 0)
			want := bruteForce(corpus, q, p)
			if len(got) != len(want) {
				t.Fatalf("%v %q: got %v want %v", p, q, got, want)
			}
			for i := range got {
				if got[i].Doc != want[i].Doc || math.Abs(got[i].Score-want[i].Score) > 1e-9 {
					t.Errorf("%v %q: hit %d got %v want %v", p, q, i, got[i], want[i])
				}
			}
		}
	}
}

func TestSearchHandComputed(t *testing.T) {
	// Two docs, one term in one of them: N=2, df=1, idf=ln(1+1.5/1.5)=ln 2.
	ix := New([]string{"apple apple", "pear"})
	got := ix.Search("apple", 10)
	// |d|=2, avgdl=1.5: norm = 0.9*(1-0.4+0.4*2/1.5); score = ln2 * 2/(2+norm).
	norm := 0.9 * (1 - 0.4 + 0.4*2/1.5)
	want := math.Ln2 * 2 / (2 + norm)
	if len(got) != 1 || got[0].Doc != 0 || math.Abs(got[0].Score-want) > 1e-12 {
		t.Errorf("got %v, want doc 0 score %v", got, want)
	}
}

func TestSearchTiesAndK(t *testing.T) {
	ix := New([]string{"x y", "z", "x y", "x y", "y x"})
	got := ix.Search("x", 3)
	docs := []int{got[0].Doc, got[1].Doc, got[2].Doc}
	if !reflect.DeepEqual(docs, []int{0, 2, 3}) {
		t.Errorf("ties should come in document order, got %v", got)
	}
	if n := len(ix.Search("x", 0)); n != 4 {
		t.Errorf("k=0 should return all 4 matches, got %d", n)
	}
	if n := len(ix.Search("nothing", 5)); n != 0 {
		t.Errorf("no match should return nothing, got %d", n)
	}
	if New(nil).Search("x", 5) != nil && len(New(nil).Search("x", 5)) != 0 {
		t.Error("empty index")
	}
}

func TestSearchConcurrent(t *testing.T) {
	texts := make([]string, 500)
	for i := range texts {
		texts[i] = fmt.Sprintf("doc %d word%d word%d common", i, i%7, i%13)
	}
	ix := New(texts)
	want := ix.Search("word3 word5 common", 20)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if got := ix.Search("word3 word5 common", 20); !reflect.DeepEqual(got, want) {
					t.Error("concurrent search differs")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkSearch(b *testing.B) {
	texts := make([]string, 5000)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range texts {
		s := ""
		for range 60 {
			s += fmt.Sprintf("w%d ", int(math.Exp(r.Float64()*9)))
		}
		texts[i] = s
	}
	ix := New(texts)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ix.Search(texts[i%len(texts)][:40], 100)
	}
}
