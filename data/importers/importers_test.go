package importers

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/dedup"
)

func parse(t *testing.T, format, name, src string, opt Options) (*Result, error) {
	t.Helper()
	res := &Result{}
	err := Formats[format].Convert(name, []byte(src), opt, res)
	return res, err
}

func queries(recs []data.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Query+" -> "+r.Positives[0].Text)
	}
	return out
}

func TestFormats(t *testing.T) {
	tests := []struct {
		format, name, src string
		want              []string
		filtered          int
	}{
		{"ko_chatbot", "chat.csv", "\xef\xbb\xbfQ,A,label\n12시 땡!,하루가 또 가네요.,0\n\"따옴표, 쉼표\",  답  ,1\n", []string{"12시 땡! -> 하루가 또 가네요.", "따옴표, 쉼표 -> 답"}, 0},
		{"ko_qpair", "pair.csv", "id,qid1,qid2,question1,question2,is_duplicate\n1,1,2,a1,a2,1\n2,3,4,b1,b2,0\n", []string{"b1 -> b2"}, 1},
		{"ko_qpair", "test.csv", "test_id,question1,question2,is_duplicate,\n1,c1,c2,0,\n", []string{"c1 -> c2"}, 0},
		{"agnews", "ag.csv", "\"3\",\"Fears for T N\",\"Unions #36;10 said\\they are #39;ok#39;\"\n", []string{"Fears for T N -> Unions $10 said they are 'ok'"}, 0},
		{"stsb", "stsb-de-dev.csv", "A,B,5.0\nC,D,3.99\n\"E, e\",F,4\n", []string{"A -> B", "E, e -> F"}, 1},
		{"pubmedqa", "p.json", `{"1":{"QUESTION":"q one?","CONTEXTS":["c1","c2"],"LONG_ANSWER":"x"},"2":{"QUESTION":"q two?","CONTEXTS":["c3"]}}`, []string{"q one? -> c1 c2", "q two? -> c3"}, 0},
		{"conala", "c.json", `[{"intent":"raw","rewritten_intent":"better","snippet":"x = 1"},{"intent":"only intent","rewritten_intent":null,"snippet":"  print(x)\n"}]`, []string{"better -> x = 1", "only intent -> print(x)"}, 0},
		{"jsonl", "t.jsonl", `{"query":"q","pos":["p"]}` + "\n", []string{"q -> p"}, 0},
	}
	for _, tc := range tests {
		res, err := parse(t, tc.format, tc.name, tc.src, Options{})
		if err != nil {
			t.Errorf("%s: %v", tc.format, err)
			continue
		}
		if got := queries(res.Records); !reflect.DeepEqual(got, tc.want) || res.Filtered != tc.filtered {
			t.Errorf("%s: got %q (filtered %d), want %q (filtered %d)", tc.format, got, res.Filtered, tc.want, tc.filtered)
		}
		seen := map[string]bool{}
		for _, r := range res.Records {
			if seen[r.QueryID] || !strings.HasPrefix(r.QueryID, stem(tc.name)) && tc.format != "jsonl" {
				t.Errorf("%s: query id %q repeated or without file prefix", tc.format, r.QueryID)
			}
			seen[r.QueryID] = true
		}
	}
}

func TestSQuADSameArticleNegatives(t *testing.T) {
	src := `{"version":"1","data":[
{"title":"A","paragraphs":[
  {"context":"para one","qas":[{"id":"q1","question":"first?","answers":[{"text":"one","answer_start":5}]}]},
  {"context":"para two","qas":[{"id":"q2","question":"second?","answers":[]},{"id":"q3","question":"","answers":[]}]}]},
{"title":"B","paragraphs":[{"context":"alone","qas":[{"id":"q4","question":"third?","answers":[{"text":"x","answer_start":-1}]}]}]}]}`
	if _, err := parse(t, "squad", "s.json", src, Options{}); err == nil || !strings.Contains(err.Error(), `s.json line 2: field "data[0].paragraphs[1].qas[1].question": empty`) {
		t.Fatalf("empty question: got %v", err)
	}
	res, err := parse(t, "squad", "s.json", src, Options{SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != 1 || len(res.Problems) != 1 || len(res.Records) != 3 {
		t.Fatalf("skipped %d, records %d", res.Skipped, len(res.Records))
	}
	r := res.Records[0]
	if r.QueryID != "s:q1" || r.Positives[0].Text != "para one" || r.Positives[0].Title != "A" || len(r.Negatives) != 1 || r.Negatives[0].Text != "para two" {
		t.Errorf("record %+v", r)
	}
	v2 := `{"data":[{"title":"T","paragraphs":[{"context":"c","qas":[{"id":"a","question":"answerable?","answers":[{"text":"c","answer_start":0}],"is_impossible":false},{"id":"b","question":"unanswerable?","answers":[],"is_impossible":true}]}]}]}`
	if r2, err := parse(t, "squad", "v2.json", v2, Options{}); err != nil || len(r2.Records) != 1 || r2.Filtered != 1 || r2.Records[0].Query != "answerable?" {
		t.Errorf("SQuAD 2.0: %v %+v", err, r2)
	}
	if len(res.Records[2].Negatives) != 0 {
		t.Errorf("single-paragraph article should have no negatives: %+v", res.Records[2])
	}
}

func TestSICK(t *testing.T) {
	src := "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment\n" +
		"1\tA man runs\tA person runs\t4.5\tENTAILMENT\n" +
		"2\tA man runs\tNobody runs\t1.0\tCONTRADICTION\n" +
		"3\tA man sits\tA man runs\t2.0\tCONTRADICTION\n" +
		"4\tA man runs\tA dog barks\t1.0\tNEUTRAL\n" +
		"5\tA \"quoted\" cat\tA cat\t4\tENTAILMENT\n"
	res, err := parse(t, "sick", "SICK.txt", src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 2 || res.Filtered != 3 {
		t.Fatalf("records %d filtered %d", len(res.Records), res.Filtered)
	}
	var negs []string
	for _, n := range res.Records[0].Negatives {
		negs = append(negs, n.Text)
	}
	if !reflect.DeepEqual(negs, []string{"Nobody runs", "A man sits"}) || res.Records[1].Query != `A "quoted" cat` {
		t.Errorf("negatives %q, second %+v", negs, res.Records[1])
	}
}

func TestErrorsNameFileLineField(t *testing.T) {
	tests := []struct{ format, src, want string }{
		{"ko_chatbot", "Q,A,label\nhi,,0\n", `in.txt line 2: field "A": empty`},
		{"ko_chatbot", "Q,B\nhi,x\n", `in.txt line 1: field "A": column missing`},
		{"ko_chatbot", "Q,A,label\nhi\n", `in.txt line 2: field "A": missing (row has 1 columns)`},
		{"ko_chatbot", "Q,A,label\n\"open,x,0\n", `in.txt line 2`},
		{"ko_qpair", "question1,question2,is_duplicate\na,b,2\n", `in.txt line 2: field "is_duplicate": want 0 (same) or 1 (different), got "2"`},
		{"agnews", "\"1\",\"t\"\n", `in.txt line 1: want 3 columns`},
		{"stsb", "a,b,x\n", `in.txt line 1: field "score": want a number in [0, 5], got "x"`},
		{"stsb", "a,b,7\n", `field "score"`},
		{"sick", "sentence_A\tsentence_B\tentailment_judgment\na\tb\tMAYBE\n", `in.txt line 2: field "entailment_judgment"`},
		{"pubmedqa", "{\"1\":{\"QUESTION\":\"q\",\"CONTEXTS\":[]},\n\"2\":{}}", `in.txt line 1: field "1.CONTEXTS": missing or empty`},
		{"pubmedqa", "{\"1\":{\"QUESTION\":5}}", `in.txt line 1: field "QUESTION": wrong JSON type`},
		{"pubmedqa", "[1]", `want a JSON object`},
		{"conala", "[\n{\"intent\":\"a\",\"snippet\":\"x\"},\n{\"intent\":\"\",\"snippet\":\"y\"}]", `in.txt line 3: field "[1].intent"`},
		{"conala", "[{\"intent\":\"a\"}]", `field "[0].snippet": missing`},
		{"conala", "[{\"intent\":\"a\",\"snippet\":\"x\"}", `invalid JSON`},
		{"squad", `{"data":[{"paragraphs":[{"context":"","qas":[]}]}]}`, `in.txt line 1: field "data[0].paragraphs[0].context": empty`},
		{"squad", `{"data":{}}`, `field "data": want an array`},
		{"jsonl", "{\"query\":\"q\",\"pos\":[\"p\"]}\n{\"query\":\"\",\"pos\":[\"p\"]}\n", `in.txt line 2: field "query": empty`},
	}
	for _, tc := range tests {
		_, err := parse(t, tc.format, "in.txt", tc.src, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q:\n got  %v\n want %q", tc.format, tc.src, err, tc.want)
		}
		// With SkipBad the same input is either skipped and counted, or (for
		// damage that makes the rest unreadable) still an error.
		res, err := parse(t, tc.format, "in.txt", tc.src, Options{SkipBad: true})
		if err == nil && res.Skipped == 0 {
			t.Errorf("%s %q: skip-bad neither failed nor counted a skip", tc.format, tc.src)
		}
	}
}

func TestImportUnknownFormat(t *testing.T) {
	if _, err := Import("nope", []string{"x"}, Options{}); err == nil || !strings.Contains(err.Error(), "known: agnews") {
		t.Errorf("got %v", err)
	}
	var ie *ItemError
	_, err := Import("stsb", []string{"/nonexistent/file.csv"}, Options{})
	if err == nil || errors.As(err, &ie) {
		t.Errorf("missing file: %v", err)
	}
}

func TestCopyRecords(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	os.WriteFile(in, []byte("{\"query\":\"a\",\"pos\":[\"p\"]}\n{\"query\":\"\"}\n{\"query_id\":\"x\",\"query\":\"b\",\"positive_passages\":[{\"text\":\"q\"}]}\n"), 0o644)
	out := filepath.Join(dir, "out.jsonl")
	if _, _, err := CopyRecords([]string{in}, out, Options{}); err == nil || !strings.Contains(err.Error(), "in.jsonl line 2") {
		t.Errorf("strict copy: %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("failed copy left a file")
	}
	// The second copy repeats every query id: skipped and counted too.
	res, n, err := CopyRecords([]string{in, in}, out, Options{SkipBad: true})
	if err != nil || n != 2 || res.Skipped != 4 {
		t.Fatalf("n=%d skipped=%v err=%v", n, res, err)
	}
	if !strings.Contains(res.Problems[len(res.Problems)-1].Error(), "repeats the query_id of "+in+" line 3") {
		t.Errorf("problems %v", res.Problems)
	}
	recs, err := data.ReadRecords(out)
	if err != nil || len(recs) != 2 || recs[1].QueryID != "x" || recs[0].QueryID != "in:1" {
		t.Errorf("%v %+v", err, recs)
	}
}

func TestDedupRecords(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	os.WriteFile(in, []byte("{\"query\":\"What is the capital of France?\",\"pos\":[\"Paris\"]}\n{\"query\":\"how to bake bread\",\"pos\":[\"knead\"]}\n"), 0o644)
	evals := dedup.NewSet(dedup.PaperDistance)
	evals.Add("what is the capital of france", "ev")
	out := filepath.Join(dir, "out.jsonl")
	_, kept, by, err := DedupRecords([]string{in}, out, evals, Options{})
	if err != nil || kept != 1 || by["ev"] != 1 {
		t.Fatalf("kept %d, removed %v, %v", kept, by, err)
	}
	recs, _ := data.ReadRecords(out)
	if len(recs) != 1 || recs[0].Query != "how to bake bread" {
		t.Errorf("%+v", recs)
	}
}
