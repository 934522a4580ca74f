package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Reader streams records from JSONL, one line at a time. Each line is either
// a Tevatron record or a FlagEmbedding {"query","pos","neg"} record; blank
// lines are ignored. Lines can be of any length. Text must be UTF-8 (a
// leading byte-order mark is dropped): anything else is a *LineError.
type Reader struct {
	name  string
	r     *bufio.Reader
	line  int
	done  bool
	read  int64 // bytes consumed
	start int64 // where the line last returned (or rejected) starts
	ids   IDSet // query ids seen: a repeat is a *LineError
}

// NewReader reads records from r; name (usually the file path) appears in
// errors.
func NewReader(r io.Reader, name string) *Reader {
	return &Reader{name: name, r: bufio.NewReaderSize(r, 1<<16)}
}

// Line is the 1-based number of the line last returned (or rejected).
func (rd *Reader) Line() int { return rd.line }

// Span is where the line last returned (or rejected) lies in the input: its
// first byte and its length, newline included (IndexRecords reads records
// back from there).
func (rd *Reader) Span() (start, length int64) { return rd.start, rd.read - rd.start }

// Next returns the next record, io.EOF at the end, a *LineError for a
// malformed line (after which Next may be called again), or another error
// when the underlying reader fails.
func (rd *Reader) Next() (Record, error) {
	for !rd.done {
		b, err := rd.r.ReadBytes('\n')
		if err == io.EOF {
			rd.done = true
			if len(b) == 0 {
				break
			}
		} else if err != nil {
			rd.done = true
			return Record{}, fmt.Errorf("read %s after line %d: %w", rd.name, rd.line, err)
		}
		rd.line++
		rd.start, rd.read = rd.read, rd.read+int64(len(b))
		if rd.line == 1 && bytes.HasPrefix(b, utf8BOM) {
			rd.start += int64(len(utf8BOM)) // IndexRecords reads the record back from start
		}
		b, err = CheckLine(rd.name, rd.line, b)
		if err != nil {
			return Record{}, err
		}
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		rec, ferr := parseRecord(b, DefaultID(rd.name, rd.line))
		if ferr != nil {
			return Record{}, lineError(rd.name, rd.line, ferr)
		}
		if first, dup := rd.ids.Add(rec.QueryID, Where{Line: rd.line}); dup {
			return Record{}, lineError(rd.name, rd.line, DuplicateID(fmt.Sprintf("line %d", first.Line)))
		}
		return rec, nil
	}
	return Record{}, io.EOF
}

// lineError locates a record's field error in its file.
func lineError(file string, line int, ferr *FieldError) *LineError {
	return &LineError{File: file, Line: line, Field: ferr.Field, Err: ferr.Err}
}

type rawPassage struct {
	DocID ID     `json:"docid"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

type rawRecord struct {
	QueryID   ID           `json:"query_id"`
	Query     *string      `json:"query"`
	Positives []rawPassage `json:"positive_passages"`
	Negatives []rawPassage `json:"negative_passages"`
	Pos       []string     `json:"pos"` // FlagEmbedding
	Neg       []string     `json:"neg"` // FlagEmbedding
}

// parseRecord decodes one JSONL line (Tevatron or FlagEmbedding) and
// validates it. defaultID becomes the query id when the line has none
// (FlagEmbedding lines never do).
func parseRecord(line []byte, defaultID string) (Record, *FieldError) {
	var raw rawRecord
	if err := json.Unmarshal(line, &raw); err != nil {
		return Record{}, jsonFieldError(err)
	}
	if raw.Query == nil {
		return Record{}, &FieldError{Field: "query", Err: errors.New("missing")}
	}
	tevatron := raw.Positives != nil || raw.Negatives != nil
	flag := raw.Pos != nil || raw.Neg != nil
	if tevatron && flag {
		return Record{}, &FieldError{Field: "pos", Err: errors.New("line mixes Tevatron (positive_passages) and FlagEmbedding (pos/neg) fields")}
	}
	rec := Record{QueryID: string(raw.QueryID), Query: *raw.Query}
	if rec.QueryID == "" {
		rec.QueryID = defaultID
	}
	if flag {
		rec.Positives = textPassages(raw.Pos)
		rec.Negatives = textPassages(raw.Neg)
		if err := rec.check(); err != nil {
			// Name the FlagEmbedding field the user actually wrote.
			err.Field = strings.NewReplacer("positive_passages", "pos", "negative_passages", "neg", ".text", "").Replace(err.Field)
			return Record{}, err
		}
		return rec, nil
	}
	rec.Positives = passages(raw.Positives)
	rec.Negatives = passages(raw.Negatives)
	if err := rec.check(); err != nil {
		return Record{}, err
	}
	return rec, nil
}

func passages(raw []rawPassage) []Passage {
	out := make([]Passage, len(raw))
	for i, p := range raw {
		out[i] = Passage{DocID: string(p.DocID), Title: p.Title, Text: p.Text}
	}
	return out
}

func textPassages(texts []string) []Passage {
	out := make([]Passage, len(texts))
	for i, t := range texts {
		out[i] = Passage{Text: t}
	}
	return out
}

// jsonFieldError turns a decoding error into a FieldError naming the field
// when encoding/json knows it.
func jsonFieldError(err error) *FieldError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return &FieldError{Err: fmt.Errorf("want a JSON object, got %s", te.Value)}
		}
		return &FieldError{Field: te.Field, Err: fmt.Errorf("want %s, got %s", jsonKind(te.Type.String()), te.Value)}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &FieldError{Err: fmt.Errorf("invalid JSON at byte %d: %v", se.Offset, se)}
	}
	return &FieldError{Err: err}
}

func jsonKind(goType string) string {
	switch {
	case goType == "string" || goType == "*string" || goType == "data.ID":
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "data."):
		return "an object"
	}
	return goType
}

// Open opens a records file for reading; names ending in .gz are
// decompressed on the fly.
func Open(path string) (*Reader, io.Closer, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, nil, err
	}
	if !strings.HasSuffix(path, ".gz") {
		return NewReader(f, path), f, nil
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return NewReader(zr, path), multiCloser{zr, f}, nil
}

type multiCloser []io.Closer

func (m multiCloser) Close() error {
	var first error
	for _, c := range m {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// ScanRecords streams the records of path to fn with their 1-based line
// numbers. It stops at the first malformed line (a *LineError) or at the
// first error fn returns.
func ScanRecords(path string, fn func(line int, r Record) error) error {
	rd, c, err := Open(path)
	if err != nil {
		return err
	}
	defer c.Close()
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(rd.Line(), rec); err != nil {
			return err
		}
	}
}

// ReadRecords reads a whole records file into memory (tests, small files;
// the trainer indexes its domains with IndexRecords instead).
func ReadRecords(path string) ([]Record, error) {
	var out []Record
	err := ScanRecords(path, func(_ int, r Record) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// openFile opens a file to read, saying so plainly when path is a
// directory (reading one fails only at the first read, as "is a
// directory" after line 0).
func openFile(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s is a directory, not a records file (a domain's path names one JSONL file)", path)
	}
	return f, nil
}
