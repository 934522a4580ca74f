package model

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
)

// static is a static-embedding model, sentence-transformers' StaticEmbedding
// layout: one token-embedding table, averaged over the text's tokens (no
// special tokens), no attention. Its training takes about a sixth of
// tiny-bert's CPU on two cores (11 s vs 70 s for the same 120 steps,
// docs/results/tune-2026-12-03.md), so a run affords more steps and longer
// texts.
type static struct{}

// staticEmbedding is the table's name, StaticEmbedding's own (its load
// reads "embedding.weight" from model.safetensors).
const staticEmbedding = "embedding.weight"

func init() { register(static{}, map[string]string{"static": "Static"}) }

func (static) check(c *Config) error {
	if c.Pooling == "" {
		c.Pooling = PoolMean
	}
	if c.Pooling != PoolMean {
		return fmt.Errorf("config: a static model pools by the mean of its tokens, not %q", c.Pooling)
	}
	return nil
}

func (static) specs(c *Config) []tensorSpec {
	var s specList
	s.add(staticEmbedding, initNormal, c.VocabSize, c.HiddenSize)
	return s
}

func (static) hidden(b *builder, ids, _ *graph.Node) *graph.Node {
	return b.dropout(embedLookup(b.w(staticEmbedding), ids), b.m.Config.HiddenDropout)
}

func (static) loraLinear(string, int) string { return "" }
func (static) headPrefixes() []string        { return nil }
func (static) inputEmbedding() string        { return staticEmbedding }
func (static) maxTokens(*Config) int         { return 0 }
func (static) defaultActivation() string     { return "relu" } // unused: no feed-forward
func (static) tiesEmbeddings() bool          { return false }
func (static) saveConfig(*Config, int)       {}
func (static) sentenceModule() (string, bool) {
	return "sentence_transformers.models.StaticEmbedding", true
}
