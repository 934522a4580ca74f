// Package squad reads SQuAD-style reading-comprehension JSON (SQuAD 1.1,
// CMRC 2018, DRCD, KorQuAD, XQuAD-R): articles of paragraphs, each with a
// context and questions whose answers are spans of it. XQuAD-R adds the
// context's sentences and their character offsets.
package squad

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/data/internal/jsonpos"
)

// File is a whole SQuAD-style document.
type File struct {
	Version string    `json:"version"`
	Data    []Article `json:"data"`
}

// Article is one Wikipedia page (or other source document).
type Article struct {
	Title      string      `json:"title"`
	Paragraphs []Paragraph `json:"paragraphs"`
	Line       int         `json:"-"` // line where the article starts in its file
}

// Paragraph is one context with its questions.
type Paragraph struct {
	Context        string   `json:"context"`
	QAs            []QA     `json:"qas"`
	Sentences      []string `json:"sentences,omitempty"`       // XQuAD-R
	SentenceBreaks [][2]int `json:"sentence_breaks,omitempty"` // XQuAD-R: [start, end) rune offsets per sentence
}

// QA is one question and its answer spans.
type QA struct {
	ID           data.ID  `json:"id"`
	Question     string   `json:"question"`
	Answers      []Answer `json:"answers"`
	IsImpossible bool     `json:"is_impossible,omitempty"` // SQuAD 2.0: the paragraph does not answer it
}

// Answer is a span of the paragraph's context.
type Answer struct {
	Text        string `json:"text"`
	AnswerStart int    `json:"answer_start"` // character (rune) offset into the context; -1: unknown
}

// Error is a problem in a SQuAD file, located by line (of the enclosing
// article, or of the syntax error) and JSON path (Field, e.g.
// data[3].paragraphs[0].qas[2].question).
type Error = data.LineError

// ReadFile reads and validates a SQuAD-style file, failing on the first
// malformed item.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if b, err = data.CheckUTF8(path, b); err != nil {
		return nil, err
	}
	return Parse(b, path, nil)
}

// Parse decodes a SQuAD-style document and validates it: every paragraph
// has a context (and as many sentence breaks as sentences) and every
// question is non-empty. Answers are kept as they are: CMRC 2018 marks
// answers it could not locate with answer_start -1. name appears in errors.
//
// A malformed article, paragraph or question is passed to onBad as an
// *Error and left out; Parse stops with onBad's error if it returns one.
// With onBad nil, Parse fails on the first malformed item. Invalid JSON
// syntax always fails.
func Parse(doc []byte, name string, onBad func(error) error) (*File, error) {
	if onBad == nil {
		onBad = func(err error) error { return err }
	}
	f := &File{}
	dec := json.NewDecoder(bytes.NewReader(doc))
	fail := func(off int64, field string, err error) error {
		return &Error{File: name, Line: jsonpos.LineOf(doc, off), Field: field, Err: err}
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, fail(dec.InputOffset(), "", fmt.Errorf("invalid JSON: %v", err))
	}
	if tok != json.Delim('{') {
		return nil, fail(dec.InputOffset(), "", errors.New("want a JSON object with a \"data\" array"))
	}
	sawData := false
	for dec.More() {
		keyTok, err := dec.Token()
		if err != nil {
			return nil, fail(dec.InputOffset(), "", fmt.Errorf("invalid JSON: %v", err))
		}
		key, _ := keyTok.(string)
		switch key {
		case "version":
			var v any
			if err := dec.Decode(&v); err != nil {
				return nil, fail(dec.InputOffset(), "version", fmt.Errorf("invalid JSON: %v", err))
			}
			f.Version = fmt.Sprint(v)
		case "data":
			sawData = true
			if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
				return nil, fail(dec.InputOffset(), "data", errors.New("want an array"))
			}
			for i := 0; dec.More(); i++ {
				start := jsonpos.ValueStart(doc, dec.InputOffset())
				var a Article
				if err := dec.Decode(&a); err != nil {
					var te *json.UnmarshalTypeError
					if !errors.As(err, &te) { // syntax: the decoder cannot go on
						return nil, fail(start, "data["+strconv.Itoa(i)+"]", decodeErr(err))
					}
					if err := onBad(fail(start, "data["+strconv.Itoa(i)+"]"+typeField(err), decodeErr(err))); err != nil {
						return nil, err
					}
					continue
				}
				a.Line = jsonpos.LineOf(doc, start)
				if err := a.validate(i, func(e *Error) error {
					e.File, e.Line = name, a.Line
					return onBad(e)
				}); err != nil {
					return nil, err
				}
				f.Data = append(f.Data, a)
			}
			if _, err := dec.Token(); err != nil {
				return nil, fail(dec.InputOffset(), "data", fmt.Errorf("invalid JSON: %v", err))
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, fail(dec.InputOffset(), key, fmt.Errorf("invalid JSON: %v", err))
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, fail(dec.InputOffset(), "", fmt.Errorf("invalid JSON: %v", err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fail(dec.InputOffset(), "", errors.New("trailing data after the JSON object"))
	}
	if !sawData {
		return nil, fail(0, "data", errors.New("missing"))
	}
	return f, nil
}

func typeField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return "." + te.Field
	}
	return ""
}

func decodeErr(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("wrong JSON type: got %s", te.Value)
	}
	return fmt.Errorf("invalid JSON: %v", err)
}

// validate drops malformed paragraphs and questions, reporting each to bad.
func (a *Article) validate(i int, bad func(*Error) error) error {
	paras := a.Paragraphs[:0]
	for j, p := range a.Paragraphs {
		path := fmt.Sprintf("data[%d].paragraphs[%d]", i, j)
		var perr *Error
		switch {
		case p.Context == "":
			perr = &Error{Field: path + ".context", Err: errors.New("empty")}
		case len(p.SentenceBreaks) != len(p.Sentences):
			perr = &Error{Field: path + ".sentence_breaks", Err: fmt.Errorf("%d breaks for %d sentences", len(p.SentenceBreaks), len(p.Sentences))}
		}
		if perr != nil {
			if err := bad(perr); err != nil {
				return err
			}
			continue
		}
		qas := p.QAs[:0]
		for k, qa := range p.QAs {
			if qa.Question == "" {
				if err := bad(&Error{Field: fmt.Sprintf("%s.qas[%d].question", path, k), Err: errors.New("empty")}); err != nil {
					return err
				}
				continue
			}
			qas = append(qas, qa)
		}
		p.QAs = qas
		paras = append(paras, p)
	}
	a.Paragraphs = paras
	return nil
}

// AnswerSentences returns the indices of p's sentences that contain the
// start of one of qa's answers (XQuAD-R's relevant sentences), sorted and
// without repeats. An answer starting between two sentences belongs to the
// one before.
func (p *Paragraph) AnswerSentences(qa *QA) []int {
	var out []int
	for _, an := range qa.Answers {
		best := -1
		for i, br := range p.SentenceBreaks {
			if br[0] <= an.AnswerStart {
				best = i
			}
		}
		if best < 0 {
			continue
		}
		dup := false
		for _, o := range out {
			dup = dup || o == best
		}
		if !dup {
			out = append(out, best)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
