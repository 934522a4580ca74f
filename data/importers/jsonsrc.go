package importers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/data/internal/jsonpos"
	"github.com/tdro/tdro/data/squad"
	"github.com/tdro/tdro/dedup"
	"github.com/tdro/tdro/internal/atomicfile"
)

func init() {
	register(Format{Name: "squad", Description: "SQuAD-style JSON (CMRC 2018, DRCD, KorQuAD, SQuAD 1.1/2.0): question -> its paragraph; the article's other paragraphs become hard negatives; SQuAD 2.0 unanswerable questions are filtered", Parse: parseSQuAD})
	register(Format{Name: "pubmedqa", Description: "PubMedQA JSON object keyed by PMID: QUESTION -> CONTEXTS joined", Parse: parsePubMedQA})
	register(Format{Name: "conala", Description: "CoNaLa JSON list: rewritten_intent (or intent) -> snippet", Parse: parseCoNaLa})
	register(Format{Name: "jsonl", Description: "tdro/Tevatron JSONL {query_id,query,positive_passages,negative_passages} or FlagEmbedding {query,pos,neg}", Parse: parseJSONL})
}

func parseSQuAD(name string, src []byte, opt Options, out *Result) error {
	f, err := squad.Parse(src, name, func(err error) error { return out.bad(opt, err) })
	if err != nil {
		return err
	}
	s := stem(name)
	var ids data.IDSet
	for ai, a := range f.Data {
		paras := make([]data.Passage, len(a.Paragraphs))
		for pi, p := range a.Paragraphs {
			paras[pi] = data.Passage{DocID: fmt.Sprintf("%s:a%dp%d", s, ai, pi), Title: clean(a.Title), Text: clean(p.Context)}
		}
		for pi, p := range a.Paragraphs {
			var negs []data.Passage
			for pj, other := range paras {
				if pj != pi && other.Text != paras[pi].Text {
					negs = append(negs, other)
				}
			}
			for _, qa := range p.QAs {
				if qa.IsImpossible { // SQuAD 2.0: the paragraph is not an answer
					out.Filtered++
					continue
				}
				q := clean(qa.Question)
				if q == "" {
					if err := out.bad(opt, &ItemError{File: name, Line: a.Line, Field: fmt.Sprintf("data[%d].paragraphs[%d].qas[id=%s].question", ai, pi, qa.ID), Err: errEmpty}); err != nil {
						return err
					}
					continue
				}
				if first, dup := ids.Add(string(qa.ID), data.Where{Line: a.Line}); dup {
					// Two questions under one id: the second is skipped and counted
					// (with SkipBad), never silently written as a second record.
					err := &ItemError{File: name, Line: a.Line, Field: fmt.Sprintf("data[%d].paragraphs[%d].qas[id=%s].id", ai, pi, qa.ID),
						Err: fmt.Errorf("repeats the id of a question in the article at line %d (ids become query_ids, unique within a domain)", first.Line)}
					if err := out.bad(opt, err); err != nil {
						return err
					}
					continue
				}
				out.Records = append(out.Records, data.Record{
					QueryID:   s + ":" + string(qa.ID),
					Query:     q,
					Positives: []data.Passage{paras[pi]},
					Negatives: negs,
				})
			}
		}
	}
	return nil
}

// eachItem walks the top-level JSON array or object of src, calling fn
// with each element's key (array index for arrays), its starting line and
// its raw bytes. Malformed elements go through out.bad.
func eachItem(name string, src []byte, open json.Delim, opt Options, out *Result, fn func(key string, line int, raw json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(src))
	fail := func(field string, err error) error {
		return &ItemError{File: name, Line: jsonpos.LineOf(src, dec.InputOffset()), Field: field, Err: err}
	}
	kind := map[json.Delim]string{'[': "array", '{': "object"}[open]
	tok, err := dec.Token()
	if err != nil || tok != open {
		return fail("", fmt.Errorf("want a JSON %s", kind))
	}
	for i := 0; dec.More(); i++ {
		key := strconv.Itoa(i)
		if open == '{' {
			tok, err := dec.Token()
			if err != nil {
				return fail("", fmt.Errorf("invalid JSON: %v", err))
			}
			key, _ = tok.(string)
		}
		start := jsonpos.ValueStart(src, dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fail(key, fmt.Errorf("invalid JSON: %v", err))
		}
		if err := fn(key, jsonpos.LineOf(src, start), raw); err != nil {
			if err := out.bad(opt, err); err != nil {
				return err
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return fail("", fmt.Errorf("invalid JSON: %v", err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fail("", errors.New("trailing data after the JSON value"))
	}
	return nil
}

// decodeItem unmarshals one element, naming the field on type errors.
func decodeItem(name string, line int, raw json.RawMessage, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &ItemError{File: name, Line: line, Field: te.Field, Err: fmt.Errorf("wrong JSON type: got %s", te.Value)}
		}
		return &ItemError{File: name, Line: line, Err: err}
	}
	return nil
}

func parsePubMedQA(name string, src []byte, opt Options, out *Result) error {
	s := stem(name)
	return eachItem(name, src, '{', opt, out, func(pmid string, line int, raw json.RawMessage) error {
		var item struct {
			Question *string  `json:"QUESTION"`
			Contexts []string `json:"CONTEXTS"`
		}
		if err := decodeItem(name, line, raw, &item); err != nil {
			return err
		}
		if item.Question == nil || clean(*item.Question) == "" {
			return &ItemError{File: name, Line: line, Field: pmid + ".QUESTION", Err: errors.New("missing or empty")}
		}
		ctx := clean(strings.Join(item.Contexts, " "))
		if ctx == "" {
			return &ItemError{File: name, Line: line, Field: pmid + ".CONTEXTS", Err: errors.New("missing or empty")}
		}
		out.Records = append(out.Records, data.Record{
			QueryID:   s + ":" + pmid,
			Query:     clean(*item.Question),
			Positives: []data.Passage{{DocID: pmid, Text: ctx}},
		})
		return nil
	})
}

func parseCoNaLa(name string, src []byte, opt Options, out *Result) error {
	s := stem(name)
	return eachItem(name, src, '[', opt, out, func(idx string, line int, raw json.RawMessage) error {
		var item struct {
			Intent    *string `json:"intent"`
			Rewritten *string `json:"rewritten_intent"`
			Snippet   *string `json:"snippet"`
		}
		if err := decodeItem(name, line, raw, &item); err != nil {
			return err
		}
		var q string
		if item.Rewritten != nil {
			q = clean(*item.Rewritten)
		}
		if q == "" && item.Intent != nil {
			q = clean(*item.Intent)
		}
		if q == "" {
			return &ItemError{File: name, Line: line, Field: "[" + idx + "].intent", Err: errors.New("missing or empty (and no rewritten_intent)")}
		}
		if item.Snippet == nil || strings.TrimSpace(*item.Snippet) == "" {
			return &ItemError{File: name, Line: line, Field: "[" + idx + "].snippet", Err: errors.New("missing or empty")}
		}
		id := s + ":" + idx
		out.Records = append(out.Records, data.Record{
			QueryID:   id,
			Query:     q,
			Positives: []data.Passage{{DocID: id, Text: strings.TrimSpace(*item.Snippet)}}, // code: keep its layout
		})
		return nil
	})
}

func parseJSONL(name string, src []byte, opt Options, out *Result) error {
	return eachRecord(data.NewReader(bytes.NewReader(src), name), opt, out, func(rec data.Record) error {
		out.Records = append(out.Records, rec)
		return nil
	})
}

// eachRecord calls fn on every record rd reads; bad lines go to res.bad
// (skipped and counted with opt.SkipBad, fatal otherwise).
func eachRecord(rd *data.Reader, opt Options, res *Result, fn func(data.Record) error) error {
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if !data.IsLineError(err) {
				return err
			}
			if err := res.bad(opt, err); err != nil {
				return err
			}
			continue
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// CopyRecords streams records files (tdro/Tevatron or FlagEmbedding JSONL,
// .gz allowed) into one normalised records file without holding them in
// memory. The result counts skipped lines; its Records stay empty.
func CopyRecords(paths []string, out string, opt Options) (*Result, int, error) {
	return copyRecords(paths, out, opt, nil)
}

// DedupRecords is CopyRecords that also drops records whose query is within
// the set's distance of an evaluation query, counted per evaluation set.
func DedupRecords(paths []string, out string, set *dedup.Set, opt Options) (res *Result, kept int, removedBy map[string]int, err error) {
	removedBy = map[string]int{}
	res, kept, err = copyRecords(paths, out, opt, func(r data.Record) bool {
		if src, dup := set.Match(r.Query); dup {
			removedBy[src]++
			return false
		}
		return true
	})
	return res, kept, removedBy, err
}

func copyRecords(paths []string, out string, opt Options, keep func(data.Record) bool) (*Result, int, error) {
	f, err := atomicfile.Create(out)
	if err != nil {
		return nil, 0, err
	}
	defer f.Abort()
	w := data.NewWriter(f)
	res := &Result{}
	var ids data.IDSet // across the files: they become one domain
	for fi, p := range paths {
		rd, c, err := data.Open(p)
		if err != nil {
			return nil, 0, err
		}
		err = eachRecord(rd, opt, res, func(rec data.Record) error {
			if keep != nil && !keep(rec) {
				return nil
			}
			if first, dup := ids.Add(rec.QueryID, data.Where{File: fi, Line: rd.Line()}); dup {
				err := &ItemError{File: p, Line: rd.Line(), Field: "query_id",
					Err: data.DuplicateID(fmt.Sprintf("%s line %d", paths[first.File], first.Line)).Err}
				return res.bad(opt, err)
			}
			return w.Write(rec)
		})
		c.Close()
		if err != nil {
			return nil, 0, err
		}
	}
	if w.Count() == 0 {
		return nil, 0, fmt.Errorf("no records in %s", strings.Join(paths, ", "))
	}
	if err := f.Commit(); err != nil {
		return nil, 0, err
	}
	return res, w.Count(), nil
}
