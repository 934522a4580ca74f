package pipeline

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func fakeReport(t *testing.T, dir string) *Report {
	t.Helper()
	var curves []Curve
	for i, name := range []string{"uniform (reference)", "tDRO top-70%", "tDRO ratio"} {
		c := Curve{Name: name}
		for s := 1; s <= 200; s++ {
			c.Steps = append(c.Steps, float64(s))
			c.Loss = append(c.Loss, 3*math.Exp(-float64(s)/60)+0.4+0.05*float64(i)+0.1*math.Sin(float64(s)))
		}
		curves = append(curves, c)
	}
	loss, err := PlotLossCurves(curves, "training loss", filepath.Join(dir, "plots", "loss"))
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(dir, loss)
	r := &Report{
		Title: "tdro run: quickstart", Command: "tdro run --data ../shared/data --out runs/quickstart", Config: "preset default",
		Generated: time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC), Total: "12m03s",
		Diagram: []DiagramNode{
			{Name: "prepare", Label: "data prepare", Time: "41.0s", Status: Skipped},
			{Name: "reference", Label: "reference (uniform)", After: []string{"prepare"}, Time: "2m31s", Status: Ran},
			{Name: "dro", Label: "tDRO weights", After: []string{"prepare", "reference"}, Time: "2m02s", Status: Resumed},
			{Name: "transfer", Label: "transfer", After: []string{"dro"}, Time: "0.1s", Status: Ran},
			{Name: "finetune-top70", Label: "fine-tune top-70%", After: []string{"transfer"}, Time: "2m20s", Status: Ran},
			{Name: "finetune-ratio", Label: "fine-tune ratio", After: []string{"transfer"}, Time: "2m20s", Status: Ran},
			{Name: "eval", Label: "evaluate + BM25", After: []string{"finetune-top70", "finetune-ratio", "reference"}, Time: "2m00s", Status: Ran},
		},
		Notes:    []string{"The uniform baseline is the stage-0 reference model: same settings, trained once."},
		LossPlot: rel,
		Weights: []WeightRow{
			{Domain: "cmrc2018", Language: "zh", Records: 4221, Uniform: 0.5, TDRO: 0.7, Selected: map[string]bool{"top70": true, "ratio": true}},
			{Domain: "agnews", Language: "en", Records: 7600, Uniform: 0.5, TDRO: 0.3, Selected: map[string]bool{"top70": false, "ratio": true}},
		},
		Mixtures: []MixtureRow{
			{Name: "uniform", Strategy: "uniform", Domains: 2, Records: 11821, Tokens: 1234567, PctRecord: 100, PctTokens: 100},
			{Name: "top70", Strategy: "top-k 70%", Domains: 1, Records: 4221, Tokens: 734567, PctRecord: 35.7, PctTokens: 59.5},
		},
		ResultsMarkdown: "| dataset | uniform | top70 |\n|---|---:|---:|\n| cisi | 0.1000 | **0.1200**† |\n",
		ResultsHTML:     "<table><tr><th>dataset</th><th>uniform</th><th>top70</th></tr><tr><td>cisi</td><td>0.1000</td><td><b>0.1200</b>†</td></tr></table>",
	}
	return r
}

func TestReportWritesBothFormats(t *testing.T) {
	dir := t.TempDir()
	if keep := os.Getenv("TDRO_REPORT_OUT"); keep != "" {
		dir = keep
	}
	r := fakeReport(t, dir)
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"reference (uniform) (2m31s)", "| cmrc2018 | zh | 4,221 | 0.500 | 0.700 | ✓ | ✓ |", "| top70 | top-k 70% | 1 | 4,221 | 734,567 | 35.7% | 59.5% |", "![loss curves](plots/loss.png)", "**0.1200**†", "trained once"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	for _, want := range []string{"<svg", "fine-tune ratio", "2m02s · resumed", `<img src="plots/loss.png"`, "<b>0.1200</b>†"} {
		if !strings.Contains(string(h), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	for _, p := range []string{"plots/loss.png", "plots/loss.svg"} {
		if st, err := os.Stat(filepath.Join(dir, p)); err != nil || st.Size() < 1000 {
			t.Errorf("%s missing or tiny: %v", p, err)
		}
	}
}

func TestDiagramColumnsFollowDependencies(t *testing.T) {
	nodes := []DiagramNode{{Name: "a"}, {Name: "b", After: []string{"a"}}, {Name: "c", After: []string{"a"}}, {Name: "d", After: []string{"b", "c"}}}
	col, row, cols, rows := layout(nodes)
	got := fmt.Sprint(col["a"], col["b"], col["c"], col["d"], row["b"], row["c"], cols, rows)
	if got != "0 1 1 2 0 1 3 2" {
		t.Fatalf("layout = %s", got)
	}
}

func TestReadLossLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.jsonl")
	os.WriteFile(path, []byte(`{"step":1,"loss":2.5,"lr":0.1}
{"event":"checkpoint"}
{"step":2,"loss":2.0}
`), 0o644)
	c, err := ReadLossLog(path, "x")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(c.Steps, c.Loss) != "[1 2] [2.5 2]" {
		t.Fatalf("curve = %v %v", c.Steps, c.Loss)
	}
	os.WriteFile(path, []byte("{\"step\":1,\"loss\":2.5}\nnot json\n"), 0o644)
	if _, err := ReadLossLog(path, "x"); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v, want line 2 named", err)
	}
}

func TestWrapLabel(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"transfer", []string{"transfer"}},
		{"2: fine-tune top70", []string{"2: fine-tune top70"}},
		{"evaluate 3 models + base + BM25", []string{"evaluate 3 models", "+ base + BM25"}},
		{"0: reference (uniform)", []string{"0: reference", "(uniform)"}},
		{"averyveryverylonglabelwithoutspaces", []string{"averyveryverylonglabelwithoutspaces"}},
	} {
		if got := wrapLabel(tc.in, 18); !slices.Equal(got, tc.want) {
			t.Errorf("wrapLabel(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestDiagramFitsThePage: the default pipeline's diagram, drawn from the
// stage graph Stages declares, is at most the report's text width (1100 px),
// so the browser never shrinks its text; its arrows are the declared flow.
func TestDiagramFitsThePage(t *testing.T) {
	cfg, err := LoadConfig("default", "")
	if err != nil {
		t.Fatal(err)
	}
	stages, err := Stages(Options{Config: cfg, Data: t.TempDir(), Out: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var nodes []DiagramNode
	for _, st := range stages[:len(stages)-1] { // the report draws the others
		if st.Label == "" {
			t.Errorf("stage %s has no label", st.Name)
		}
		nodes = append(nodes, DiagramNode{Name: st.Name, Label: st.Label, After: st.Flow, group: st.Group, Time: "1m02s", Status: Ran})
	}
	diagram := flowDiagram(nodes)
	arrows := map[string]string{}
	for _, n := range diagram {
		arrows[n.Name] = n.Label + " <- " + strings.Join(n.After, ",")
	}
	for name, want := range map[string]string{
		"dro":             "1: tDRO weights <- train-reference",
		"train-reference": "0: reference (uniform) <- base,data",
		"train-top70":     "2: fine-tune top70 <- transfer",
		"eval":            "evaluate 5 runs <- train-reference,train-top70,train-ratio",
	} {
		if arrows[name] != want {
			t.Errorf("diagram box %s: %q, want %q", name, arrows[name], want)
		}
	}
	svg := DiagramSVG(diagram)
	var w, h int
	if _, err := fmt.Sscanf(svg[strings.Index(svg, `viewBox="0 0 `)+len(`viewBox="0 0 `):], "%d %d", &w, &h); err != nil {
		t.Fatalf("no viewBox in %.200s: %v", svg, err)
	}
	if w > 1100 || h > 200 {
		t.Errorf("diagram is %d x %d px, want at most 1100 wide (the page) and 200 high", w, h)
	}
}

// TestPlainQueries: eval.plain_queries turns the instruction off, changes
// the evaluation stages' key (they rerun) and the report's note.
func TestPlainQueries(t *testing.T) {
	cfg, err := LoadConfig("tiny", "")
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{Config: cfg}
	instructed, key := evalOptions(opt, "x").Instruct, fmt.Sprint(evalKey(opt))
	cfg.Eval.PlainQueries = true
	if !instructed || evalOptions(opt, "x").Instruct {
		t.Errorf("Instruct: %v by default, %v with plain_queries; want true, false", instructed, evalOptions(opt, "x").Instruct)
	}
	if fmt.Sprint(evalKey(opt)) == key {
		t.Error("plain_queries does not change the evaluation stages' key")
	}
	if !strings.Contains(queryNote(cfg.Eval), "plainly") || strings.Contains(queryNote(EvalConfig{}), "plainly") {
		t.Errorf("notes: %q / %q", queryNote(cfg.Eval), queryNote(EvalConfig{}))
	}
}

// TestLossTicksDistinct: over a narrow loss range no two labelled ticks
// read the same.
func TestLossTicksDistinct(t *testing.T) {
	for _, r := range [][2]float64{{1.95, 2.05}, {1.99, 2.01}, {0, 10}, {2.0001, 2.0004}} {
		ticks := distinctTicks{}.Ticks(r[0], r[1])
		if repeats(ticks) {
			t.Errorf("range %v: repeated labels %+v", r, ticks)
		}
		labelled := 0
		for _, tk := range ticks {
			if tk.Label != "" {
				labelled++
			}
		}
		if labelled < 2 {
			t.Errorf("range %v: %d labelled ticks", r, labelled)
		}
	}
}
