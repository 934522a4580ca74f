package train

import (
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/tdro/tdro/backend"
	"github.com/tdro/tdro/model"
)

// benchInputs are b queries and b passages of seq random tokens each, all
// real (no padding), like scripts/train/bench_torch.py feeds PyTorch.
func benchInputs(b, seq, vocab int) *Inputs {
	rng := rand.New(rand.NewPCG(1, 2))
	mk := func() Tokens {
		t := Tokens{IDs: make([]int32, b*seq), Mask: make([]int32, b*seq), Rows: b, Len: seq}
		for i := range t.IDs {
			t.IDs[i] = int32(1000 + rng.IntN(vocab-1000))
			t.Mask[i] = 1
		}
		return t
	}
	return &Inputs{Queries: mk(), Passages: mk()}
}

// trainBenchShape is a shape of BenchmarkTrainStep. The GPU ones (BERT-base,
// Qwen2-0.5B) run only with TDRO_BENCH_GPU=1 (scripts/gpu/check.sh): on
// two CPU cores one step takes minutes.
type trainBenchShape struct {
	name                string
	typ                 string // bert or qwen2
	hidden, layers      int
	heads, kvHeads      int
	ffn, seq, bs, vocab int
	gpu                 bool
}

var trainBenchShapes = []trainBenchShape{
	{"h256-l4-seq128-b32", "bert", 256, 4, 4, 0, 1024, 128, 32, 30522, false},
	{"h128-l2-seq32-b16", "bert", 128, 2, 4, 0, 512, 32, 16, 30522, false},
	{"bertbase-seq128-b32", "bert", 768, 12, 12, 0, 3072, 128, 32, 30522, true},
	{"qwen2-0.5b-seq128-b8", "qwen2", 896, 24, 14, 2, 4864, 128, 8, 151936, true},
}

// config is the model of a benchmark shape (random init).
func (bc trainBenchShape) config() *model.Config {
	if bc.typ == "qwen2" {
		return &model.Config{ModelType: "qwen2", VocabSize: bc.vocab, HiddenSize: bc.hidden, NumLayers: bc.layers,
			NumHeads: bc.heads, NumKVHeads: bc.kvHeads, IntermediateSize: bc.ffn, MaxPositions: 32768,
			Pooling: model.PoolLast, Normalize: true, RMSNormEps: 1e-6, RopeTheta: 1e6, TieEmbeddings: true}
	}
	return &model.Config{ModelType: "bert", VocabSize: bc.vocab, HiddenSize: bc.hidden, NumLayers: bc.layers,
		NumHeads: bc.heads, IntermediateSize: bc.ffn, MaxPositions: 512, Pooling: model.PoolMean, Normalize: true}
}

// TestTrainBenchShapesValidate: every benchmark shape, the GPU ones too, is
// a valid model (building the big ones is left to the benchmark).
func TestTrainBenchShapesValidate(t *testing.T) {
	for _, bc := range trainBenchShapes {
		if err := bc.config().Validate(); err != nil {
			t.Errorf("%s: %v", bc.name, err)
		}
	}
}

// BenchmarkTrainStep times one contrastive step (forward, backward, AdamW) on
// each shape: the fixed configuration (BERT hidden 256, 4 layers, 4
// heads, ffn 1024, vocab 30522, seq 128, 32 queries + 32 passages, in-batch
// negatives, no dropout), tiny-bert's, and the GPU shapes. scripts/train/bench.sh
// and scripts/gpu/check.sh run it next to PyTorch.
func BenchmarkTrainStep(b *testing.B) {
	for _, bc := range trainBenchShapes {
		b.Run(bc.name, func(b *testing.B) {
			if bc.gpu && os.Getenv("TDRO_BENCH_GPU") != "1" {
				b.Skip("a GPU shape: set TDRO_BENCH_GPU=1")
			}
			cfg := bc.config()
			if err := cfg.Validate(); err != nil {
				b.Fatal(err)
			}
			m, err := model.New(cfg, nil, 1)
			if err != nil {
				b.Fatal(err)
			}
			tr, err := NewTrainer(backend.MustGet(), m.Store, m, StepConfig{Loss: LossConfig{Temperature: 0.05}, Optimizer: DefaultOptimizer()})
			if err != nil {
				b.Fatal(err)
			}
			in := benchInputs(bc.bs, bc.seq, cfg.VocabSize)
			if _, err := tr.Step(in, 1e-4, nil, nil); err != nil { // compile
				b.Fatal(err)
			}
			cpu0 := cpuSeconds()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := tr.Step(in, 1e-4, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(2*bc.bs*bc.seq*b.N)/b.Elapsed().Seconds(), "tokens/s")
			// CPU seconds per step: comparable across runs on a shared machine.
			b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
		})
	}
}

// BenchmarkAdamW times the optimizer alone (clipping, moments, decay) over
// the parameters of the tiny-bert preset (30522-token embedding table), to
// show its share of a step.
func BenchmarkAdamW(b *testing.B) {
	cfg, err := model.Preset("tiny-bert", 30522)
	if err != nil {
		b.Fatal(err)
	}
	m, err := model.New(cfg, nil, 1)
	if err != nil {
		b.Fatal(err)
	}
	opt, err := NewAdamW(m.Store, TrainableVariables(m.Store), DefaultOptimizer())
	if err != nil {
		b.Fatal(err)
	}
	exe := gmodel.MustNewExec(backend.MustGet(), m.Store, func(scope *gmodel.Scope, lr *graph.Node) *graph.Node {
		grads := make([]*graph.Node, len(opt.Params()))
		for i, p := range opt.ParamNodes(lr.Graph()) {
			grads[i] = graph.MulScalar(p, 0.5) // any gradient of the right shape
		}
		return opt.Update(grads, lr)
	})
	lr := tensors.FromScalar(float32(1e-4))
	exe.MustCall(lr)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		exe.MustCall(lr)
	}
	b.ReportMetric(float64(m.NumParameters()), "params")
}

// cpuSeconds is the process's user + system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
