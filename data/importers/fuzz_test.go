package importers

import (
	"errors"
	"testing"
)

// fuzzFormat checks that no input panics an importer, that every failure
// names a file and line (a *data.LineError, which ItemError and
// squad.Error are, or another error printing "in.txt line N"), and that
// every record produced is valid, strict or skipping bad items.
func fuzzFormat(f *testing.F, format string, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, src []byte, skip bool) {
		res := &Result{}
		err := Formats[format].Convert("in.txt", src, Options{SkipBad: skip}, res)
		if err != nil {
			if !containsFileLine(err) {
				t.Fatalf("error without file and line: %v", err)
			}
			return
		}
		if !skip && res.Skipped != 0 {
			t.Fatalf("skipped %d items without SkipBad", res.Skipped)
		}
		for _, p := range res.Problems {
			if !containsFileLine(p) {
				t.Fatalf("problem without file and line: %v", p)
			}
		}
		for _, r := range res.Records {
			if err := r.Validate(); err != nil {
				t.Fatalf("invalid record %+v: %v", r, err)
			}
		}
	})
}

func containsFileLine(err error) bool {
	var ie *ItemError
	if errors.As(err, &ie) {
		return ie.File == "in.txt" && ie.Line >= 1
	}
	s := err.Error()
	return len(s) > 12 && s[:12] == "in.txt line "
}

func FuzzSQuAD(f *testing.F) {
	fuzzFormat(f, "squad",
		`{"version":"1.1","data":[{"title":"T","paragraphs":[{"context":"c one","qas":[{"id":"1","question":"q?","answers":[{"text":"one","answer_start":2}]}]},{"context":"c two","qas":[{"id":2,"question":"r?","answers":[]}]}]}]}`,
		`{"data":[{"paragraphs":[{"context":"","qas":[]}]},{"paragraphs":[{"context":"x","qas":[{"question":""}]}]}]}`,
		`{"data":[{"paragraphs":"nope"},{"paragraphs":[{"context":"x","qas":[{"question":"q"}]}]}]}`,
		`{"data":[]}`, `{"data":[{}]}`, `[]`, `{"data":[{"paragraphs":[{"context":"x","sentences":["x"],"qas":[]}]}]}`)
}

func FuzzKoChatbot(f *testing.F) {
	fuzzFormat(f, "ko_chatbot", "Q,A,label\n12시 땡!,하루가 또 가네요.,0\n", "Q,A\n\"a\"\"b\",c\n,\n", "A,Q\nx,y\n\"unterminated\n", "Q,A,label\nx\n")
}

func FuzzKoQPair(f *testing.F) {
	fuzzFormat(f, "ko_qpair", "id,qid1,qid2,question1,question2,is_duplicate\n1,1,2,a,b,0\n2,3,4,c,d,1\n",
		"test_id,question1,question2,is_duplicate,\n1,a,b,0,\n", "question1,question2,is_duplicate\na,b,x\n")
}

func FuzzAGNews(f *testing.F) {
	fuzzFormat(f, "agnews", "\"3\",\"Title\",\"Desc with \\ and #36;5\"\n", "1,a\n2,b,c\n", "\"1\",\"\",\"x\"\n")
}

func FuzzSICK(f *testing.F) {
	fuzzFormat(f, "sick", "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment\n1\tA\tB\t4\tENTAILMENT\n2\tA\tC\t1\tCONTRADICTION\n",
		"sentence_A\tsentence_B\tentailment_judgment\na\tb\tOTHER\n\tb\tENTAILMENT\n")
}

func FuzzSTSB(f *testing.F) {
	fuzzFormat(f, "stsb", "A plane is taking off.,An air plane is taking off.,5.000\n", "a,b,3\nc,d,4.5\n", "a,b,NaN\na,b,-1\na,b\n")
}

func FuzzPubMedQA(f *testing.F) {
	fuzzFormat(f, "pubmedqa", `{"21645374":{"QUESTION":"Do mitochondria play a role?","CONTEXTS":["a","b"],"LONG_ANSWER":"yes"}}`,
		`{"1":{"QUESTION":"","CONTEXTS":["a"]},"2":{"QUESTION":"q","CONTEXTS":"a"},"3":[]}`, `{"1":`)
}

func FuzzCoNaLa(f *testing.F) {
	fuzzFormat(f, "conala", `[{"intent":"How to x?","rewritten_intent":"do x","snippet":"x()","question_id":1}]`,
		`[{"intent":"a","rewritten_intent":null,"snippet":""},{"intent":5},null,[]]`, `[`)
}

func FuzzJSONL(f *testing.F) {
	fuzzFormat(f, "jsonl", `{"query_id":"1","query":"q","positive_passages":[{"docid":"d","title":"","text":"p"}],"negative_passages":[]}`+"\n",
		`{"query":"q","pos":["p"],"neg":["n"]}`+"\n"+`{"query":""}`+"\n")
}
