package tokenize

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// parityFixture is written by scripts/tokenizer-parity/run.sh: real strings
// from the bundled training data and the ids Hugging Face's Rust tokenizers
// (npm @anush008/tokenizers 0.6.0, add_special_tokens=true, no truncation)
// give them.
type parityFixture struct {
	Strings []struct {
		Source string `json:"source"`
		Text   string `json:"text"`
	} `json:"strings"`
	IDs map[string][][]int32 `json:"ids"`
}

func readParity(t testing.TB) *parityFixture {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "parity.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var p parityFixture
	if err := json.NewDecoder(zr).Decode(&p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// TestParityWithRustTokenizers: every id of every string must match.
// parityLanguages counts the fixture's real strings per language (by
// source: stsb-LANG, the Chinese, Korean and English datasets; code and
// edge cases count for none) and keeps the languages with >= 100.
func parityLanguages(p *parityFixture) map[string]int {
	bySource := map[string]string{"cmrc2018": "zh", "drcd": "zh-Hant", "korquad": "ko", "ko_chatbot": "ko",
		"agnews": "en", "sick": "en", "pubmedqa": "en", "conala-intent": "en"}
	n := map[string]int{}
	for _, s := range p.Strings {
		src := strings.TrimSuffix(strings.TrimSuffix(s.Source, "-q"), "-ctx") // questions and contexts
		if lang, ok := strings.CutPrefix(src, "stsb-"); ok {
			n[lang]++
		} else if lang, ok := bySource[src]; ok {
			n[lang]++
		}
	}
	for lang, c := range n {
		if c < 100 {
			delete(n, lang)
		}
	}
	return n
}

func TestParityWithRustTokenizers(t *testing.T) {
	p := readParity(t)
	if len(p.Strings) < 2000 {
		t.Fatalf("fixture has %d strings, want >= 2000", len(p.Strings))
	}
	if langs := parityLanguages(p); len(langs) < 5 {
		t.Fatalf("fixture covers %d languages with >= 100 real strings (%v), want >= 5", len(langs), langs)
	}
	for _, name := range []string{"all-MiniLM-L6-v2", "qwen3"} {
		t.Run(name, func(t *testing.T) {
			tok := load(t, name)
			want := p.IDs[name]
			if len(want) != len(p.Strings) {
				t.Fatalf("fixture has %d id rows for %d strings", len(want), len(p.Strings))
			}
			got := tok.EncodeAll(texts(p), 0)
			bad := map[string]int{}
			shown := 0
			for i := range want {
				if slices.Equal(got[i], want[i]) {
					continue
				}
				bad[p.Strings[i].Source]++
				if shown < 5 {
					shown++
					j := 0
					for j < len(got[i]) && j < len(want[i]) && got[i][j] == want[i][j] {
						j++
					}
					t.Errorf("%s string %d (%s): first difference at token %d\n text: %q\n got:  %v\n want: %v",
						name, i, p.Strings[i].Source, j, p.Strings[i].Text, around(got[i], j), around(want[i], j))
				}
			}
			if len(bad) > 0 {
				var srcs []string
				for s := range bad {
					srcs = append(srcs, s)
				}
				sort.Strings(srcs)
				for _, s := range srcs {
					t.Errorf("%s: %d mismatching strings from %s", name, bad[s], s)
				}
			}
		})
	}
}

func texts(p *parityFixture) []string {
	out := make([]string, len(p.Strings))
	for i, s := range p.Strings {
		out[i] = s.Text
	}
	return out
}

func around(ids []int32, j int) []int32 {
	return ids[max(0, j-3):min(len(ids), j+5)]
}

// BenchmarkEncodeParityStrings encodes the 2,407 parity strings (all cores);
// scripts/tokenizer-parity/bench.sh runs the Rust library on the same ones.
func BenchmarkEncodeParityStrings(b *testing.B) {
	p := readParity(b)
	in := texts(p)
	for _, name := range []string{"all-MiniLM-L6-v2", "qwen3"} {
		b.Run(name, func(b *testing.B) {
			tok := load(b, name)
			tok.EncodeAll(in, 0) // fill the BPE word cache like a warm run
			n := 0
			for b.Loop() {
				for _, r := range tok.EncodeAll(in, 0) {
					n += len(r)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
