package train

import (
	"context"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/tdro/tdro/model"
)

// TestLoRATrainsAdaptersOnly: with LoRA only the adapters move, and the
// saved model (adapters merged) loads.
func TestLoRATrainsAdaptersOnly(t *testing.T) {
	mixture, _ := testMixture(t, 12, 0)
	cfg := smallConfig(t, mixture)
	cfg.Steps, cfg.BatchSize, cfg.QueryMaxLen, cfg.PassageMaxLen = 3, 4, 8, 8
	cfg.LoRA = &model.LoRA{Rank: 4, Alpha: 8, Targets: []string{"q_proj", "v_proj"}}
	base, err := BuildModel(cfg.Model, cfg.Tokenizer, nil, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	adapters, frozen := 0, 0
	for v := range res.Model.Store.IterVariables() {
		if !strings.HasPrefix(v.Path(), model.Scope+"/") {
			continue
		}
		after := tensors.MustCopyFlatData[float32](v.MustValue())
		if strings.Contains(v.Path(), "lora_") {
			if strings.Contains(v.Path(), "lora_B") && !anyNonZero(after) {
				t.Errorf("adapter %s did not train", v.Path())
			}
			adapters++
			continue
		}
		before := tensors.MustCopyFlatData[float32](base.Store.GetVariable(v.Path()).MustValue())
		for i := range before {
			if before[i] != after[i] {
				t.Fatalf("frozen weight %s changed", v.Path())
			}
		}
		frozen++
	}
	if adapters == 0 || frozen == 0 {
		t.Fatalf("%d adapters, %d frozen weights", adapters, frozen)
	}
	if _, err := model.Load(res.ModelDir); err != nil {
		t.Fatalf("saved LoRA model: %v", err)
	}
}

func anyNonZero(x []float32) bool {
	for _, v := range x {
		if v != 0 {
			return true
		}
	}
	return false
}
