package collection

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/tdro/tdro/data"
)

// The Glasgow test collections (NPL, and others from the same archive)
// write every file as records of: a line holding the id, the record's
// lines, and a line holding only "/". Documents and queries hold text;
// the relevance file (rlv-ass) holds the ids of the query's relevant
// documents, white-space separated over any number of lines.

// glasgowRecord is one id ... / record and the line its id is on.
type glasgowRecord struct {
	ID   string
	Line int
	Body []string
}

// isGlasgow says whether path's first non-blank line is a bare id and a
// line holding only "/" follows: the slash-terminated layout.
func isGlasgow(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	first := ""
	for n := 0; sc.Scan() && n < 10000; n++ {
		t := strings.TrimSpace(sc.Text())
		switch {
		case t == "":
		case first == "":
			if len(strings.Fields(t)) != 1 || strings.HasPrefix(t, ".") {
				return false
			}
			first = t
		case t == "/":
			return true
		}
	}
	return false
}

// readGlasgow reads the records of a slash-terminated file.
func readGlasgow(path string) ([]glasgowRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var out []glasgowRecord
	var cur *glasgowRecord
	seen := map[string]int{}
	for line := 1; sc.Scan(); line++ {
		b, err := data.CheckLine(path, line, sc.Bytes())
		if err != nil {
			return nil, err
		}
		t := strings.TrimSpace(string(b))
		switch {
		case t == "" && cur == nil:
		case t == "/":
			if cur == nil {
				return nil, fmt.Errorf("%s line %d: \"/\" ends no record", path, line)
			}
			out = append(out, *cur)
			cur = nil
		case cur == nil:
			if len(strings.Fields(t)) != 1 {
				return nil, fmt.Errorf("%s line %d: want a record id alone on its line, got %q", path, line, t)
			}
			id := normalizeID(t)
			if prev, dup := seen[id]; dup {
				return nil, fmt.Errorf("%s line %d: id %q repeats line %d", path, line, id, prev)
			}
			seen[id] = line
			cur = &glasgowRecord{ID: id, Line: line}
		default:
			cur.Body = append(cur.Body, t)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if cur != nil {
		return nil, fmt.Errorf("%s line %d: record %s is not ended by a \"/\" line", path, cur.Line, cur.ID)
	}
	return out, nil
}

// loadGlasgow reads a slash-terminated collection: every judged document
// is relevant (grade 1); a query without text is left out with a warning.
func loadGlasgow(name string, f Files) (*Collection, error) {
	docs, err := readGlasgow(f.Docs)
	if err != nil {
		return nil, err
	}
	qs, err := readGlasgow(f.Queries)
	if err != nil {
		return nil, err
	}
	rels, err := readGlasgow(f.Qrels)
	if err != nil {
		return nil, err
	}
	c := newCollection(name, "en")
	docIDs := map[string]bool{}
	for _, d := range docs {
		c.Docs = append(c.Docs, Doc{ID: d.ID, Text: strings.Join(d.Body, " ")})
		docIDs[d.ID] = true
	}
	qids := map[string]bool{}
	for _, q := range qs {
		text := strings.Join(strings.Fields(strings.Join(q.Body, " ")), " ")
		if text == "" {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s line %d: query %s has no text: left out, with its judgments", f.Queries, q.Line, q.ID))
		}
		c.Queries = append(c.Queries, Query{ID: q.ID, Text: text})
		qids[q.ID] = true
	}
	for _, r := range rels {
		if !qids[r.ID] {
			return nil, fmt.Errorf("%s line %d: query %q is not in the queries file %s", f.Qrels, r.Line, r.ID, f.Queries)
		}
		for _, did := range strings.Fields(strings.Join(r.Body, " ")) {
			did = normalizeID(did)
			if !docIDs[did] {
				return nil, fmt.Errorf("%s: record of query %s (line %d): document %q is not in the collection", f.Qrels, r.ID, r.Line, did)
			}
			addQrel(c.Qrels, r.ID, did, 1)
		}
	}
	c.dropEmptyQueries()
	c.keepJudged()
	return c, c.Validate()
}
