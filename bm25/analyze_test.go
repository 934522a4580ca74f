package bm25

import (
	"reflect"
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
