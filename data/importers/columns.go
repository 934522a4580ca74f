package importers

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tdro/tdro/data"
)

func init() {
	register(Format{Name: "pairs", Description: "your own query/passage file: CSV, TSV (.tsv) or JSONL (.jsonl), columns chosen with --query-col, --pos-col and optionally --neg-col and --score-col (kept when score >= --min-score); header names, or 1-based positions with --no-header", Parse: parseColumns})
}

// Columns maps a user's file onto records (the "pairs" format): which
// column holds the query, the positive passage and optionally a hard
// negative and a score. With a header (CSV/TSV) or in JSONL, columns are
// names; without a header, 1-based positions ("1", "2", ...).
type Columns struct {
	Query, Pos, Neg, Score string
	NoHeader               bool
}

func (c *Columns) validate() error {
	switch {
	case c == nil:
		return errors.New(`format "pairs" needs --query-col and --pos-col`)
	case c.Query == "" || c.Pos == "":
		return errors.New(`format "pairs": --query-col and --pos-col are required`)
	}
	if c.NoHeader {
		for _, col := range []string{c.Query, c.Pos, c.Neg, c.Score} {
			if n, err := strconv.Atoi(col); col != "" && (err != nil || n < 1) {
				return fmt.Errorf(`format "pairs" with --no-header: columns are 1-based positions, got %q`, col)
			}
		}
	}
	return nil
}

// parseColumns reads a user's pairs file through opt.Columns: each row is a
// record with id <file stem>:<line>; a row whose score is below the minimum
// (opt.MinScore, default 0 here: every row) is filtered and counted.
func parseColumns(name string, src []byte, opt Options, out *Result) error {
	c := opt.Columns
	if err := c.validate(); err != nil {
		return err
	}
	minScore := 0.0
	if opt.MinScore != nil {
		minScore = *opt.MinScore
	}
	if math.IsNaN(minScore) || math.IsInf(minScore, 0) {
		return fmt.Errorf("%s: min score must be a finite number, got %v", name, minScore)
	}
	add := func(line int, get func(col string) (string, bool)) error {
		fail := func(col string, err error) error { return &ItemError{File: name, Line: line, Field: col, Err: err} }
		text := func(col string) (string, error) {
			v, ok := get(col)
			if !ok {
				return "", fail(col, errors.New("missing"))
			}
			if v = clean(v); v == "" {
				return "", fail(col, errEmpty)
			}
			return v, nil
		}
		if c.Score != "" {
			s, ok := get(c.Score)
			score, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if !ok || err != nil || math.IsNaN(score) || math.IsInf(score, 0) {
				return fail(c.Score, fmt.Errorf("want a finite number, got %q", s))
			}
			if score < minScore {
				out.Filtered++
				return nil
			}
		}
		q, err := text(c.Query)
		if err != nil {
			return err
		}
		p, err := text(c.Pos)
		if err != nil {
			return err
		}
		id := stem(name) + ":" + strconv.Itoa(line)
		rec := data.Record{QueryID: id, Query: q, Positives: []data.Passage{{DocID: id, Text: p}}}
		if c.Neg != "" {
			n, err := text(c.Neg)
			if err != nil {
				return err
			}
			rec.Negatives = []data.Passage{{DocID: id + ":neg", Text: n}}
		}
		out.Records = append(out.Records, rec)
		return nil
	}
	if strings.HasSuffix(name, ".jsonl") {
		rows := strings.Split(string(src), "\n")
		for i, row := range rows {
			if strings.TrimSpace(row) == "" {
				continue
			}
			var obj map[string]any
			if err := decodeItem(name, i+1, []byte(row), &obj); err != nil {
				if err := out.bad(opt, err); err != nil {
					return err
				}
				continue
			}
			err := add(i+1, func(col string) (string, bool) {
				v, ok := obj[col]
				switch v := v.(type) {
				case string:
					return v, ok
				case float64:
					return strconv.FormatFloat(v, 'g', -1, 64), ok
				}
				return "", false
			})
			if err != nil {
				if err := out.bad(opt, err); err != nil {
					return err
				}
			}
		}
		return nil
	}
	comma := ','
	if filepath.Ext(name) == ".tsv" {
		comma = '\t'
	}
	var want []string
	if !c.NoHeader {
		for _, col := range []string{c.Query, c.Pos, c.Neg, c.Score} {
			if col != "" {
				want = append(want, col)
			}
		}
	}
	t, err := newTable(name, src, comma, !c.NoHeader, want)
	if err != nil {
		return err
	}
	return t.each(opt, out, func(r row) error {
		return add(r.line, func(col string) (string, bool) {
			if c.NoHeader {
				i, _ := strconv.Atoi(col)
				if i-1 >= len(r.rec) {
					return "", false
				}
				return r.rec[i-1], true
			}
			v, err := r.get(col)
			return v, err == nil
		})
	})
}
