// Package model builds BERT-family encoders and Llama-family decoders
// (Llama, Mistral, Qwen2) as GoMLX graphs, pools them into text embeddings,
// and reads and writes Hugging Face checkpoints (plus llama2.c imports).
//
// Weights are GoMLX variables in Model.Store under "/model/", one per
// Hugging Face tensor, named after it with dots turned into slashes
// ("encoder.layer.0.attention.self.query.weight" lives at
// "/model/encoder/layer/0/attention/self/query/weight") and stored in
// PyTorch's [out, in] layout, so checkpoints map one to one. The trainer adds
// its optimizer state to the same Store and checkpoints it together.
package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"
	"github.com/tdro/tdro/tokenize"
)

// Scope is the Store scope that holds the model's weights.
const Scope = "/model"

// Model is a transformer, its tokenizer and its weights.
type Model struct {
	Config    *Config
	Tokenizer *tokenize.Tokenizer
	Store     *gmodel.Store // weights live under Store.RootScope().In("model")

	names      []string               // Hugging Face tensor names of the weights, in checkpoint order
	extra      map[string]*hostTensor // tensors read from a checkpoint that the graph does not use (kept for Save)
	extraOrder []string

	mu   sync.Mutex
	exec *gmodel.Exec // Encode's compiled graphs
}

// VarPath is the Store path of the variable holding a Hugging Face tensor.
func VarPath(name string) string { return Scope + "/" + strings.ReplaceAll(name, ".", "/") }

// Var returns the variable holding a Hugging Face tensor, or nil.
func (m *Model) Var(name string) *gmodel.Variable { return m.Store.GetVariable(VarPath(name)) }

// TensorNames lists the Hugging Face names of the model's weights (LoRA
// adapters excluded), in checkpoint order.
func (m *Model) TensorNames() []string { return append([]string(nil), m.names...) }

type initKind int

const (
	initNormal initKind = iota // N(0, initializer_range)
	initZeros
	initOnes
)

type tensorSpec struct {
	name  string
	shape []int
	init  initKind
}

// specs lists every weight the config's graph reads, in checkpoint order.
func specs(c *Config) []tensorSpec { return c.family().specs(c) }

// specList collects tensor specs; the families' specs use it.
type specList []tensorSpec

func (s *specList) add(name string, kind initKind, shape ...int) {
	*s = append(*s, tensorSpec{name, shape, kind})
}

// New builds a model with random weights (initializer_range normal, unit
// norms, zero biases), deterministic for a seed: for training from scratch.
// It sets tok.AppendEOS for pooling "last" and tok.NoSpecialTokens for a
// static model.
func New(cfg *Config, tok *tokenize.Tokenizer, seed uint64) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkVocab(cfg, tok); err != nil {
		return nil, err
	}
	m := newEmpty(cfg, tok)
	rng := rand.New(rand.NewPCG(seed, 0x7464726f))
	for _, s := range specs(cfg) {
		n := 1
		for _, d := range s.shape {
			n *= d
		}
		data := make([]float32, n)
		switch s.init {
		case initNormal:
			for i := range data {
				data[i] = float32(rng.NormFloat64() * cfg.InitializerRange)
			}
		case initOnes:
			for i := range data {
				data[i] = 1
			}
		}
		if err := m.setWeight(s.name, tensors.FromFlatDataAndDimensions(data, s.shape...)); err != nil {
			return nil, err
		}
	}
	if err := m.addLoRA(rng); err != nil {
		return nil, err
	}
	return m, nil
}

func newEmpty(cfg *Config, tok *tokenize.Tokenizer) *Model {
	if tok != nil && cfg.Pooling == PoolLast {
		tok.AppendEOS = true
	}
	if _, pools := cfg.family().sentenceModule(); tok != nil && pools {
		tok.NoSpecialTokens = true
	}
	return &Model{Config: cfg, Tokenizer: tok, Store: gmodel.NewStore(), extra: map[string]*hostTensor{}}
}

func (m *Model) setWeight(name string, t *tensors.Tensor) error {
	if _, err := m.Store.CreateVariable(VarPath(name), t); err != nil {
		return fmt.Errorf("weight %s: %w", name, err)
	}
	m.names = append(m.names, name)
	return nil
}

// checkVocab rejects a tokenizer whose ids do not fit the embedding table.
func checkVocab(cfg *Config, tok *tokenize.Tokenizer) error {
	if tok != nil && tok.VocabSize() > cfg.VocabSize {
		return fmt.Errorf("tokenizer %s has %d tokens but the model's vocab_size is %d", tok.Path(), tok.VocabSize(), cfg.VocabSize)
	}
	return nil
}

// NumParameters counts the model's weights (adapters included).
func (m *Model) NumParameters() int {
	n := 0
	for v := range m.Store.IterVariables() {
		if strings.HasPrefix(v.Path(), Scope+"/") {
			n += v.Shape().Size()
		}
	}
	return n
}

// kaimingUniformBound is PyTorch's default Linear init bound for a fan-in
// (kaiming_uniform_ with a=sqrt(5)), which PEFT uses for lora_A.
func kaimingUniformBound(fanIn int) float64 { return 1 / math.Sqrt(float64(fanIn)) }
