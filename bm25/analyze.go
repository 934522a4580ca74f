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
	var cjk []rune // current run of CJK characters, across adjacent word segments
	flush := func() {
		for i, r := range cjk {
			dst = append(dst, string(r))
			if i > 0 {
				dst = append(dst, string(cjk[i-1:i+1]))
			}
		}
		cjk = cjk[:0]
	}
	state := -1
	for len(text) > 0 {
		var seg string
		seg, text, state = uniseg.FirstWordInString(text, state)
		if !isWord(seg) {
			flush()
			continue
		}
		start := 0
		for i, r := range seg {
			if !isCJK(r) {
				continue
			}
			if part := seg[start:i]; isWord(part) {
				flush()
				dst = append(dst, part)
			}
			cjk = append(cjk, r)
			start = i + utf8.RuneLen(r)
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
