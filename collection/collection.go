// Package collection loads evaluation collections — BEIR folders, the
// classic SMART test collections (CISI, Cranfield, MEDLINE, ADI) and XQuAD-R
// (monolingual and cross-lingual) — into one in-memory type: a corpus, the
// queries, and graded relevance judgments.
package collection

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Doc is one retrievable document.
type Doc struct{ ID, Title, Text string }

// Query is one evaluation query.
type Query struct{ ID, Text string }

// Collection is a corpus with queries and their relevance judgments.
type Collection struct {
	Name     string
	Language string // language of the queries, or "zh-en" for zh queries over an en corpus
	// Instruction is the task instruction for instructed query encoding
	// (tokenize.Instruct); DefaultInstruction(Name) when loaded.
	Instruction string
	Docs        []Doc
	Queries     []Query
	Qrels       map[string]map[string]int // query id -> doc id -> graded relevance (0 = judged not relevant)
	// Warnings say what the loader left out or assumed (e.g. a query with no
	// text); evaluation reports them with the results.
	Warnings []string
}

// dropEmptyQueries removes queries without text, and their judgments (a
// loader warns about each).
func (c *Collection) dropEmptyQueries() {
	kept := c.Queries[:0]
	for _, q := range c.Queries {
		if q.Text == "" {
			delete(c.Qrels, q.ID)
			continue
		}
		kept = append(kept, q)
	}
	c.Queries = kept
}

// Stats counts what a collection holds.
type Stats struct {
	Docs, Queries, Judgments, Relevant int
}

// Stats counts documents, queries and judgments (Relevant: grade > 0).
func (c *Collection) Stats() Stats {
	s := Stats{Docs: len(c.Docs), Queries: len(c.Queries)}
	for _, m := range c.Qrels {
		for _, g := range m {
			s.Judgments++
			if g > 0 {
				s.Relevant++
			}
		}
	}
	return s
}

// DocIndex maps document ids to their positions in Docs.
func (c *Collection) DocIndex() map[string]int {
	m := make(map[string]int, len(c.Docs))
	for i, d := range c.Docs {
		m[d.ID] = i
	}
	return m
}

// Validate checks that ids are non-empty and unique and that every query
// has judgments.
func (c *Collection) Validate() error {
	seen := make(map[string]bool, len(c.Docs))
	for i, d := range c.Docs {
		if d.ID == "" {
			return fmt.Errorf("collection %s: doc %d has no id", c.Name, i)
		}
		if seen[d.ID] {
			return fmt.Errorf("collection %s: doc id %q repeats", c.Name, d.ID)
		}
		seen[d.ID] = true
	}
	qs := make(map[string]bool, len(c.Queries))
	for _, q := range c.Queries {
		if q.ID == "" || qs[q.ID] {
			return fmt.Errorf("collection %s: query id %q empty or repeated", c.Name, q.ID)
		}
		qs[q.ID] = true
		if len(c.Qrels[q.ID]) == 0 {
			return fmt.Errorf("collection %s: query %q has no judgments", c.Name, q.ID)
		}
	}
	return nil
}

// keepJudged drops queries without judgments, as BEIR and trec_eval do.
func (c *Collection) keepJudged() {
	out := c.Queries[:0]
	for _, q := range c.Queries {
		if len(c.Qrels[q.ID]) > 0 {
			out = append(out, q)
		}
	}
	c.Queries = out
}

// XQuADRCrossPairs are the cross-lingual XQuAD-R sets in Bundled: questions in
// the first language, answer sentences in the second.
var XQuADRCrossPairs = [][2]string{{"zh", "en"}, {"ar", "en"}, {"de", "en"}}

// XQuADRLanguages are the languages of the bundled XQuAD-R files.
var XQuADRLanguages = []string{"ar", "de", "en", "es", "ru", "zh"}

// Bundled loads every evaluation set bundled under dataDir (the
// ../shared/data layout): the two BEIR subsets, the four SMART collections,
// XQuAD-R for each language, and the XQuADRCrossPairs. Order is fixed.
func Bundled(dataDir string) ([]*Collection, error) {
	var out []*Collection
	add := func(c *Collection, err error) error {
		if err != nil {
			return err
		}
		out = append(out, c)
		return nil
	}
	beir, err := subdirs(filepath.Join(dataDir, "eval", "beir"))
	if err != nil {
		return nil, err
	}
	for _, dir := range beir {
		c, err := LoadBEIR(dir, "test")
		if err == nil && c.Language == "und" {
			c.Language = "en" // the bundled BEIR subsets are English
		}
		if err := add(c, err); err != nil {
			return nil, err
		}
	}
	for _, name := range []string{"cisi", "cran", "med", "adi"} {
		if err := add(LoadSMART(filepath.Join(dataDir, "eval", "classic", name))); err != nil {
			return nil, err
		}
	}
	xq := filepath.Join(dataDir, "eval", "xquadr")
	files := map[string]*squadFile{}
	load := func(lang string) (*squadFile, error) {
		if f, ok := files[lang]; ok {
			return f, nil
		}
		f, err := readXQuADR(filepath.Join(xq, lang+".json"))
		files[lang] = f
		return f, err
	}
	for _, lang := range XQuADRLanguages {
		f, err := load(lang)
		if err := add(xquadr(f, f, lang, lang, err)); err != nil {
			return nil, err
		}
	}
	for _, p := range XQuADRCrossPairs {
		q, err := load(p[0])
		if err != nil {
			return nil, err
		}
		s, err := load(p[1])
		if err := add(xquadr(q, s, p[0], p[1], err)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// subdirs lists the directories in dir, sorted.
func subdirs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}
