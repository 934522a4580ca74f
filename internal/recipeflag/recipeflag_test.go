package recipeflag

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

type inner struct {
	Rate float64 `json:"rate" help:"a rate"`
}

type kind string

type lora struct {
	R int `json:"r"`
}

type recipe struct {
	inner
	Steps int      `json:"steps" help:"steps"`
	Seed  uint64   `json:"seed_value" help:"seed"`
	Name  kind     `json:"name" help:"a named string"`
	On    bool     `json:"on,omitempty" help:"switch"`
	LoRA  *lora    `json:"lora,omitempty" help:"adapters"`
	List  []string `json:"list" help:"names"`
}

// TestBindRoundTrips checks every kind of field: the flag's name comes from
// the JSON tag, its default is the field's value, and parsing sets the
// field to what the same JSON would.
func TestBindRoundTrips(t *testing.T) {
	r := recipe{inner: inner{Rate: 0.5}, Steps: 3, Seed: 7, Name: "a"}
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	Bind(fs, &r)
	Aliases(fs, map[string]string{"r": "rate"})
	defaults := map[string]string{"rate": "0.5", "steps": "3", "seed-value": "7", "name": "a", "on": "false", "lora": "null", "list": "null"}
	for name, want := range defaults {
		f := fs.Lookup(name)
		if f == nil {
			t.Fatalf("no flag --%s", name)
		}
		if f.DefValue != want {
			t.Errorf("--%s default %q, want %q", name, f.DefValue, want)
		}
	}
	err := fs.Parse([]string{"--r", "0.25", "--steps", "9", "--seed-value", "18446744073709551615", "--name", "b", "--on",
		"--lora", `{"r": 4}`, "--list", `["x","y"]`})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(r)
	want := `{"rate":0.25,"steps":9,"seed_value":18446744073709551615,"name":"b","on":true,"lora":{"r":4},"list":["x","y"]}`
	if string(got) != want {
		t.Errorf("after parsing: %s\nwant %s", got, want)
	}
	for _, bad := range [][]string{{"--steps", "x"}, {"--lora", `{"rank": 4}`}, {"--seed-value", "-1"}} {
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		fs.SetOutput(&strings.Builder{})
		Bind(fs, &recipe{})
		if err := fs.Parse(bad); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}

// TestFieldsNeedHelp: a recipe field without help cannot become a flag.
func TestFieldsNeedHelp(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a field without a help tag was accepted")
		}
	}()
	Fields(&struct {
		X int `json:"x"`
	}{})
}
