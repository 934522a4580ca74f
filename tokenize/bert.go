package tokenize

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gomlx/go-huggingface/tokenizers/hftokenizer"
)

// bertPrep is our pre-tokenizer + WordPiece for BERT tokenizers
// (BertNormalizer with clean_text, BertPreTokenizer, WordPiece model);
// hftokenizer still normalizes (lowercase, accents, CJK spacing). The parity
// test against the Rust library found three differences in hftokenizer
// v0.4.0, and it is also quadratic in the text length (its pre-tokenizer
// re-encodes the rune prefix at every rune):
//   - Rust's clean_text drops every "Other" character (Cc, Cf, Cs, Co, Cn:
//     soft hyphen, zero-width space/joiner, BOM, ...); hftokenizer drops Cc
//     only, so the word becomes [UNK].
//   - Rust maps every White_Space character to a space (also U+2028/U+2029);
//     hftokenizer only \t \n \r and Zs.
//   - WordPiece's max_input_chars_per_word counts characters in Rust and
//     bytes in hftokenizer, so e.g. a 60-letter Cyrillic word becomes [UNK].
//   - Rust lowercases with the full Unicode mapping, İ (U+0130) to i and a
//     combining dot above; Go maps it to a plain i. Only a normalizer that
//     keeps accents shows it (stripping removes the dot).
type bertPrep struct {
	normalize func(string) string
	vocab     map[string]int32
	unk       int32
	prefix    string
	maxChars  int
	added     []addedToken
}

// newBertPrep returns nil unless the tokenizer is BERT-style.
func newBertPrep(tj *hftokenizer.TokenizerJSON, hf *hftokenizer.Tokenizer) *bertPrep {
	n, p, m := tj.Normalizer, tj.PreTokenizer, tj.Model
	if n == nil || n.Type != "BertNormalizer" || !n.CleanText || p == nil || p.Type != "BertPreTokenizer" || m.Type != "WordPiece" {
		return nil
	}
	b := &bertPrep{normalize: bertNormalize(n, hf), vocab: make(map[string]int32, len(m.Vocab)), unk: -1, prefix: m.ContinuingSubwordPrefix,
		maxChars: m.MaxInputCharsPerWord, added: addedTokens(tj)}
	for tok, id := range m.Vocab {
		b.vocab[tok] = int32(id)
	}
	if id, ok := b.vocab[m.UnkToken]; ok {
		b.unk = id
	}
	if b.prefix == "" {
		b.prefix = "##"
	}
	if b.maxChars == 0 {
		b.maxChars = 100
	}
	return b
}

// bertNormalize is hftokenizer's BertNormalizer with Rust's lowercasing of
// İ where accents are kept.
func bertNormalize(n *hftokenizer.Normalizer, hf *hftokenizer.Tokenizer) func(string) string {
	keepAccents := n.StripAccents != nil && !*n.StripAccents || n.StripAccents == nil && !n.Lowercase
	if !n.Lowercase || !keepAccents {
		return hf.Normalize
	}
	return func(s string) string { return hf.Normalize(strings.ReplaceAll(s, "\u0130", "i\u0307")) }
}

// encode: split off added tokens ([SEP] in the text), clean, split on
// whitespace, normalize, split off punctuation, WordPiece.
func (b *bertPrep) encode(text string) []int32 {
	var out []int32
	splitAdded(text, b.added, func(seg string) {
		bertWords(b.normalize, seg, func(w string) { out = b.wordPiece(w, out) })
	}, func(id int32) { out = append(out, id) })
	return out
}

// bertWords is BertNormalizer + BertPreTokenizer: clean, split on
// whitespace, normalize, split off punctuation; word gets each piece
// WordPiece then splits (the encoder's and the vocabulary trainer's words).
func bertWords(normalize func(string) string, text string, word func(string)) {
	for _, chunk := range strings.Fields(cleanBert(text)) {
		norm := normalize(chunk)
		start := -1
		for i, r := range norm {
			switch {
			case unicode.IsSpace(r) || isBertPunct(r):
				if start >= 0 {
					word(norm[start:i])
					start = -1
				}
				if !unicode.IsSpace(r) {
					word(string(r))
				}
			case start < 0:
				start = i
			}
		}
		if start >= 0 {
			word(norm[start:])
		}
	}
}

type addedToken struct {
	content string
	id      int32
}

// addedTokens lists the tokenizer's added tokens, longest first, so that
// "<|im_start|>" wins over any shorter token that prefixes it.
func addedTokens(tj *hftokenizer.TokenizerJSON) []addedToken {
	var out []addedToken
	for _, at := range tj.AddedTokens {
		if at.Content != "" {
			out = append(out, addedToken{at.Content, int32(at.ID)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].content) > len(out[j].content) })
	return out
}

// splitAdded cuts text at added tokens, which the Rust library matches on
// the raw text before normalization: segment gets the text between them,
// token the ids.
func splitAdded(text string, added []addedToken, segment func(string), token func(int32)) {
	start := 0
	for pos := 0; pos < len(text); {
		found := false
		for _, at := range added {
			if strings.HasPrefix(text[pos:], at.content) {
				if start < pos {
					segment(text[start:pos])
				}
				token(at.id)
				pos += len(at.content)
				start, found = pos, true
				break
			}
		}
		if !found {
			_, size := utf8.DecodeRuneInString(text[pos:])
			pos += size
		}
	}
	if start < len(text) {
		segment(text[start:])
	}
}

// wordPiece is greedy longest-match-first, like the Rust WordPiece model.
func (b *bertPrep) wordPiece(word string, out []int32) []int32 {
	if utf8.RuneCountInString(word) > b.maxChars {
		return append(out, b.unk)
	}
	n := len(out)
	for start := 0; start < len(word); {
		end, id := len(word), int32(-1)
		for start < end {
			sub := word[start:end]
			if start > 0 {
				sub = b.prefix + sub
			}
			if v, ok := b.vocab[sub]; ok {
				id = v
				break
			}
			_, size := utf8.DecodeLastRuneInString(word[start:end])
			end -= size
		}
		if id < 0 {
			return append(out[:n], b.unk)
		}
		out = append(out, id)
		start = end
	}
	return out
}

// isBertPunct is the BERT pre-tokenizer's punctuation: ASCII punctuation
// or Unicode category P.
func isBertPunct(r rune) bool {
	return (r >= 33 && r <= 47) || (r >= 58 && r <= 64) || (r >= 91 && r <= 96) || (r >= 123 && r <= 126) || unicode.IsPunct(r)
}

// cleanBert is the Rust BertNormalizer's clean_text: drop NUL, U+FFFD and
// "Other" characters except \t \n \r, turn White_Space into a space.
func cleanBert(text string) string {
	clean := true
	for _, r := range text {
		if r > unicode.MaxASCII || r < ' ' || r == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return text
	}
	var sb strings.Builder
	sb.Grow(len(text))
	for _, r := range text {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			sb.WriteByte(' ')
		case r == 0 || r == 0xFFFD || isOther(r):
		case unicode.IsSpace(r):
			sb.WriteByte(' ')
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// isOther is Unicode general category C: Cc, Cf, Cs, Co and unassigned (Cn).
func isOther(r rune) bool {
	if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs) {
		return true
	}
	return !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z)
}
