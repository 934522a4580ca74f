package model

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
)

// llama is the Llama family of decoders (Llama, Mistral, Qwen2): RMSNorm,
// RoPE, grouped-query attention, SwiGLU, causal attention; last-token
// pooling, with EOS appended by the tokenizer.
type llama struct{}

func init() {
	register(llama{}, map[string]string{"llama": "Llama", "mistral": "Mistral", "qwen2": "Qwen2"})
}

func (llama) check(c *Config) error {
	if err := checkLayers(c); err != nil {
		return err
	}
	if c.HeadSize()%2 != 0 {
		return fmt.Errorf("config: head size %d must be even for RoPE", c.HeadSize())
	}
	if r := c.RopeScaling; r != nil {
		if r.Type == "" {
			r.Type = r.LegacyType
		}
		switch {
		case r.Type == "default":
			c.RopeScaling = nil
		case r.Type == "linear" && r.Factor > 0:
		case r.Type == "llama3" && r.Factor > 0 && r.HighFreqFactor > r.LowFreqFactor && r.LowFreqFactor > 0 && r.OriginalMaxPositions > 0:
		default:
			return fmt.Errorf("config: rope_scaling %+v is not supported (want linear or llama3 with their fields)", *r)
		}
	}
	if c.RMSNormEps == 0 {
		c.RMSNormEps = 1e-6
	}
	if c.RopeTheta == 0 {
		c.RopeTheta = 10000
	}
	if c.Pooling == "" {
		c.Pooling = PoolLast
	}
	return nil
}

// llamaQKVBias reports whether q/k/v have a bias: always in Qwen2, on
// request (attention_bias) in Llama and Mistral.
func llamaQKVBias(c *Config) bool { return c.ModelType == "qwen2" || c.AttentionBias }

func (llama) specs(c *Config) []tensorSpec {
	var s specList
	d, inter := c.HiddenSize, c.IntermediateSize
	q, kv := c.NumHeads*c.HeadSize(), c.KVHeads()*c.HeadSize()
	s.add("embed_tokens.weight", initNormal, c.VocabSize, d)
	for i := range c.NumLayers {
		p := fmt.Sprintf("layers.%d.", i)
		s.add(p+"input_layernorm.weight", initOnes, d)
		for _, pr := range []struct {
			n   string
			out int
		}{{"q_proj", q}, {"k_proj", kv}, {"v_proj", kv}} {
			s.add(p+"self_attn."+pr.n+".weight", initNormal, pr.out, d)
			if llamaQKVBias(c) {
				s.add(p+"self_attn."+pr.n+".bias", initZeros, pr.out)
			}
		}
		s.add(p+"self_attn.o_proj.weight", initNormal, d, q)
		if c.AttentionBias {
			s.add(p+"self_attn.o_proj.bias", initZeros, d)
		}
		s.add(p+"post_attention_layernorm.weight", initOnes, d)
		s.add(p+"mlp.gate_proj.weight", initNormal, inter, d)
		s.add(p+"mlp.up_proj.weight", initNormal, inter, d)
		s.add(p+"mlp.down_proj.weight", initNormal, d, inter)
	}
	s.add("norm.weight", initOnes, d)
	return s
}

func (llama) hidden(b *builder, ids, mask *graph.Node) *graph.Node {
	c := b.m.Config
	x := embedLookup(b.w("embed_tokens.weight"), ids)
	seq := ids.Shape().Dimensions[1]
	bias := paddingBias(mask, true)
	if c.SlidingWindow != nil && *c.SlidingWindow > 0 && seq > *c.SlidingWindow {
		panic(fmt.Sprintf("model: sequence length %d exceeds sliding_window %d (sliding-window attention is not implemented)", seq, *c.SlidingWindow))
	}
	cos, sin := ropeTables(b.g, seq, c.HeadSize(), c.RopeTheta, c.RopeScaling)
	hd := c.HeadSize()
	for i := range c.NumLayers {
		p := fmt.Sprintf("layers.%d.", i)
		h := b.rmsNorm(x, p+"input_layernorm.weight", c.RMSNormEps)
		q := b.linear(h, p+"self_attn.q_proj", activation.TypeNone)
		k := b.linear(h, p+"self_attn.k_proj", activation.TypeNone)
		v := b.linear(h, p+"self_attn.v_proj", activation.TypeNone)
		q = applyRope(q, cos, sin, c.NumHeads, hd)
		k = applyRope(k, cos, sin, c.KVHeads(), hd)
		ctx := b.attention(q, k, v, bias, c.NumHeads, c.KVHeads(), hd, 0)
		x = graph.Add(x, b.linear(ctx, p+"self_attn.o_proj", activation.TypeNone))
		h = b.rmsNorm(x, p+"post_attention_layernorm.weight", c.RMSNormEps)
		gate := b.linear(h, p+"mlp.gate_proj", actType(c.HiddenAct))
		up := b.linear(h, p+"mlp.up_proj", activation.TypeNone)
		x = graph.Add(x, b.linear(graph.Mul(gate, up), p+"mlp.down_proj", activation.TypeNone))
	}
	return b.rmsNorm(x, "norm.weight", c.RMSNormEps)
}

// ropeTables are Hugging Face's cos/sin tables [seq, hd]: angle pos·f_i with
// f_i = θ^(-2i/hd) for i < hd/2 (rescaled by rope_scaling), repeated for
// both halves (rotate_half layout).
func ropeTables(g *graph.Graph, seq, hd int, theta float64, scaling *RopeScaling) (cos, sin *graph.Node) {
	c := make([]float32, seq*hd)
	s := make([]float32, seq*hd)
	half := hd / 2
	freq := make([]float32, half)
	for i := range freq {
		freq[i] = float32(scaleFrequency(1/math.Pow(theta, float64(2*i)/float64(hd)), scaling))
	}
	for p := range seq {
		for i, f := range freq {
			a := float64(float32(p) * f)
			c[p*hd+i], c[p*hd+i+half] = float32(math.Cos(a)), float32(math.Cos(a))
			s[p*hd+i], s[p*hd+i+half] = float32(math.Sin(a)), float32(math.Sin(a))
		}
	}
	return graph.Reshape(graph.Const(g, c), seq, hd), graph.Reshape(graph.Const(g, s), seq, hd)
}

// scaleFrequency applies rope_scaling to one inverse frequency, as
// transformers' _compute_linear_scaling / _compute_llama3_parameters do.
func scaleFrequency(f float64, r *RopeScaling) float64 {
	if r == nil {
		return f
	}
	if r.Type == "linear" {
		return f / r.Factor
	}
	old := float64(r.OriginalMaxPositions)
	lowWave, highWave := old/r.LowFreqFactor, old/r.HighFreqFactor
	wave := 2 * math.Pi / f
	switch {
	case wave < highWave:
		return f
	case wave > lowWave:
		return f / r.Factor
	}
	smooth := (old/wave - r.LowFreqFactor) / (r.HighFreqFactor - r.LowFreqFactor)
	return (1-smooth)*f/r.Factor + smooth*f
}

// applyRope rotates x [b, l, heads·hd]: x·cos + rotate_half(x)·sin, with
// rotate_half(x) = [-x2, x1] for the two halves of each head.
func applyRope(x, cos, sin *graph.Node, heads, hd int) *graph.Node {
	dims := x.Shape().Dimensions
	batch, seq := dims[0], dims[1]
	x = graph.Reshape(x, batch, seq, heads, hd)
	x1 := graph.Slice(x, graph.AxisRange(), graph.AxisRange(), graph.AxisRange(), graph.AxisRange(0, hd/2))
	x2 := graph.Slice(x, graph.AxisRange(), graph.AxisRange(), graph.AxisRange(), graph.AxisRange(hd/2, hd))
	rot := graph.Concatenate([]*graph.Node{graph.Neg(x2), x1}, -1)
	cos = graph.Reshape(cos, 1, seq, 1, hd)
	sin = graph.Reshape(sin, 1, seq, 1, hd)
	out := graph.Add(graph.Mul(x, cos), graph.Mul(rot, sin))
	return graph.Reshape(out, batch, seq, heads*hd)
}

func (llama) loraLinear(target string, layer int) string {
	switch target {
	case "q_proj", "k_proj", "v_proj", "o_proj":
		return fmt.Sprintf("layers.%d.self_attn.%s", layer, target)
	case "gate_proj", "up_proj", "down_proj":
		return fmt.Sprintf("layers.%d.mlp.%s", layer, target)
	}
	return ""
}

func (llama) headPrefixes() []string    { return []string{"model."} }
func (llama) inputEmbedding() string    { return "embed_tokens.weight" }
func (llama) defaultActivation() string { return "silu" }
func (llama) tiesEmbeddings() bool      { return true }
func (llama) maxTokens(*Config) int     { return 0 } // RoPE: no table to run past
func (llama) saveConfig(*Config, int)   {}

func (llama) sentenceModule() (string, bool) { return stTransformer, false }
