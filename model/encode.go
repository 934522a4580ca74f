package model

import (
	"fmt"
	"sort"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"
	"github.com/tdro/tdro/backend"
)

// bucket rounds a padded length up so that few graph shapes get compiled
// (each costs ~0.1-0.2 s for tiny-bert): to a multiple of 8 up to 64, of 16
// up to 128, then of 32, wasting at most a quarter on padding.
func bucket(n int) int {
	step := 32
	switch {
	case n <= 64:
		step = 8
	case n <= 128:
		step = 16
	}
	return (n + step - 1) / step * step
}

// Encode embeds texts on the host: it tokenizes them (truncated to maxLen
// tokens), sorts them by length so that each batch pads little, runs Embed
// in batches of batchSize and returns the vectors in the input order.
// It is safe for concurrent use; calls are serialized.
func (m *Model) Encode(texts []string, maxLen, batchSize int) ([][]float32, error) {
	if batchSize <= 0 {
		return nil, fmt.Errorf("encode: batch size must be positive, got %d", batchSize)
	}
	if m.Tokenizer == nil {
		return nil, fmt.Errorf("encode: model has no tokenizer")
	}
	rows := m.Tokenizer.EncodeAll(texts, maxLen)
	return m.EncodeIDs(rows, batchSize)
}

// EncodeIDs is Encode for already tokenized rows.
func (m *Model) EncodeIDs(rows [][]int32, batchSize int) ([][]float32, error) {
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(rows[order[a]]) > len(rows[order[b]]) })
	out := make([][]float32, len(rows))
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.exec == nil {
		be, err := backend.Get()
		if err != nil {
			return nil, err
		}
		m.exec, err = gmodel.NewExec(be, m.Store, func(scope *gmodel.Scope, ids, mask *graph.Node) *graph.Node {
			return m.Embed(scope, ids, mask)
		})
		if err != nil {
			return nil, fmt.Errorf("encode: %w", err)
		}
		m.exec.SetMaxCache(64)
	}
	maxPos := m.Config.family().maxTokens(m.Config)
	for start := 0; start < len(order); start += batchSize {
		idx := order[start:min(start+batchSize, len(order))]
		length := 1
		for _, i := range idx {
			length = max(length, len(rows[i]))
		}
		if maxPos > 0 && length > maxPos {
			return nil, fmt.Errorf("encode: text %d has %d tokens, more than the model's %d positions (lower maxLen)", idx[0], length, maxPos)
		}
		length = bucket(length)
		if maxPos > 0 {
			length = min(length, maxPos)
		}
		// Fill a short last batch with copies of its first row, so that the
		// graph compiled for full batches is reused.
		n := batchSize
		if len(order) < batchSize {
			n = len(idx)
		}
		ids := make([]int32, n*length)
		mask := make([]int32, n*length)
		for j := range n {
			r := rows[idx[min(j, len(idx)-1)]]
			for t := range length {
				if t < len(r) {
					ids[j*length+t], mask[j*length+t] = r[t], 1
				} else {
					ids[j*length+t] = m.Tokenizer.PadID()
				}
			}
		}
		res, err := m.exec.Exec1(tensors.FromFlatDataAndDimensions(ids, n, length), tensors.FromFlatDataAndDimensions(mask, n, length))
		if err != nil {
			return nil, fmt.Errorf("encode: %w", err)
		}
		flat, err := tensors.CopyFlatData[float32](res)
		res.FinalizeAll()
		if err != nil {
			return nil, fmt.Errorf("encode: %w", err)
		}
		dim := len(flat) / n
		for j, i := range idx {
			out[i] = flat[j*dim : (j+1)*dim : (j+1)*dim]
		}
	}
	return out, nil
}
