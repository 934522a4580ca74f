package model

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
)

// loraTargets are the projection names LoRA can wrap: PEFT's Llama names,
// in the order adapters are attached.
var loraTargets = []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}

// loraLinears lists the Linear prefixes the config's LoRA targets.
func loraLinears(c *Config) []string {
	if c.LoRA == nil {
		return nil
	}
	want := map[string]bool{}
	for _, t := range c.LoRA.Targets {
		want[t] = true
	}
	var out []string
	for i := range c.NumLayers {
		for _, t := range loraTargets {
			if p := c.family().loraLinear(t, i); want[t] && p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// addLoRA attaches adapters (lora_A kaiming-uniform, lora_B zero, as PEFT
// initializes them) and freezes every other weight, so that only adapters
// train. Without a LoRA config it does nothing. Its callers validate the
// config first, and Config.Validate rejects a target the model has no
// projection for, so every target here wraps a linear.
func (m *Model) addLoRA(rng *rand.Rand) error {
	if m.Config.LoRA == nil {
		return nil
	}
	lin := loraLinears(m.Config)
	r := m.Config.LoRA.Rank
	for v := range m.Store.IterVariables() {
		if strings.HasPrefix(v.Path(), Scope+"/") {
			v.SetTrainable(false)
		}
	}
	for _, p := range lin {
		w := m.Var(p + ".weight")
		if w == nil {
			return fmt.Errorf("lora: %s.weight is missing", p)
		}
		out, in := w.Shape().Dimensions[0], w.Shape().Dimensions[1]
		a := make([]float32, r*in)
		bound := kaimingUniformBound(in)
		for i := range a {
			a[i] = float32((rng.Float64()*2 - 1) * bound)
		}
		for _, t := range []struct {
			name string
			val  *tensors.Tensor
		}{
			{p + ".lora_A.weight", tensors.FromFlatDataAndDimensions(a, r, in)},
			{p + ".lora_B.weight", tensors.FromFlatDataAndDimensions(make([]float32, out*r), out, r)},
		} {
			v, err := m.Store.CreateVariable(VarPath(t.name), t.val)
			if err != nil {
				return fmt.Errorf("lora %s: %w", t.name, err)
			}
			v.SetTrainable(true)
		}
	}
	return nil
}

// mergedWeight returns a weight's value with its LoRA adapter folded in:
// W + (alpha/r)·B·A. Weights without an adapter come back unchanged.
func (m *Model) mergedWeight(name string) (*hostTensor, error) {
	t, err := m.hostWeight(name)
	if err != nil || !strings.HasSuffix(name, ".weight") {
		return t, err
	}
	p := strings.TrimSuffix(name, ".weight")
	if m.Var(p+".lora_A.weight") == nil {
		return t, nil
	}
	a, err := m.hostWeight(p + ".lora_A.weight")
	if err != nil {
		return nil, err
	}
	b, err := m.hostWeight(p + ".lora_B.weight")
	if err != nil {
		return nil, err
	}
	l := m.Config.LoRA
	scale := l.Alpha / float64(l.Rank)
	out, in, r := t.shape[0], t.shape[1], a.shape[0]
	merged := make([]float32, len(t.data))
	for o := range out {
		for i := range in {
			var s float64
			for k := range r {
				s += float64(b.data[o*r+k]) * float64(a.data[k*in+i])
			}
			merged[o*in+i] = t.data[o*in+i] + float32(scale*s)
		}
	}
	return &hostTensor{shape: t.shape, data: merged}, nil
}

// EnableLoRA attaches LoRA adapters to a loaded or new model and freezes
// the base weights; seed fixes lora_A's initialization.
func (m *Model) EnableLoRA(l LoRA, seed uint64) error {
	if m.Config.LoRA != nil {
		return fmt.Errorf("lora: the model already has adapters")
	}
	m.Config.LoRA = &l
	if err := m.Config.Validate(); err != nil {
		m.Config.LoRA = nil
		return err
	}
	return m.addLoRA(rand.New(rand.NewPCG(seed, 0x6c6f7261)))
}
