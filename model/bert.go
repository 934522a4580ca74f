package model

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
)

// bert is the BERT family (BERT, RoBERTa, XLM-RoBERTa): learned absolute
// positions, post-LayerNorm, GELU; CLS pooling unless sentence-transformers'
// files say otherwise.
type bert struct{}

func init() {
	register(bert{}, map[string]string{"bert": "Bert", "roberta": "Roberta", "xlm-roberta": "XLMRoberta"})
}

func (bert) check(c *Config) error {
	if err := checkLayers(c); err != nil {
		return err
	}
	if c.MaxPositions <= 0 {
		return fmt.Errorf("config field max_position_embeddings must be positive, got %d", c.MaxPositions)
	}
	if c.TypeVocabSize == 0 {
		c.TypeVocabSize = 2
	}
	if c.LayerNormEps == 0 {
		c.LayerNormEps = 1e-12
	}
	if c.Pooling == "" {
		c.Pooling = PoolCLS
	}
	return nil
}

func (bert) specs(c *Config) []tensorSpec {
	var s specList
	d, inter := c.HiddenSize, c.IntermediateSize
	s.add("embeddings.word_embeddings.weight", initNormal, c.VocabSize, d)
	s.add("embeddings.position_embeddings.weight", initNormal, c.MaxPositions, d)
	s.add("embeddings.token_type_embeddings.weight", initNormal, c.TypeVocabSize, d)
	s.add("embeddings.LayerNorm.weight", initOnes, d)
	s.add("embeddings.LayerNorm.bias", initZeros, d)
	for i := range c.NumLayers {
		p := fmt.Sprintf("encoder.layer.%d.", i)
		for _, n := range []string{"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"} {
			s.add(p+n+".weight", initNormal, d, d)
			s.add(p+n+".bias", initZeros, d)
		}
		s.add(p+"attention.output.LayerNorm.weight", initOnes, d)
		s.add(p+"attention.output.LayerNorm.bias", initZeros, d)
		s.add(p+"intermediate.dense.weight", initNormal, inter, d)
		s.add(p+"intermediate.dense.bias", initZeros, inter)
		s.add(p+"output.dense.weight", initNormal, d, inter)
		s.add(p+"output.dense.bias", initZeros, d)
		s.add(p+"output.LayerNorm.weight", initOnes, d)
		s.add(p+"output.LayerNorm.bias", initZeros, d)
	}
	return s
}

func (bert) hidden(b *builder, ids, mask *graph.Node) *graph.Node {
	c := b.m.Config
	g := b.g
	batch, seq := ids.Shape().Dimensions[0], ids.Shape().Dimensions[1]
	if seq > c.MaxPositions {
		panic(fmt.Sprintf("model: sequence length %d exceeds max_position_embeddings %d", seq, c.MaxPositions))
	}
	x := embedLookup(b.w("embeddings.word_embeddings.weight"), ids)
	posTable := b.w("embeddings.position_embeddings.weight")
	if off := positionOffset(c); off > 0 {
		// RoBERTa: real tokens are at padding_idx+1.., padding at padding_idx.
		// With right padding that is offset + iota for real tokens.
		pos := graph.Add(graph.Iota(g, ids.Shape().Clone(), 1), graph.Const(g, int32(off+1)))
		pos = graph.Where(graph.ConvertDType(mask, dtypes.Bool), pos, graph.BroadcastToDims(graph.Const(g, int32(off)), batch, seq))
		x = graph.Add(x, embedLookup(posTable, pos))
	} else {
		pos := graph.Slice(posTable, graph.AxisRange(0, seq))
		x = graph.Add(x, graph.InsertAxes(pos, 0))
	}
	typ := graph.Slice(b.w("embeddings.token_type_embeddings.weight"), graph.AxisElem(0))
	x = graph.Add(x, graph.InsertAxes(typ, 0))
	x = b.layerNorm(x, "embeddings.LayerNorm", c.LayerNormEps)
	x = b.dropout(x, c.HiddenDropout)

	bias := paddingBias(mask, false)
	act := actType(c.HiddenAct)
	for i := range c.NumLayers {
		p := fmt.Sprintf("encoder.layer.%d.", i)
		q := b.linear(x, p+"attention.self.query", activation.TypeNone)
		k := b.linear(x, p+"attention.self.key", activation.TypeNone)
		v := b.linear(x, p+"attention.self.value", activation.TypeNone)
		ctx := b.attention(q, k, v, bias, c.NumHeads, c.NumHeads, c.HeadSize(), c.AttentionDropout)
		a := b.dropout(b.linear(ctx, p+"attention.output.dense", activation.TypeNone), c.HiddenDropout)
		x = b.layerNorm(graph.Add(a, x), p+"attention.output.LayerNorm", c.LayerNormEps)
		h := b.linear(x, p+"intermediate.dense", act)
		o := b.dropout(b.linear(h, p+"output.dense", activation.TypeNone), c.HiddenDropout)
		x = b.layerNorm(graph.Add(o, x), p+"output.LayerNorm", c.LayerNormEps)
	}
	return x
}

// positionOffset is RoBERTa's padding_idx for position ids (0 for BERT).
func positionOffset(c *Config) int {
	if c.ModelType == "roberta" || c.ModelType == "xlm-roberta" {
		if c.PadTokenID != nil {
			return *c.PadTokenID
		}
		return 1
	}
	return 0
}

// bertLinears maps LoRA targets onto BERT's Linear names. BERT's feed-forward
// has no gate, so gate_proj matches nothing there.
var bertLinears = map[string]string{"q_proj": "attention.self.query", "k_proj": "attention.self.key",
	"v_proj": "attention.self.value", "o_proj": "attention.output.dense",
	"up_proj": "intermediate.dense", "down_proj": "output.dense"}

func (bert) loraLinear(target string, layer int) string {
	if name, ok := bertLinears[target]; ok {
		return fmt.Sprintf("encoder.layer.%d.%s", layer, name)
	}
	return ""
}

func (bert) headPrefixes() []string    { return []string{"bert.", "roberta."} }
func (bert) inputEmbedding() string    { return "embeddings.word_embeddings.weight" }
func (bert) defaultActivation() string { return "gelu" }
func (bert) tiesEmbeddings() bool      { return false }

// maxTokens: RoBERTa's real tokens sit at positions padding_idx+1.., so
// offset+1 of the table is not available to text.
func (bert) maxTokens(c *Config) int {
	if off := positionOffset(c); off > 0 {
		return c.MaxPositions - off - 1
	}
	return c.MaxPositions
}

// saveConfig writes the tokenizer's pad id, which transformers' RoBERTa
// needs for its position ids.
func (bert) saveConfig(c *Config, padID int) {
	if c.PadTokenID == nil && padID >= 0 {
		c.PadTokenID = &padID
	}
}

func (bert) sentenceModule() (string, bool) { return stTransformer, false }
