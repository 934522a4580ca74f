package tokenize

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/gomlx/go-huggingface/tokenizers/hftokenizer"
)

// byteLevelBPE is our own pre-tokenizer + BPE for byte-level BPE tokenizers
// (GPT-2, Llama 3, Qwen2/3). go-huggingface v0.4.0 gets two things wrong for
// them, which the parity test against the Rust library caught:
//   - The Split pre-tokenizer pattern of these tokenizers uses a look-ahead,
//     `\s+(?!\S)`, which Go's regexp cannot compile; hftokenizer then silently
//     treats the whole text as one word.
//   - Its ByteLevel pre-tokenizer splits on every space even with
//     use_regex=false, so runs of spaces ("ĠĠĠ") never merge.
//
// We compile the pattern with `\s+(?!\S)|\s+` replaced by a capture group
// and emulate the look-ahead (a whitespace run followed by a non-space gives
// back its last character), expand `\s` to Unicode White_Space (Go's `\s`
// is ASCII-only, Oniguruma's is not), map bytes to the GPT-2 alphabet and run
// rank-ordered BPE merges on token ids. Normalization (NFC) and decoding
// still go through hftokenizer.
type byteLevelBPE struct {
	split        *regexp.Regexp // nil: no Split step
	wsGroup      int            // submatch index of the emulated `\s+(?!\S)|\s+`
	addPrefix    bool
	ignoreMerges bool
	vocab        map[string]int32
	merges       map[[2]int32]merge
	byteID       [256]int32 // id of each byte's GPT-2 character
	added        []addedToken
	hasNorm      bool

	mu    sync.RWMutex
	cache map[string][]int32
}

type merge struct{ rank, id int32 }

const maxCache = 1 << 17

// newByteLevelBPE returns nil (and no error) when the tokenizer is not a
// byte-level BPE: hftokenizer handles those on its own.
func newByteLevelBPE(tj *hftokenizer.TokenizerJSON, raw []byte) (*byteLevelBPE, error) {
	if tj.Model.Type != "BPE" || tj.PreTokenizer == nil {
		return nil, nil
	}
	var splits []*hftokenizer.PreTokenizer
	var byteLevel *hftokenizer.PreTokenizer
	steps := []*hftokenizer.PreTokenizer{tj.PreTokenizer}
	if tj.PreTokenizer.Type == "Sequence" {
		steps = nil
		for i := range tj.PreTokenizer.PreTokenizers {
			steps = append(steps, &tj.PreTokenizer.PreTokenizers[i])
		}
	}
	for _, s := range steps {
		switch s.Type {
		case "Split":
			splits = append(splits, s)
		case "ByteLevel":
			byteLevel = s
		default:
			return nil, nil
		}
	}
	if byteLevel == nil || len(splits) > 1 {
		return nil, nil
	}
	b := &byteLevelBPE{
		addPrefix: byteLevel.AddPrefixSpace,
		vocab:     make(map[string]int32, len(tj.Model.Vocab)),
		merges:    make(map[[2]int32]merge, len(tj.Model.Merges)),
		hasNorm:   tj.Normalizer != nil,
		cache:     map[string][]int32{},
	}
	pattern := ""
	if len(splits) == 1 {
		sp := splits[0]
		if sp.Pattern == nil || sp.Invert || !strings.EqualFold(sp.Behavior, "Isolated") {
			return nil, fmt.Errorf("pre_tokenizer Split: only Isolated, non-inverted patterns are supported")
		}
		pattern = sp.Pattern.Regex
		if pattern == "" {
			pattern = regexp.QuoteMeta(sp.Pattern.String)
		}
	}
	// Fields hftokenizer's types do not carry.
	var extra struct {
		PreTokenizer struct {
			UseRegex      *bool `json:"use_regex"`
			PreTokenizers []struct {
				Type     string `json:"type"`
				UseRegex *bool  `json:"use_regex"`
			} `json:"pretokenizers"`
		} `json:"pre_tokenizer"`
		Model struct {
			IgnoreMerges bool `json:"ignore_merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(raw, &extra); err != nil {
		return nil, err
	}
	b.ignoreMerges = extra.Model.IgnoreMerges
	useRegex := extra.PreTokenizer.UseRegex
	for _, p := range extra.PreTokenizer.PreTokenizers {
		if p.Type == "ByteLevel" {
			useRegex = p.UseRegex
		}
	}
	if useRegex == nil || *useRegex { // ByteLevel's own GPT-2 split (default on)
		if pattern != "" {
			return nil, fmt.Errorf("pre_tokenizer: Split followed by ByteLevel with use_regex is not supported")
		}
		pattern = gpt2Pattern
	}
	if pattern != "" {
		re, group, err := compileSplit(pattern)
		if err != nil {
			return nil, fmt.Errorf("pre_tokenizer Split pattern %q: %w", pattern, err)
		}
		b.split, b.wsGroup = re, group
	}
	for tok, id := range tj.Model.Vocab {
		b.vocab[tok] = int32(id)
	}
	for rank, m := range tj.Model.Merges {
		left, right, ok := strings.Cut(m, " ")
		if !ok {
			return nil, fmt.Errorf("model.merges[%d] %q: not a pair", rank, m)
		}
		l, okL := b.vocab[left]
		r, okR := b.vocab[right]
		id, okM := b.vocab[left+right]
		if !okL || !okR || !okM {
			return nil, fmt.Errorf("model.merges[%d] %q: token not in vocab", rank, m)
		}
		if _, dup := b.merges[[2]int32{l, r}]; !dup {
			b.merges[[2]int32{l, r}] = merge{int32(rank), id}
		}
	}
	for i := range 256 {
		id, ok := b.vocab[string(byteRune[i])]
		if !ok {
			return nil, fmt.Errorf("byte-level vocab lacks byte %#x (%q)", i, byteRune[i])
		}
		b.byteID[i] = id
	}
	b.added = addedTokens(tj)
	return b, nil
}

const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

// whiteSpace is Unicode White_Space, what Oniguruma's \s matches.
const whiteSpace = `\t\n\v\f\r \x{85}\p{Z}`

// compileSplit translates a tokenizer split pattern to Go's regexp syntax.
func compileSplit(pattern string) (*regexp.Regexp, int, error) {
	const lookahead = `\s+(?!\S)|\s+`
	if !strings.Contains(pattern, lookahead) {
		if strings.Contains(pattern, "(?=") || strings.Contains(pattern, "(?!") || strings.Contains(pattern, "(?<") {
			return nil, 0, fmt.Errorf("look-around other than %s is not supported", lookahead)
		}
	}
	p := strings.Replace(pattern, lookahead, `(\s+)`, 1)
	if strings.Contains(p, "(?=") || strings.Contains(p, "(?!") || strings.Contains(p, "(?<") {
		return nil, 0, fmt.Errorf("look-around other than %s is not supported", lookahead)
	}
	// Expand \s and \S, inside and outside character classes.
	var sb strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '\\' && i+1 < len(p) {
			n := p[i+1]
			switch {
			case n == 's' && inClass:
				sb.WriteString(whiteSpace)
			case n == 's':
				sb.WriteString("[" + whiteSpace + "]")
			case n == 'S' && !inClass:
				sb.WriteString("[^" + whiteSpace + "]")
			case n == 'S':
				return nil, 0, fmt.Errorf(`\S inside a character class is not supported`)
			default:
				sb.WriteByte(c)
				sb.WriteByte(n)
			}
			i++
			continue
		}
		if c == '[' && !inClass {
			inClass = true
		} else if c == ']' && inClass {
			inClass = false
		}
		sb.WriteByte(c)
	}
	re, err := regexp.Compile(sb.String())
	if err != nil {
		return nil, 0, err
	}
	group := 0
	if strings.Contains(pattern, lookahead) {
		group = re.NumSubexp() // the emulated group is the last capture group
		if group == 0 {
			return nil, 0, fmt.Errorf("internal: emulated group missing")
		}
	}
	return re, group, nil
}

// encode tokenizes text without special tokens.
func (b *byteLevelBPE) encode(hf *hftokenizer.Tokenizer, text string) []int32 {
	var out []int32
	splitAdded(text, b.added, func(seg string) { out = b.encodeSegment(hf, seg, out) }, func(id int32) { out = append(out, id) })
	return out
}

func (b *byteLevelBPE) encodeSegment(hf *hftokenizer.Tokenizer, seg string, out []int32) []int32 {
	if seg == "" {
		return out
	}
	if b.hasNorm {
		seg = hf.Normalize(seg)
	}
	if b.addPrefix && !strings.HasPrefix(seg, " ") {
		seg = " " + seg
	}
	if b.split == nil {
		return b.word(seg, out)
	}
	for pos := 0; pos < len(seg); {
		m := b.split.FindStringSubmatchIndex(seg[pos:])
		if m == nil {
			return b.word(seg[pos:], out)
		}
		s, e := pos+m[0], pos+m[1]
		if s > pos { // Isolated: the unmatched gap is a piece too
			out = b.word(seg[pos:s], out)
		}
		if b.wsGroup > 0 && m[2*b.wsGroup] >= 0 && e < len(seg) {
			// `\s+(?!\S)`: the run is followed by a non-space, so it gives
			// back its last character unless that leaves it empty.
			_, last := utf8.DecodeLastRuneInString(seg[s:e])
			if e-last > s {
				e -= last
			}
		}
		if e == s { // empty match: step over one character
			_, size := utf8.DecodeRuneInString(seg[s:])
			out = b.word(seg[s:s+size], out)
			e = s + size
		} else {
			out = b.word(seg[s:e], out)
		}
		pos = e
	}
	return out
}

// word runs BPE on one pre-token.
func (b *byteLevelBPE) word(w string, out []int32) []int32 {
	b.mu.RLock()
	ids, ok := b.cache[w]
	b.mu.RUnlock()
	if ok {
		return append(out, ids...)
	}
	ids = b.bpe(w)
	b.mu.Lock()
	if len(b.cache) < maxCache {
		b.cache[w] = ids
	}
	b.mu.Unlock()
	return append(out, ids...)
}

func (b *byteLevelBPE) bpe(w string) []int32 {
	if b.ignoreMerges {
		var sb strings.Builder
		for i := 0; i < len(w); i++ {
			sb.WriteRune(byteRune[w[i]])
		}
		if id, ok := b.vocab[sb.String()]; ok {
			return []int32{id}
		}
	}
	syms := make([]int32, len(w))
	for i := 0; i < len(w); i++ {
		syms[i] = b.byteID[w[i]]
	}
	for len(syms) > 1 {
		best, at := merge{rank: -1}, -1
		for i := 0; i+1 < len(syms); i++ {
			if m, ok := b.merges[[2]int32{syms[i], syms[i+1]}]; ok && (at < 0 || m.rank < best.rank) {
				best, at = m, i
			}
		}
		if at < 0 {
			break
		}
		// Merge every non-overlapping occurrence of the best pair, left to
		// right, as the Rust implementation does for equal ranks.
		l, r := syms[at], syms[at+1]
		n := syms[:at]
		for i := at; i < len(syms); {
			if i+1 < len(syms) && syms[i] == l && syms[i+1] == r {
				n = append(n, best.id)
				i += 2
			} else {
				n = append(n, syms[i])
				i++
			}
		}
		syms = n
	}
	return syms
}

// byteRune is GPT-2's reversible byte -> printable character table.
var byteRune = func() (t [256]rune) {
	n := 0
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			t[b] = rune(b)
		} else {
			t[b] = rune(256 + n)
			n++
		}
	}
	return t
}()
