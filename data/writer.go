package data

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/tdro/tdro/internal/atomicfile"
)

// Writer writes records as Tevatron JSONL, one per line. Output is
// deterministic: fixed field order, no HTML escaping (code snippets stay
// readable), and empty passage lists written as [] rather than null.
type Writer struct {
	enc *json.Encoder
	n   int
}

// NewWriter writes records to w.
func NewWriter(w io.Writer) *Writer {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &Writer{enc: enc}
}

// Write validates r and appends it as one line.
func (w *Writer) Write(r Record) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("record %q: %w", r.QueryID, err)
	}
	if r.Positives == nil {
		r.Positives = []Passage{}
	}
	if r.Negatives == nil {
		r.Negatives = []Passage{}
	}
	if err := w.enc.Encode(&r); err != nil {
		return err
	}
	w.n++
	return nil
}

// Count is the number of records written so far.
func (w *Writer) Count() int { return w.n }

// WriteRecords atomically replaces path with recs as JSONL.
func WriteRecords(path string, recs []Record) error {
	f, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	w := NewWriter(f)
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return f.Commit()
}
