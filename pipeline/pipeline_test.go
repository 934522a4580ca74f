package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/dro"
	"github.com/tdro/tdro/eval/metrics"
	evalreport "github.com/tdro/tdro/eval/report"
	"github.com/tdro/tdro/internal/crashtest"
	"github.com/tdro/tdro/internal/shareddata"
	"github.com/tdro/tdro/model"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if reference.dir != "" {
		os.RemoveAll(reference.dir)
	}
	os.Exit(code)
}

// reference is one uninterrupted run of the tiny preset, shared by the tests.
var reference struct {
	once sync.Once
	dir  string
	res  []Result
	err  error
}

func tinyOptions(t testing.TB, dir string) Options {
	cfg, err := LoadConfig("tiny", "")
	if err != nil {
		t.Fatal(err)
	}
	return Options{Config: cfg, ConfigName: "preset tiny", Command: "go test", Data: shareddata.Dir(t), Out: dir, Log: io.Discard}
}

func uninterrupted(t *testing.T) (string, []Result) {
	t.Helper()
	reference.once.Do(func() {
		reference.dir, reference.err = os.MkdirTemp("", "tdro-pipeline-*")
		if reference.err == nil {
			reference.res, reference.err = Run(context.Background(), tinyOptions(t, reference.dir))
		}
	})
	if reference.err != nil {
		t.Fatal(reference.err)
	}
	return reference.dir, reference.res
}

// TestEndToEndTinyPreset runs the whole pipeline on the tiny preset and
// checks that every artefact exists and parses.
func TestEndToEndTinyPreset(t *testing.T) {
	dir, res := uninterrupted(t)
	var names []string
	for _, r := range res {
		names = append(names, r.Stage)
		if r.Status != Ran {
			t.Errorf("stage %s: %s on a fresh run directory", r.Stage, r.Status)
		}
		m, err := LoadManifest(dir, r.Stage)
		if err != nil || m == nil || m.Key == "" || m.Versions.GoMLX == "" {
			t.Errorf("manifest of %s: %+v, %v", r.Stage, m, err)
		}
	}
	want := "base prepare train-reference dro transfer train-top70 train-ratio eval-bm25 eval-reference eval-top70 eval-ratio eval-base report"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("stages %s, want %s", got, want)
	}
	path := func(p ...string) string { return filepath.Join(append([]string{dir}, p...)...) }

	var cfg Config
	if err := readJSON(path("config.json"), &cfg); err != nil || cfg.Train.Steps != 4 {
		t.Errorf("config.json: %v (steps %d)", err, cfg.Train.Steps)
	}
	mix, err := data.LoadMixture(path(mixtureFile))
	if err != nil || len(mix.Domains) != 4 {
		t.Fatalf("prepared mixture: %v", err)
	}
	for _, d := range mix.Domains {
		recs, err := data.ReadRecords(d.Path)
		if err != nil || len(recs) == 0 || d.Weight != 0.25 {
			t.Errorf("domain %s: %d records, weight %v, %v", d.Name, len(recs), d.Weight, err)
		}
	}
	for _, m := range []string{"base", "reference", "top70", "ratio"} {
		if _, err := model.Load(path(modelDir(m))); err != nil {
			t.Errorf("model %s: %v", m, err)
		}
	}
	for _, w := range []string{"curr", "mean", "ema", "top70"} {
		if _, err := dro.LoadWeights(path(droDir, weightsFile(w))); err != nil {
			t.Errorf("weights %s: %v", w, err)
		}
	}
	top, err := data.LoadMixture(path(mixturePath("top70")))
	if err != nil || len(top.Domains) != 2 { // floor(4 * 70%)
		t.Errorf("top70 mixture: %v", err)
	}
	stats, err := loadStats(dir)
	if err != nil || len(stats.Mixtures) != 3 || stats.Mixtures[1].Records >= stats.Mixtures[0].Records || stats.Mixtures[0].Tokens <= 0 {
		t.Errorf("stats: %+v, %v", stats, err)
	}
	for _, m := range []string{"reference", "top70", "ratio"} {
		c, err := ReadLossLog(path(trainLog(m)), m)
		if err != nil || len(c.Loss) != 4 {
			t.Errorf("training log %s: %d steps, %v", m, len(c.Loss), err)
		}
	}
	for _, run := range []string{"bm25", "reference", "top70", "ratio", "base"} {
		for _, ds := range []string{"adi", "xquadr-zh"} {
			var mteb evalreport.MTEB
			if err := readJSONLoose(path(evalDir(run), "json", runName(run), ds+".json"), &mteb); err != nil || len(mteb.Tdro.PerQuery) == 0 {
				t.Errorf("eval JSON %s/%s: %v", run, ds, err)
			}
			if r, _, err := metrics.ReadRun(path(evalDir(run), "runs", ds, runName(run)+".trec")); err != nil || len(r) == 0 {
				t.Errorf("run file %s/%s: %v", run, ds, err)
			}
		}
	}
	for _, p := range []string{"plots/loss.png", "dro/plots/alpha_final.png", "dro/plots/alpha_steps.png"} {
		f, err := os.Open(path(p))
		if err != nil {
			t.Error(err)
			continue
		}
		if _, err := png.Decode(f); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		f.Close()
	}
	md, err := os.ReadFile(path("report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| dataset | uniform | top70 | ratio | base | bm25 |", "| top70 | top-k 70% | 2 |", "![loss curves](plots/loss.png)", "not trained twice"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	h, err := os.ReadFile(path("report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", `class="tdro-results"`, "xquadr-zh", "</html>"} {
		if !bytes.Contains(h, []byte(want)) {
			t.Errorf("report.html lacks %q", want)
		}
	}

	// A second invocation finds everything up to date.
	res2, err := Run(context.Background(), tinyOptions(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res2 {
		if r.Status != Skipped {
			t.Errorf("rerun: stage %s %s, want skipped", r.Stage, r.Status)
		}
	}
}

func readJSONLoose(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// TestSIGKILLDuringTrainingResumes kills a process running the pipeline
// while stage 0 trains, reruns it, and checks that finished stages are
// skipped, the interrupted one resumes, and every model, weight file and
// ranking equals the uninterrupted run's. scripts/pipeline_kill.sh does the
// same for every stage.
func TestSIGKILLDuringTrainingResumes(t *testing.T) {
	if os.Getenv("TDRO_PIPELINE_RUN") != "" {
		return
	}
	refDir, _ := uninterrupted(t)
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPipelineHelper$")
	cmd.Env = append(os.Environ(), "TDRO_PIPELINE_RUN="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(dir, checkpointDir(referenceRun), "checkpoint.bin")
	crashtest.KillWhen(t, cmd, 3*time.Minute, "stage 0's first checkpoint", func() bool {
		_, err := os.Stat(ckpt)
		return err == nil
	})
	if m, _ := LoadManifest(dir, "train-"+referenceRun); m != nil {
		t.Skip("stage 0 finished before the kill landed; nothing to resume")
	}

	res, err := Run(context.Background(), tinyOptions(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]Status{}
	for _, r := range res {
		status[r.Stage] = r.Status
	}
	if status["base"] != Skipped || status["prepare"] != Skipped || status["train-"+referenceRun] != Resumed {
		t.Fatalf("after SIGKILL: base %s, prepare %s, train-reference %s; want skipped, skipped, resumed",
			status["base"], status["prepare"], status["train-"+referenceRun])
	}
	same := func(rel string) {
		a, errA := HashPath(filepath.Join(refDir, rel))
		b, errB := HashPath(filepath.Join(dir, rel))
		if errA != nil || errB != nil || a != b {
			t.Errorf("%s differs from the uninterrupted run (%v %v)", rel, errA, errB)
		}
	}
	for _, m := range []string{"reference", "top70", "ratio"} {
		same(filepath.Join(modelDir(m), "model.safetensors"))
		same(filepath.Join(evalDir(m), "runs"))
	}
	same(filepath.Join(droDir, dro.WeightsDir))
	same(mixturesDir)
}

// TestPipelineHelper is the process TestSIGKILLDuringTrainingResumes kills.
func TestPipelineHelper(t *testing.T) {
	dir := os.Getenv("TDRO_PIPELINE_RUN")
	if dir == "" {
		t.Skip("helper process only")
	}
	Run(context.Background(), tinyOptions(t, dir))
}

func TestInitCheckpointReplacesBase(t *testing.T) {
	opt := tinyOptions(t, t.TempDir())
	opt.Config.Model = ModelConfig{Init: "/models/my-bert"}
	if err := opt.Config.Validate(); err != nil {
		t.Fatal(err)
	}
	stages, err := Stages(opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stages {
		if st.Name == "base" || contains(st.After, "base") {
			t.Fatalf("stage %s still uses a from-scratch base", st.Name)
		}
		if (strings.HasPrefix(st.Name, "train-") || st.Name == "eval-"+baseRun) && !contains(st.Inputs, "/models/my-bert") {
			t.Errorf("stage %s does not hash the checkpoint it starts from: %v", st.Name, st.Inputs)
		}
	}
	opt.Config.Model.Preset = "tiny-bert"
	if err := opt.Config.Validate(); err == nil || !strings.Contains(err.Error(), "exactly one") {
		t.Fatalf("init and preset together: %v", err)
	}
}

func TestPrepareCopiesUserMixtureWithUniformWeights(t *testing.T) {
	src := t.TempDir()
	rec := data.Record{QueryID: "q1", Query: "what", Positives: []data.Passage{{Text: "that"}}}
	mix := &data.Mixture{}
	for i, name := range []string{"a", "b"} {
		p := filepath.Join(src, name+".jsonl")
		if err := data.WriteRecords(p, []data.Record{rec, rec, rec}[:i+1]); err != nil {
			t.Fatal(err)
		}
		mix.Domains = append(mix.Domains, data.Domain{Name: name, Path: p, Weight: float64(3 + i)})
	}
	if err := mix.Save(filepath.Join(src, "mixture.json")); err != nil {
		t.Fatal(err)
	}
	opt := tinyOptions(t, t.TempDir())
	opt.Config.Prepare = PrepareConfig{Mixture: filepath.Join(src, "mixture.json")}
	e := &Engine{Dir: opt.Out, Log: io.Discard}
	if _, err := e.Run(context.Background(), []Stage{prepareStage(opt)}); err != nil {
		t.Fatal(err)
	}
	got, err := data.LoadMixture(filepath.Join(opt.Out, mixtureFile))
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range got.Domains {
		if d.Weight != 0.5 || d.Records != i+1 || filepath.Dir(d.Path) != filepath.Join(opt.Out, dataDir) {
			t.Errorf("domain %+v: want weight 0.5, %d records, copied under data/", d, i+1)
		}
	}
	// Editing a records file reruns the stage.
	if err := data.WriteRecords(filepath.Join(src, "a.jsonl"), []data.Record{rec, rec}); err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(context.Background(), []Stage{prepareStage(opt)})
	if err != nil || res[0].Status != Ran {
		t.Fatalf("after editing a.jsonl: %v %v", res, err)
	}
}

func TestPresetsLoadAndValidate(t *testing.T) {
	for _, name := range []string{"default", "tiny", "large"} {
		cfg, err := LoadConfig(name, "")
		if err != nil {
			t.Errorf("preset %s: %v", name, err)
			continue
		}
		if _, err := Stages(Options{Config: cfg, Data: "/data", Out: "/run"}); err != nil {
			t.Errorf("preset %s: stages: %v", name, err)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"train": {"stepz": 3}}`), 0o644)
	if _, err := LoadConfig("default", bad); err == nil || !strings.Contains(err.Error(), "stepz") {
		t.Errorf("misspelt field: %v", err)
	}
	os.WriteFile(bad, []byte(`{"transfer": [{"name": "x", "strategy": "top-k", "percent": 0}], "dro": {"steps": 0}}`), 0o644)
	if _, err := LoadConfig("default", bad); err == nil || !strings.Contains(err.Error(), "percent") || !strings.Contains(err.Error(), "steps") {
		t.Errorf("bad values: %v", err)
	}
	if _, err := LoadConfig("huge", ""); err == nil || !strings.Contains(err.Error(), "tiny") {
		t.Errorf("unknown preset: %v", err)
	}
}
