package train

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/internal/shareddata"
	"github.com/tdro/tdro/model"
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

// documentedLogFields reads the fields docs/train.md's output table lists for
// log.jsonl, so that the log and its documentation cannot drift apart.
func documentedLogFields(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "train.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "| `log.jsonl` |"); ok {
			var fields []string
			for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(rest, -1) {
				fields = append(fields, m[1])
			}
			return fields
		}
	}
	t.Fatal("docs/train.md has no log.jsonl row in its output table")
	return nil
}

// TestRunLogHasEveryDocumentedField checks each line of log.jsonl: exactly
// the fields docs/train.md documents, and values that mean what it says —
// the loss is the batch domain's mean InfoNCE times its loss_scale, lr
// follows warmup then cosine decay, and the norm, token counts and timings
// are positive and consistent.
func TestRunLogHasEveryDocumentedField(t *testing.T) {
	mixture, _ := testMixture(t, 12, 0)
	// One domain's loss is rescaled, as the loss-reweight transfer does.
	mix, err := data.LoadMixture(mixture)
	if err != nil {
		t.Fatal(err)
	}
	scale := map[string]float64{}
	for i := range mix.Domains {
		scale[mix.Domains[i].Name] = 1
	}
	mix.Domains[1].LossScale, scale[mix.Domains[1].Name] = 2, 2
	if err := mix.Save(mixture); err != nil {
		t.Fatal(err)
	}
	cfg := smallConfig(t, mixture)
	cfg.Steps, cfg.BatchSize, cfg.Negatives, cfg.QueryMaxLen, cfg.PassageMaxLen = 10, 4, 1, 16, 16
	cfg.LearningRate, cfg.WarmupSteps, cfg.Decay, cfg.MinLRRatio, cfg.CheckpointEvery = 1e-3, 3, DecayCosine, 0.1, 0
	res, err := Run(context.Background(), cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(res.Log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != cfg.Steps {
		t.Fatalf("log has %d lines, want %d", len(lines), cfg.Steps)
	}
	want := documentedLogFields(t)
	slices.Sort(want)
	passages := cfg.BatchSize * (1 + cfg.Negatives)
	minTokens := 2 * (cfg.BatchSize + passages) // [CLS] and [SEP] at least
	maxTokens := cfg.BatchSize*cfg.QueryMaxLen + passages*cfg.PassageMaxLen
	finitePos := func(x float64) bool { return x > 0 && !math.IsInf(x, 0) && !math.IsNaN(x) }
	near := func(a, b, rel float64) bool { return math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b)) }
	scaled := 0
	lrs := make([]float64, len(lines))
	for i, line := range lines {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if got := slices.Sorted(maps.Keys(raw)); !slices.Equal(got, want) {
			t.Fatalf("line %d has fields %v, docs/train.md documents %v", i+1, got, want)
		}
		var e LogEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		lrs[i] = e.LR
		dl, ok := e.DomainLoss[e.Domain]
		for _, c := range []struct {
			what string
			ok   bool
		}{
			{"step is the number of updates done", e.Step == i+1},
			{"domain is a mixture domain", scale[e.Domain] > 0},
			{"domain_loss has the batch's one domain", ok && len(e.DomainLoss) == 1},
			{"domain_loss is a finite positive InfoNCE", finitePos(dl)},
			{"loss is domain_loss times the domain's loss_scale", near(e.Loss, scale[e.Domain]*dl, 1e-5)},
			{"lr is the schedule's", near(e.LR, cfg.LearningRateAt(i, cfg.Steps), 1e-12)},
			{"grad_norm is finite and positive", finitePos(e.GradNorm)},
			{fmt.Sprintf("tokens is in [%d, %d]", minTokens, maxTokens), e.Tokens >= minTokens && e.Tokens <= maxTokens},
			{"step_s is finite and positive", finitePos(e.Seconds)},
			{"tokens_per_s is tokens / step_s", finitePos(e.TokensPerSec) && near(e.TokensPerSec, float64(e.Tokens)/e.Seconds, 1e-9)},
		} {
			if !c.ok {
				t.Errorf("line %d: want %s: %s", i+1, c.what, line)
			}
		}
		if scale[e.Domain] != 1 {
			scaled++
		}
	}
	if scaled == 0 {
		t.Errorf("no step drew the rescaled domain %s: the loss_scale check ran on nothing", mix.Domains[1].Name)
	}
	// The schedule's shape: linear warmup to the peak, then a decay that
	// ends at min_lr_ratio.
	w, peak := cfg.WarmupSteps, cfg.LearningRate
	for i := range lrs {
		switch {
		case i < w && !near(lrs[i], peak*float64(i+1)/float64(w), 1e-12):
			t.Errorf("warmup step %d: lr %g, want %g", i+1, lrs[i], peak*float64(i+1)/float64(w))
		case i == w && !near(lrs[i], peak, 1e-12):
			t.Errorf("first step after warmup: lr %g, want the peak %g", lrs[i], peak)
		case i > w && !(lrs[i] < lrs[i-1]):
			t.Errorf("decay step %d: lr %g, not below the previous %g", i+1, lrs[i], lrs[i-1])
		}
	}
	if last := lrs[len(lrs)-1]; !near(last, peak*cfg.MinLRRatio, 1e-12) {
		t.Errorf("last lr %g, want learning_rate x min_lr_ratio = %g", last, peak*cfg.MinLRRatio)
	}
}

// TestResumeRefusesChangedSettings: a resume with settings the checkpoint
// was not trained with is an error listing each difference, before any
// work; checkpoint_every and steps may change and are recorded; the saved
// train_config.json reads back from another working directory.
func TestResumeRefusesChangedSettings(t *testing.T) {
	mix, _ := testMixture(t, 20, 0)
	cfg := smallConfig(t, mix)
	cfg.Steps, cfg.CheckpointEvery = 2, 1
	if _, err := Run(context.Background(), cfg, false); err != nil {
		t.Fatal(err)
	}
	changed := cfg
	changed.LearningRate, changed.BatchSize = 0.5, 4
	_, err := Run(context.Background(), changed, true)
	if err == nil || !strings.Contains(err.Error(), "learning_rate: 0.001 -> 0.5") || !strings.Contains(err.Error(), "batch_size: 8 -> 4") {
		t.Fatalf("changed lr and batch: %v", err)
	}
	// The recorded config still holds what the model was trained with, and
	// its paths are relative to the file.
	saved := filepath.Join(cfg.Out, "train_config.json")
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	os.Chdir(t.TempDir())
	back, err := LoadConfig(saved)
	if err != nil || back.LearningRate != cfg.LearningRate || back.BatchSize != cfg.BatchSize {
		t.Fatalf("saved config %+v, %v", back, err)
	}
	if _, err := os.Stat(back.Mixture); err != nil {
		t.Errorf("saved mixture path does not resolve from another directory: %v", err)
	}
	longer := back
	longer.Steps, longer.CheckpointEvery = 3, 2
	if _, err := Run(context.Background(), longer, true); err != nil {
		t.Fatalf("resume with more steps: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(cfg.Out, "resume_history.json"))
	var hist []struct {
		Field    string
		From, To float64
	}
	json.Unmarshal(b, &hist)
	if err != nil || len(hist) != 2 || hist[1].Field != "steps" || hist[1].From != 2 || hist[1].To != 3 {
		t.Errorf("resume history %s, %v", b, err)
	}
}

// TestRunHooksEvaluateMidTraining: a hook given the model runs after the
// steps it asks for, sees the model as trained so far (its embedding of a
// fixed text moves between calls), and an error from it stops the run with
// a checkpoint to resume from.
func TestRunHooksEvaluateMidTraining(t *testing.T) {
	mixture, _ := testMixture(t, 12, 0)
	cfg := smallConfig(t, mixture)
	cfg.Steps, cfg.CheckpointEvery = 6, 0
	var steps []int
	var embs [][]float32
	evaluate := func(m *model.Model) Hook {
		return EveryNSteps(2, func(done int, rec any) error {
			e, err := m.Encode([]string{"a fixed probe text"}, 16, 1)
			if err != nil {
				return err
			}
			if rec.(*LogEntry).Step != done {
				return fmt.Errorf("record of step %d at step %d", rec.(*LogEntry).Step, done)
			}
			steps, embs = append(steps, done), append(embs, e[0])
			return nil
		})
	}
	if _, err := Run(context.Background(), cfg, false, evaluate); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(steps) != "[2 4 6]" {
		t.Fatalf("hook ran after steps %v, want [2 4 6]", steps)
	}
	if c := cosine(embs[0], embs[2]); c > 0.99999 {
		t.Errorf("the probe's embedding did not move between steps 2 and 6 (cosine %v): the hook saw a stale model", c)
	}
	cfg.Out = t.TempDir()
	stop := func(*model.Model) Hook {
		return HookFunc(func(done int, _ any) error {
			if done == 3 {
				return errors.New("evaluation failed")
			}
			return nil
		})
	}
	if _, err := Run(context.Background(), cfg, false, stop); err == nil || !strings.Contains(err.Error(), "step 3: evaluation failed") {
		t.Fatalf("err = %v, want the hook's error at step 3", err)
	}
}
