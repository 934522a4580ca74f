package model

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/tdro/tdro/tokenize"
)

// ImportLlama2C reads a llama2.c checkpoint (karpathy/llama2.c run.c format:
// a header of 7 int32 — dim, hidden_dim, n_layers, n_heads, n_kv_heads,
// vocab_size (negative: unshared classifier), seq_len — then float32
// weights) into a Llama model. llama2.c rotates interleaved pairs of each
// head while Hugging Face rotates halves, so the rows of wq and wk are
// permuted into Hugging Face's order, as its conversion script does.
// tok may be nil (the ids are then the caller's business).
func ImportLlama2C(path string, tok *tokenize.Tokenizer) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("import llama2.c: %w", err)
	}
	defer f.Close()
	var h [7]int32
	if err := binary.Read(f, binary.LittleEndian, &h); err != nil {
		return nil, fmt.Errorf("import llama2.c %s: header: %w", path, err)
	}
	dim, hidden, layers, heads, kvHeads, vocab, seqLen := int(h[0]), int(h[1]), int(h[2]), int(h[3]), int(h[4]), int(h[5]), int(h[6])
	shared := vocab > 0
	if vocab < 0 {
		vocab = -vocab
	}
	for i, v := range []int{dim, hidden, layers, heads, kvHeads, vocab, seqLen} {
		if v <= 0 || v > 1<<20 {
			return nil, fmt.Errorf("import llama2.c %s: header field %d is %d (not a llama2.c checkpoint?)", path, i, v)
		}
	}
	if heads == 0 || dim%heads != 0 || heads%kvHeads != 0 {
		return nil, fmt.Errorf("import llama2.c %s: dim %d, heads %d, kv heads %d are inconsistent", path, dim, heads, kvHeads)
	}
	hd := dim / heads
	cfg := &Config{ModelType: "llama", VocabSize: vocab, HiddenSize: dim, NumLayers: layers, NumHeads: heads,
		NumKVHeads: kvHeads, IntermediateSize: hidden, MaxPositions: seqLen, HiddenAct: "silu",
		RMSNormEps: 1e-5, RopeTheta: 10000, TieEmbeddings: shared}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("import llama2.c %s: %w", path, err)
	}
	if err := checkVocab(cfg, tok); err != nil {
		return nil, fmt.Errorf("import llama2.c %s: %w", path, err)
	}

	read := func(what string, n int) ([]float32, error) {
		out := make([]float32, n)
		if err := binary.Read(f, binary.LittleEndian, out); err != nil {
			return nil, fmt.Errorf("import llama2.c %s: reading %s: %w", path, what, err)
		}
		return out, nil
	}
	ts := map[string]*hostTensor{}
	var order []string
	put := func(name string, data []float32, shape ...int) {
		ts[name] = &hostTensor{shape: shape, data: data}
		order = append(order, name)
	}
	// perLayer reads one [layers][rows][cols] block and stores each layer.
	perLayer := func(what, name string, rows, cols int, permute bool) error {
		data, err := read(what, layers*rows*cols)
		if err != nil {
			return err
		}
		for l := range layers {
			w := data[l*rows*cols : (l+1)*rows*cols]
			if permute {
				w = interleavedToHalves(w, rows/hd, hd, cols)
			}
			shape := []int{rows, cols}
			if cols == 1 {
				shape = []int{rows}
			}
			put(fmt.Sprintf("layers.%d.%s", l, name), w, shape...)
		}
		return nil
	}
	emb, err := read("token_embedding", vocab*dim)
	if err != nil {
		return nil, err
	}
	put("embed_tokens.weight", emb, vocab, dim)
	steps := []struct {
		what, name string
		rows, cols int
		permute    bool
	}{
		{"rms_att", "input_layernorm.weight", dim, 1, false},
		{"wq", "self_attn.q_proj.weight", heads * hd, dim, true},
		{"wk", "self_attn.k_proj.weight", kvHeads * hd, dim, true},
		{"wv", "self_attn.v_proj.weight", kvHeads * hd, dim, false},
		{"wo", "self_attn.o_proj.weight", dim, heads * hd, false},
		{"rms_ffn", "post_attention_layernorm.weight", dim, 1, false},
		{"w1", "mlp.gate_proj.weight", hidden, dim, false},
		{"w2", "mlp.down_proj.weight", dim, hidden, false},
		{"w3", "mlp.up_proj.weight", hidden, dim, false},
	}
	for _, s := range steps {
		if err := perLayer(s.what, s.name, s.rows, s.cols, s.permute); err != nil {
			return nil, err
		}
	}
	final, err := read("rms_final", dim)
	if err != nil {
		return nil, err
	}
	put("norm.weight", final, dim)
	if _, err := f.Seek(int64(4*seqLen*hd), io.SeekCurrent); err != nil { // unused RoPE tables: 2·seq_len·hd/2 floats
		return nil, fmt.Errorf("import llama2.c %s: %w", path, err)
	}
	if !shared {
		head, err := read("classifier", vocab*dim)
		if err != nil {
			return nil, err
		}
		put("lm_head.weight", head, vocab, dim)
	}
	if n, _ := f.Read(make([]byte, 1)); n != 0 {
		return nil, fmt.Errorf("import llama2.c %s: trailing bytes after the weights (header does not match the file)", path)
	}
	for _, name := range order {
		for _, v := range ts[name].data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("import llama2.c %s: tensor %s holds NaN or Inf", path, name)
			}
		}
	}
	m, err := fromTensors(cfg, tok, ts, order, path)
	if err != nil {
		return nil, fmt.Errorf("import llama2.c: %w", err)
	}
	return m, nil
}

// interleavedToHalves permutes the rows of a [heads·hd, cols] projection
// from llama2.c's pair layout (row 2i+j of a head) to Hugging Face's half
// layout (row j·hd/2+i), so that rotate_half RoPE computes the same thing.
func interleavedToHalves(w []float32, heads, hd, cols int) []float32 {
	out := make([]float32, len(w))
	for h := range heads {
		for i := range hd / 2 {
			for j := range 2 {
				src := (h*hd + 2*i + j) * cols
				dst := (h*hd + j*hd/2 + i) * cols
				copy(out[dst:dst+cols], w[src:src+cols])
			}
		}
	}
	return out
}
