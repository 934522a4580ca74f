package tokenize

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// TrainOptions are the settings of a WordPiece vocabulary fitted to text.
type TrainOptions struct {
	VocabSize    int  // tokens in all, the 5 special ones included
	MinFrequency int  // a character or merge seen fewer times is left out (its words split further or become [UNK])
	Lowercase    bool // lowercase before splitting (accents are kept either way: they carry meaning outside English)
	// MaxCharsPerWord: longer words are one [UNK] (Hugging Face's default
	// is 100; text written without spaces, as Thai is, needs more).
	MaxCharsPerWord int
	// LimitAlphabet keeps the most frequent characters only (Hugging
	// Face's limit_alphabet; 0: all): Chinese alone brings thousands of
	// rare ones, which would fill the vocabulary with no room for merges.
	LimitAlphabet int
	// InitialAlphabet are characters kept whatever the texts hold, alone
	// and as continuations, so that a script the training data lacks is
	// spelt out rather than lost to [UNK] (Hugging Face's initial_alphabet).
	InitialAlphabet []string
}

// DefaultTrainOptions is a 16k multilingual vocabulary.
func DefaultTrainOptions() TrainOptions {
	return TrainOptions{VocabSize: 16000, MinFrequency: 2, Lowercase: true, MaxCharsPerWord: 100, LimitAlphabet: 3000}
}

// Specials are the special tokens of a trained vocabulary, ids 0-4 in this
// order (BERT's names, so every BERT tool finds them).
var Specials = []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}

// TrainWordPiece fits a WordPiece vocabulary to texts as Hugging Face's
// WordPiece trainer does: byte-pair merges on the words that BERT's
// normalizer and pre-tokenizer make, non-initial pieces carrying "##",
// until the vocabulary is full or no pair is seen MinFrequency times (ties
// go to the lexically smaller merge, so the result depends on the texts'
// content only, not their order). It returns the files of a tokenizer the
// Rust tokenizers library loads (tokenizer.json, tokenizer_config.json,
// special_tokens_map.json); Load reads them back.
func TrainWordPiece(texts func(yield func(string) bool), o TrainOptions) (map[string][]byte, error) {
	if o.VocabSize <= len(Specials) || o.MinFrequency < 1 || o.MaxCharsPerWord < 1 {
		return nil, fmt.Errorf("train tokenizer: vocab size must exceed %d, min frequency and max chars per word be >= 1 (got %d, %d, %d)",
			len(Specials), o.VocabSize, o.MinFrequency, o.MaxCharsPerWord)
	}
	for _, ch := range o.InitialAlphabet {
		if utf8.RuneCountInString(ch) != 1 {
			return nil, fmt.Errorf("train tokenizer: initial alphabet entry %q is not one character", ch)
		}
	}
	skeleton, err := wordPieceJSON(o, map[string]int{})
	if err != nil {
		return nil, err
	}
	base, err := fromFiles(map[string][]byte{"tokenizer.json": skeleton})
	if err != nil {
		return nil, fmt.Errorf("train tokenizer: %w", err)
	}
	counts := map[string]int{}
	for text := range texts {
		bertWords(base.bert.normalize, text, func(w string) {
			if utf8.RuneCountInString(w) <= o.MaxCharsPerWord {
				counts[w]++
			}
		})
	}
	if len(counts) == 0 {
		return nil, fmt.Errorf("train tokenizer: no words in the texts")
	}
	vocab := learnMerges(counts, o)
	tj, err := wordPieceJSON(o, vocab)
	if err != nil {
		return nil, err
	}
	special := map[string]string{"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]"}
	sm, err := json.MarshalIndent(special, "", "  ")
	if err != nil {
		return nil, err
	}
	cfg := map[string]any{"tokenizer_class": "BertTokenizerFast", "do_lower_case": o.Lowercase, "strip_accents": false,
		"tokenize_chinese_chars": true, "model_max_length": 512, "clean_up_tokenization_spaces": true}
	for k, v := range special {
		cfg[k] = v
	}
	cb, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	return map[string][]byte{"tokenizer.json": tj, "tokenizer_config.json": cb, "special_tokens_map.json": sm}, nil
}

// learnMerges runs the merges and returns the vocabulary: specials, the
// alphabet (each character alone and as a "##" continuation), then the
// merged tokens in the order they were learnt.
func learnMerges(counts map[string]int, o TrainOptions) map[string]int {
	// The alphabet: characters seen at least MinFrequency times.
	chars := map[string]int{}
	for w, c := range counts {
		for _, r := range w {
			chars[string(r)] += c
		}
	}
	var alphabet []string
	for ch, c := range chars {
		if c >= o.MinFrequency {
			alphabet = append(alphabet, ch)
		}
	}
	if o.LimitAlphabet > 0 && len(alphabet) > o.LimitAlphabet {
		sort.Slice(alphabet, func(i, j int) bool {
			a, b := alphabet[i], alphabet[j]
			return chars[a] > chars[b] || chars[a] == chars[b] && a < b
		})
		alphabet = alphabet[:o.LimitAlphabet]
	}
	inAlphabet := map[string]bool{}
	for _, ch := range alphabet {
		inAlphabet[ch] = true
	}
	for _, ch := range o.InitialAlphabet {
		if !inAlphabet[ch] {
			inAlphabet[ch] = true
			alphabet = append(alphabet, ch)
		}
	}
	sort.Strings(alphabet)

	var tokens []string // id - len(Specials) -> token
	ids := map[string]int32{}
	add := func(t string) int32 {
		if id, ok := ids[t]; ok {
			return id
		}
		id := int32(len(tokens))
		tokens = append(tokens, t)
		ids[t] = id
		return id
	}
	for _, ch := range alphabet {
		add(ch)
	}
	// Continuations of the characters seen inside a word (CJK characters,
	// words of their own, need none), in alphabet order.
	inside := map[string]bool{}
	for _, ch := range o.InitialAlphabet {
		inside[ch] = true
	}
	for w := range counts {
		for i, r := range w {
			if i > 0 {
				inside[string(r)] = true
			}
		}
	}
	for _, ch := range alphabet {
		if inside[ch] {
			add(continuation + ch)
		}
	}

	// Words as symbol ids; a word with a character outside the alphabet is
	// [UNK] whatever is merged, so it takes no part.
	type word struct {
		syms  []int32
		count int
	}
	var words []word
	keys := make([]string, 0, len(counts))
	for w := range counts {
		keys = append(keys, w)
	}
	sort.Strings(keys) // deterministic word order
next:
	for _, w := range keys {
		var syms []int32
		for i, r := range w {
			t := string(r)
			if !inAlphabet[t] {
				continue next
			}
			if i > 0 {
				t = continuation + t
			}
			syms = append(syms, ids[t])
		}
		words = append(words, word{syms, counts[w]})
	}

	pairs := map[[2]int32]int{}
	where := map[[2]int32][]int32{} // pair -> words holding it (may repeat and go stale)
	for wi, w := range words {
		for i := 0; i+1 < len(w.syms); i++ {
			p := [2]int32{w.syms[i], w.syms[i+1]}
			pairs[p] += w.count
			where[p] = append(where[p], int32(wi))
		}
	}
	merged := func(p [2]int32) string { return tokens[p[0]] + strings.TrimPrefix(tokens[p[1]], continuation) }
	q := &pairHeap{merged: merged}
	for p, c := range pairs {
		q.items = append(q.items, pairCount{p, c})
	}
	heap.Init(q)
	seen := make([]int32, len(words)) // stamp: word already redone for this merge
	for stamp := int32(1); len(tokens)+len(Specials) < o.VocabSize && q.Len() > 0; {
		top := heap.Pop(q).(pairCount)
		if c := pairs[top.pair]; c != top.count { // stale: requeue with its current count
			if c > 0 {
				heap.Push(q, pairCount{top.pair, c})
			}
			continue
		}
		if top.count < o.MinFrequency {
			break
		}
		id := add(merged(top.pair)) // a string already made by another split keeps its id: its words just merge
		changed := map[[2]int32]bool{}
		for _, wi := range where[top.pair] {
			if seen[wi] == stamp {
				continue
			}
			seen[wi] = stamp
			w := &words[wi]
			for i := 0; i+1 < len(w.syms); i++ {
				p := [2]int32{w.syms[i], w.syms[i+1]}
				pairs[p] -= w.count
				changed[p] = true
			}
			out := w.syms[:0]
			for i := 0; i < len(w.syms); i++ {
				if i+1 < len(w.syms) && w.syms[i] == top.pair[0] && w.syms[i+1] == top.pair[1] {
					out = append(out, id)
					i++
				} else {
					out = append(out, w.syms[i])
				}
			}
			w.syms = out
			for i := 0; i+1 < len(w.syms); i++ {
				p := [2]int32{w.syms[i], w.syms[i+1]}
				pairs[p] += w.count
				changed[p] = true
				if p[0] == id || p[1] == id {
					where[p] = append(where[p], wi)
				}
			}
		}
		delete(where, top.pair)
		delete(pairs, top.pair)
		for p := range changed {
			if c := pairs[p]; c > 0 {
				heap.Push(q, pairCount{p, c})
			} else {
				delete(pairs, p)
			}
		}
		stamp++
	}
	vocab := make(map[string]int, len(Specials)+len(tokens))
	for i, s := range Specials {
		vocab[s] = i
	}
	for i, t := range tokens {
		vocab[t] = len(Specials) + i
	}
	return vocab
}

const continuation = "##"

type pairCount struct {
	pair  [2]int32
	count int
}

// pairHeap pops the most frequent pair, ties to the smaller merged string.
type pairHeap struct {
	items  []pairCount
	merged func([2]int32) string
}

func (h *pairHeap) Len() int { return len(h.items) }
func (h *pairHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if a.count != b.count {
		return a.count > b.count
	}
	return h.merged(a.pair) < h.merged(b.pair)
}
func (h *pairHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *pairHeap) Push(x any)    { h.items = append(h.items, x.(pairCount)) }
func (h *pairHeap) Pop() any {
	n := len(h.items) - 1
	x := h.items[n]
	h.items = h.items[:n]
	return x
}

// wordPieceJSON is a BERT tokenizer.json (BertNormalizer without accent
// stripping, BertPreTokenizer, WordPiece, [CLS] text [SEP]) over vocab.
func wordPieceJSON(o TrainOptions, vocab map[string]int) ([]byte, error) {
	for i, s := range Specials {
		vocab[s] = i
	}
	type added struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	}
	var addedTokens []added
	for i, s := range Specials {
		addedTokens = append(addedTokens, added{ID: i, Content: s, Special: true})
	}
	piece := func(id string, seq int) map[string]any {
		return map[string]any{"SpecialToken": map[string]any{"id": id, "type_id": seq}}
	}
	seq := func(s string, t int) map[string]any {
		return map[string]any{"Sequence": map[string]any{"id": s, "type_id": t}}
	}
	special := map[string]any{}
	for _, s := range []string{"[CLS]", "[SEP]"} {
		special[s] = map[string]any{"id": s, "ids": []int{vocab[s]}, "tokens": []string{s}}
	}
	tj := map[string]any{
		"version":      "1.0",
		"truncation":   nil,
		"padding":      nil,
		"added_tokens": addedTokens,
		"normalizer": map[string]any{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
			"strip_accents": false, "lowercase": o.Lowercase},
		"pre_tokenizer": map[string]any{"type": "BertPreTokenizer"},
		"post_processor": map[string]any{"type": "TemplateProcessing",
			"single":         []any{piece("[CLS]", 0), seq("A", 0), piece("[SEP]", 0)},
			"pair":           []any{piece("[CLS]", 0), seq("A", 0), piece("[SEP]", 0), seq("B", 1), piece("[SEP]", 1)},
			"special_tokens": special},
		"decoder": map[string]any{"type": "WordPiece", "prefix": continuation, "cleanup": true},
		"model": map[string]any{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": continuation,
			"max_input_chars_per_word": o.MaxCharsPerWord, "vocab": vocab},
	}
	b, err := json.Marshal(tj)
	if err != nil {
		return nil, fmt.Errorf("train tokenizer: %w", err)
	}
	return b, nil
}

// Alphabet is the characters a tokenizer's vocabulary holds as tokens of
// their own (alone or as "##" continuations): an initial alphabet that
// keeps every script that tokenizer spells out.
func (t *Tokenizer) Alphabet() []string {
	var tj struct {
		Model struct {
			Vocab  map[string]int `json:"vocab"`
			Prefix string         `json:"continuing_subword_prefix"`
		} `json:"model"`
	}
	if err := json.Unmarshal(t.files["tokenizer.json"], &tj); err != nil {
		return nil
	}
	seen := map[string]bool{}
	for tok := range tj.Model.Vocab {
		if tj.Model.Prefix != "" {
			tok = strings.TrimPrefix(tok, tj.Model.Prefix)
		}
		if utf8.RuneCountInString(tok) == 1 {
			seen[tok] = true
		}
	}
	out := make([]string, 0, len(seen))
	for ch := range seen {
		out = append(out, ch)
	}
	sort.Strings(out)
	return out
}
