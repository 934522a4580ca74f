package model

import (
	"fmt"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"
	"github.com/tdro/tdro/backend"
)

// BenchConfig is the fixed encoder scripts/torch/bench.sh compares against
// PyTorch: BERT, hidden 256, 4 layers, 4 heads, FFN 1024, MiniLM's vocabulary.
func BenchConfig() *Config {
	return &Config{ModelType: "bert", VocabSize: 30522, HiddenSize: 256, NumLayers: 4, NumHeads: 4,
		IntermediateSize: 1024, MaxPositions: 512, Pooling: PoolMean, Normalize: true}
}

// benchInputs is a full batch of random ids (no padding).
func benchInputs(batch, seq, vocab int) (*tensors.Tensor, *tensors.Tensor) {
	ids := make([]int32, batch*seq)
	mask := make([]int32, batch*seq)
	for i := range ids {
		ids[i] = int32((i*7919 + 13) % vocab)
		mask[i] = 1
	}
	return tensors.FromFlatDataAndDimensions(ids, batch, seq), tensors.FromFlatDataAndDimensions(mask, batch, seq)
}

// BenchmarkEncoderForward reports Embed's forward throughput (tokens/s) on
// BenchConfig, batch 32 x 128 tokens.
func BenchmarkEncoderForward(b *testing.B) {
	for _, shape := range [][2]int{{32, 128}} {
		b.Run(fmt.Sprintf("b%d_l%d", shape[0], shape[1]), func(b *testing.B) {
			m, err := New(BenchConfig(), nil, 1)
			if err != nil {
				b.Fatal(err)
			}
			exec := gmodel.MustNewExec(backend.MustGet(), m.Store, func(scope *gmodel.Scope, ids, mask *graph.Node) *graph.Node {
				return m.Embed(scope, ids, mask)
			})
			ids, mask := benchInputs(shape[0], shape[1], m.Config.VocabSize)
			exec.MustExec1(ids, mask).FinalizeAll() // compile
			b.ResetTimer()
			for b.Loop() {
				exec.MustExec1(ids, mask).FinalizeAll()
			}
			b.ReportMetric(float64(b.N*shape[0]*shape[1])/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// BenchmarkTrainStep times forward + backward of the from-scratch presets
// (the two BERTs and the static model: what one training step costs,
// optimizer excluded) on 64 x 128 tokens.
func BenchmarkTrainStep(b *testing.B) {
	for _, preset := range []string{"mini-bert", "tiny-bert", "static"} {
		b.Run(preset, func(b *testing.B) {
			cfg, err := Preset(preset, 30522)
			if err != nil {
				b.Fatal(err)
			}
			m, err := New(cfg, nil, 1)
			if err != nil {
				b.Fatal(err)
			}
			exec := gmodel.MustNewExec(backend.MustGet(), m.Store, func(scope *gmodel.Scope, ids, mask *graph.Node) *graph.Node {
				g := ids.Graph()
				scope.Store().SetTraining(g, true)
				e := m.Embed(scope, ids, mask)
				loss := graph.ReduceAllSum(graph.Mul(e, e))
				sum := loss
				for _, gr := range scope.BuildTrainableVariablesGradientsGraph(loss) {
					sum = graph.Add(sum, graph.ReduceAllSum(gr))
				}
				return sum
			})
			const batch, seq = 64, 128
			ids, mask := benchInputs(batch, seq, cfg.VocabSize)
			exec.MustExec1(ids, mask).FinalizeAll()
			b.ResetTimer()
			for b.Loop() {
				exec.MustExec1(ids, mask).FinalizeAll()
			}
			b.ReportMetric(float64(b.N*batch*seq)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
