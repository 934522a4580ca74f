package model

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/core/graph"
)

// A family is one transformer layout: the weights it reads, the graph it
// builds, and how its Hugging Face checkpoints name things. Each family lives
// in its own file (bert.go, llama.go) and registers the model_type values it
// reads; no other code asks which family a config is, so adding one is a new
// file with an init that calls register.
type family interface {
	// check validates the family's own fields and fills their defaults
	// (norm epsilon, RoPE theta, pooling), so the graph never sees zeros.
	check(c *Config) error
	// specs lists every weight the graph reads, in checkpoint order.
	specs(c *Config) []tensorSpec
	// hidden builds the last layer's states [batch, seq, hidden].
	hidden(b *builder, ids, mask *graph.Node) *graph.Node
	// loraLinear is the Linear prefix a PEFT target (q_proj, ...) wraps in
	// layer i, or "" when the family has no such projection.
	loraLinear(target string, layer int) string
	// headPrefixes are the task-head prefixes Hugging Face adds to tensor
	// names (BertModel inside BertForMaskedLM is "bert."); the first is the
	// one written when a model with a language-model head is saved.
	headPrefixes() []string
	// inputEmbedding is the token-embedding tensor, the LM head when tied.
	inputEmbedding() string
	// maxTokens is the longest input the positions allow (0: no limit).
	maxTokens(c *Config) int
	// defaults are the hidden activation and embedding tying of a new
	// config that leaves them out.
	defaultActivation() string
	tiesEmbeddings() bool
	// saveConfig fills what transformers needs in a written config.json.
	saveConfig(c *Config, padID int)
	// sentenceModule is the sentence-transformers module that reads the
	// checkpoint directory, and whether it pools by itself: a Transformer
	// is followed by a Pooling module; a StaticEmbedding pools and encodes
	// without special tokens, so tdro's tokenizer must too.
	sentenceModule() (typ string, poolsItself bool)
}

// stTransformer is the sentence-transformers module of the transformer
// families.
const stTransformer = "sentence_transformers.models.Transformer"

// modelType is one registered Hugging Face model_type.
type modelType struct {
	family family
	class  string // Hugging Face class prefix: Bert, Qwen2, ...
}

var modelTypes = map[string]modelType{}

// register makes model_type name (and its Hugging Face class prefix) build
// f's graph. Families call it from init.
func register(f family, classes map[string]string) {
	for name, class := range classes {
		if _, dup := modelTypes[name]; dup {
			panic(fmt.Sprintf("model: model_type %q registered twice", name))
		}
		modelTypes[name] = modelType{family: f, class: class}
	}
}

// ModelTypes lists the supported model_type values, sorted.
func ModelTypes() []string { return slices.Sorted(maps.Keys(modelTypes)) }

// lookupType finds the config's model_type in the registry.
func (c *Config) lookupType() (modelType, error) {
	t, ok := modelTypes[c.ModelType]
	if !ok {
		return modelType{}, fmt.Errorf("model_type %q is not supported (want one of %s)", c.ModelType, strings.Join(ModelTypes(), ", "))
	}
	return t, nil
}

// family is the config's family; Validate has checked that it exists.
func (c *Config) family() family {
	t, err := c.lookupType()
	if err != nil {
		panic("model: " + err.Error() + " (Validate was not called)")
	}
	return t.family
}

// className is the Hugging Face class prefix of the config's model_type.
func (c *Config) className() string { return modelTypes[c.ModelType].class }

// familyTargets are the LoRA targets a family has projections for.
func familyTargets(f family) []string {
	var out []string
	for _, t := range loraTargets {
		if f.loraLinear(t, 0) != "" {
			out = append(out, t)
		}
	}
	return out
}
