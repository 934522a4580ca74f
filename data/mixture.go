package data

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/tdro/tdro/data/internal/jsonpos"
	"github.com/tdro/tdro/internal/atomicfile"
)

// Domain is one training dataset in a mixture file.
type Domain struct {
	Name         string   `json:"name"`
	Path         string   `json:"path"`                   // records JSONL, relative to the mixture file
	Language     string   `json:"language"`               // BCP-47-ish code: "en", "zh", "ko", "multi", ...
	Weight       float64  `json:"weight"`                 // sampling probability (normalised by the sampler)
	LossScale    float64  `json:"loss_scale,omitempty"`   // 0 means 1; set by the loss-reweight transfer
	Instructions []string `json:"instructions,omitempty"` // query instructions (one picked per example)
	Symmetric    bool     `json:"symmetric,omitempty"`    // prompt both sides (duplicates, NLI, STS)
	Records      int      `json:"records,omitempty"`      // count written by prepare
	// SourceRecords is how many usable records the source held before
	// prepare's per-domain sample (the size a size-proportional mixture of
	// the full data weighs by); 0: unknown, Records is the size.
	SourceRecords int `json:"source_records,omitempty"`
}

// Instruction is the domain's first query instruction ("" without one): the
// one a single pass over its records (held-out scoring, mining) reads them
// with.
func (d Domain) Instruction() string {
	if len(d.Instructions) == 0 {
		return ""
	}
	return d.Instructions[0]
}

// Mixture is the list of training domains, stored as JSON.
type Mixture struct {
	Domains []Domain `json:"domains"`
}

// LoadMixture reads and validates a mixture file. Domain paths come back
// absolute, resolved against the mixture file's directory.
func LoadMixture(path string) (*Mixture, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Mixture
	if err := DecodeJSON(b, &m); err != nil {
		return nil, fmt.Errorf("mixture %s: %w", path, err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("mixture %s: %w", path, err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	for i := range m.Domains {
		if !filepath.IsAbs(m.Domains[i].Path) {
			m.Domains[i].Path = filepath.Join(dir, m.Domains[i].Path)
		}
	}
	return &m, nil
}

// Validate checks names, paths and weights, naming the offending field.
func (m *Mixture) Validate() error {
	if len(m.Domains) == 0 {
		return &FieldError{Field: "domains", Err: errors.New("no domains")}
	}
	seen := map[string]int{}
	positive := false
	for i, d := range m.Domains {
		field := func(name string) string { return fmt.Sprintf("domains[%d].%s", i, name) }
		switch {
		case d.Name == "":
			return &FieldError{Field: field("name"), Err: errEmpty}
		case d.Path == "":
			return &FieldError{Field: field("path"), Err: errEmpty}
		case math.IsNaN(d.Weight) || math.IsInf(d.Weight, 0) || d.Weight < 0:
			return &FieldError{Field: field("weight"), Err: fmt.Errorf("must be a finite number >= 0, got %v", d.Weight)}
		case math.IsNaN(d.LossScale) || math.IsInf(d.LossScale, 0) || d.LossScale < 0:
			return &FieldError{Field: field("loss_scale"), Err: fmt.Errorf("must be a finite number >= 0, got %v", d.LossScale)}
		case d.Records < 0:
			return &FieldError{Field: field("records"), Err: fmt.Errorf("negative (%d)", d.Records)}
		}
		if j, dup := seen[d.Name]; dup {
			return &FieldError{Field: field("name"), Err: fmt.Errorf("%q repeats domains[%d]", d.Name, j)}
		}
		seen[d.Name] = i
		positive = positive || d.Weight > 0
	}
	if !positive {
		return &FieldError{Field: "domains", Err: errors.New("every weight is 0")}
	}
	return nil
}

// Save validates m and atomically writes it to path. Absolute domain paths
// are written relative to path's directory, so a prepared directory can be
// moved as a whole; a relative path is written as it is, relative to the
// mixture file (callers holding paths relative to the working directory
// make them absolute first, as LoadMixture and prepare.Run do).
func (m *Mixture) Save(path string) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("mixture %s: %w", path, err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return err
	}
	out := Mixture{Domains: make([]Domain, len(m.Domains))}
	copy(out.Domains, m.Domains)
	for i, d := range out.Domains {
		if filepath.IsAbs(d.Path) {
			if rel, err := filepath.Rel(dir, d.Path); err == nil {
				out.Domains[i].Path = filepath.ToSlash(rel)
			}
		}
	}
	return atomicfile.WriteJSON(path, &out)
}

// Weights returns the domain weights normalised to sum to 1 (all 0 when
// every weight is 0 or one is not a finite number >= 0; Validate rejects
// both).
func (m *Mixture) Weights() []float64 {
	w := make([]float64, len(m.Domains))
	for i, d := range m.Domains {
		w[i] = d.Weight
	}
	p, err := Normalize(w)
	if err != nil {
		return make([]float64, len(w))
	}
	return p
}

// Normalize returns weights scaled to sum to 1. It divides by the largest
// weight first, so weights near the float64 maximum (1e308) normalise
// instead of overflowing the sum to +Inf. A weight that is not a finite
// number >= 0, or weights that are all 0, are an error naming the index.
func Normalize(weights []float64) ([]float64, error) {
	top := 0.0
	for i, w := range weights {
		if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
			return nil, fmt.Errorf("weight %d: must be a finite number >= 0, got %v", i, w)
		}
		top = math.Max(top, w)
	}
	if top == 0 {
		return nil, errors.New("every weight is 0")
	}
	out := make([]float64, len(weights))
	sum := 0.0
	for i, w := range weights {
		out[i] = w / top
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out, nil
}

// DecodeJSON decodes the whole-file JSON document doc into v strictly: an
// unknown field is an error (a misspelt field must not silently keep its
// default), and syntax and type errors name the line. Every tdro JSON input
// file (mixtures, configs, weights) is read through it.
func DecodeJSON(doc []byte, v any) error {
	doc, err := CheckUTF8("", doc) // the caller names the file
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("line %d: invalid JSON: %v", jsonpos.LineOf(doc, se.Offset), se)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		// encoding/json names the field without array indexes
		// ("domains.weight"); the value's place in doc gives them.
		field := te.Field
		if p := JSONPathAt(doc, int(te.Offset)-1); p != "" {
			field = p
		}
		return fmt.Errorf("line %d: field %q: want %s, got %s", jsonpos.LineOf(doc, te.Offset), field, jsonKind(te.Type.String()), te.Value)
	}
	if name, ok := strings.CutPrefix(fmt.Sprint(err), "json: unknown field "); ok && err != nil {
		name = strings.Trim(name, `"`)
		if p := JSONKeyPath(doc, name); p != "" {
			return fmt.Errorf("unknown field %q (at %q: no such setting there; check its spelling and its section)", name, p)
		}
		return fmt.Errorf("unknown field %q", name)
	}
	return err
}
