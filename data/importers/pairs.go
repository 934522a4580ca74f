package importers

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tdro/tdro/data"
)

func init() {
	register(Format{Name: "ko_chatbot", Description: "CSV with header Q,A,label: chit-chat question -> answer (songys/Chatbot_data)", Parse: parseKoChatbot})
	register(Format{Name: "ko_qpair", Description: "CSV with header ...,question1,question2,is_duplicate: label 0 = same question (songys/Question_pair)", Parse: parseKoQPair})
	register(Format{Name: "agnews", Description: "CSV without header class,title,description: title -> description (AG News)", Parse: parseAGNews})
	register(Format{Name: "stsb", Description: "CSV without header sentence1,sentence2,score: pairs with score >= MinScore (default 4) (STS-B, stsb-multi-mt)", Parse: parseSTSB})
}

// pair appends a query -> positive record with an id from file and line.
func pair(out *Result, name string, line int, query, pos string) {
	id := stem(name) + ":" + strconv.Itoa(line)
	out.Records = append(out.Records, data.Record{
		QueryID:   id,
		Query:     query,
		Positives: []data.Passage{{DocID: id, Text: pos}},
	})
}

func parseKoChatbot(name string, src []byte, opt Options, out *Result) error {
	t, err := newTable(name, src, ',', true, []string{"Q", "A"})
	if err != nil {
		return err
	}
	return t.each(opt, out, func(r row) error {
		q, err := r.text("Q")
		if err != nil {
			return err
		}
		a, err := r.text("A")
		if err != nil {
			return err
		}
		pair(out, name, r.line, q, a)
		return nil
	})
}

// parseKoQPair keeps duplicate pairs: label 0 means the two questions are
// the same (the dataset's own convention), 1 means different.
func parseKoQPair(name string, src []byte, opt Options, out *Result) error {
	t, err := newTable(name, src, ',', true, []string{"question1", "question2", "is_duplicate"})
	if err != nil {
		return err
	}
	return t.each(opt, out, func(r row) error {
		label, err := r.get("is_duplicate")
		if err != nil {
			return err
		}
		switch label {
		case "0":
		case "1":
			out.Filtered++
			return nil
		default:
			return r.fail("is_duplicate", fmt.Errorf("want 0 (same) or 1 (different), got %q", label))
		}
		q1, err := r.text("question1")
		if err != nil {
			return err
		}
		q2, err := r.text("question2")
		if err != nil {
			return err
		}
		pair(out, name, r.line, q1, q2)
		return nil
	})
}

// agnewsText undoes AG News's CSV escapes: "\" stands for a line break and
// HTML entities lost their "&" ("#36;" is "$").
var agnewsText = strings.NewReplacer(`\`, " ", "#36;", "$", "#39;", "'", "quot;", `"`, "amp;", "&", "lt;", "<", "gt;", ">")

func parseAGNews(name string, src []byte, opt Options, out *Result) error {
	t, err := newTable(name, src, ',', false, []string{"class", "title", "description"})
	if err != nil {
		return err
	}
	return t.each(opt, out, func(r row) error {
		if len(r.rec) != 3 {
			return r.fail("", fmt.Errorf("want 3 columns (class, title, description), got %d", len(r.rec)))
		}
		var text [2]string
		for i, col := range []string{"title", "description"} {
			v, err := r.get(col)
			if err != nil {
				return err
			}
			if text[i] = clean(agnewsText.Replace(v)); text[i] == "" {
				return r.fail(col, errEmpty)
			}
		}
		pair(out, name, r.line, text[0], text[1])
		return nil
	})
}

func parseSTSB(name string, src []byte, opt Options, out *Result) error {
	minScore := 4.0
	if opt.MinScore != nil {
		minScore = *opt.MinScore
	}
	if !(minScore >= 0 && minScore <= 5) {
		return fmt.Errorf("%s: min score must be a number in [0, 5], got %v", name, minScore)
	}
	t, err := newTable(name, src, ',', false, []string{"sentence1", "sentence2", "score"})
	if err != nil {
		return err
	}
	return t.each(opt, out, func(r row) error {
		if len(r.rec) != 3 {
			return r.fail("", fmt.Errorf("want 3 columns (sentence1, sentence2, score), got %d", len(r.rec)))
		}
		s, err := r.get("score")
		if err != nil {
			return err
		}
		score, err := strconv.ParseFloat(s, 64)
		if err != nil || !(score >= 0 && score <= 5) { // NaN fails both comparisons
			return r.fail("score", fmt.Errorf("want a number in [0, 5], got %q", s))
		}
		if score < minScore {
			out.Filtered++
			return nil
		}
		a, err := r.text("sentence1")
		if err != nil {
			return err
		}
		b, err := r.text("sentence2")
		if err != nil {
			return err
		}
		pair(out, name, r.line, a, b)
		return nil
	})
}
