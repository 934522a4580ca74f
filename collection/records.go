package collection

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/tdro/tdro/data"
)

// FromRecords makes an in-domain retrieval set of training records held out
// of training: each record's query is a query, its positives are its
// relevant documents, and the corpus is every positive and hard negative
// of the records. A passage without a docid is identified by its text.
func FromRecords(name, language, instruction string, recs []data.Record) (*Collection, error) {
	c := &Collection{Name: name, Language: language, Instruction: instruction, Qrels: map[string]map[string]int{}}
	seen := map[string]bool{}
	add := func(p data.Passage) string {
		id := p.DocID
		if id == "" {
			sum := sha256.Sum256([]byte(p.Title + "\x00" + p.Text))
			id = "t" + hex.EncodeToString(sum[:8])
		}
		if !seen[id] {
			seen[id] = true
			c.Docs = append(c.Docs, Doc{ID: id, Title: p.Title, Text: p.Text})
		}
		return id
	}
	for i, r := range recs {
		qid := r.QueryID
		if qid == "" || c.Qrels[qid] != nil {
			qid = fmt.Sprintf("q%d", i)
		}
		c.Queries = append(c.Queries, Query{ID: qid, Text: r.Query})
		c.Qrels[qid] = map[string]int{}
		for _, p := range r.Positives {
			c.Qrels[qid][add(p)] = 1
		}
		for _, p := range r.Negatives {
			add(p)
		}
	}
	if len(c.Queries) == 0 {
		return nil, fmt.Errorf("collection %s: no records", name)
	}
	c.dropEmptyQueries()
	return c, nil
}
