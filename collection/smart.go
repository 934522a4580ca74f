package collection

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tdro/tdro/data"
)

// smartEntry is one ".I" block of a SMART file: its id and its fields
// (.T title, .A authors, .W text, ...), each joined into one line.
type smartEntry struct {
	ID     string
	Line   int // of its .I marker
	Fields map[byte]string
}

// readSMART parses a SMART-format file (.ALL or .QRY). Field markers are
// lines ".X" (one capital letter, optional trailing blanks); ".I <id>" starts
// an entry. Text lines are joined with single spaces.
func readSMART(path string) ([]smartEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseSMART(f, path)
}

func parseSMART(r io.Reader, name string) ([]smartEntry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var (
		out   []smartEntry
		field byte
		parts = map[byte][]string{}
		seen  = map[string]int{}
	)
	flush := func() {
		if len(out) == 0 {
			return
		}
		e := &out[len(out)-1]
		for k, v := range parts {
			e.Fields[k] = strings.Join(v, " ")
		}
		parts = map[byte][]string{}
	}
	for line := 1; sc.Scan(); line++ {
		b, err := data.CheckLine(name, line, sc.Bytes())
		if err != nil {
			return nil, err
		}
		text := strings.TrimRight(string(b), " \t\r")
		if marker, rest, ok := smartMarker(text); ok {
			if marker == 'I' {
				flush()
				id := normalizeID(rest)
				if id == "" {
					return nil, fmt.Errorf("%s line %d: field \".I\": missing id", name, line)
				}
				if prev, dup := seen[id]; dup {
					return nil, fmt.Errorf("%s line %d: field \".I\": id %q repeats line %d", name, line, id, prev)
				}
				seen[id] = line
				out = append(out, smartEntry{ID: id, Line: line, Fields: map[byte]string{}})
				field = 0
				continue
			}
			if len(out) == 0 {
				return nil, fmt.Errorf("%s line %d: field \".%c\" before the first .I", name, line, marker)
			}
			field = marker
			text = rest
		} else if len(out) == 0 && strings.TrimSpace(text) != "" {
			return nil, fmt.Errorf("%s line %d: text before the first .I", name, line)
		}
		if t := strings.Join(strings.Fields(text), " "); t != "" && field != 0 {
			parts[field] = append(parts[field], t)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	flush()
	return out, nil
}

// smartMarker recognises ".X" and ".X rest" marker lines.
func smartMarker(line string) (marker byte, rest string, ok bool) {
	if len(line) < 2 || line[0] != '.' || line[1] < 'A' || line[1] > 'Z' {
		return 0, "", false
	}
	if len(line) > 2 && line[2] != ' ' && line[2] != '\t' {
		return 0, "", false
	}
	return line[1], strings.TrimSpace(line[2:]), true
}

// normalizeID strips leading zeros from numeric ids ("001" -> "1").
func normalizeID(s string) string {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return strconv.Itoa(n)
	}
	return s
}

// The file names a classic test-collection folder's three files go by,
// case-insensitive: NAME.ALL / NAME.QRY / NAME.REL (CISI, MED, ADI),
// Cranfield's cran.all.1400 / cran.qry / cranqrel, CACM's cacm.all /
// query.text / qrels.text, and the Glasgow collections' doc-text /
// query-text / rlv-ass (NPL).
var (
	docNames   = []string{"*.all", "*.all.*", "doc-text", "*.docs", "docs.text"}
	queryNames = []string{"*.qry", "query.text", "queries.text", "query-text", "*.que"}
	qrelNames  = []string{"*.rel", "*qrel*", "qrels.text", "rlv-ass", "*.rel.*"}
)

// Files are the three files of a classic collection.
type Files struct{ Docs, Queries, Qrels string }

// smartFiles finds the documents, queries and judgments files of a classic
// collection folder by their common names (docNames, ...). A missing or a
// doubled kind is an error saying which, and which names were tried.
func smartFiles(dir string) (Files, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Files{}, err
	}
	var f Files
	kinds := []struct {
		dst      *string
		kind     string
		patterns []string
	}{{&f.Docs, "documents", docNames}, {&f.Queries, "queries", queryNames}, {&f.Qrels, "judgments", qrelNames}}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		n := strings.ToLower(e.Name())
		for _, k := range kinds {
			if !matchAny(k.patterns, n) {
				continue
			}
			if *k.dst != "" {
				return Files{}, fmt.Errorf("collection %s: two %s files (%s, %s); name them: docs=FILE,queries=FILE,qrels=FILE", dir, k.kind, filepath.Base(*k.dst), e.Name())
			}
			*k.dst = filepath.Join(dir, e.Name())
			break
		}
	}
	var missing []string
	for _, k := range kinds {
		if *k.dst == "" {
			missing = append(missing, fmt.Sprintf("no %s file (tried %s)", k.kind, strings.Join(k.patterns, ", ")))
		}
	}
	if len(missing) > 0 {
		return Files{}, fmt.Errorf("collection %s is not a BEIR folder (no corpus.jsonl) nor a classic collection: %s; or name the files: docs=FILE,queries=FILE,qrels=FILE",
			dir, strings.Join(missing, "; "))
	}
	return f, nil
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := filepath.Match(p, name); ok {
			return true
		}
	}
	return false
}

// LoadSMART reads a classic SMART test collection folder (CISI, Cranfield,
// MEDLINE, ADI). Documents get the .T title and .W text; queries the .W text
// (.T when there is no .W).
//
// Judgments: "qid docid [rel [score]]" per line (TREC's "qid 0 docid rel"
// is recognised too). CISI and ADI write 0 in the
// third column and MED writes 1: every listed pair is relevant (grade 1).
// Cranfield's scale (1 = complete answer ... 4 = minimal interest, -1 = of
// no interest) is recognised by its -1 grades and mapped to graded relevance
// 5-g (4 best .. 1), -1 to 0. Cranfield's judgments number queries 1..225 by
// position while cran.qry keeps the original, gapped ids (001, 002, 004, ...):
// when the query ids are not 1..N in order and every judged id lies in 1..N,
// queries are renumbered by position. Queries without judgments are dropped.
func LoadSMART(dir string) (*Collection, error) {
	f, err := smartFiles(dir)
	if err != nil {
		return nil, err
	}
	return LoadClassic(strings.ToLower(filepath.Base(dir)), f)
}

// LoadClassic reads a classic collection from its three files, in the
// SMART layout (.I/.W markers) or the Glasgow slash-terminated layout
// (recognised by content, see glasgow.go). A query with no text (a
// trailing ".I N", common in these files) is left out with a warning in
// the collection's Warnings, naming its line.
func LoadClassic(name string, f Files) (*Collection, error) {
	if isGlasgow(f.Docs) {
		return loadGlasgow(name, f)
	}
	allPath, qryPath, relPath := f.Docs, f.Queries, f.Qrels
	docs, err := readSMART(allPath)
	if err != nil {
		return nil, err
	}
	qs, err := readSMART(qryPath)
	if err != nil {
		return nil, err
	}
	c := newCollection(name, "en")
	docIDs := make(map[string]bool, len(docs))
	for _, e := range docs {
		c.Docs = append(c.Docs, Doc{ID: e.ID, Title: e.Fields['T'], Text: e.Fields['W']})
		docIDs[e.ID] = true
	}
	for _, e := range qs {
		text := e.Fields['W']
		if text == "" {
			text = e.Fields['T']
		}
		if text == "" {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s line %d: query %s has no text (field \".W\" empty): left out, with its judgments", qryPath, e.Line, e.ID))
		}
		// Kept until the judgments are read: Cranfield's number queries by position.
		c.Queries = append(c.Queries, Query{ID: e.ID, Text: text})
	}
	if err := readSMARTQrels(relPath, c, docIDs); err != nil {
		return nil, err
	}
	c.dropEmptyQueries()
	c.keepJudged()
	return c, c.Validate()
}

// trecLayout recognises a TREC qrels row "qid 0|Q0 docid rel": SMART rows
// put the document second (never 0) and, with four columns, a real-valued
// score last.
func trecLayout(cols []string) bool {
	if len(cols) != 4 || (cols[1] != "0" && cols[1] != "Q0") {
		return false
	}
	_, err := strconv.Atoi(cols[3])
	return err == nil
}

func readSMARTQrels(path string, c *Collection, docIDs map[string]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	type judgment struct {
		line     int
		qid, did string
		grade    int
	}
	var js []judgment
	cranScale := false
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		b, err := data.CheckLine(path, line, sc.Bytes())
		if err != nil {
			return err
		}
		cols := strings.Fields(string(b))
		if len(cols) == 0 {
			continue
		}
		if len(cols) < 2 || len(cols) > 4 {
			return fmt.Errorf("%s line %d: want 2 to 4 columns (query, document, [relevance, [score]]), got %d", path, line, len(cols))
		}
		if trecLayout(cols) { // "qid 0 docid rel", as TREC-format copies of cranqrel
			cols = []string{cols[0], cols[2], cols[3]}
		}
		j := judgment{line: line, qid: normalizeID(cols[0]), did: normalizeID(cols[1]), grade: 1}
		if len(cols) >= 3 {
			g, err := strconv.Atoi(cols[2])
			if err != nil {
				return fmt.Errorf("%s line %d: field \"relevance\": %q is not an integer", path, line, cols[2])
			}
			if g == -1 {
				cranScale = true
			}
			j.grade = g
		}
		if !docIDs[j.did] {
			return fmt.Errorf("%s line %d: field \"document\": %q is not in the collection", path, line, cols[1])
		}
		js = append(js, j)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	qids := map[string]bool{}
	inOrder := true
	for i, q := range c.Queries {
		qids[q.ID] = true
		inOrder = inOrder && q.ID == strconv.Itoa(i+1)
	}
	byPosition := !inOrder
	for _, j := range js {
		n, err := strconv.Atoi(j.qid)
		byPosition = byPosition && err == nil && n >= 1 && n <= len(c.Queries)
	}
	if byPosition {
		for i := range c.Queries {
			c.Queries[i].ID = strconv.Itoa(i + 1)
		}
	}
	for _, j := range js {
		if !byPosition && !qids[j.qid] {
			return fmt.Errorf("%s line %d: field \"query\": %q is not in the queries file", path, j.line, j.qid)
		}
		g := j.grade
		if cranScale {
			switch {
			case g == -1:
				g = 0
			case g >= 1 && g <= 4:
				g = 5 - g
			default:
				return fmt.Errorf("%s line %d: field \"relevance\": %d is outside Cranfield's scale (-1, 1..4)", path, j.line, j.grade)
			}
		} else if g <= 0 {
			g = 1
		}
		addQrel(c.Qrels, j.qid, j.did, g)
	}
	return nil
}
