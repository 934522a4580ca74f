package eval

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

	gmodel "github.com/gomlx/gomlx/ml/model"
	"github.com/tdro/tdro/eval/search"
	"github.com/tdro/tdro/internal/atomicfile"
	"github.com/tdro/tdro/internal/progress"
)

// TextEncoder turns texts into embedding vectors (a model, not a tokenizer); *model.Model satisfies it.
// Vectors are compared by inner product (normalize them for cosine).
type TextEncoder interface {
	Encode(texts []string, maxLen, batchSize int) ([][]float32, error)
}

// chunkRows is how many vectors one cache chunk file holds: an interrupted
// encoding resumes from the last complete chunk.
var chunkRows = 8192

const chunkMagic = "TDROEMB1"

// Embeddings are encoded texts, stored in length order in chunk files (or in
// memory when there is no cache). Row i of Vectors is text Order[i].
type Embeddings struct {
	Vectors search.Vectors
	Order   []int
	Tokens  int64         // tokens encoded now (0 when read from the cache)
	Elapsed time.Duration // time spent encoding now
	Cached  bool          // every vector came from the cache
}

// TextKey hashes a list of texts (order and content).
func TextKey(texts []string) string {
	h := sha256.New()
	var n [8]byte
	for _, t := range texts {
		binary.LittleEndian.PutUint64(n[:], uint64(len(t)))
		h.Write(n[:])
		io.WriteString(h, t)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// lengthOrder sorts text indexes longest first (a proxy for token count) so
// that batches pad little; ties keep input order.
func lengthOrder(texts []string) []int {
	order := make([]int, len(texts))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(texts[order[a]]) > len(texts[order[b]]) })
	return order
}

// EncodeOptions configure Encode.
type EncodeOptions struct {
	MaxLen    int    // tokens per text (default 512)
	BatchSize int    // texts per forward pass (default 32)
	CacheDir  string // "" disables the cache
	ModelKey  string // identifies the model's weights and config (required with CacheDir)
	Label     string // progress bar text
	// CountTokens, if set, is used to report tokens/s.
	CountTokens func(texts []string) int64
}

// Encode embeds texts in length order, chunk by chunk, with a progress bar.
// With a cache directory each chunk is written atomically under a key made
// of ModelKey, MaxLen and the texts, so a second call with the same model
// and texts reads everything back, and an interrupted call resumes.
func Encode(ctx context.Context, enc TextEncoder, texts []string, opts EncodeOptions) (*Embeddings, error) {
	if opts.MaxLen <= 0 {
		opts.MaxLen = 512
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 32
	}
	order := lengthOrder(texts)
	dir := ""
	if opts.CacheDir != "" {
		if opts.ModelKey == "" {
			return nil, errors.New("encode: a cache directory needs a model key")
		}
		h := sha256.Sum256([]byte(opts.ModelKey + "\x00" + strconv.Itoa(opts.MaxLen) + "\x00" + TextKey(texts)))
		dir = filepath.Join(opts.CacheDir, hex.EncodeToString(h[:16]))
	}
	e := &Embeddings{Order: order, Cached: true}
	var chunks []*chunk
	mem := &search.Matrix{}
	bar := progress.New(int64(len(texts)), opts.Label)
	defer bar.Finish()
	for c0 := 0; c0 < len(order); c0 += chunkRows {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		idx := order[c0:min(c0+chunkRows, len(order))]
		path := ""
		if dir != "" {
			path = filepath.Join(dir, fmt.Sprintf("chunk-%06d.f32", c0/chunkRows))
			if ch, err := openChunk(path, len(idx)); err == nil {
				chunks = append(chunks, ch)
				bar.Add(len(idx))
				continue
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, cacheError(err)
			}
		}
		e.Cached = false
		batch := make([]string, len(idx))
		for i, j := range idx {
			batch[i] = texts[j]
		}
		// Encode a chunk in slices so the bar moves and ctx is honoured.
		vecs := make([][]float32, 0, len(idx))
		step := opts.BatchSize * 8
		for s := 0; s < len(batch); s += step {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			part := batch[s:min(s+step, len(batch))]
			start := time.Now()
			v, err := enc.Encode(part, opts.MaxLen, opts.BatchSize)
			e.Elapsed += time.Since(start)
			if err != nil {
				return nil, fmt.Errorf("encode %s: %w", opts.Label, err)
			}
			if len(v) != len(part) {
				return nil, fmt.Errorf("encode %s: encoder returned %d vectors for %d texts", opts.Label, len(v), len(part))
			}
			if opts.CountTokens != nil {
				e.Tokens += opts.CountTokens(part)
			}
			vecs = append(vecs, v...)
			bar.Add(len(part))
		}
		d := len(vecs[0])
		for i, v := range vecs {
			if len(v) != d {
				return nil, fmt.Errorf("encode %s: vector %d has %d dimensions, want %d", opts.Label, c0+i, len(v), d)
			}
			for _, x := range v {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					return nil, fmt.Errorf("encode %s: text %d encodes to a non-finite vector", opts.Label, idx[i])
				}
			}
		}
		m, _ := search.NewMatrix(vecs, d)
		if path == "" {
			if mem.D == 0 {
				mem.D = d
			}
			if mem.D != d {
				return nil, fmt.Errorf("encode %s: dimension changed from %d to %d", opts.Label, mem.D, d)
			}
			mem.Data = append(mem.Data, m.Data...)
			mem.N += m.N
			continue
		}
		if err := writeChunk(path, m); err != nil {
			return nil, cacheError(err)
		}
		ch, err := openChunk(path, len(idx))
		if err != nil {
			return nil, err
		}
		chunks = append(chunks, ch)
	}
	if dir == "" {
		e.Vectors = mem
		return e, nil
	}
	fv, err := newChunked(chunks)
	if err != nil {
		return nil, err
	}
	e.Vectors = fv
	if err := atomicfile.WriteJSON(filepath.Join(dir, "meta.json"), map[string]any{
		"model_key": opts.ModelKey, "max_len": opts.MaxLen, "texts": len(texts), "dim": fv.Dim(), "label": opts.Label,
	}); err != nil {
		return nil, cacheError(err)
	}
	return e, nil
}

// writeChunk writes magic, rows, dim (uint64 LE) and the float32 rows.
func writeChunk(path string, m *search.Matrix) error {
	f, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	var hdr [24]byte
	copy(hdr[:8], chunkMagic)
	binary.LittleEndian.PutUint64(hdr[8:], uint64(m.N))
	binary.LittleEndian.PutUint64(hdr[16:], uint64(m.D))
	f.Write(hdr[:])
	if err := binary.Write(f, binary.LittleEndian, m.Data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Commit()
}

// chunk is one cache file, read on demand.
type chunk struct {
	f    *os.File
	path string
	n, d int
}

func openChunk(path string, wantRows int) (*chunk, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	var hdr [24]byte
	st, err := f.Stat()
	if err == nil {
		_, err = io.ReadFull(f, hdr[:])
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cache %s: %w", path, err)
	}
	n, d := int(binary.LittleEndian.Uint64(hdr[8:])), int(binary.LittleEndian.Uint64(hdr[16:]))
	if string(hdr[:8]) != chunkMagic || n != wantRows || d <= 0 || st.Size() != int64(24+4*n*d) {
		f.Close()
		return nil, fmt.Errorf("cache %s: corrupt or from another version (remove it to re-encode)", path)
	}
	return &chunk{f: f, path: path, n: n, d: d}, nil
}

// chunked reads rows from consecutive chunk files; it is a search.Vectors
// whose memory use is the caller's buffer only.
type chunked struct {
	chunks []*chunk
	starts []int // first row of each chunk
	n, d   int
}

func newChunked(chunks []*chunk) (*chunked, error) {
	c := &chunked{chunks: chunks}
	for _, ch := range chunks {
		if c.d == 0 {
			c.d = ch.d
		}
		if ch.d != c.d {
			return nil, fmt.Errorf("cache %s: %d dimensions, other chunks %d", ch.path, ch.d, c.d)
		}
		c.starts = append(c.starts, c.n)
		c.n += ch.n
	}
	return c, nil
}

func (c *chunked) Len() int { return c.n }
func (c *chunked) Dim() int { return c.d }

func (c *chunked) Rows(start, end int, buf []float32) ([]float32, error) {
	out := buf[:(end-start)*c.d]
	for r := start; r < end; {
		i := sort.SearchInts(c.starts, r+1) - 1
		ch := c.chunks[i]
		hi := min(end, c.starts[i]+ch.n)
		dst := out[(r-start)*c.d : (hi-start)*c.d]
		// Read straight into dst's memory; the file is little-endian float32.
		raw := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), 4*len(dst))
		if _, err := ch.f.ReadAt(raw, int64(24+(r-c.starts[i])*c.d*4)); err != nil {
			return nil, fmt.Errorf("cache %s: %w", ch.path, err)
		}
		if bigEndian {
			for k := range dst {
				dst[k] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:]))
			}
		}
		r = hi
	}
	return out, nil
}

// bigEndian is true on machines whose float32 bytes are not the file's.
var bigEndian = binary.NativeEndian.Uint16([]byte{1, 0}) != 1

// Close releases the chunk files.
func (c *chunked) Close() error {
	var first error
	for _, ch := range c.chunks {
		if err := ch.f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Close releases files held by e (cached embeddings).
func (e *Embeddings) Close() error {
	if c, ok := e.Vectors.(*chunked); ok {
		return c.Close()
	}
	return nil
}

// DirKey fingerprints a model checkpoint directory: the paths and contents
// of its config, weight and tokenizer files, subfolders included (the
// sentence-transformers pooling and normalize modules change embeddings
// too). It is the cache key for models loaded from disk.
func DirKey(dir string) (string, error) {
	// A model given through a symbolic link is the directory it points to
	// (WalkDir does not descend into a link).
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	h := sha256.New()
	n := 0
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		switch filepath.Ext(path) {
		case ".json", ".safetensors", ".bin", ".model", ".txt":
		default:
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		fmt.Fprintf(h, "%s\x00", filepath.ToSlash(rel))
		if _, err := io.Copy(h, f); err != nil {
			return fmt.Errorf("model key %s: %w", path, err)
		}
		n++
		return nil
	})
	if err != nil {
		return "", err
	}
	if n == 0 {
		return "", fmt.Errorf("model key: no config, weight or tokenizer files in %s", dir)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// StoreKey fingerprints the weights of an in-memory model: every variable
// under scope (e.g. model.Scope, "/model"), by path, shape and bytes. Use it
// for models that are not (or not yet) saved; DirKey for checkpoints.
func StoreKey(store *gmodel.Store, scope string) (string, error) {
	var vars []*gmodel.Variable
	for v := range store.IterVariables() {
		if strings.HasPrefix(v.Path(), scope) {
			vars = append(vars, v)
		}
	}
	if len(vars) == 0 {
		return "", fmt.Errorf("model key: no variables under %q", scope)
	}
	sort.Slice(vars, func(i, j int) bool { return vars[i].Path() < vars[j].Path() })
	h := sha256.New()
	for _, v := range vars {
		t, err := v.Value()
		if err != nil {
			return "", fmt.Errorf("model key %s: %w", v.Path(), err)
		}
		fmt.Fprintf(h, "%s\x00%s\x00", v.Path(), t.Shape())
		if err := t.ConstBytes(func(b []byte) { h.Write(b) }); err != nil {
			return "", fmt.Errorf("model key %s: %w", v.Path(), err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// cacheError says what to do when the embedding cache cannot be read or
// written (a read-only or full disk, a path through a file).
func cacheError(err error) error {
	return fmt.Errorf("embedding cache: %w (choose a usable directory with --cache, or evaluate without it: --no-cache)", err)
}
