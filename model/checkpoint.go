package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/tdro/tdro/internal/atomicfile"
	"github.com/tdro/tdro/tokenize"
)

// Checkpoint file names (Hugging Face and sentence-transformers).
const (
	ConfigFile       = "config.json"
	WeightsFile      = "model.safetensors"
	WeightsIndexFile = "model.safetensors.index.json"
	modulesFile      = "modules.json"
	poolingDir       = "1_Pooling"
	stConfigFile     = "sentence_bert_config.json"
)

// stModule is one entry of sentence-transformers' modules.json.
type stModule struct {
	Idx  int    `json:"idx"`
	Name string `json:"name"`
	Path string `json:"path"`
	Type string `json:"type"`
}

// stPooling is sentence-transformers' 1_Pooling/config.json.
type stPooling struct {
	Dim      int  `json:"word_embedding_dimension"`
	CLS      bool `json:"pooling_mode_cls_token"`
	Mean     bool `json:"pooling_mode_mean_tokens"`
	Max      bool `json:"pooling_mode_max_tokens"`
	MeanSqrt bool `json:"pooling_mode_mean_sqrt_len_tokens"`
	Weighted bool `json:"pooling_mode_weightedmean_tokens"`
	Last     bool `json:"pooling_mode_lasttoken"`
	Prompt   bool `json:"include_prompt"`
}

// Load reads a Hugging Face checkpoint directory: config.json,
// model.safetensors or a sharded model.safetensors.index.json, tokenizer.json
// (+ tokenizer_config.json), and the sentence-transformers pooling and
// normalization when present (else CLS for encoders, last token for decoders).
func Load(dir string) (*Model, error) {
	cfg, err := readConfig(dir)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err != nil {
		return nil, fmt.Errorf("load model: %s has no tokenizer.json", dir)
	}
	tok, err := tokenize.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	if err := checkVocab(cfg, tok); err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	ts, order, err := readWeights(dir)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	m, err := fromTensors(cfg, tok, ts, order, dir)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	return m, nil
}

// readWeights reads model.safetensors, or every shard a
// model.safetensors.index.json names.
func readWeights(dir string) (map[string]*hostTensor, []string, error) {
	single := filepath.Join(dir, WeightsFile)
	if _, err := os.Stat(single); err == nil {
		return readSafetensors(single)
	}
	idxPath := filepath.Join(dir, WeightsIndexFile)
	b, err := os.ReadFile(idxPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s has neither %s nor %s (only safetensors checkpoints are supported)", dir, WeightsFile, WeightsIndexFile)
	} else if err != nil {
		return nil, nil, err
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", idxPath, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, nil, fmt.Errorf("%s: empty weight_map", idxPath)
	}
	var files []string
	seen := map[string]bool{}
	for _, f := range idx.WeightMap {
		if !seen[f] {
			seen[f] = true
			files = append(files, f)
		}
	}
	sort.Strings(files)
	all := map[string]*hostTensor{}
	var order []string
	for _, f := range files {
		if filepath.Base(f) != f {
			return nil, nil, fmt.Errorf("%s: shard name %q must be a plain file name", idxPath, f)
		}
		ts, o, err := readSafetensors(filepath.Join(dir, f))
		if err != nil {
			return nil, nil, err
		}
		for _, name := range o {
			if want := idx.WeightMap[name]; want != f {
				return nil, nil, fmt.Errorf("%s: tensor %s is in shard %s but the index maps it to %q", idxPath, name, f, want)
			}
			all[name] = ts[name]
			order = append(order, name)
		}
	}
	for name, f := range idx.WeightMap {
		if all[name] == nil {
			return nil, nil, fmt.Errorf("%s: tensor %s is mapped to %s but that shard does not hold it", idxPath, name, f)
		}
	}
	return all, order, nil
}

// readConfig reads a checkpoint directory's config.json and its
// sentence-transformers pooling, validated.
func readConfig(dir string) (*Config, error) {
	cfgPath := filepath.Join(dir, ConfigFile)
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, err
	}
	cfg := &Config{}
	if err := json.Unmarshal(b, cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	cfg.ModelType = strings.ToLower(cfg.ModelType)
	if err := readSentenceTransformers(dir, cfg); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	return cfg, nil
}

// canonicalName strips the task-head prefixes Hugging Face adds
// (BertForMaskedLM's "bert.", LlamaForCausalLM's "model.").
func canonicalName(c *Config, name string) string {
	for _, p := range c.family().headPrefixes() {
		if rest, ok := strings.CutPrefix(name, p); ok {
			return rest
		}
	}
	return name
}

// fromTensors builds a model from named tensors: every weight the config
// needs must be there with the right shape; tensors the graph does not use
// are kept and written back by Save.
func fromTensors(cfg *Config, tok *tokenize.Tokenizer, ts map[string]*hostTensor, order []string, src string) (*Model, error) {
	byName := map[string]string{} // canonical -> name in the file
	for _, name := range order {
		byName[canonicalName(cfg, name)] = name
	}
	m := newEmpty(cfg, tok)
	used := map[string]bool{}
	for _, s := range specs(cfg) {
		fileName, ok := byName[s.name]
		if !ok {
			return nil, fmt.Errorf("%s: tensor %s is missing (model_type %s, %d layers)", src, s.name, cfg.ModelType, cfg.NumLayers)
		}
		t := ts[fileName]
		if t.raw != nil {
			return nil, fmt.Errorf("%s: tensor %s has dtype %s, want a float type", src, fileName, t.dtype)
		}
		if !slices.Equal(t.shape, s.shape) {
			return nil, fmt.Errorf("%s: tensor %s has shape %v, the config needs %v", src, fileName, t.shape, s.shape)
		}
		if err := m.setWeight(s.name, t.tensor()); err != nil {
			return nil, err
		}
		used[fileName] = true
	}
	// A language-model head (decoders' lm_head; no encoder names a tensor
	// so) is kept for Logits unless tied, when the embedding is the head.
	if name, ok := byName["lm_head.weight"]; ok {
		if !cfg.TieEmbeddings {
			t := ts[name]
			if want := []int{cfg.VocabSize, cfg.HiddenSize}; !slices.Equal(t.shape, want) || t.raw != nil {
				return nil, fmt.Errorf("%s: tensor %s has shape %v, the config needs %v", src, name, t.shape, want)
			}
			if err := m.setWeight("lm_head.weight", t.tensor()); err != nil {
				return nil, err
			}
		}
		used[name] = true
	}
	for _, name := range order {
		if !used[name] {
			m.extra[name] = ts[name]
			m.extraOrder = append(m.extraOrder, name)
		}
	}
	return m, nil
}

// readSentenceTransformers sets pooling and normalization from modules.json
// and 1_Pooling/config.json when the directory has them.
func readSentenceTransformers(dir string, cfg *Config) error {
	b, err := os.ReadFile(filepath.Join(dir, modulesFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	var mods []stModule
	if err := json.Unmarshal(b, &mods); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, modulesFile), err)
	}
	for _, mod := range mods {
		switch mod.Type {
		case "sentence_transformers.models.Normalize":
			cfg.Normalize = true
		case "sentence_transformers.models.StaticEmbedding":
			cfg.Pooling = PoolMean
		case "sentence_transformers.models.Pooling":
			p := filepath.Join(dir, mod.Path, "config.json")
			pb, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			var pc stPooling
			if err := json.Unmarshal(pb, &pc); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			switch {
			case pc.CLS && !pc.Mean && !pc.Last:
				cfg.Pooling = PoolCLS
			case pc.Mean && !pc.CLS && !pc.Last:
				cfg.Pooling = PoolMean
			case pc.Last && !pc.CLS && !pc.Mean:
				cfg.Pooling = PoolLast
			default:
				return fmt.Errorf("%s: pooling must be exactly one of cls_token, mean_tokens, lasttoken", p)
			}
			if pc.Max || pc.MeanSqrt || pc.Weighted {
				return fmt.Errorf("%s: max, mean_sqrt_len and weightedmean pooling are not supported", p)
			}
		}
	}
	return nil
}

// architecture is the Hugging Face class name written to config.json.
func (m *Model) architecture() string {
	base := m.Config.className()
	if m.Var("lm_head.weight") != nil {
		return base + "ForCausalLM"
	}
	return base + "Model"
}

// Save writes a Hugging Face checkpoint directory that transformers and
// sentence-transformers load: config.json, model.safetensors (float32, LoRA
// merged into the base weights), the tokenizer files, modules.json,
// 1_Pooling/config.json and sentence_bert_config.json (a static model:
// modules.json names StaticEmbedding, which pools). The directory is
// replaced as a whole: a crash leaves either the old or the new one.
func (m *Model) Save(dir string) error {
	tmp := dir + ".tmp-save"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	if err := m.writeTo(tmp); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("save model %s: %w", dir, err)
	}
	old := dir + ".old-save"
	os.RemoveAll(old)
	if err := os.Rename(dir, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("save model: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	return os.RemoveAll(old)
}

func (m *Model) writeTo(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg := *m.Config
	cfg.Architectures = []string{m.architecture()}
	cfg.TorchDType = "float32"
	if m.Tokenizer != nil {
		cfg.family().saveConfig(&cfg, int(m.Tokenizer.PadID()))
	}
	if err := writeJSON(filepath.Join(dir, ConfigFile), &cfg); err != nil {
		return err
	}

	// Weights: the graph's tensors (merged with LoRA), then the extras.
	prefix := ""
	if strings.HasSuffix(m.architecture(), "ForCausalLM") {
		prefix = cfg.family().headPrefixes()[0]
	}
	ts := map[string]*hostTensor{}
	var names []string
	for _, n := range m.names {
		t, err := m.mergedWeight(n)
		if err != nil {
			return err
		}
		out := n
		if n != "lm_head.weight" {
			out = prefix + n
		}
		ts[out] = t
		names = append(names, out)
	}
	for _, n := range m.extraOrder {
		if _, dup := ts[n]; !dup {
			ts[n] = m.extra[n]
			names = append(names, n)
		}
	}
	if err := writeSafetensors(filepath.Join(dir, WeightsFile), names, ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}

	if m.Tokenizer != nil {
		for name, b := range m.Tokenizer.Files() {
			if err := atomicfile.WriteFile(filepath.Join(dir, name), b); err != nil {
				return err
			}
		}
	}
	return m.writeSentenceTransformers(dir)
}

// writeSentenceTransformers writes modules.json and its modules' configs:
// the family's input module reading the directory itself, Pooling unless
// that module pools, and Normalize when the embedding is normalized.
func (m *Model) writeSentenceTransformers(dir string) error {
	input, pools := m.Config.family().sentenceModule()
	mods := []stModule{{0, "0", "", input}}
	if !pools {
		mods = append(mods, stModule{1, "1", poolingDir, "sentence_transformers.models.Pooling"})
		p := m.Config.Pooling
		pc := stPooling{Dim: m.Config.HiddenSize, CLS: p == PoolCLS, Mean: p == PoolMean, Last: p == PoolLast, Prompt: true}
		if err := writeModuleConfig(filepath.Join(dir, poolingDir), pc); err != nil {
			return err
		}
	}
	if m.Config.Normalize {
		i := len(mods)
		mods = append(mods, stModule{i, fmt.Sprint(i), fmt.Sprintf("%d_Normalize", i), "sentence_transformers.models.Normalize"})
		if err := os.MkdirAll(filepath.Join(dir, mods[i].Path), 0o755); err != nil {
			return err
		}
	}
	if err := writeJSON(filepath.Join(dir, modulesFile), mods); err != nil {
		return err
	}
	if input != stTransformer {
		return nil
	}
	maxSeq := m.Config.family().maxTokens(m.Config)
	if maxSeq == 0 {
		maxSeq = m.Config.MaxPositions
	}
	return writeJSON(filepath.Join(dir, stConfigFile), map[string]any{"max_seq_length": min(maxSeq, 8192), "do_lower_case": false})
}

func writeModuleConfig(dir string, v any) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, "config.json"), v)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'))
}
