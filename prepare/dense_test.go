package prepare

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tdro/tdro/data"
)

// topicEncoder embeds a text as the one-hot vector of its "topicN" word: a
// dense retriever that knows the topics and nothing else.
type topicEncoder struct{ calls *int }

var topicWord = regexp.MustCompile(`topic(\d)`)

func (e topicEncoder) Encode(texts []string, _, _ int) ([][]float32, error) {
	*e.calls++
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = make([]float32, 10)
		if m := topicWord.FindStringSubmatch(t); m != nil {
			n, _ := strconv.Atoi(m[1])
			out[i][n] = 1
		}
	}
	return out, nil
}

func topicRecords() []data.Record {
	var recs []data.Record
	for i := range 60 {
		recs = append(recs, data.Record{
			QueryID: fmt.Sprint(i), Query: fmt.Sprintf("question %d", i),
			Positives: []data.Passage{{DocID: fmt.Sprint(i), Text: fmt.Sprintf("topic%d passage %d", i%6, i)}},
			Negatives: []data.Passage{{Text: fmt.Sprintf("bm25 negative %d", i)}},
		})
	}
	return recs
}

func TestDenseMiningReplacesWithTheRetrieversRanking(t *testing.T) {
	recs := topicRecords()
	calls := 0
	// The query reads as the model is told to: here its topic comes from
	// the Query function (the instruction's stand-in).
	dense := Dense{Encoder: topicEncoder{&calls}, QueryMaxLen: 8, PassageMaxLen: 8,
		Query: func(q string) string {
			n, _ := strconv.Atoi(strings.Fields(q)[1])
			return fmt.Sprintf("topic%d %s", n%6, q)
		}}
	err := MineNegatives(context.Background(), recs, nil, MineOptions{Negatives: 3, Seed: 1, Retriever: dense, Replace: true, Window: Window{From: 0, To: 9}})
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 {
		t.Fatal("the encoder was never called")
	}
	for i, r := range recs {
		if len(r.Negatives) != 3 {
			t.Fatalf("record %d: %d negatives, want 3", i, len(r.Negatives))
		}
		for _, n := range r.Negatives {
			// Ranks [0, 9) of a topic's query are its topic's 10 passages
			// (11 with the old negatives, which rank last): same topic, never
			// the positive, never an old negative (Replace).
			if !strings.HasPrefix(n.Text, fmt.Sprintf("topic%d ", i%6)) || n.Text == r.Positives[0].Text {
				t.Errorf("record %d: negative %q is not a same-topic non-positive passage", i, n.Text)
			}
		}
	}
}

func TestRemineResumesAndRedoesOnAChangedRetriever(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	if err := data.WriteRecords(in, topicRecords()); err != nil {
		t.Fatal(err)
	}
	mix := &data.Mixture{Domains: []data.Domain{{Name: "topics", Path: in, Weight: 1, Instructions: []string{"find it"}}}}
	calls := 0
	opt := RemineOptions{OutDir: filepath.Join(dir, "out"), RetrieverKey: "model-a",
		Mine:      MineOptions{Negatives: 2, Seed: 3, Replace: true},
		Retriever: func(d data.Domain) Retriever { return Dense{Encoder: topicEncoder{&calls}} }}
	out, rep, err := Remine(context.Background(), mix, opt)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(out.Domains[0].Path)
	if rep.Domains[0].Reused || rep.Domains[0].Records != 60 || rep.Domains[0].New < 0.9 || out.Domains[0].Instructions[0] != "find it" {
		t.Fatalf("first run: %+v, mixture %+v", rep.Domains[0], out.Domains[0])
	}
	loaded, err := data.LoadMixture(rep.Mixture)
	if err != nil || loaded.Domains[0].Path != out.Domains[0].Path {
		t.Fatalf("written mixture: %v, %+v", err, loaded)
	}
	for _, tc := range []struct {
		key    string
		reused bool
	}{{"model-a", true}, {"model-b", false}} {
		opt.RetrieverKey = tc.key
		before := calls
		_, rep, err := Remine(context.Background(), mix, opt)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := os.ReadFile(out.Domains[0].Path)
		if rep.Domains[0].Reused != tc.reused || (calls > before) == tc.reused || string(again) != string(first) {
			t.Errorf("%s: reused %v after %d encoder calls (want reused %v); output identical %v", tc.key, rep.Domains[0].Reused, calls-before, tc.reused, string(again) == string(first))
		}
	}
}
