package model

import (
	"strings"
	"testing"
)

func TestConfigValidateRejectsWhatTheGraphCannotDo(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		edit       func(c *Config)
	}{
		{"unknown model_type", `model_type "gpt2" is not supported`, func(c *Config) { c.ModelType = "gpt2" }},
		{"heads do not divide hidden", "not divisible by num_attention_heads", func(c *Config) { c.NumHeads = 5 }},
		{"kv heads do not divide heads", "not divisible by num_key_value_heads", func(c *Config) { c.NumKVHeads = 3 }},
		{"zero layers", "num_hidden_layers must be positive", func(c *Config) { c.NumLayers = 0 }},
		{"activation", `hidden_act "tanh" is not supported`, func(c *Config) { c.HiddenAct = "tanh" }},
		{"rope scaling", "rope_scaling", func(c *Config) { c.RopeScaling = &RopeScaling{Type: "yarn", Factor: 4} }},
		{"pooling", `pooling "max" is not supported`, func(c *Config) { c.Pooling = "max" }},
		{"lora rank", "lora: rank must be positive", func(c *Config) { c.LoRA = &LoRA{} }},
		{"lora target", `lora: unknown target "qkv"`, func(c *Config) { c.LoRA = &LoRA{Rank: 2, Targets: []string{"qkv"}} }},
		{"lora target bert lacks", "lora: target_modules gate_proj: a bert model has no such projection", func(c *Config) {
			c.ModelType = "bert"
			c.LoRA = &LoRA{Rank: 2, Targets: []string{"gate_proj"}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := smallConfig("llama")
			tc.edit(c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	for _, name := range PresetNames {
		if _, err := Preset(name, 30522); err != nil {
			t.Errorf("preset %s: %v", name, err)
		}
	}
}
