package importers

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// table reads CSV/TSV rows, optionally with a header naming the columns.
type table struct {
	name string
	r    *csv.Reader
	cols []string // column names, from the header or given
}

// newTable starts reading src. With header true, the first row names the
// columns and must contain every name in want; otherwise want names the
// columns by position.
func newTable(name string, src []byte, comma rune, header bool, want []string) (*table, error) {
	r := csv.NewReader(bytes.NewReader(src))
	r.Comma = comma
	r.FieldsPerRecord = -1
	r.ReuseRecord = false
	if comma == '\t' {
		r.LazyQuotes = true // TSV: quotes are ordinary characters
	}
	t := &table{name: name, r: r, cols: want}
	if !header {
		return t, nil
	}
	head, err := r.Read()
	if err != nil {
		if err == io.EOF {
			return nil, &ItemError{File: name, Line: 1, Err: errors.New("empty file: want a header row")}
		}
		return nil, &ItemError{File: name, Line: 1, Err: fmt.Errorf("header: %v", err)}
	}
	t.cols = make([]string, len(head))
	for i, h := range head {
		t.cols[i] = strings.TrimSpace(h)
	}
	for _, w := range want {
		if t.index(w) < 0 {
			return nil, &ItemError{File: name, Line: 1, Field: w, Err: fmt.Errorf("column missing from header %q", head)}
		}
	}
	return t, nil
}

func (t *table) index(col string) int {
	for i, c := range t.cols {
		if c == col {
			return i
		}
	}
	return -1
}

// row is one data row with its line number.
type row struct {
	t    *table
	line int
	rec  []string
}

// get returns the trimmed value of column col, or an ItemError naming it.
func (r row) get(col string) (string, error) {
	i := r.t.index(col)
	if i < 0 || i >= len(r.rec) {
		return "", &ItemError{File: r.t.name, Line: r.line, Field: col, Err: fmt.Errorf("missing (row has %d columns)", len(r.rec))}
	}
	return strings.TrimSpace(r.rec[i]), nil
}

// text returns column col with white space collapsed; empty is an error.
func (r row) text(col string) (string, error) {
	v, err := r.get(col)
	if err != nil {
		return "", err
	}
	if v = clean(v); v == "" {
		return "", r.fail(col, errEmpty)
	}
	return v, nil
}

func (r row) fail(col string, err error) error {
	return &ItemError{File: r.t.name, Line: r.line, Field: col, Err: err}
}

// each calls fn for every row; malformed rows and fn's errors go through
// res.bad, so SkipBad skips and counts them.
func (t *table) each(opt Options, res *Result, fn func(r row) error) error {
	lastLine := -1
	for {
		rec, err := t.r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			line := -2
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
				err = &ItemError{File: t.name, Line: pe.StartLine, Err: pe.Err}
			}
			if line == lastLine { // the reader cannot move past this error
				return err
			}
			lastLine = line
			if err := res.bad(opt, err); err != nil {
				return err
			}
			continue
		}
		line, _ := t.r.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if err := fn(row{t: t, line: line, rec: rec}); err != nil {
			if err := res.bad(opt, err); err != nil {
				return err
			}
		}
	}
}
