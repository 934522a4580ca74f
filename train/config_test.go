package train

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/model"
)

// TestBadConfigFailsBeforeTraining checks that each mistake is reported with
// the offending field or file before anything is written.
func TestBadConfigFailsBeforeTraining(t *testing.T) {
	dir := t.TempDir()
	recs := pairsToRecords([][2]string{{"a", "b"}, {"c", "d"}, {"e", "f"}, {"g", "h"}}, 1, newRNG())
	if err := data.WriteRecords(filepath.Join(dir, "x.jsonl"), recs); err != nil {
		t.Fatal(err)
	}
	writeMix := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := writeMix("good.json", `{"domains":[{"name":"x","path":"x.jsonl","language":"en","weight":1}]}`)
	tests := []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"unknown domain", func(c *Config) { c.Domains = []string{"nope"} }, `unknown domain "nope" (mixture ` + good + ` has x)`},
		{"negative weight", func(c *Config) {
			c.Mixture = writeMix("neg.json", `{"domains":[{"name":"x","path":"x.jsonl","weight":-1}]}`)
		}, `domains[0].weight`},
		{"weights sum to 0", func(c *Config) {
			c.Mixture = writeMix("zero.json", `{"domains":[{"name":"x","path":"x.jsonl","weight":0}]}`)
		}, "every weight is 0"},
		{"missing records file", func(c *Config) {
			c.Mixture = writeMix("missing.json", `{"domains":[{"name":"x","path":"absent.jsonl","weight":1}]}`)
		}, "absent.jsonl"},
		{"missing mixture", func(c *Config) { c.Mixture = filepath.Join(dir, "none.json") }, "none.json"},
		{"misspelt mixture field", func(c *Config) {
			c.Mixture = writeMix("typo.json", `{"domains":[{"name":"x","path":"x.jsonl","wieght":1}]}`)
		}, "wieght"},
		{"query max length 0", func(c *Config) { c.QueryMaxLen = 0 }, "query_max_len: must be > 0"},
		{"passage max length 0", func(c *Config) { c.PassageMaxLen = 0 }, "passage_max_len: must be > 0"},
		{"steps 0", func(c *Config) { c.Steps = 0 }, "steps: must be > 0"},
		{"temperature", func(c *Config) { c.Temperature = 0 }, "temperature must be > 0"},
		{"similarity", func(c *Config) { c.Similarity = "l2" }, `similarity must be "cos" or "dot", got "l2"`},
		{"decay", func(c *Config) { c.Decay = "step" }, `decay must be`},
		{"learning rate", func(c *Config) { c.LearningRate = -1 }, "learning_rate must be > 0"},
		{"no tokenizer", func(c *Config) { c.Tokenizer = "" }, "tokenizer: a preset model needs a tokenizer.json"},
		{"missing tokenizer", func(c *Config) { c.Tokenizer = filepath.Join(dir, "tok.json") }, "tok.json"},
		{"unknown model", func(c *Config) { c.Model = filepath.Join(dir, "no-such-model") }, "no-such-model"},
		{"batch larger than domain", func(c *Config) { c.BatchSize = 5 }, `"x" has 4 records, fewer than the batch size 5`},
		{"no output", func(c *Config) { c.Out = "" }, "out: empty"},
		// Before, this froze nothing and trained every weight.
		{"lora target the model lacks", func(c *Config) { c.LoRA = &model.LoRA{Rank: 4, Targets: []string{"gate_proj"}} },
			"model tiny-bert: lora: target_modules gate_proj: a bert model has no such projection"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Tokenizer = tokenizerPath(t)
			cfg.Mixture = good
			cfg.BatchSize = 2
			cfg.Out = filepath.Join(t.TempDir(), "run")
			tc.edit(&cfg)
			_, err := Run(context.Background(), cfg, false)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v\nwant one containing %q", err, tc.want)
			}
			if cfg.Out != "" {
				if _, err := os.Stat(cfg.Out); !os.IsNotExist(err) {
					t.Errorf("%s was created by a run that should not start", cfg.Out)
				}
			}
		})
	}
}

func TestReadConfigRejectsUnknownFields(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(p, []byte(`{"stpes": 10}`), 0o644)
	if _, err := LoadConfig(p); err == nil || !strings.Contains(err.Error(), `"stpes"`) {
		t.Fatalf("got %v", err)
	}
}
