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
	if isASCII(text) {
		return appendASCIITerms(dst, strings.ToLower(text))
	}
	return appendUnicodeTerms(dst, strings.ToLower(norm.NFKC.String(text)))
}

// appendUnicodeTerms segments lower-cased, NFKC-normalised text with UAX #29
// and splits CJK runs.
func appendUnicodeTerms(dst []string, text string) []string {
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

// ASCII word-break classes of UAX #29 (upper case never occurs: the text is
// lower-cased first).
const (
	wbOther       = iota
	wbLetter      // a-z
	wbNumeric     // 0-9
	wbExtendNum   // _
	wbMidLetter   // :
	wbMidNum      // , ;
	wbMidNumLet   // .
	wbSingleQuote // '
)

var asciiClass = func() (c [128]uint8) {
	for b := 'a'; b <= 'z'; b++ {
		c[b] = wbLetter
	}
	for b := '0'; b <= '9'; b++ {
		c[b] = wbNumeric
	}
	c['_'], c[':'], c[','], c[';'], c['.'], c['\''] = wbExtendNum, wbMidLetter, wbMidNum, wbMidNum, wbMidNumLet, wbSingleQuote
	return c
}()

// appendASCIITerms is UAX #29 word segmentation (rules WB5-WB13b, the only
// ones ASCII letters, digits and punctuation reach) for lower-cased ASCII
// text, several times faster than the general segmenter; a test checks the
// two agree. Words are kept when they hold a letter or a digit.
func appendASCIITerms(dst []string, text string) []string {
	n := len(text)
	class := func(i int) uint8 {
		if i < 0 || i >= n {
			return wbOther
		}
		return asciiClass[text[i]]
	}
	midLetter := func(c uint8) bool { return c == wbMidLetter || c == wbMidNumLet || c == wbSingleQuote }
	midNum := func(c uint8) bool { return c == wbMidNum || c == wbMidNumLet || c == wbSingleQuote }
	joined := func(i int) bool { // no break between text[i] and text[i+1]
		a, b := class(i), class(i+1)
		switch {
		case a == wbLetter && b == wbLetter, // WB5
			a == wbLetter && midLetter(b) && class(i+2) == wbLetter,                   // WB6
			midLetter(a) && b == wbLetter && class(i-1) == wbLetter,                   // WB7
			a == wbNumeric && b == wbNumeric,                                          // WB8
			a == wbLetter && b == wbNumeric,                                           // WB9
			a == wbNumeric && b == wbLetter,                                           // WB10
			midNum(a) && b == wbNumeric && class(i-1) == wbNumeric,                    // WB11
			a == wbNumeric && midNum(b) && class(i+2) == wbNumeric,                    // WB12
			(a == wbLetter || a == wbNumeric || a == wbExtendNum) && b == wbExtendNum, // WB13a
			a == wbExtendNum && (b == wbLetter || b == wbNumeric):                     // WB13b
			return true
		}
		return false
	}
	start := 0
	word := false
	for i := 0; i < n; i++ {
		c := class(i)
		word = word || c == wbLetter || c == wbNumeric
		if i+1 < n && joined(i) {
			continue
		}
		if word {
			dst = append(dst, text[start:i+1])
		}
		start, word = i+1, false
	}
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
