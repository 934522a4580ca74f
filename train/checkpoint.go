package train

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/tdro/tdro/internal/atomicfile"
)

// State is everything besides the store's variables that a run needs to
// continue exactly: the step, the sampler's position and, under Extra, any
// state of a caller's own (tDRO's alpha, its mean and EMA).
type State struct {
	Step    int                        `json:"step"`
	Sampler SamplerState               `json:"sampler"`
	Extra   map[string]json.RawMessage `json:"extra,omitempty"`
}

// checkpointMagic starts every checkpoint file; the version follows it.
const checkpointMagic = "TDROCKPT1\n"

type varHeader struct {
	Path  string `json:"path"`
	DType string `json:"dtype"`
	Dims  []int  `json:"dims"`
	Bytes int    `json:"bytes"`
}

type checkpointHeader struct {
	State State       `json:"state"`
	Vars  []varHeader `json:"vars"`
}

// checkpointed reports whether a store variable belongs in checkpoints:
// model weights, optimizer moments, RNG state — not gradient-cache
// accumulators, which are zero between steps.
func checkpointed(v *gmodel.Variable) bool {
	return !strings.HasPrefix(v.Path(), accScope+"/")
}

// SaveCheckpoint atomically writes every variable of store (model and
// optimizer) and st to path: a crash leaves the previous checkpoint intact.
// Layout: magic, uint64 header length, JSON header, raw little-endian data.
func SaveCheckpoint(path string, store *gmodel.Store, st *State) error {
	var vars []*gmodel.Variable
	for v := range store.IterVariables() {
		if checkpointed(v) && v.HasValue() {
			vars = append(vars, v)
		}
	}
	sort.Slice(vars, func(i, j int) bool { return vars[i].Path() < vars[j].Path() })
	h := checkpointHeader{State: *st}
	values := make([]*tensors.Tensor, len(vars))
	for i, v := range vars {
		t, err := v.Value()
		if err != nil {
			return fmt.Errorf("checkpoint %s: variable %s: %w", path, v.Path(), err)
		}
		values[i] = t
		h.Vars = append(h.Vars, varHeader{Path: v.Path(), DType: t.DType().String(), Dims: t.Shape().Dimensions, Bytes: int(t.Shape().Memory())})
	}
	hdr, err := json.Marshal(&h)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	f, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	f.WriteString(checkpointMagic)
	binary.Write(f, binary.LittleEndian, uint64(len(hdr)))
	f.Write(hdr)
	for i, t := range values {
		var werr error
		if err := t.ConstBytes(func(b []byte) { _, werr = f.Write(b) }); err != nil {
			return fmt.Errorf("checkpoint %s: variable %s: %w", path, vars[i].Path(), err)
		}
		if werr != nil {
			return fmt.Errorf("checkpoint %s: %w", path, werr)
		}
	}
	return f.Commit()
}

// LoadCheckpoint restores the variables saved in path into store (creating
// those the store lacks, e.g. optimizer moments before the first step) and
// returns the saved State. A shape or dtype mismatch is an error naming the
// variable.
func LoadCheckpoint(path string, store *gmodel.Store) (*State, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	r := bufio.NewReaderSize(file, 1<<20)
	fail := func(format string, args ...any) (*State, error) {
		return nil, fmt.Errorf("checkpoint %s: %s", path, fmt.Sprintf(format, args...))
	}
	magic := make([]byte, len(checkpointMagic))
	if _, err := io.ReadFull(r, magic); err != nil || !bytes.Equal(magic, []byte(checkpointMagic)) {
		return fail("not a tdro checkpoint (bad magic)")
	}
	var n uint64
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil || n > 1<<30 {
		return fail("bad header length")
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return fail("truncated header: %v", err)
	}
	var h checkpointHeader
	if err := json.Unmarshal(hdr, &h); err != nil {
		return fail("header: %v", err)
	}
	for _, vh := range h.Vars {
		dt, err := dtypes.DTypeString(vh.DType)
		if err != nil {
			return fail("variable %s: dtype %q: %v", vh.Path, vh.DType, err)
		}
		shape := shapes.Make(dt, vh.Dims...)
		if int(shape.Memory()) != vh.Bytes {
			return fail("variable %s: %d bytes for shape %s", vh.Path, vh.Bytes, shape)
		}
		t := tensors.FromShape(shape)
		var rerr error
		if err := t.MutableBytes(func(b []byte) { _, rerr = io.ReadFull(r, b) }); err != nil {
			return fail("variable %s: %v", vh.Path, err)
		}
		if rerr != nil {
			return fail("variable %s: truncated data: %v", vh.Path, rerr)
		}
		if v := store.GetVariable(vh.Path); v != nil {
			if !v.Shape().Equal(shape) {
				return fail("variable %s has shape %s, the model expects %s", vh.Path, shape, v.Shape())
			}
			if err := v.SetValue(t); err != nil {
				return fail("variable %s: %v", vh.Path, err)
			}
		} else {
			v, err := store.CreateVariable(vh.Path, t)
			if err != nil {
				return fail("variable %s: %v", vh.Path, err)
			}
			// Only model weights are trainable, and those exist before loading.
			v.SetTrainable(false)
		}
	}
	if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
		return fail("trailing data after the last variable")
	}
	return &h.State, nil
}
