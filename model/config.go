package model

import (
	"fmt"
	"slices"
	"strings"
)

// Pooling turns the [batch, seq, hidden] states into one vector per text.
type Pooling string

const (
	PoolCLS  Pooling = "cls"  // first token
	PoolMean Pooling = "mean" // average over real tokens
	PoolLast Pooling = "last" // last real token (decoders; EOS appended)
)

// LoRA configures low-rank adapters: W' = W + (Alpha/Rank)·B·A on the target
// projections; only A and B train.
type LoRA struct {
	Rank    int     `json:"r"`
	Alpha   float64 `json:"lora_alpha"`
	Dropout float64 `json:"lora_dropout"`
	// Targets are PEFT's Llama projection names (default q_proj k_proj
	// v_proj o_proj; also gate_proj up_proj down_proj). BERT-family models
	// take the same names, not BERT's own: q/k/v/o_proj, up_proj and
	// down_proj wrap query, key, value, attention.output.dense,
	// intermediate.dense and output.dense; they have no gate_proj.
	Targets []string `json:"target_modules"`
}

// Config is the subset of a Hugging Face config.json the graphs need, plus
// how to pool and whether to L2-normalize the embedding. JSON field names are
// Hugging Face's, so config.json reads and writes directly.
type Config struct {
	ModelType     string   `json:"model_type"` // a registered family's type (ModelTypes)
	Architectures []string `json:"architectures,omitempty"`

	VocabSize        int          `json:"vocab_size"`
	HiddenSize       int          `json:"hidden_size"`
	NumLayers        int          `json:"num_hidden_layers"`
	NumHeads         int          `json:"num_attention_heads"`
	NumKVHeads       int          `json:"num_key_value_heads,omitempty"` // decoders; 0 means NumHeads
	HeadDim          int          `json:"head_dim,omitempty"`            // decoders; 0 means HiddenSize/NumHeads
	IntermediateSize int          `json:"intermediate_size"`
	MaxPositions     int          `json:"max_position_embeddings"`
	HiddenAct        string       `json:"hidden_act"`
	TypeVocabSize    int          `json:"type_vocab_size,omitempty"` // encoders
	LayerNormEps     float64      `json:"layer_norm_eps,omitempty"`  // encoders
	RMSNormEps       float64      `json:"rms_norm_eps,omitempty"`    // decoders
	RopeTheta        float64      `json:"rope_theta,omitempty"`      // decoders
	RopeScaling      *RopeScaling `json:"rope_scaling,omitempty"`    // decoders: nil, "linear" or "llama3"
	SlidingWindow    *int         `json:"sliding_window,omitempty"`  // Mistral: longer inputs are rejected (attention here is full)
	AttentionBias    bool         `json:"attention_bias,omitempty"`  // llama/mistral q/k/v/o bias (qwen2 always has q/k/v bias)
	TieEmbeddings    bool         `json:"tie_word_embeddings"`
	InitializerRange float64      `json:"initializer_range,omitempty"`
	PadTokenID       *int         `json:"pad_token_id,omitempty"`
	BosTokenID       *int         `json:"bos_token_id,omitempty"`
	EosTokenID       *int         `json:"eos_token_id,omitempty"`
	TorchDType       string       `json:"torch_dtype,omitempty"`

	// Dropout (training only). Encoders read Hugging Face's names.
	HiddenDropout    float64 `json:"hidden_dropout_prob,omitempty"`
	AttentionDropout float64 `json:"attention_probs_dropout_prob,omitempty"`

	// Not part of config.json: written to the sentence-transformers files.
	Pooling   Pooling `json:"-"`
	Normalize bool    `json:"-"`
	LoRA      *LoRA   `json:"-"`
}

// RopeScaling is Hugging Face's rope_scaling: "linear" divides every
// frequency by Factor; "llama3" (Llama 3.1+) divides the low frequencies and
// interpolates the middle band.
type RopeScaling struct {
	Type                 string  `json:"rope_type"`
	Factor               float64 `json:"factor"`
	LowFreqFactor        float64 `json:"low_freq_factor,omitempty"`
	HighFreqFactor       float64 `json:"high_freq_factor,omitempty"`
	OriginalMaxPositions int     `json:"original_max_position_embeddings,omitempty"`
	LegacyType           string  `json:"type,omitempty"` // older configs name the type here
}

// KVHeads is the number of key/value heads (GQA).
func (c *Config) KVHeads() int {
	if c.NumKVHeads > 0 {
		return c.NumKVHeads
	}
	return c.NumHeads
}

// HeadSize is the per-head dimension.
func (c *Config) HeadSize() int {
	if c.HeadDim > 0 {
		return c.HeadDim
	}
	return c.HiddenSize / c.NumHeads
}

// Validate checks the config and fills defaults (norm epsilons, RoPE theta,
// pooling) so that the graphs never see zero values.
func (c *Config) Validate() error {
	t, err := c.lookupType()
	if err != nil {
		return err
	}
	fam := t.family
	if err := positive(fieldValue{"vocab_size", c.VocabSize}, fieldValue{"hidden_size", c.HiddenSize}); err != nil {
		return err
	}
	if c.HiddenAct == "" {
		c.HiddenAct = fam.defaultActivation()
	}
	switch c.HiddenAct {
	case "gelu", "gelu_new", "gelu_pytorch_tanh", "silu", "swish", "relu":
	default:
		return fmt.Errorf("config: hidden_act %q is not supported", c.HiddenAct)
	}
	if c.InitializerRange == 0 {
		c.InitializerRange = 0.02
	}
	if err := fam.check(c); err != nil {
		return err
	}
	switch c.Pooling {
	case PoolCLS, PoolMean, PoolLast:
	default:
		return fmt.Errorf("pooling %q is not supported (want cls, mean or last)", c.Pooling)
	}
	if l := c.LoRA; l != nil {
		if l.Rank <= 0 {
			return fmt.Errorf("lora: rank must be positive, got %d", l.Rank)
		}
		if l.Alpha == 0 {
			l.Alpha = float64(l.Rank)
		}
		if l.Dropout < 0 || l.Dropout >= 1 {
			return fmt.Errorf("lora: dropout must be in [0, 1), got %g", l.Dropout)
		}
		if len(l.Targets) == 0 {
			l.Targets = []string{"q_proj", "k_proj", "v_proj", "o_proj"}
		}
		// A target the model lacks is an error, not skipped: a config made
		// for a Llama, with gate_proj, would otherwise train fewer adapters
		// than it says on a BERT (or, with gate_proj alone, none).
		var missing []string
		for _, t := range l.Targets {
			if !slices.Contains(loraTargets, t) {
				return fmt.Errorf("lora: unknown target %q (want %s)", t, strings.Join(loraTargets, " "))
			}
			if fam.loraLinear(t, 0) == "" {
				missing = append(missing, t)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("lora: target_modules %s: a %s model has no such projection (its targets: %s)",
				strings.Join(missing, " "), c.ModelType, strings.Join(familyTargets(fam), " "))
		}
	}
	return nil
}

// fieldValue is a config.json field and its value, for error messages.
type fieldValue struct {
	name string
	v    int
}

func positive(fields ...fieldValue) error {
	for _, f := range fields {
		if f.v <= 0 {
			return fmt.Errorf("config field %s must be positive, got %d", f.name, f.v)
		}
	}
	return nil
}

// checkLayers validates a transformer's layer and head counts; families
// without attention (static) have none.
func checkLayers(c *Config) error {
	if err := positive(fieldValue{"num_hidden_layers", c.NumLayers}, fieldValue{"num_attention_heads", c.NumHeads},
		fieldValue{"intermediate_size", c.IntermediateSize}); err != nil {
		return err
	}
	if c.HeadDim == 0 && c.HiddenSize%c.NumHeads != 0 {
		return fmt.Errorf("config: hidden_size %d is not divisible by num_attention_heads %d", c.HiddenSize, c.NumHeads)
	}
	if c.NumHeads%c.KVHeads() != 0 {
		return fmt.Errorf("config: num_attention_heads %d is not divisible by num_key_value_heads %d", c.NumHeads, c.KVHeads())
	}
	return nil
}

// Preset returns a small from-scratch configuration by name. "static"
// (token embeddings, 256 wide) is the embedded default; "tiny-bert"
// (hidden 128, 2 layers) was, sized for several short trainings on two CPU
// cores; "mini-bert" (hidden 64) trains a step 1.65x faster than tiny-bert;
// "small-bert" (256 x 4, exact GELU) is for longer runs.
func Preset(name string, vocabSize int) (*Config, error) {
	var c *Config
	switch name {
	case "mini-bert":
		c = &Config{ModelType: "bert", HiddenSize: 64, NumLayers: 2, NumHeads: 2, IntermediateSize: 256,
			MaxPositions: 512, HiddenAct: "relu", HiddenDropout: 0.1, Pooling: PoolMean, Normalize: true}
	case "tiny-bert":
		// Speed choices for CPU training from scratch, measured on a train
		// step: ReLU instead of exact GELU (whose erf and its gradient cost
		// ~18% of the step's CPU time), and no attention dropout (its
		// [batch, heads, seq, seq] random mask costs more than it helps in a
		// few hundred steps).
		c = &Config{ModelType: "bert", HiddenSize: 128, NumLayers: 2, NumHeads: 4, IntermediateSize: 512,
			MaxPositions: 512, HiddenAct: "relu", HiddenDropout: 0.1, Pooling: PoolMean, Normalize: true}
	case "small-bert":
		c = &Config{ModelType: "bert", HiddenSize: 256, NumLayers: 4, NumHeads: 4, IntermediateSize: 1024,
			MaxPositions: 512, HiddenDropout: 0.1, AttentionDropout: 0.1, Pooling: PoolMean, Normalize: true}
	case "static":
		// sentence-transformers' StaticEmbedding layout: token embeddings,
		// mean pooling; no attention, so training costs about a sixth of
		// tiny-bert's CPU and longer texts cost little.
		c = &Config{ModelType: "static", HiddenSize: 256, Pooling: PoolMean, Normalize: true}
	case "tiny-llama":
		c = &Config{ModelType: "llama", HiddenSize: 128, NumLayers: 2, NumHeads: 4, NumKVHeads: 2, IntermediateSize: 344,
			MaxPositions: 2048, Pooling: PoolLast, Normalize: true, RMSNormEps: 1e-5}
	case "tiny-qwen2":
		c = &Config{ModelType: "qwen2", HiddenSize: 128, NumLayers: 2, NumHeads: 4, NumKVHeads: 2, IntermediateSize: 344,
			MaxPositions: 2048, Pooling: PoolLast, Normalize: true, RMSNormEps: 1e-6, RopeTheta: 1e6}
	default:
		return nil, fmt.Errorf("unknown model preset %q (want %s)", name, strings.Join(PresetNames, ", "))
	}
	c.VocabSize = vocabSize
	c.TieEmbeddings = c.family().tiesEmbeddings()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// PresetNames lists the names Preset accepts.
var PresetNames = []string{"mini-bert", "tiny-bert", "small-bert", "static", "tiny-llama", "tiny-qwen2"}
