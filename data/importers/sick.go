package importers

import (
	"fmt"
	"strconv"

	"github.com/tdro/tdro/data"
)

func init() {
	register(Format{Name: "sick", Description: "TSV with header pair_ID,sentence_A,sentence_B,...,entailment_judgment: entailment pairs, with sentences contradicting the premise as hard negatives (SICK)", Parse: parseSICK})
}

// parseSICK makes one record per ENTAILMENT pair (premise -> hypothesis).
// Sentences in a CONTRADICTION pair with the premise (either order) are its
// hard negatives.
func parseSICK(name string, src []byte, opt Options, out *Result) error {
	t, err := newTable(name, src, '\t', true, []string{"sentence_A", "sentence_B", "entailment_judgment"})
	if err != nil {
		return err
	}
	type entail struct {
		line int
		a, b string
	}
	var entails []entail
	contradicts := map[string][]string{}
	err = t.each(opt, out, func(r row) error {
		a, err := r.text("sentence_A")
		if err != nil {
			return err
		}
		b, err := r.text("sentence_B")
		if err != nil {
			return err
		}
		label, err := r.get("entailment_judgment")
		if err != nil {
			return err
		}
		switch label {
		case "ENTAILMENT":
			entails = append(entails, entail{r.line, a, b})
		case "CONTRADICTION":
			contradicts[a] = appendNew(contradicts[a], b)
			contradicts[b] = appendNew(contradicts[b], a)
			out.Filtered++
		case "NEUTRAL":
			out.Filtered++
		default:
			return r.fail("entailment_judgment", fmt.Errorf("want ENTAILMENT, NEUTRAL or CONTRADICTION, got %q", label))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, e := range entails {
		id := stem(name) + ":" + strconv.Itoa(e.line)
		rec := data.Record{QueryID: id, Query: e.a, Positives: []data.Passage{{DocID: id, Text: e.b}}}
		for i, c := range contradicts[e.a] {
			if c != e.b {
				rec.Negatives = append(rec.Negatives, data.Passage{DocID: id + "-c" + strconv.Itoa(i), Text: c})
			}
		}
		out.Records = append(out.Records, rec)
	}
	return nil
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
