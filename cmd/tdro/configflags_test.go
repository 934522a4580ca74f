package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/tdro/tdro/dro"
	"github.com/tdro/tdro/internal/recipeflag"
	"github.com/tdro/tdro/train"
)

// A flag given on the command line beats the file; the file beats a
// flag's default.
func TestReadConfigUnderFlags(t *testing.T) {
	var steps, batch int
	cmd := &cobra.Command{Use: "x", RunE: func(cmd *cobra.Command, _ []string) error {
		return readConfigUnderFlags(cmd, func() error {
			steps, batch = 30, 40 // what the file says
			return nil
		})
	}}
	cmd.Flags().IntVar(&steps, "steps", 1, "")
	cmd.Flags().IntVar(&batch, "batch-size", 2, "")
	cmd.SetArgs([]string{"--steps", "5"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if steps != 5 || batch != 40 {
		t.Fatalf("steps %d batch %d, want 5 (flag) and 40 (file)", steps, batch)
	}
}

// TestRecipeFlags guards the flag generator on the real commands: every
// field of each stage's recipe has a flag named after its JSON field whose
// default is the recipe default, as its JSON spells it.
func TestRecipeFlags(t *testing.T) {
	for _, c := range []struct {
		command string
		recipe  any
	}{
		{"train", ptr(train.DefaultRecipe())},
		{"dro", ptr(dro.DefaultRecipe())},
	} {
		cmd, _, err := rootCmd.Find([]string{c.command})
		if err != nil {
			t.Fatal(err)
		}
		doc, err := json.Marshal(c.recipe)
		if err != nil {
			t.Fatal(err)
		}
		var defaults map[string]any
		if err := json.Unmarshal(doc, &defaults); err != nil {
			t.Fatal(err)
		}
		fields := recipeflag.Fields(c.recipe)
		if len(fields) < 20 {
			t.Fatalf("%s: %d recipe fields; the walk missed embedded structs", c.command, len(fields))
		}
		for _, f := range fields {
			fl := cmd.Flags().Lookup(strings.ReplaceAll(f.JSON, "_", "-"))
			if fl == nil {
				t.Errorf("tdro %s: recipe field %s has no flag", c.command, f.JSON)
				continue
			}
			want, set := defaults[f.JSON]
			// A field the JSON leaves out (omitempty) holds its zero value.
			wantStr := map[string]string{"bool": "false", "int": "0", "uint64": "0", "float64": "0", "string": "", "json": "null"}[fl.Value.Type()]
			if set {
				b, _ := json.Marshal(want)
				wantStr = strings.Trim(string(b), `"`)
			}
			if a, errA := strconv.ParseFloat(fl.DefValue, 64); errA == nil {
				if b, errB := strconv.ParseFloat(wantStr, 64); errB == nil && a == b {
					wantStr = fl.DefValue // the same number, spelt by strconv
				}
			}
			if fl.DefValue != wantStr {
				t.Errorf("tdro %s --%s: default %q, the recipe's is %s", c.command, fl.Name, fl.DefValue, wantStr)
			}
			if fl.Usage == "" {
				t.Errorf("tdro %s --%s: no help", c.command, fl.Name)
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }
