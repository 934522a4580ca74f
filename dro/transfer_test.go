package dro

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tdro/tdro/data"
)

func testMixture(names ...string) *data.Mixture {
	m := &data.Mixture{}
	for _, n := range names {
		m.Domains = append(m.Domains, data.Domain{Name: n, Path: n + ".jsonl", Language: "en", Weight: 1, Records: 10})
	}
	return m
}

func TestWeightsFileOfficialSchema(t *testing.T) {
	w, err := NewWeightsFile([]string{"a", "b", "c"}, []float64{0.5, 0.3, 0.2}, []int{100, 300, 600})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "w.json")
	if err := w.Save(path); err != nil {
		t.Fatal(err)
	}
	// Decode as the official code would: four maps keyed by domain name.
	b, _ := os.ReadFile(path)
	var raw map[string]map[string]float64
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]float64{
		"domain_ids":     {"a": 0, "b": 1, "c": 2},
		"domain_weights": {"a": 0.5, "b": 0.3, "c": 0.2},
		"size":           {"a": 100, "b": 300, "c": 600},
		// w * total / size, total = 1000
		"epoch": {"a": 5, "b": 1, "c": 1.0 / 3},
	}
	for key, m := range want {
		for name, v := range m {
			if got := raw[key][name]; got < v-1e-12 || got > v+1e-12 {
				t.Errorf("%s[%s] = %v, want %v", key, name, got, v)
			}
		}
	}
	if len(raw) != 4 {
		t.Errorf("keys %v", raw)
	}
	back, err := LoadWeights(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, w) {
		t.Errorf("round trip: %+v != %+v", back, w)
	}
}

func TestTopPercentOfficialRule(t *testing.T) {
	w := []float64{0.1, 0.3, 0.05, 0.3, 0.25}
	for _, tc := range []struct {
		pct  float64
		want []int
	}{
		{100, []int{1, 3, 4, 0, 2}},
		{70, []int{1, 3, 4}}, // floor(5*.7) = 3; tie 1,3 keeps index order
		{20, []int{1}},
		{39.9, []int{1}}, // floor(1.995) = 1
		{40, []int{1, 3}},
	} {
		got, err := TopPercent(w, tc.pct)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("top %v%%: %v, %v; want %v", tc.pct, got, err, tc.want)
		}
	}
	for _, pct := range []float64{0, -5, 100.5, 19} { // 19% of 5 selects floor(.95) = 0
		if _, err := TopPercent(w, pct); err == nil {
			t.Errorf("percent %v: no error", pct)
		}
	}
}

// TestSelectionFileIsOfficial: a top-k file holds exactly what the official
// trainer writes — the selected domains only, ids 0..n-1 by descending
// weight, weight 1/n, their sizes, epochs over the selected sizes.
func TestSelectionFileIsOfficial(t *testing.T) {
	w, _ := NewWeightsFile([]string{"a", "b", "c", "d"}, []float64{0.1, 0.3, 0.2, 0.4}, []int{10, 20, 30, 40})
	sel, err := w.Selection(50)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(sel)
	var gotMap, wantMap map[string]any
	json.Unmarshal(got, &gotMap)
	// total = 40 + 20 = 60: epoch d = .5*60/40, b = .5*60/20.
	want := `{"domain_ids": {"d": 0, "b": 1}, "domain_weights": {"d": 0.5, "b": 0.5},
		"size": {"d": 40, "b": 20}, "epoch": {"d": 0.75, "b": 1.5}}`
	if err := json.Unmarshal([]byte(want), &wantMap); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotMap, wantMap) {
		t.Fatalf("top50 file\n got %s\nwant %s", got, want)
	}
	if FileName("top50") != "top50_weights.json" || FileName("curr") != "curr_weights.json" {
		t.Errorf("file names %s, %s", FileName("top50"), FileName("curr"))
	}
}

// TestTransferReadsOfficialFiles: files in the official trainer's own layout
// (its key order and numbering, as json.dump writes them) give the same
// mixtures as tdro's: curr_weights.json with top-k, and top70_weights.json
// (selected domains only) with ratio, which reproduces the selection.
func TestTransferReadsOfficialFiles(t *testing.T) {
	mix := testMixture("a", "b", "c", "d")
	ours, _ := NewWeightsFile([]string{"a", "b", "c", "d"}, []float64{0.2, 0.3, 0.1, 0.4}, []int{10, 10, 10, 10})
	dir := t.TempDir()
	officialCurr := filepath.Join(dir, "curr_weights.json")
	os.WriteFile(officialCurr, []byte(`{
    "domain_ids": {"d": 0, "c": 1, "b": 2, "a": 3},
    "domain_weights": {"d": 0.4, "c": 0.1, "b": 0.3, "a": 0.2},
    "size": {"d": 10, "c": 10, "b": 10, "a": 10},
    "epoch": {"d": 1.6, "c": 0.4, "b": 1.2, "a": 0.8}
}`), 0o644)
	officialTop := filepath.Join(dir, "top70_weights.json")
	os.WriteFile(officialTop, []byte(`{
    "domain_ids": {"d": 0, "b": 1},
    "domain_weights": {"d": 0.5, "b": 0.5},
    "size": {"d": 10, "b": 10},
    "epoch": {"d": 1.0, "b": 1.0}
}`), 0o644)
	want, err := Transfer(mix, ours, TopK, 70)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		s    Strategy
	}{{officialCurr, TopK}, {officialTop, Ratio}} {
		w, err := LoadWeights(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Transfer(mix, w, tc.s, 70)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s with %s: %+v, want %+v", filepath.Base(tc.path), tc.s, got.Domains, want.Domains)
		}
	}
	ownTop, _ := ours.Selection(70)
	if got, _ := Transfer(mix, ownTop, Ratio, 0); !reflect.DeepEqual(got, want) {
		t.Errorf("tdro's own top70 file with ratio: %+v, want %+v", got.Domains, want.Domains)
	}
}

func TestTransferStrategies(t *testing.T) {
	mix := testMixture("a", "b", "c", "d")
	w, _ := NewWeightsFile([]string{"d", "c", "b", "a"}, []float64{0.4, 0.1, 0.3, 0.2}, []int{10, 10, 10, 10})
	type dom struct {
		Name         string
		Weight, Loss float64
	}
	got := func(m *data.Mixture) []dom {
		var out []dom
		for _, d := range m.Domains {
			out = append(out, dom{d.Name, d.Weight, d.LossScale})
		}
		return out
	}
	for _, tc := range []struct {
		s    Strategy
		pct  float64
		want []dom
	}{
		// floor(4*.7) = 2: d (.4) and b (.3), mixture order kept
		{TopK, 70, []dom{{"b", 0.5, 0}, {"d", 0.5, 0}}},
		{Ratio, 0, []dom{{"a", 0.2, 0}, {"b", 0.3, 0}, {"c", 0.1, 0}, {"d", 0.4, 0}}},
		// uniform sampling, loss scale k*alpha
		{LossReweight, 0, []dom{{"a", 0.25, 0.8}, {"b", 0.25, 1.2}, {"c", 0.25, 0.4}, {"d", 0.25, 1.6}}},
	} {
		out, err := Transfer(mix, w, tc.s, tc.pct)
		if err != nil {
			t.Fatalf("%s: %v", tc.s, err)
		}
		g := got(out)
		for i := range g {
			if i >= len(tc.want) || g[i].Name != tc.want[i].Name ||
				abs(g[i].Weight-tc.want[i].Weight) > 1e-12 || abs(g[i].Loss-tc.want[i].Loss) > 1e-12 {
				t.Fatalf("%s: got %v, want %v", tc.s, g, tc.want)
			}
		}
		if len(g) != len(tc.want) {
			t.Fatalf("%s: got %v, want %v", tc.s, g, tc.want)
		}
	}
	if mix.Domains[0].Weight != 1 {
		t.Errorf("input mixture changed")
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestTransferBadInput(t *testing.T) {
	mix := testMixture("a", "b")
	good, _ := NewWeightsFile([]string{"a", "b"}, []float64{0.5, 0.5}, []int{1, 1})
	unknown, _ := NewWeightsFile([]string{"a", "b", "zz"}, []float64{0.3, 0.3, 0.4}, []int{1, 1, 1})
	missing, _ := NewWeightsFile([]string{"a"}, []float64{1}, []int{1})
	zero, _ := NewWeightsFile([]string{"a", "b"}, []float64{1, 0}, []int{1, 1})
	for _, tc := range []struct {
		name string
		mix  *data.Mixture
		w    *WeightsFile
		s    Strategy
		pct  float64
		want string
	}{
		{"no domains", &data.Mixture{}, good, Ratio, 0, "no domains"},
		{"unknown domain", mix, unknown, Ratio, 0, `"zz", which is not in the mixture`},
		{"missing domain, top-k", mix, missing, TopK, 50, `"b" has no weight`},
		{"missing domain, loss-reweight", mix, missing, LossReweight, 0, `"b" has no weight`},
		{"percent 0", mix, good, TopK, 0, "(0,100]"},
		{"percent 101", mix, good, TopK, 101, "(0,100]"},
		{"selects none", mix, good, TopK, 40, "selects none"},
		{"zero loss weight", mix, zero, LossReweight, 0, `"b" has weight 0`},
		{"strategy", mix, good, "mix", 0, "unknown strategy"},
	} {
		_, err := Transfer(tc.mix, tc.w, tc.s, tc.pct)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestWeightsFileBadInput(t *testing.T) {
	if _, err := NewWeightsFile(nil, nil, nil); err == nil || !strings.Contains(err.Error(), "no domains") {
		t.Errorf("zero domains: %v", err)
	}
	if _, err := NewWeightsFile([]string{"a", "b"}, []float64{1, 1}, []int{3, 0}); err == nil ||
		!strings.Contains(err.Error(), `"b" has no records`) {
		t.Errorf("empty domain: %v", err)
	}
	dir := t.TempDir()
	for _, tc := range []struct{ doc, want string }{
		{`{"domain_ids":{"a":0},"domain_weights":{"a":1,"b":1},"size":{},"epoch":{}}`, `"b" is not in "domain_ids"`},
		{`{"domain_ids":{"a":0,"b":0},"domain_weights":{"a":1,"b":1}}`, "ids must be"},
		{`{"domain_ids":{"a":0},"domain_weights":{"a":-1}}`, "finite number >= 0"},
		{`{"domain_ids":{"a":0},"domain_weights":{"a":0}}`, "every weight is 0"},
		{`{"domain_ids":{},"domain_weights":{}}`, "no domains"},
		{`{"domain_ids":{"a":0},"weights":{"a":1}}`, "unknown field"},
	} {
		path := filepath.Join(dir, "w.json")
		os.WriteFile(path, []byte(tc.doc), 0o644)
		_, err := LoadWeights(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v, want %q and the path", tc.doc, err, tc.want)
		}
	}
}

func TestTransferFiles(t *testing.T) {
	dir := t.TempDir()
	mixPath := filepath.Join(dir, "mix.json")
	if err := testMixture("a", "b", "c").Save(mixPath); err != nil {
		t.Fatal(err)
	}
	w, _ := NewWeightsFile([]string{"a", "b", "c"}, []float64{0.2, 0.5, 0.3}, []int{5, 5, 5})
	wPath := filepath.Join(dir, "w.json")
	w.Save(wPath)
	out := filepath.Join(dir, "out", "mix.json")
	if _, err := TransferFiles(mixPath, wPath, TopK, 70, out); err != nil {
		t.Fatal(err)
	}
	m, err := data.LoadMixture(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Domains) != 2 || m.Domains[0].Name != "b" || m.Domains[1].Name != "c" ||
		m.Domains[0].Path != filepath.Join(dir, "b.jsonl") {
		t.Errorf("got %+v", m.Domains)
	}
}

// TestBottomKAndBaselines: bottom-k keeps the lowest-weighted domains;
// proportional and temperature mixtures follow the record counts by hand.
func TestBottomKAndBaselines(t *testing.T) {
	mix := &data.Mixture{}
	for i, n := range []int{100, 400, 900, 1600} {
		mix.Domains = append(mix.Domains, data.Domain{Name: fmt.Sprint("d", i), Path: "/x", Weight: 1, Records: n})
	}
	w, err := NewWeightsFile([]string{"d0", "d1", "d2", "d3"}, []float64{0.4, 0.1, 0.3, 0.2}, []int{100, 400, 900, 1600})
	if err != nil {
		t.Fatal(err)
	}
	bottom, err := Transfer(mix, w, BottomK, 50)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(bottom.Domains[0].Name, bottom.Domains[1].Name, bottom.Domains[0].Weight); len(bottom.Domains) != 2 || got != "d1d30.5" {
		t.Errorf("bottom-50%%: %v (%d domains), want d1 d3 at 0.5", got, len(bottom.Domains))
	}
	prop, err := Baseline(mix, Proportional, 0)
	if err != nil {
		t.Fatal(err)
	}
	// sqrt counts 10, 20, 30, 40 (sum 100) at T = 2; counts sum 3000.
	temp, err := Baseline(mix, Temperature, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{100.0 / 3000, 400.0 / 3000, 900.0 / 3000, 1600.0 / 3000} {
		if math.Abs(prop.Domains[i].Weight-want) > 1e-12 {
			t.Errorf("proportional d%d: %v, want %v", i, prop.Domains[i].Weight, want)
		}
		if want := float64(10*(i+1)) / 100; math.Abs(temp.Domains[i].Weight-want) > 1e-12 {
			t.Errorf("temperature d%d: %v, want %v", i, temp.Domains[i].Weight, want)
		}
	}
	mix.Domains[2].Records = 0
	if _, err := Baseline(mix, Proportional, 0); err == nil || !strings.Contains(err.Error(), `"d2" has no record count`) {
		t.Errorf("missing count: %v", err)
	}
	if _, err := Baseline(mix, Temperature, 0); err == nil {
		t.Error("temperature 0 accepted")
	}
}

// TestBaselineUsesSourceSizes: capped domains of equal size still get
// size-proportional weights from their sources' sizes.
func TestBaselineUsesSourceSizes(t *testing.T) {
	mix := &data.Mixture{Domains: []data.Domain{
		{Name: "a", Path: "/a", Weight: 1, Records: 1000, SourceRecords: 1000},
		{Name: "b", Path: "/b", Weight: 1, Records: 1000, SourceRecords: 3000},
	}}
	m, err := Baseline(mix, Proportional, 0)
	if err != nil {
		t.Fatal(err)
	}
	if m.Domains[0].Weight != 0.25 || m.Domains[1].Weight != 0.75 {
		t.Errorf("weights %v %v, want 0.25 0.75 (by source size)", m.Domains[0].Weight, m.Domains[1].Weight)
	}
}
