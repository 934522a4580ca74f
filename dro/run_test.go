package dro

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/tdro/tdro/backend"
	"github.com/tdro/tdro/internal/crashtest"
	"github.com/tdro/tdro/internal/standin"
	"github.com/tdro/tdro/train"
)

const (
	testVocab = 400
	testDim   = 16
)

func testConfig(out string) Config {
	cfg := DefaultConfig()
	cfg.Mixture, cfg.Base, cfg.Reference, cfg.Out = "mix.json", "base", "ref", out
	cfg.Steps, cfg.BatchSize, cfg.Negatives = 16, 8, 3
	cfg.CheckpointEvery = 1
	cfg.Temperature = 0.05
	cfg.LearningRate = 1e-2
	cfg.WarmupSteps = 0
	return cfg
}

// standins builds the proxy (seed 1) and a different reference (seed 2).
func standins(t testing.TB) models {
	p, ps := standin.NewBag(t, testVocab, testDim, 1)
	r, rs := standin.NewBag(t, testVocab, testDim, 2)
	return models{proxy: p, proxyStore: ps, ref: r, refStore: rs, encode: hashEncoder(testVocab, 12)}
}

func storeValues(t testing.TB, s *gmodel.Store) map[string][]float32 {
	out := map[string][]float32{}
	for v := range s.IterVariables() {
		if !strings.HasPrefix(v.Path(), "/bag/") {
			continue
		}
		val, err := v.Value()
		if err != nil {
			t.Fatal(err)
		}
		out[v.Path()] = tensors.MustCopyFlatData[float32](val)
	}
	return out
}

func TestRunWritesWeightsLogAndPlots(t *testing.T) {
	testBackend(t)
	out := t.TempDir()
	cfg := testConfig(out)
	res, err := runWith(context.Background(), cfg, synthDomains(3, 20, 1), standins(t), false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != cfg.Steps {
		t.Fatalf("steps %d", res.Steps)
	}
	sum, moved := 0.0, false
	for _, a := range res.Curr {
		sum += a
		moved = moved || math.Abs(a-1.0/3) > 1e-4
	}
	if math.Abs(sum-1) > 1e-9 || !moved {
		t.Errorf("alpha %v: sum %v, moved %v", res.Curr, sum, moved)
	}
	for _, name := range []string{"curr", "mean", "ema", "top40", "top70", "top90"} {
		w, err := LoadWeights(res.WeightsPath(name))
		if err != nil {
			t.Fatal(err)
		}
		// floor(3*pct/100) domains in a top file (official), all three otherwise.
		n := 3
		switch name {
		case "top40":
			n = 1
		case "top70", "top90":
			n = 2
		}
		if got := w.Names(); len(got) != n || len(w.Size) != n {
			t.Errorf("%s: %+v", name, w)
		}
		if n == 3 && (w.Names()[0] != "dom0" || w.Size["dom1"] != 20) {
			t.Errorf("%s: %+v", name, w)
		}
	}
	if _, err := os.Stat(res.WeightsPath("top20")); err == nil {
		t.Errorf("top20 of 3 domains selects none, yet the file exists")
	}
	b, err := os.ReadFile(filepath.Join(out, "log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != cfg.Steps {
		t.Fatalf("log has %d lines", len(lines))
	}
	var last StepLog
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	if last.Step != cfg.Steps || last.Alpha["dom2"] != res.Curr[2] || len(last.Scores) != 3 || len(last.LogAlpha) != 3 {
		t.Errorf("last log line %+v, alpha %v", last, res.Curr)
	}
	n := 0
	for name, c := range last.Examples {
		n += c
		if _, ok := last.ProxyLoss[name]; !ok {
			t.Errorf("no proxy loss for %s", name)
		}
		if r := last.RefLoss[name]; !(r > 0) {
			t.Errorf("reference loss of %s is %v", name, r)
		}
	}
	if n != cfg.BatchSize {
		t.Errorf("examples %v", last.Examples)
	}
	for _, f := range []string{"alpha_steps.png", "alpha_steps.svg", "alpha_final.png", "alpha_final.svg"} {
		if st, err := os.Stat(filepath.Join(out, PlotsDir, f)); err != nil || st.Size() < 1000 {
			t.Errorf("plot %s: %v", f, err)
		}
	}
	// Without --resume an existing run is not overwritten.
	if _, err := runWith(context.Background(), cfg, synthDomains(3, 20, 1), standins(t), false); err == nil ||
		!strings.Contains(err.Error(), "--resume") {
		t.Errorf("rerun without resume: %v", err)
	}
}

// One Loop step equals the computation spelled out: per-example losses of
// the proxy before the update, alpha updated from them and the reference
// losses, then an AdamW step on sum_i w_i loss_i with w_i = alpha[d_i]/sum.
// TestLoopStepIsExact checks one loop step against the same step by hand,
// with one micro-batch and with two (gradient accumulation: both halves
// observed, one update with their mean, each half's weights normalised and
// halved, the first half's with the alpha from before the update).
func TestLoopStepIsExact(t *testing.T) {
	for _, micro := range []int{1, 2} {
		t.Run(fmt.Sprintf("micro_batches=%d", micro), func(t *testing.T) { testLoopStepIsExact(t, micro) })
	}
}

func testLoopStepIsExact(t *testing.T, micro int) {
	testBackend(t)
	b := backend.MustGet()
	cfg := testConfig(t.TempDir())
	doms := synthDomains(3, 20, 1)
	build := func() (*Stepper, models) {
		m := standins(t)
		s, err := train.NewSampler(doms, train.SamplerConfig{BatchSize: 8, Negatives: 3, Mixed: true, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		tr, err := train.NewTrainer(b, m.proxyStore, m.proxy, train.StepConfig{Loss: cfg.LossConfig, Optimizer: cfg.OptimizerConfig})
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := train.NewScorer(b, m.refStore, m.ref, cfg.LossConfig)
		l, _ := NewLearner(3, UpdateConfig{})
		return &Stepper{Names: []string{"a", "b", "c"}, Learner: l, Sampler: s, Proxy: tr, Ref: ref, Encode: m.encode, Optim: cfg.OptimizerConfig, Steps: 10, MicroBatches: micro}, m
	}
	loop, m1 := build()
	if _, err := loop.Step(0); err != nil {
		t.Fatal(err)
	}
	// By hand, on an identical second set-up.
	hand, m2 := build()
	hl := hand.Learner.(*Learner)
	batch, err := hand.Sampler.Next()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := hand.Encode(batch)
	var dom []int
	for _, ex := range batch.Examples {
		dom = append(dom, ex.Domain)
	}
	proxyScorer, _ := train.NewScorer(b, m2.proxyStore, m2.proxy, cfg.LossConfig)
	p, _ := proxyScorer.Losses(in)
	r, _ := hand.Ref.Losses(in)
	half := len(dom) / 2
	parts := [][2]int{{0, len(dom)}}
	if micro == 2 {
		parts = [][2]int{{0, half}, {half, len(dom)}}
	}
	// Every micro-batch but the last is weighted with alpha before the
	// update, the last with alpha after it (the official order).
	var w []float32
	weigh := func(pt [2]int) {
		for _, v := range hl.ExampleWeights(dom[pt[0]:pt[1]]) {
			w = append(w, float32(v/float64(len(parts))))
		}
	}
	for i, pt := range parts {
		hl.Observe(widen(p[pt[0]:pt[1]]), widen(r[pt[0]:pt[1]]), dom[pt[0]:pt[1]])
		if i < len(parts)-1 {
			weigh(pt)
		}
	}
	hl.Update()
	weigh(parts[len(parts)-1])
	if _, err := hand.Proxy.Step(in, cfg.LearningRateAt(0, 10), w, nil); err != nil {
		t.Fatal(err)
	}
	near(t, "alpha", loop.Learner.Weights().Curr, hl.Alpha, 1e-6)
	got, want := storeValues(t, m1.proxyStore), storeValues(t, m2.proxyStore)
	for path, g := range got {
		for i := range g {
			if d := math.Abs(float64(g[i] - want[path][i])); d > 1e-5 {
				t.Fatalf("%s[%d]: loop %v, by hand %v", path, i, g[i], want[path][i])
			}
		}
	}
}

// The resume test re-runs this test binary as a child that trains until the
// parent kills it with SIGKILL.
const childEnv = "TDRO_DRO_KILL_CHILD"

func TestMain(m *testing.M) {
	if out := os.Getenv(childEnv); out != "" {
		if _, err := backend.Get(); err != nil {
			panic(err)
		}
		cfg := testConfig(out)
		m := standins(&testing.T{})
		// Slow steps leave the parent time to kill mid-run on a loaded
		// machine; sleeping changes no number.
		encode := m.encode
		m.encode = func(b train.Batch) (*train.Inputs, error) {
			time.Sleep(50 * time.Millisecond)
			return encode(b)
		}
		_, err := runWith(context.Background(), cfg, synthDomains(3, 20, 1), m, true)
		fmt.Fprintln(os.Stderr, "child finished:", err)
		os.Exit(3) // the parent should have killed us first
	}
	os.Exit(m.Run())
}

func TestResumeAfterSIGKILL(t *testing.T) {
	testBackend(t)
	// Uninterrupted reference run.
	whole := standins(t)
	want, err := runWith(context.Background(), testConfig(t.TempDir()), synthDomains(3, 20, 1), whole, false)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), childEnv+"="+out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once a few steps are logged, whatever it is doing then.
	killAt := 3 + time.Now().Nanosecond()%8
	err = crashtest.KillWhen(t, cmd, 2*time.Minute, fmt.Sprintf("%d logged steps", killAt), func() bool {
		b, _ := os.ReadFile(filepath.Join(out, "log.jsonl"))
		return strings.Count(string(b), "\n") >= killAt
	})
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("child was not killed (it finished?): %v", err)
	}
	resumed := standins(t)
	got, err := runWith(context.Background(), testConfig(out), synthDomains(3, 20, 1), resumed, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed after >= %d logged steps, resumed from step %d", killAt, got.ResumedFrom)
	if got.ResumedFrom == 0 || got.ResumedFrom >= want.Steps {
		t.Errorf("resumed from %d", got.ResumedFrom)
	}
	near(t, "curr", got.Curr, want.Curr, 0)
	near(t, "mean", got.Mean, want.Mean, 0)
	near(t, "ema", got.EMA, want.EMA, 0)
	a, b := storeValues(t, whole.proxyStore), storeValues(t, resumed.proxyStore)
	for path, v := range a {
		for i := range v {
			if math.Abs(float64(v[i]-b[path][i])) > 1e-6 {
				t.Fatalf("proxy %s[%d]: %v uninterrupted, %v resumed", path, i, v[i], b[path][i])
			}
		}
	}
	// The log was cut back to the checkpoint and continued: one line per
	// step, equal to the uninterrupted log but for the step times.
	gotLog, err := readLog(filepath.Join(out, "log.jsonl"), want.Steps)
	if err != nil {
		t.Fatal(err)
	}
	wantLog, _ := readLog(filepath.Join(want.Out, "log.jsonl"), want.Steps)
	for i := range wantLog {
		gotLog[i].Seconds, wantLog[i].Seconds = 0, 0
		if !reflect.DeepEqual(gotLog[i], wantLog[i]) {
			t.Fatalf("resumed log step %d: %+v\nuninterrupted: %+v", i+1, gotLog[i], wantLog[i])
		}
	}
}

func TestRunBadInput(t *testing.T) {
	testBackend(t)
	doms := synthDomains(2, 5, 1)
	doms[1].Records = nil
	for _, tc := range []struct {
		name string
		doms []train.Domain
		edit func(*Config)
		want string
	}{
		{"zero domains", nil, nil, "no domains"},
		{"empty domain", doms, nil, `"dom1" (dom1.jsonl) has no records`},
		{"steps", synthDomains(2, 5, 1), func(c *Config) { c.Steps = 0 }, "steps"},
		{"eta", synthDomains(2, 5, 1), func(c *Config) { c.Eta = -1 }, "eta"},
		{"measure", synthDomains(2, 5, 1), func(c *Config) { c.Measure = "ratio" }, "measure"},
		{"select", synthDomains(2, 5, 1), func(c *Config) { c.SelectFrom = "last" }, "select_from"},
	} {
		cfg := testConfig(t.TempDir())
		if tc.edit != nil {
			tc.edit(&cfg)
		}
		_, err := runWith(context.Background(), cfg, tc.doms, standins(t), false)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// Run rejects bad mixtures before it loads any model (the reference path
// here does not exist).
func TestRunRejectsEmptyDomainFile(t *testing.T) {
	dir := t.TempDir()
	mix := testMixture("full", "empty")
	mix.Domains[0].Path = filepath.Join(dir, "full.jsonl")
	mix.Domains[1].Path = filepath.Join(dir, "empty.jsonl")
	os.WriteFile(mix.Domains[0].Path, []byte(`{"query_id":"1","query":"q","positive_passages":[{"docid":"d","title":"","text":"p"}],"negative_passages":[]}`+"\n"), 0o644)
	os.WriteFile(mix.Domains[1].Path, nil, 0o644)
	if err := mix.Save(filepath.Join(dir, "mix.json")); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(filepath.Join(dir, "out"))
	cfg.Mixture, cfg.Reference = filepath.Join(dir, "mix.json"), filepath.Join(dir, "no-such-model")
	_, err := Run(context.Background(), cfg, false)
	if err == nil || !strings.Contains(err.Error(), `"empty"`) || !strings.Contains(err.Error(), "empty.jsonl") ||
		!strings.Contains(err.Error(), "no records") {
		t.Errorf("err = %v", err)
	}
}

// Large batches through the gradient cache give the same run as one pass.
func TestRunWithGradientCacheChunks(t *testing.T) {
	testBackend(t)
	whole, chunked := standins(t), standins(t)
	a, err := runWith(context.Background(), testConfig(t.TempDir()), synthDomains(3, 20, 1), whole, false)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t.TempDir())
	cfg.GradCacheChunk = 3
	b, err := runWith(context.Background(), cfg, synthDomains(3, 20, 1), chunked, false)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "alpha", b.Curr, a.Curr, 1e-6)
	wa, wb := storeValues(t, whole.proxyStore), storeValues(t, chunked.proxyStore)
	for path, v := range wa {
		for i := range v {
			if d := math.Abs(float64(v[i] - wb[path][i])); d > 1e-5 {
				t.Fatalf("%s[%d]: %v in one pass, %v in chunks", path, i, v[i], wb[path][i])
			}
		}
	}
}

// TestRunHugeEtaCheckpoints: with an eta large enough to underflow alpha,
// the run checkpoints every step, resumes and writes finite weights.
func TestRunHugeEtaCheckpoints(t *testing.T) {
	testBackend(t)
	cfg := testConfig(t.TempDir())
	cfg.Steps, cfg.Eta, cfg.Measure = 4, 1e5, Raw
	res, err := runWith(context.Background(), cfg, synthDomains(3, 20, 1), standins(t), false)
	if err != nil {
		t.Fatal(err)
	}
	low := 1.0
	for _, a := range res.Curr {
		if math.IsNaN(a) || a <= 0 {
			t.Fatalf("alpha %v", res.Curr)
		}
		low = math.Min(low, a)
	}
	if low > 1e-200 {
		t.Fatalf("alpha %v never reached the floor region; the test does not test the floor", res.Curr)
	}
	if _, err := LoadWeights(res.WeightsPath("curr")); err != nil {
		t.Fatal(err)
	}
}
