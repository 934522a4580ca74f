package data

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// tdro reads text as UTF-8 and nothing else: encoding/json, encoding/csv
// and the tokenizers would otherwise turn each invalid byte into U+FFFD
// without a word, so a Latin-1 file would train and evaluate on mangled
// text. A UTF-8 byte-order mark is dropped; UTF-16 is refused by name.

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// CheckUTF8 checks the whole of a text file: it returns b without a leading
// UTF-8 byte-order mark, or a *LineError naming the file, the line and, in
// JSON or JSONL, the field of the first byte that is not UTF-8.
func CheckUTF8(file string, b []byte) ([]byte, error) {
	b, err := checkStart(file, b)
	if err != nil {
		return nil, err
	}
	if utf8.Valid(b) {
		return b, nil
	}
	off := invalidAt(b)
	line := 1 + bytes.Count(b[:off], []byte{'\n'})
	col := off - (bytes.LastIndexByte(b[:off], '\n') + 1) + 1
	return nil, &LineError{File: file, Line: line, Field: JSONPathAt(b, off), Err: invalidErr(b, off, col)}
}

// CheckLine is CheckUTF8 for line number line of a file read line by line
// (the first line may carry the byte-order mark).
func CheckLine(file string, line int, b []byte) ([]byte, error) {
	if line == 1 {
		var err error
		if b, err = checkStart(file, b); err != nil {
			return nil, err
		}
	}
	if utf8.Valid(b) {
		return b, nil
	}
	off := invalidAt(b)
	return nil, &LineError{File: file, Line: line, Field: JSONPathAt(b, off), Err: invalidErr(b, off, off+1)}
}

func checkStart(file string, b []byte) ([]byte, error) {
	if len(b) >= 2 && (b[0] == 0xFF && b[1] == 0xFE || b[0] == 0xFE && b[1] == 0xFF) {
		return nil, &LineError{File: file, Line: 1, Err: errors.New("the file is UTF-16 (it starts with a UTF-16 byte-order mark); tdro reads UTF-8: convert it, e.g. iconv -f UTF-16 -t UTF-8")}
	}
	return bytes.TrimPrefix(b, utf8BOM), nil
}

func invalidAt(b []byte) int {
	for off := 0; off < len(b); {
		r, n := utf8.DecodeRune(b[off:])
		if r == utf8.RuneError && n <= 1 {
			return off
		}
		off += n
	}
	return len(b)
}

func invalidErr(b []byte, off, col int) error {
	end := min(off+4, len(b))
	return fmt.Errorf("not UTF-8: invalid byte 0x%02X at column %d (bytes % X); tdro reads UTF-8 only: convert the file (e.g. iconv -f LATIN1 -t UTF-8)", b[off], col, b[off:end])
}

// JSONPathAt names the JSON field holding byte off of doc (one JSON value,
// or a stream of them as in JSONL), e.g. "positive_passages[0].text", or
// "" when off is not inside a key or a scalar value of well-formed JSON.
func JSONPathAt(doc []byte, off int) string {
	return walkJSON(doc, func(start, end int64, key string, isKey bool) bool {
		return int64(off) >= start && int64(off) < end
	})
}

// JSONKeyPath names where the object key key first occurs in doc, e.g.
// "train.stepz" (an unknown field, which encoding/json reports without
// its place), or "" when it does not.
func JSONKeyPath(doc []byte, key string) string {
	return walkJSON(doc, func(_, _ int64, k string, isKey bool) bool { return isKey && k == key })
}

// walkJSON visits the keys and scalar values of doc with their byte spans
// and returns the path of the first one hit accepts.
func walkJSON(doc []byte, hit func(start, end int64, key string, isKey bool) bool) string {
	type frame struct {
		object  bool
		key     string
		index   int
		wantKey bool
	}
	var stack []frame
	// path names the current place: every enclosing object's key and
	// array's index; a key being read replaces the innermost object's key.
	path := func(key string) string {
		var s string
		for i, f := range stack {
			if f.object {
				k := f.key
				if i == len(stack)-1 && key != "" {
					k = key
				}
				if s != "" {
					s += "."
				}
				s += k
			} else {
				s += "[" + strconv.Itoa(f.index) + "]"
			}
		}
		return s
	}
	// a value ends: the enclosing object wants a key, the array moves on
	value := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].object {
				stack[n-1].wantKey = true
			} else {
				stack[n-1].index++
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF || err != nil {
			return ""
		}
		end := dec.InputOffset()
		s, isString := tok.(string)
		n := len(stack)
		switch {
		case isString && n > 0 && stack[n-1].object && stack[n-1].wantKey:
			if hit(start, end, s, true) {
				return path(s)
			}
			stack[n-1].key, stack[n-1].wantKey = s, false
		case tok == json.Delim('{') || tok == json.Delim('['):
			stack = append(stack, frame{object: tok == json.Delim('{'), wantKey: true})
		case tok == json.Delim('}') || tok == json.Delim(']'):
			stack = stack[:n-1]
			value()
		default:
			if hit(start, end, s, false) {
				return path("")
			}
			value()
		}
	}
}
