// Package tokenize turns texts into padded id batches for the models.
//
// It reads Hugging Face tokenizer.json files through go-huggingface's
// hftokenizer and adds what retrieval training needs on top: truncation to a
// maximum length that keeps the special tokens, right padding with an
// attention mask, an optional EOS token appended for last-token pooling, and
// e5-style instruction prefixes.
package tokenize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/gomlx/go-huggingface/tokenizers/api"
	"github.com/gomlx/go-huggingface/tokenizers/hftokenizer"

	"github.com/tdro/tdro/internal/parallel"
)

// Batch is a right-padded batch of token ids: [batch][seq], every row as long
// as the longest one. Mask is 1 for real tokens and 0 for padding.
type Batch struct{ IDs, Mask [][]int32 }

// Tokenizer encodes texts with a Hugging Face tokenizer.json. It is safe for
// concurrent use once loaded; set AppendEOS before sharing it.
type Tokenizer struct {
	// AppendEOS appends the EOS token after truncation (last-token pooling
	// for decoder models), unless the template already ends with it.
	AppendEOS bool
	// NoSpecialTokens encodes the text alone, without the post-processor's
	// special tokens (sentence-transformers' StaticEmbedding encodes so).
	NoSpecialTokens bool

	hf      *hftokenizer.Tokenizer
	bpe     *byteLevelBPE // set when the tokenizer is a byte-level BPE (see bpe.go)
	bert    *bertPrep     // set for BERT WordPiece tokenizers (see bert.go)
	prefix  []int32       // special tokens the post-processor puts before the text
	suffix  []int32       // and after it
	padID   int32
	eosID   int32 // -1 when the tokenizer has none
	unkID   int32 // the model's unknown token, -1 when it has none (byte-level BPE)
	vocab   int
	files   map[string][]byte // original tokenizer files, written back by Save
	srcPath string
}

// FileNames lists the tokenizer files Load reads and Save writes.
var FileNames = []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}

// Load reads a tokenizer.json file, or a directory holding one (and
// optionally tokenizer_config.json, which names the EOS and pad tokens).
func Load(path string) (*Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	dir, file := path, filepath.Join(path, "tokenizer.json")
	if !st.IsDir() {
		dir, file = filepath.Dir(path), path
	}
	files := map[string][]byte{}
	content, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	files["tokenizer.json"] = content
	for _, name := range FileNames[1:] {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			files[name] = b
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("load tokenizer: %w", err)
		}
	}
	t, err := fromFiles(files)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w", file, err)
	}
	t.srcPath = file
	return t, nil
}

func fromFiles(files map[string][]byte) (*Tokenizer, error) {
	var cfg *api.Config
	if b, ok := files["tokenizer_config.json"]; ok {
		cfg = &api.Config{}
		if err := json.Unmarshal(b, cfg); err != nil {
			return nil, fmt.Errorf("tokenizer_config.json: %w", err)
		}
		// Parity with the Rust tokenizers library, which reads tokenizer.json
		// only: BOS/EOS insertion is ours to decide (AppendEOS), not the config's.
		cfg.AddBosToken, cfg.AddEosToken = false, false
	}
	hf, err := hftokenizer.NewFromContent(cfg, files["tokenizer.json"])
	if err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	t := &Tokenizer{hf: hf, files: files, eosID: -1, unkID: -1}
	var tj hftokenizer.TokenizerJSON
	if err := json.Unmarshal(files["tokenizer.json"], &tj); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	for _, at := range tj.AddedTokens {
		if at.ID+1 > t.vocab {
			t.vocab = at.ID + 1
		}
	}
	for _, id := range tj.Model.Vocab {
		if id+1 > t.vocab {
			t.vocab = id + 1
		}
	}
	if t.bpe, err = newByteLevelBPE(&tj, files["tokenizer.json"]); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	t.bert = newBertPrep(&tj, hf)
	if id, ok := tj.Model.Vocab[tj.Model.UnkToken]; ok && tj.Model.UnkToken != "" {
		t.unkID = int32(id)
	}

	// The post-processor's template (e.g. [CLS] text [SEP]): found by
	// encoding a probe with and without special tokens.
	const probe = "a"
	if err := hf.With(api.EncodeOptions{AddSpecialTokens: true}); err != nil {
		return nil, err
	}
	full := hf.Encode(probe)
	if err := hf.With(api.EncodeOptions{AddSpecialTokens: false}); err != nil {
		return nil, err
	}
	bare := hf.Encode(probe)
	at := -1
	for i := 0; i+len(bare) <= len(full); i++ {
		if slices.Equal(full[i:i+len(bare)], bare) {
			at = i
			break
		}
	}
	if at < 0 {
		return nil, fmt.Errorf("post-processor template does not contain the text's tokens")
	}
	t.prefix = toInt32(full[:at])
	t.suffix = toInt32(full[at+len(bare):])

	t.eosID = t.lookupSpecial(cfg, func(c *api.Config) string { return c.EosToken },
		api.TokEndOfSentence, "</s>", "<|endoftext|>", "<|end_of_text|>", "<|im_end|>", "[SEP]")
	pad := t.lookupSpecial(cfg, func(c *api.Config) string { return c.PadToken },
		api.TokPad, "[PAD]", "<pad>", "<|endoftext|>")
	switch {
	case pad >= 0:
		t.padID = pad
	case t.eosID >= 0:
		t.padID = t.eosID
	}
	return t, nil
}

// lookupSpecial resolves a special token: the config's name first, then the
// library's guess, then well-known names. -1 if none is in the vocabulary.
func (t *Tokenizer) lookupSpecial(cfg *api.Config, field func(*api.Config) string, kind api.SpecialToken, names ...string) int32 {
	if cfg != nil {
		if id, ok := t.hf.TokenToID(field(cfg)); ok && field(cfg) != "" {
			return int32(id)
		}
	}
	if id, err := t.hf.SpecialTokenID(kind); err == nil {
		return int32(id)
	}
	for _, n := range names {
		if id, ok := t.hf.TokenToID(n); ok {
			return int32(id)
		}
	}
	return -1
}

// VocabSize is one more than the largest token id (the embedding table size
// a model needs).
func (t *Tokenizer) VocabSize() int { return t.vocab }

// PadID is the id written into padded positions.
func (t *Tokenizer) PadID() int32 { return t.padID }

// EOSID is the end-of-sequence id, or -1 if the tokenizer has none.
func (t *Tokenizer) EOSID() int32 { return t.eosID }

// Path is the tokenizer.json the tokenizer was loaded from.
func (t *Tokenizer) Path() string { return t.srcPath }

// Tokens encodes one text without special tokens and without truncation.
func (t *Tokenizer) Tokens(text string) []int32 {
	switch {
	case t.bpe != nil:
		return t.bpe.encode(t.hf, text)
	case t.bert != nil:
		return t.bert.encode(text)
	}
	return toInt32(t.hf.Encode(text))
}

// Encode encodes one text like the Rust tokenizers library does with
// add_special_tokens=true, truncated to maxLen tokens (0: no limit) keeping
// the special tokens, with EOS appended when AppendEOS is set.
func (t *Tokenizer) Encode(text string, maxLen int) []int32 {
	body := t.Tokens(text)
	prefix, suffix := t.prefix, t.suffix
	if t.NoSpecialTokens {
		prefix, suffix = nil, nil
	}
	eos := t.AppendEOS && t.eosID >= 0 && !(len(suffix) > 0 && suffix[len(suffix)-1] == t.eosID)
	if maxLen > 0 {
		keep := maxLen - len(prefix) - len(suffix)
		if eos {
			keep--
		}
		keep = max(keep, 0)
		if len(body) > keep {
			body = body[:keep]
		}
	}
	out := make([]int32, 0, len(prefix)+len(body)+len(suffix)+1)
	out = append(out, prefix...)
	out = append(out, body...)
	out = append(out, suffix...)
	if eos {
		out = append(out, t.eosID)
	}
	if maxLen > 0 && len(out) > maxLen { // maxLen smaller than the template itself
		out = out[:maxLen]
	}
	return out
}

// EncodeAll encodes every text (see Encode) using all cores.
func (t *Tokenizer) EncodeAll(texts []string, maxLen int) [][]int32 {
	out := make([][]int32, len(texts))
	parallel.For(context.Background(), len(texts), 16, func(i int) { out[i] = t.Encode(texts[i], maxLen) })
	return out
}

// EncodeBatch encodes texts (see Encode) and right-pads them to the longest
// row with PadID; Mask marks the real tokens.
func (t *Tokenizer) EncodeBatch(texts []string, maxLen int) Batch {
	return t.Pad(t.EncodeAll(texts, maxLen), 0)
}

// Pad right-pads rows to the longest row, or to length when it is larger.
func (t *Tokenizer) Pad(rows [][]int32, length int) Batch {
	for _, r := range rows {
		length = max(length, len(r))
	}
	b := Batch{IDs: make([][]int32, len(rows)), Mask: make([][]int32, len(rows))}
	ids := make([]int32, len(rows)*length)
	mask := make([]int32, len(rows)*length)
	for i, r := range rows {
		b.IDs[i], b.Mask[i] = ids[i*length:(i+1)*length], mask[i*length:(i+1)*length]
		copy(b.IDs[i], r)
		for j := range length {
			if j < len(r) {
				b.Mask[i][j] = 1
			} else {
				b.IDs[i][j] = t.padID
			}
		}
	}
	return b
}

// Decode maps ids back to text.
func (t *Tokenizer) Decode(ids []int32) string {
	in := make([]int, len(ids))
	for i, id := range ids {
		in[i] = int(id)
	}
	return t.hf.Decode(in)
}

// TokenID returns the id of a token string.
func (t *Tokenizer) TokenID(token string) (int32, bool) {
	id, ok := t.hf.TokenToID(token)
	return int32(id), ok
}

// Files returns the original tokenizer files by name (tokenizer.json and,
// when present, tokenizer_config.json and special_tokens_map.json), for
// writing a checkpoint.
func (t *Tokenizer) Files() map[string][]byte { return t.files }

// Instruct prefixes a query with an e5-style task instruction
// ("Instruct: {task}\nQuery: {query}"). An empty task leaves the query as is.
func Instruct(task, query string) string {
	if task == "" {
		return query
	}
	return "Instruct: " + task + "\nQuery: " + query
}

func toInt32(ids []int) []int32 {
	out := make([]int32, len(ids))
	for i, id := range ids {
		out[i] = int32(id)
	}
	return out
}
