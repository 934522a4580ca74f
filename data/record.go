// Package data holds tdro's unified training records and mixture files.
//
// A record is one training example in the Tevatron / official-tDRO JSONL
// schema:
//
//	{"query_id":"q1","query":"...","positive_passages":[{"docid":"d1","title":"","text":"..."}],"negative_passages":[...]}
//
// Readers also accept FlagEmbedding's {"query":"...","pos":["..."],"neg":["..."]}
// lines. One JSONL file holds one domain (training dataset); a mixture file
// (JSON) lists the domains with their weights, languages and instructions.
// Files are streamed line by line, and every malformed line is reported as a
// *LineError naming the file, line and field.
package data

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"strconv"
	"strings"
)

// ID is an identifier that JSON sources write as a string or a number (or
// null, read as ""); it keeps the text ("7", "1e3", "q1").
type ID string

// UnmarshalJSON accepts a JSON string, number or null.
func (s *ID) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var v string
		err := json.Unmarshal(b, &v)
		*s = ID(v)
		return err
	}
	if string(b) == "null" {
		*s = ""
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("want a string or a number")
	}
	*s = ID(n)
	return nil
}

// Passage is one positive or negative passage of a record.
type Passage struct {
	DocID string `json:"docid"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

// TitleText is how a passage or document is shown to a retriever, in
// training and evaluation alike: title, a space, then text, as Tevatron
// joins them (no space when either is empty).
func TitleText(title, text string) string {
	if title == "" {
		return text
	}
	if text == "" {
		return title
	}
	return title + " " + text
}

// Record is one training example: a query, the passages that answer it and
// (hard) negatives that do not.
type Record struct {
	QueryID   string    `json:"query_id"`
	Query     string    `json:"query"`
	Positives []Passage `json:"positive_passages"`
	Negatives []Passage `json:"negative_passages"`
}

// ByQueryID orders records by query id (slices.SortFunc), the order of
// held-out splits.
func ByQueryID(a, b Record) int { return strings.Compare(a.QueryID, b.QueryID) }

// Validate reports the first problem that makes r unusable for training, as
// a *FieldError naming the offending JSON field.
func (r *Record) Validate() error {
	if err := r.check(); err != nil {
		return err
	}
	return nil
}

func (r *Record) check() *FieldError {
	if blank(r.Query) {
		return &FieldError{Field: "query", Err: errEmpty}
	}
	if len(r.Positives) == 0 {
		return &FieldError{Field: "positive_passages", Err: errors.New("no positive passage")}
	}
	for i, p := range r.Positives {
		if blank(p.Text) && blank(p.Title) {
			return &FieldError{Field: fmt.Sprintf("positive_passages[%d].text", i), Err: errEmpty}
		}
	}
	for i, p := range r.Negatives {
		if blank(p.Text) && blank(p.Title) {
			return &FieldError{Field: fmt.Sprintf("negative_passages[%d].text", i), Err: errEmpty}
		}
	}
	return nil
}

// blank: empty or only white space (the BEIR loader's rule too).
func blank(s string) bool { return strings.TrimSpace(s) == "" }

var errEmpty = errors.New("empty or only white space")

// IDSet finds repeated query ids within a domain (docs/data.md: they are
// unique). It keeps a 64-bit hash and a location per id, not the id.
type IDSet struct{ first map[uint64]Where }

// Where is a line of one of the files a domain is made from.
type Where struct{ File, Line int }

// Add records id at w and returns where it was first seen (ok true), if it
// was.
func (s *IDSet) Add(id string, w Where) (first Where, ok bool) {
	if s.first == nil {
		s.first = map[uint64]Where{}
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	k := h.Sum64()
	if first, ok = s.first[k]; ok {
		return first, true
	}
	s.first[k] = w
	return Where{}, false
}

// DuplicateID is the error for a query id that repeats the one at where
// ("line 3", "a.jsonl line 3").
func DuplicateID(where string) *FieldError {
	return &FieldError{Field: "query_id", Err: fmt.Errorf("repeats the query_id of %s (query ids are unique within a domain)", where)}
}

// DefaultID is the query id of line line of a records file that has none
// (FlagEmbedding lines): "<file stem>:<line>".
func DefaultID(path string, line int) string {
	base := filepath.Base(path)
	for _, ext := range []string{".gz", ".jsonl", ".json"} {
		base = strings.TrimSuffix(base, ext)
	}
	return base + ":" + strconv.Itoa(line)
}

// FieldError is a problem with one field of one record or mixture entry.
type FieldError struct {
	Field string // JSON path of the field, e.g. "positive_passages[0].text"
	Err   error
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("field %q: %v", e.Field, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// LineError is a malformed line or item of an input file, located by line
// and field; importers and the SQuAD parser report bad items with it too.
// Readers return it for a bad line and stay positioned after it, so callers
// that skip bad lines (--skip-bad) can count it and go on.
type LineError struct {
	File  string
	Line  int    // 1-based
	Field string // offending field (JSON path or column), "" when the whole line or item is malformed
	Err   error
}

func (e *LineError) Error() string {
	where := fmt.Sprintf("%s line %d", e.File, e.Line)
	if e.File == "" { // the caller names the file
		where = fmt.Sprintf("line %d", e.Line)
	}
	if e.Field == "" {
		return fmt.Sprintf("%s: %v", where, e.Err)
	}
	return fmt.Sprintf("%s: field %q: %v", where, e.Field, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// IsLineError reports whether err is (or wraps) a *LineError, i.e. a bad
// input line that a lenient caller may skip.
func IsLineError(err error) bool {
	var le *LineError
	return errors.As(err, &le)
}
