package bm25

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestAnalyze(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Hello, World! It's 3.14 — don't panic.", []string{"hello", "world", "it's", "3.14", "don't", "panic"}},
		{"ＦＵＬＬ-width １２３", []string{"full", "width", "123"}},
		{"中文问题", []string{"中", "文", "中文", "问", "文问", "题", "问题"}},
		{"光荣和ω-force", []string{"光", "荣", "光荣", "和", "荣和", "ω", "force"}},
		{"한국어 문장", []string{"한", "국", "한국", "어", "국어", "문", "장", "문장"}},
		{"東京タワーへ行く", []string{"東", "京", "東京", "タ", "京タ", "ワ", "タワ", "ー", "ワー", "へ", "ーへ", "行", "へ行", "く", "行く"}},
		{"GPT-4是AI", []string{"gpt", "4", "是", "ai"}},
		{"Straße ÉCOLE", []string{"straße", "école"}},
		{"...  ---", nil},
		{"", nil},
	}
	for _, tc := range tests {
		if got := Analyze(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Analyze(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// The ASCII fast path must segment exactly like the general UAX #29 path.
func TestASCIIFastPathMatchesUAX29(t *testing.T) {
	alphabet := "ab z09_:,;.'\" -!?()\t\n"
	r := rand.New(rand.NewPCG(5, 6))
	cases := []string{"", "a", "it's", "3.14", "a.b.c", "1,000,000", "x'", "'x", "a:b", "1:2", "_a_", "a__1", "e.g.", "u.s.a", "a..b", "1..2", "a1.b2", "x,1", "1,x", "don't'", "co-op", "__init__"}
	for range 20000 {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, c := range cases {
		fast := appendASCIITerms(nil, c)
		slow := appendUnicodeTerms(nil, c)
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast %q, UAX #29 %q", c, fast, slow)
		}
	}
}

func BenchmarkAnalyze(b *testing.B) {
	text := "The quick brown fox's 3.14 jumps over the lazy dog, e.g. twice; foo_bar baz. "
	text = strings.Repeat(text, 20)
	b.Run("ascii-fast", func(b *testing.B) {
		for b.Loop() {
			appendASCIITerms(nil, text)
		}
	})
	b.Run("uax29", func(b *testing.B) {
		for b.Loop() {
			appendUnicodeTerms(nil, text)
		}
	})
}
