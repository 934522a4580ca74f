package train

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/internal/shareddata"
)

// pairsToRecords turns (query, passage) pairs into records whose hard
// negatives are other pairs' passages.
func pairsToRecords(pairs [][2]string, negatives int, rng *rand.Rand) []data.Record {
	recs := make([]data.Record, len(pairs))
	for i, p := range pairs {
		recs[i] = data.Record{QueryID: fmt.Sprint(i), Query: p[0], Positives: []data.Passage{{DocID: fmt.Sprint(i), Text: p[1]}}}
		for len(recs[i].Negatives) < negatives {
			if j := rng.IntN(len(pairs)); j != i {
				recs[i].Negatives = append(recs[i].Negatives, data.Passage{DocID: fmt.Sprint(j), Text: pairs[j][1]})
			}
		}
	}
	return recs
}

func readCSVPairs(t testing.TB, path string, q, p, n int) [][2]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	for _, row := range rows[1:] {
		if len(row) > max(q, p) && row[q] != "" && row[p] != "" {
			out = append(out, [2]string{row[q], row[p]})
		}
		if len(out) == n {
			break
		}
	}
	return out
}

// testMixture writes a small mixture of real bundled data: AG News titles ->
// descriptions and CoNaLa intents -> Python snippets (en), Korean chit-chat
// questions -> answers. It returns the mixture path and held-out records of
// each domain (never trained on).
func testMixture(t testing.TB, perDomain, heldOut int) (string, map[string][]data.Record) {
	t.Helper()
	dd := shareddata.Dir(t)
	rng := rand.New(rand.NewPCG(1, 1))
	domains := map[string][][2]string{
		"agnews":     readCSVPairs(t, filepath.Join(dd, "train/agnews/test.csv"), 1, 2, perDomain+heldOut),
		"ko_chatbot": readCSVPairs(t, filepath.Join(dd, "train/ko_chatbot/ChatbotData.csv"), 0, 1, perDomain+heldOut),
	}
	b, err := os.ReadFile(filepath.Join(dd, "train/conala/conala-train.json"))
	if err != nil {
		t.Fatal(err)
	}
	var conala []struct{ Intent, Snippet string }
	if err := json.Unmarshal(b, &conala); err != nil {
		t.Fatal(err)
	}
	for _, c := range conala {
		if len(domains["conala"]) < perDomain+heldOut {
			domains["conala"] = append(domains["conala"], [2]string{c.Intent, c.Snippet})
		}
	}
	dir := t.TempDir()
	mix := &data.Mixture{}
	held := map[string][]data.Record{}
	for _, name := range []string{"agnews", "conala", "ko_chatbot"} {
		pairs := domains[name]
		rng.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
		train := pairsToRecords(pairs[:perDomain], 3, rng)
		held[name] = pairsToRecords(pairs[perDomain:], 0, rng)
		path := filepath.Join(dir, name+".jsonl")
		if err := data.WriteRecords(path, train); err != nil {
			t.Fatal(err)
		}
		mix.Domains = append(mix.Domains, data.Domain{Name: name, Path: path, Language: "en", Weight: 1, Records: len(train)})
	}
	mix.Domains[0].Instructions = []string{"Given a news title, retrieve its description"}
	mixPath := filepath.Join(dir, "mixture.json")
	if err := mix.Save(mixPath); err != nil {
		t.Fatal(err)
	}
	return mixPath, held
}

func tokenizerPath(t testing.TB) string {
	return filepath.Join(shareddata.Dir(t), "tokenizers/all-MiniLM-L6-v2/tokenizer.json")
}

// smallConfig is a run that takes seconds on two cores.
func smallConfig(t testing.TB, mixture string) Config {
	cfg := DefaultConfig()
	cfg.Tokenizer = tokenizerPath(t)
	cfg.Mixture = mixture
	cfg.Out = t.TempDir()
	cfg.Steps = 40
	cfg.BatchSize = 8
	cfg.Negatives = 1
	cfg.QueryMaxLen = 16
	cfg.PassageMaxLen = 32
	cfg.LearningRate = 1e-3
	cfg.WarmupSteps = 4
	cfg.CheckpointEvery = 10
	return cfg
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

func readLog(t testing.TB, path string) []LogEntry {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []LogEntry
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e LogEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

func newRNG() *rand.Rand { return rand.New(rand.NewPCG(3, 3)) }
