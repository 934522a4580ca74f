package tokenize

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// unigramJSON is a small Unigram tokenizer (the family of XLM-R, T5 and
// Llama 2): Metaspace pre-tokenizer, vocab as [token, log-probability]
// pairs, ids = positions, and an XLM-R-style template "<s> $A </s>".
const unigramJSON = `{
  "version": "1.0", "truncation": null, "padding": null,
  "added_tokens": [
    {"id": 0, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 1, "content": "<pad>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 3, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
  ],
  "normalizer": null,
  "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "add_prefix_space": true},
  "post_processor": {"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
    "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
    "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]}, "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}},
  "decoder": {"type": "Metaspace", "replacement": "▁", "add_prefix_space": true},
  "model": {"type": "Unigram", "unk_id": 3, "vocab": [
    ["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0],
    ["▁hello", -5.5], ["▁world", -5.8], ["▁test", -6.2], ["▁", -2.1],
    ["hello", -7.5], ["world", -7.8], ["test", -8.2], ["ing", -4.5], ["▁the", -3.2], ["s", -3.0]
  ]}
}`

func TestUnigram(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(unigramJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		text string
		want []int32
	}{
		{"hello world", []int32{0, 4, 5, 2}},                   // <s> ▁hello ▁world </s>
		{"testing the tests", []int32{0, 6, 11, 12, 6, 13, 2}}, // ▁test ing ▁the ▁test s
	} {
		if got := tok.Encode(tc.text, 0); !slices.Equal(got, tc.want) {
			t.Errorf("Encode(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
	if tok.VocabSize() != 14 || tok.PadID() != 1 || tok.EOSID() != 2 {
		t.Errorf("vocab %d, pad %d, eos %d; want 14, 1, 2", tok.VocabSize(), tok.PadID(), tok.EOSID())
	}
}
