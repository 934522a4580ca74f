package model

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/tdro/tdro/internal/atomicfile"
)

// hostTensor is a float32 tensor in host memory, row-major.
type hostTensor struct {
	shape []int
	data  []float32
	dtype string // for tensors that are not floats (e.g. int64 position_ids): kept as raw bytes
	raw   []byte
}

func (t *hostTensor) tensor() *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(append([]float32(nil), t.data...), t.shape...)
}

// hostWeight copies a variable's value to the host.
func (m *Model) hostWeight(name string) (*hostTensor, error) {
	v := m.Var(name)
	if v == nil {
		return nil, fmt.Errorf("weight %s is missing", name)
	}
	val, err := v.Value()
	if err != nil {
		return nil, fmt.Errorf("weight %s: %w", name, err)
	}
	data, err := tensors.CopyFlatData[float32](val)
	if err != nil {
		return nil, fmt.Errorf("weight %s: %w", name, err)
	}
	return &hostTensor{shape: val.Shape().Dimensions, data: data}, nil
}

// The safetensors format: an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
// {...}}, then the raw little-endian data. go-huggingface v0.4.0 reads it
// only through a hub.Repo and cannot write it, so this small reader/writer
// is ours.
type stEntry struct {
	DType   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// readSafetensors reads every tensor of a .safetensors file as float32
// (F32, F16, BF16 and F64 are converted exactly or rounded to nearest).
// order is the file's data order.
func readSafetensors(path string) (map[string]*hostTensor, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	var n uint64
	if err := binary.Read(f, binary.LittleEndian, &n); err != nil {
		return nil, nil, fmt.Errorf("%s: reading header length: %w", path, err)
	}
	if n > uint64(st.Size())-8 || n > 100<<20 {
		return nil, nil, fmt.Errorf("%s: header length %d does not fit the %d-byte file (not a safetensors file?)", path, n, st.Size())
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return nil, nil, fmt.Errorf("%s: reading header: %w", path, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, nil, fmt.Errorf("%s: header: %w", path, err)
	}
	entries := map[string]stEntry{}
	var names []string
	for name, r := range raw {
		if name == "__metadata__" {
			continue
		}
		var e stEntry
		if err := json.Unmarshal(r, &e); err != nil {
			return nil, nil, fmt.Errorf("%s: tensor %s: %w", path, name, err)
		}
		entries[name] = e
		names = append(names, name)
	}
	sort.Slice(names, func(a, b int) bool { return entries[names[a]].Offsets[0] < entries[names[b]].Offsets[0] })
	dataStart := int64(8 + n)
	dataLen := st.Size() - dataStart
	out := make(map[string]*hostTensor, len(names))
	for _, name := range names {
		e := entries[name]
		count := 1
		for _, d := range e.Shape {
			if d < 0 {
				return nil, nil, fmt.Errorf("%s: tensor %s: negative dimension in shape %v", path, name, e.Shape)
			}
			count *= d
		}
		size := stDTypeSize[e.DType]
		if size == 0 {
			return nil, nil, fmt.Errorf("%s: tensor %s: unknown dtype %s", path, name, e.DType)
		}
		if e.Offsets[1]-e.Offsets[0] != int64(count*size) || e.Offsets[0] < 0 || e.Offsets[1] > dataLen {
			return nil, nil, fmt.Errorf("%s: tensor %s: data_offsets %v do not match shape %v of %s in %d data bytes", path, name, e.Offsets, e.Shape, e.DType, dataLen)
		}
		buf := make([]byte, e.Offsets[1]-e.Offsets[0])
		if _, err := f.ReadAt(buf, dataStart+e.Offsets[0]); err != nil {
			return nil, nil, fmt.Errorf("%s: tensor %s: %w", path, name, err)
		}
		if !isFloat[e.DType] {
			out[name] = &hostTensor{shape: append([]int{}, e.Shape...), dtype: e.DType, raw: buf}
			continue
		}
		data := make([]float32, count)
		for i := range data {
			switch e.DType {
			case "F32":
				data[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
			case "F64":
				data[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(buf[8*i:])))
			case "BF16":
				data[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(buf[2*i:])) << 16)
			case "F16":
				data[i] = halfToFloat(binary.LittleEndian.Uint16(buf[2*i:]))
			}
		}
		out[name] = &hostTensor{shape: append([]int{}, e.Shape...), data: data}
	}
	return out, names, nil
}

var stDTypeSize = map[string]int{"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}

var isFloat = map[string]bool{"F64": true, "F32": true, "F16": true, "BF16": true}

func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		f := float32(mant) / 1024 * float32(math.Pow(2, -14))
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// writeSafetensors writes tensors as F32 in the given order, atomically.
func writeSafetensors(path string, names []string, ts map[string]*hostTensor, metadata map[string]string) error {
	hdr := map[string]any{}
	if len(metadata) > 0 {
		hdr["__metadata__"] = metadata
	}
	var off int64
	for _, name := range names {
		t := ts[name]
		size, dtype := int64(4*len(t.data)), "F32"
		if t.raw != nil {
			size, dtype = int64(len(t.raw)), t.dtype
		}
		shape := t.shape
		if shape == nil {
			shape = []int{}
		}
		hdr[name] = stEntry{DType: dtype, Shape: shape, Offsets: [2]int64{off, off + size}}
		off += size
	}
	hb, err := json.Marshal(hdr)
	if err != nil {
		return err
	}
	for len(hb)%8 != 0 { // align the data like the reference writer
		hb = append(hb, ' ')
	}
	f, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	w := f
	err = binary.Write(w, binary.LittleEndian, uint64(len(hb)))
	if err == nil {
		_, err = w.Write(hb)
	}
	buf := make([]byte, 4)
	for _, name := range names {
		if ts[name].raw != nil && err == nil {
			_, err = w.Write(ts[name].raw)
		}
		for _, v := range ts[name].data {
			if err != nil {
				break
			}
			binary.LittleEndian.PutUint32(buf, math.Float32bits(v))
			_, err = w.Write(buf)
		}
	}
	if err != nil {
		f.Abort()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Commit()
}
