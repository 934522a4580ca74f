package collection

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tdro/tdro/data"
)

// LoadBEIR reads a BEIR folder: corpus.jsonl ({"_id","title","text"}),
// queries.jsonl ({"_id","text"}) and qrels/<split>.tsv (query-id, corpus-id,
// score; the header line is optional). Queries without judgments are
// dropped, as BEIR does; a judgment of a query queries.jsonl lacks is an
// error naming its line, as in SMART collections (it would silently drop
// out of the means). BEIR folders do not say their language: it is "und"
// (undetermined) unless an optional language.txt in the folder names it
// ("en", "de", ...); the bundled sets are English (Bundled).
func LoadBEIR(dir, split string) (*Collection, error) {
	lang := "und"
	if b, err := os.ReadFile(filepath.Join(dir, "language.txt")); err == nil {
		if l := strings.TrimSpace(string(b)); l != "" {
			lang = l
		}
	}
	c := newCollection(filepath.Base(dir), lang)
	corpus := filepath.Join(dir, "corpus.jsonl")
	err := scanJSONL(corpus, func(line int, b []byte) error {
		var d struct {
			ID    *data.ID `json:"_id"`
			Title string   `json:"title"`
			Text  string   `json:"text"`
		}
		if err := decodeLine(b, &d); err != nil {
			return err
		}
		if d.ID == nil || *d.ID == "" {
			return fieldErr("_id", errors.New("missing"))
		}
		c.Docs = append(c.Docs, Doc{ID: string(*d.ID), Title: d.Title, Text: d.Text})
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = scanJSONL(filepath.Join(dir, "queries.jsonl"), func(line int, b []byte) error {
		var q struct {
			ID   *data.ID `json:"_id"`
			Text *string  `json:"text"`
		}
		if err := decodeLine(b, &q); err != nil {
			return err
		}
		switch {
		case q.ID == nil || *q.ID == "":
			return fieldErr("_id", errors.New("missing"))
		case q.Text == nil || strings.TrimSpace(*q.Text) == "":
			return fieldErr("text", errors.New("missing or empty"))
		}
		c.Queries = append(c.Queries, Query{ID: string(*q.ID), Text: *q.Text})
		return nil
	})
	if err != nil {
		return nil, err
	}
	qrelsPath := filepath.Join(dir, "qrels", split+".tsv")
	firstLine, err := readQrelsTSV(qrelsPath, c.Qrels)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, q := range c.Queries {
		known[q.ID] = true
	}
	for qid, line := range firstLine {
		if !known[qid] {
			return nil, fmt.Errorf("%s line %d: field \"query-id\": %q is not in queries.jsonl", qrelsPath, line, qid)
		}
	}
	c.keepJudged()
	return c, c.Validate()
}

// readQrelsTSV reads BEIR qrels: query-id, corpus-id, score separated by tabs
// (TREC's four-column "qid 0 docid rel" also works). A first line whose score
// is not a number is a header.
func readQrelsTSV(path string, qrels map[string]map[string]int) (firstLine map[string]int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	firstLine = map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		b, err := data.CheckLine(path, line, sc.Bytes())
		if err != nil {
			return nil, err
		}
		text := strings.TrimSpace(string(b))
		if text == "" {
			continue
		}
		cols := strings.Split(text, "\t")
		if len(cols) == 1 {
			cols = strings.Fields(text)
		}
		var qid, did, score string
		switch len(cols) {
		case 3:
			qid, did, score = cols[0], cols[1], cols[2]
		case 4:
			qid, did, score = cols[0], cols[2], cols[3]
		default:
			return nil, fmt.Errorf("%s line %d: want 3 columns (query-id, corpus-id, score), got %d", path, line, len(cols))
		}
		g, err := strconv.Atoi(strings.TrimSpace(score))
		if err != nil {
			if line == 1 {
				continue // header
			}
			return nil, fmt.Errorf("%s line %d: field \"score\": %q is not an integer", path, line, score)
		}
		qid = strings.TrimSpace(qid)
		if _, ok := firstLine[qid]; !ok {
			firstLine[qid] = line
		}
		addQrel(qrels, qid, strings.TrimSpace(did), g)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return firstLine, nil
}

func addQrel(qrels map[string]map[string]int, qid, did string, grade int) {
	m := qrels[qid]
	if m == nil {
		m = map[string]int{}
		qrels[qid] = m
	}
	m[did] = grade
}

type lineFieldError struct {
	field string
	err   error
}

func (e *lineFieldError) Error() string {
	if e.field == "" {
		return e.err.Error()
	}
	return fmt.Sprintf("field %q: %v", e.field, e.err)
}

func fieldErr(field string, err error) error { return &lineFieldError{field, err} }

// decodeLine decodes one JSON line, naming the field on type errors.
func decodeLine(b []byte, v any) error {
	err := json.Unmarshal(b, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fieldErr(te.Field, fmt.Errorf("got JSON %s", te.Value))
	}
	return fieldErr("", fmt.Errorf("invalid JSON: %w", err))
}

// scanJSONL calls fn for each non-blank line of path, wrapping its errors
// with the file name and line number.
func scanJSONL(path string, fn func(line int, b []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("read %s: %w", path, err)
		}
		b, cerr := data.CheckLine(path, line, b)
		if cerr != nil {
			return cerr
		}
		if t := bytes.TrimSpace(b); len(t) > 0 {
			if ferr := fn(line, t); ferr != nil {
				return fmt.Errorf("%s line %d: %w", path, line, ferr)
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}
