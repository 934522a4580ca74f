package bm25

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
	"golang.org/x/text/unicode/norm"
)

// Analyzer turns text into index terms.
type Analyzer func(text string) []string

// Analyze is the default, language-neutral analyzer:
//
//  1. NFKC normalisation (full-width letters and digits become ASCII) and
//     lower-casing;
//  2. Unicode word segmentation (UAX #29); segments without a letter or
//     digit (spaces, punctuation) are dropped;
//  3. runs of CJK characters (Han, Hiragana, Katakana, Hangul) become their
//     single characters plus every adjacent-character bigram, since these
//     scripts do not separate words with spaces (Chinese) or glue particles
//     onto words (Korean, Japanese).
//
// No stemming and no stop words, so every language is treated alike.
func Analyze(text string) []string {
	return AppendTerms(nil, text)
}

// AppendTerms appends Analyze(text) to dst, for callers reusing a buffer.
func AppendTerms(dst []string, text string) []string {
	if !isASCII(text) {
		text = norm.NFKC.String(text)
	}
	text = strings.ToLower(text)
	// CJK terms are substrings of text: the run's characters are contiguous.
	var cjk [][2]int // byte spans of the current run of CJK characters
	flush := func() {
		for i, c := range cjk {
			dst = append(dst, text[c[0]:c[1]])
			if i > 0 {
				dst = append(dst, text[cjk[i-1][0]:c[1]])
			}
		}
		cjk = cjk[:0]
	}
	state, pos := -1, 0
	for rest := text; len(rest) > 0; {
		var seg string
		seg, rest, state = uniseg.FirstWordInString(rest, state)
		base := pos
		pos += len(seg)
		if !isWord(seg) {
			flush()
			continue
		}
		start := 0
		for i, r := range seg {
			if !isCJK(r) {
				continue
			}
			if part := seg[start:i]; part != "" {
				flush()
				if isWord(part) {
					dst = append(dst, part)
				}
			}
			size := utf8.RuneLen(r)
			cjk = append(cjk, [2]int{base + i, base + i + size})
			start = i + size
		}
		if part := seg[start:]; isWord(part) {
			flush()
			dst = append(dst, part)
		}
	}
	flush()
	return dst
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isWord reports whether s holds a letter or a digit.
func isWord(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

// isCJK reports whether r is Han, Hiragana, Katakana or Hangul (plus the
// iteration mark 々 and the prolonged-sound mark ー, which Unicode files
// under the Common script).
func isCJK(r rune) bool {
	if r < 0x1100 {
		return false
	}
	return r == 0x3005 || r == 0x30FC || unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}
