package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tdro/tdro/collection"
	"github.com/tdro/tdro/configs"
	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/dro"
	"github.com/tdro/tdro/eval/metrics"
	evalreport "github.com/tdro/tdro/eval/report"
	"github.com/tdro/tdro/internal/crashtest"
	"github.com/tdro/tdro/internal/shareddata"
	"github.com/tdro/tdro/model"
	"github.com/tdro/tdro/train"
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, r := range []*sharedRun{&reference, &studyRun, &slowRun} {
		if r.dir != "" {
			os.RemoveAll(r.dir)
		}
	}
	os.Exit(code)
}

// sharedRun is one uninterrupted run that several tests compare with,
// made once and removed by TestMain.
type sharedRun struct {
	once sync.Once
	dir  string
	res  []Result
	err  error
}

func (r *sharedRun) get(t *testing.T, options func(testing.TB, string) Options) (string, []Result) {
	t.Helper()
	r.once.Do(func() {
		r.dir, r.err = os.MkdirTemp("", "tdro-pipeline-*")
		if r.err == nil {
			r.res, r.err = Run(context.Background(), options(t, r.dir))
		}
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.dir, r.res
}

// reference is one uninterrupted run of the tiny preset, shared by the tests.
var reference sharedRun

func tinyOptions(t testing.TB, dir string) Options {
	cfg, err := LoadConfig("tiny", "")
	if err != nil {
		t.Fatal(err)
	}
	return Options{Config: cfg, ConfigName: "preset tiny", Command: "go test", Data: shareddata.Dir(t), Out: dir, Log: io.Discard}
}

func uninterrupted(t *testing.T) (string, []Result) { return reference.get(t, tinyOptions) }

// TestEndToEndTinyPreset runs the whole pipeline on the tiny preset and
// checks that every artefact of the run directory exists, parses and holds
// what it should (the walk at the end fails on a file no check covers;
// checkpoints/ is scratch state and left out), then that a second
// invocation skips every stage.
func TestEndToEndTinyPreset(t *testing.T) {
	dir, res := uninterrupted(t)
	cfg := tinyOptions(t, dir).Config
	var names []string
	for _, r := range res {
		names = append(names, r.Stage)
		if r.Status != Ran {
			t.Errorf("stage %s: %s on a fresh run directory", r.Stage, r.Status)
		}
	}
	want := "base prepare train-reference dro transfer train-top70 train-ratio eval-bm25 eval-reference eval-top70 eval-ratio eval-base report"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("stages %s, want %s", got, want)
	}

	// path marks a file (or every file under a directory) as checked and
	// returns its absolute path; glob does the same for the matches of a
	// pattern and returns them relative to the run directory.
	checked := map[string]bool{}
	path := func(p ...string) string {
		rel := filepath.Join(p...)
		abs := filepath.Join(dir, rel)
		filepath.Walk(abs, func(f string, info os.FileInfo, err error) error {
			if err == nil && info.Mode().IsRegular() {
				r, _ := filepath.Rel(dir, f)
				checked[r] = true
			}
			return nil
		})
		checked[rel] = true
		return abs
	}
	glob := func(pattern string) []string {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range m {
			r, _ := filepath.Rel(dir, f)
			path(r)
			out = append(out, r)
		}
		return out
	}
	baseNames := func(files []string) string {
		var out []string
		for _, f := range files {
			out = append(out, filepath.Base(f))
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	jsonFile := func(rel string) {
		var v any
		if err := readJSONLoose(path(rel), &v); err != nil {
			t.Errorf("%s: %v", rel, err)
		}
	}
	trained := []string{referenceRun}
	for _, tr := range cfg.Transfer {
		trained = append(trained, tr.Name)
	}
	evaluated := append(append([]string{"bm25"}, trained...), baseRun) // stage order
	columns := []string{"dataset"}                                     // the results tables: uniform, every mixture, base, BM25
	for _, m := range append(append([]string{}, trained...), baseRun, "bm25") {
		columns = append(columns, runName(m))
	}
	path(".lock")

	// config.json, manifests and the stage logs.
	var saved Config
	if err := readJSON(path("config.json"), &saved); err != nil || !reflect.DeepEqual(&saved, cfg) {
		t.Errorf("config.json: %v\n got %+v\nwant %+v", err, saved, *cfg)
	}
	for _, name := range names {
		rel := filepath.Join("manifests", name+".json")
		m, err := LoadManifest(dir, name)
		path(rel)
		if err != nil || m == nil || m.Stage != name || m.Key == "" || m.OutputsHash == "" || m.Versions.GoMLX == "" || m.Resumed ||
			m.Seconds <= 0 || m.Finished.Before(m.Started) {
			t.Errorf("%s: %+v, %v", rel, m, err)
			continue
		}
		for out, h := range m.Outputs {
			if got, err := HashPath(filepath.Join(dir, out)); err != nil || got != h {
				t.Errorf("%s: output %s hashes to %s (%v), manifest says %s", rel, out, got, err, h)
			}
		}
		log, err := os.ReadFile(path("logs", name+".log"))
		if err != nil || !bytes.HasPrefix(log, []byte("["+name+"] running\n")) || !bytes.Contains(log, []byte("["+name+"] done in ")) {
			t.Errorf("logs/%s.log: %v\n%s", name, err, log)
		}
	}
	if m := glob("manifests/*.started.json"); len(m) != 0 {
		t.Errorf("stages still marked as started after the run: %v", m)
	}
	if got := len(glob("manifests/*.json")); got != len(names) {
		t.Errorf("%d manifests for %d stages", got, len(names))
	}
	if got := len(glob("logs/*.log")); got != len(names) {
		t.Errorf("%d stage logs for %d stages", got, len(names))
	}

	// Prepared data.
	mix, err := data.LoadMixture(path(mixtureFile))
	if err != nil || len(mix.Domains) != len(cfg.Prepare.Domains) {
		t.Fatalf("prepared mixture: %v", err)
	}
	domains := map[string]bool{}
	for _, d := range mix.Domains {
		domains[d.Name] = true
		recs, err := data.ReadRecords(path(dataDir, d.Name+".jsonl"))
		if err != nil || len(recs) != cfg.Prepare.MaxRecords || d.Records != len(recs) || d.Weight != 0.25 || d.Language == "" ||
			d.Path != filepath.Join(dir, dataDir, d.Name+".jsonl") {
			t.Errorf("domain %+v: %d records, %v", d, len(recs), err)
		}
		for _, r := range recs {
			if r.Query == "" || len(r.Positives) == 0 || len(r.Negatives) != cfg.Prepare.Negatives {
				t.Errorf("domain %s: record %s has %d positives, %d negatives", d.Name, r.QueryID, len(r.Positives), len(r.Negatives))
				break
			}
		}
	}
	for _, d := range cfg.Prepare.Domains {
		if !domains[d] {
			t.Errorf("domain %s not prepared", d)
		}
	}
	if got := len(glob("data/*.jsonl")); got != len(mix.Domains) {
		t.Errorf("%d records files for %d domains", got, len(mix.Domains))
	}
	for _, f := range glob("data/.prepare/*.json") { // prepare's per-domain state
		jsonFile(f)
	}

	// Models: every Hugging Face checkpoint loads; its JSON files parse.
	for _, m := range append([]string{baseRun}, trained...) {
		if _, err := model.Load(path(modelDir(m))); err != nil {
			t.Errorf("model %s: %v", m, err)
		}
		for _, f := range []string{"config.json", "tokenizer.json", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json"} {
			jsonFile(filepath.Join(modelDir(m), f))
		}
		if fi, err := os.Stat(path(modelDir(m), "model.safetensors")); err != nil || fi.Size() < 1<<20 {
			t.Errorf("model %s: weights %v", m, err)
		}
	}
	// Every model directory has the base's layout and modes, whichever stage
	// wrote it (a copy once lost the empty 2_Normalize and became 0700).
	layout := func(m string) string {
		var entries []string
		root := path(modelDir(m))
		filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if rel != train.RecipeFile {
				entries = append(entries, fmt.Sprintf("%s %v", rel, info.Mode()))
			}
			return nil
		})
		return strings.Join(entries, "\n")
	}
	baseLayout := layout(baseRun)
	if !strings.Contains(baseLayout, "2_Normalize drwxr-xr-x") || !strings.HasPrefix(baseLayout, ". drwxr-xr-x") {
		t.Errorf("base model layout:\n%s", baseLayout)
	}
	for _, m := range trained {
		if got := layout(m); got != baseLayout {
			t.Errorf("model %s layout differs from the base's:\n%s\nbase:\n%s", m, got, baseLayout)
		}
	}
	// A trained model records the loss it was trained with (tDRO scores the
	// reference at that temperature).
	for _, m := range trained {
		jsonFile(filepath.Join(modelDir(m), train.RecipeFile))
		recipe, ok, err := train.TrainedRecipe(path(modelDir(m)))
		loss := recipe.LossConfig
		if err != nil || !ok || loss != cfg.Train.LossConfig {
			t.Errorf("model %s: recipe loss %+v (%v, %v), want %+v", m, loss, ok, err, cfg.Train.LossConfig)
		}
	}

	// tDRO: weights in the official schema, the per-step log, the plots.
	curr, err := dro.LoadWeights(path(droDir, weightsFile("curr")))
	if err != nil {
		t.Fatal(err)
	}
	weights := glob(filepath.Join(droDir, dro.WeightsDir, "*.json"))
	for _, w := range []string{"curr", "mean", "ema", "top70"} {
		if !contains(weights, filepath.Join(droDir, weightsFile(w))) {
			t.Errorf("no %s weights: %v", w, weights)
		}
	}
	for _, f := range weights {
		w, err := dro.LoadWeights(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		var pct int
		if _, err := fmt.Sscanf(filepath.Base(f), "top%d_weights.json", &pct); err == nil {
			// The official selection file: the selected domains only, equal weights.
			if n := len(mix.Domains) * pct / 100; len(w.DomainWeights) != n || len(w.Size) != n {
				t.Errorf("%s holds %d domains, want floor(%d*%d%%)", f, len(w.DomainWeights), len(mix.Domains), pct)
			}
			for d, v := range w.DomainWeights {
				if math.Abs(v-1/float64(len(w.DomainWeights))) > 1e-12 {
					t.Errorf("%s: %s weight %v, want equal weights", f, d, v)
				}
			}
		} else if len(w.DomainWeights) != len(mix.Domains) {
			t.Errorf("%s holds %d domains, want the mixture's %d", f, len(w.DomainWeights), len(mix.Domains))
		}
	}
	logLines := readJSONLines(t, path(droDir, "log.jsonl"))
	if len(logLines) != cfg.DRO.Steps {
		t.Errorf("dro/log.jsonl: %d lines for %d steps", len(logLines), cfg.DRO.Steps)
	}
	for i, line := range logLines {
		var fields map[string]json.RawMessage
		json.Unmarshal(line, &fields)
		for _, f := range []string{"step", "lr", "loss", "grad_norm", "alpha", "log_alpha", "scores", "proxy_loss", "ref_loss", "examples"} { // docs/dro.md
			if _, ok := fields[f]; !ok {
				t.Errorf("dro/log.jsonl line %d: no %q", i+1, f)
			}
		}
		var st dro.StepLog
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&st); err != nil {
			t.Errorf("dro/log.jsonl line %d: %v", i+1, err)
			continue
		}
		sum := 0.0
		for _, a := range st.Alpha {
			sum += a
		}
		if st.Step != i+1 || len(st.Alpha) != len(mix.Domains) || math.Abs(sum-1) > 1e-9 || len(st.ProxyLoss) == 0 || len(st.RefLoss) != len(st.ProxyLoss) {
			t.Errorf("dro/log.jsonl line %d: step %d, alpha %v (sum %v), %d proxy and %d reference losses", i+1, st.Step, st.Alpha, sum, len(st.ProxyLoss), len(st.RefLoss))
		}
		if i == len(logLines)-1 && cfg.DRO.SelectFrom == "curr" {
			for d, a := range st.Alpha {
				if math.Abs(a-curr.DomainWeights[d]) > 1e-12 {
					t.Errorf("curr_weights.json: %s weight %v, the last step's alpha %v", d, curr.DomainWeights[d], a)
				}
			}
		}
	}
	if got := baseNames(glob("dro/plots/*")); got != "alpha_final.png alpha_final.svg alpha_steps.png alpha_steps.svg" {
		t.Errorf("dro/plots: %s", got)
	}
	if fi, err := os.Stat(path(droDir, "checkpoint.bin")); err != nil || fi.Size() == 0 {
		t.Errorf("dro checkpoint: %v", err)
	}

	// Transferred mixtures and their statistics.
	path(mixturesDir, "stats.json")
	stats, err := loadStats(dir)
	if err != nil || len(stats.Mixtures) != 1+len(cfg.Transfer) || stats.Mixtures[0].Name != "uniform" {
		t.Fatalf("stats: %+v, %v", stats, err)
	}
	if got := len(glob("mixtures/*.json")); got != 1+len(cfg.Transfer) {
		t.Errorf("%d files in mixtures/, want stats.json and %d mixtures", got, len(cfg.Transfer))
	}
	for i, tr := range cfg.Transfer {
		m, err := data.LoadMixture(path(mixturePath(tr.Name)))
		if err != nil {
			t.Errorf("mixture %s: %v", tr.Name, err)
			continue
		}
		st := stats.Mixtures[i+1]
		records, tokens := 0, int64(0)
		for _, d := range m.Domains {
			if _, err := os.Stat(d.Path); err != nil || filepath.Dir(d.Path) != filepath.Join(dir, dataDir) {
				t.Errorf("mixture %s: domain %s: %v", tr.Name, d.Name, err)
			}
			switch tr.Strategy {
			case dro.TopK:
				if d.Weight != 1/float64(len(m.Domains)) {
					t.Errorf("mixture %s: %s weight %v, want equal weights", tr.Name, d.Name, d.Weight)
				}
			case dro.Ratio:
				if math.Abs(d.Weight-curr.DomainWeights[d.Name]) > 1e-12 {
					t.Errorf("mixture %s: %s weight %v, tDRO weight %v", tr.Name, d.Name, d.Weight, curr.DomainWeights[d.Name])
				}
			}
			records += stats.Domains[d.Name].Records
			tokens += stats.Domains[d.Name].Tokens
		}
		want := len(mix.Domains)
		if tr.Strategy == dro.TopK {
			want = int(float64(len(mix.Domains)) * tr.Percent / 100)
		}
		if len(m.Domains) != want || st.Name != tr.Name || len(st.Domains) != want || st.Records != records || st.Tokens != tokens || tokens <= 0 {
			t.Errorf("mixture %s: %d domains (want %d); stats %+v, want %d records and %d tokens", tr.Name, len(m.Domains), want, st, records, tokens)
		}
	}

	// Training logs: one line per step, drawing only from the mixture's domains.
	for i, m := range trained {
		c, err := ReadLossLog(path(trainLog(m)), m)
		if err != nil || len(c.Loss) != cfg.Train.Steps {
			t.Errorf("training log %s: %d steps, %v", m, len(c.Loss), err)
		}
		for j, line := range readJSONLines(t, path(trainLog(m))) {
			var rec struct {
				Step   int     `json:"step"`
				Domain string  `json:"domain"`
				Loss   float64 `json:"loss"`
			}
			if err := json.Unmarshal(line, &rec); err != nil || rec.Step != j+1 || !contains(stats.Mixtures[i].Domains, rec.Domain) || !(rec.Loss > 0) {
				t.Errorf("%s line %d: %+v, %v; domains %v", trainLog(m), j+1, rec, err, stats.Mixtures[i].Domains)
			}
		}
	}
	if got := len(glob("logs/*.jsonl")); got != len(trained) {
		t.Errorf("%d training logs for %d training runs", got, len(trained))
	}

	// Evaluation: the MTEB-style JSON and the TREC run file of every run and set.
	scores := map[string]map[string]map[string]any{} // run -> set -> measures
	for _, run := range evaluated {
		name := runName(run)
		scores[name] = map[string]map[string]any{}
		for _, ds := range cfg.Eval.Sets {
			var mteb evalreport.MTEB
			rel := filepath.Join(evalDir(run), "json", name, ds+".json")
			if err := readJSONLoose(path(rel), &mteb); err != nil || mteb.TaskName != ds || mteb.Tdro.Run != name ||
				len(mteb.Tdro.PerQuery) == 0 || len(mteb.Tdro.PerQuery) > cfg.Eval.MaxQueries || len(mteb.Scores["test"]) != 1 {
				t.Errorf("%s: %v (task %q, run %q, %d queries)", rel, err, mteb.TaskName, mteb.Tdro.Run, len(mteb.Tdro.PerQuery))
				continue
			}
			scores[name][ds] = mteb.Scores["test"][0]
			if v, ok := mteb.Scores["test"][0]["main_score"].(float64); !ok || v < 0 || v > 1 {
				t.Errorf("%s: main_score %v", rel, mteb.Scores["test"][0]["main_score"])
			}
			r, _, err := metrics.ReadRun(path(evalDir(run), "runs", ds, name+".trec"))
			if err != nil || len(r) != len(mteb.Tdro.PerQuery) {
				t.Errorf("run file %s/%s: %d queries, %v", run, ds, len(r), err)
			}
		}
		if res, err := evalreport.ReadJSON(filepath.Join(dir, evalDir(run), "json")); err != nil || len(res.Runs) != 1 || len(res.Runs[0].Datasets) != len(cfg.Eval.Sets) {
			t.Errorf("eval/%s/json does not read back: %v", run, err)
		}
		if n := len(glob(filepath.Join(evalDir(run), "*", "*", "*"))); n != 2*len(cfg.Eval.Sets)+1 {
			t.Errorf("eval/%s holds %d files, want a JSON and a run file per set, and the evaluation order", run, n)
		}
		if len(glob(filepath.Join(evalDir(run), "json", "*", "ORDER"))) != 1 {
			t.Errorf("eval/%s/json has no ORDER file", run)
		}
	}
	// cell checks a results cell of either report against the eval JSON.
	cell := func(where, caption, run, ds, got string) {
		measure := strings.Replace(caption, "@", "_at_", 1) // ndcg@10 -> ndcg_at_10, the MTEB name
		v, err := resultNumber(got)
		var want float64
		if ds == "mean" {
			for _, s := range cfg.Eval.Sets {
				x, _ := scores[run][s][measure].(float64)
				want += x / float64(len(cfg.Eval.Sets))
			}
		} else {
			want, _ = scores[run][ds][measure].(float64)
		}
		if err != nil || fmt.Sprintf("%.4f", v) != fmt.Sprintf("%.4f", want) {
			t.Errorf("%s: %s of %s on %s is %q, the eval JSON says %.4f", where, caption, run, ds, got, want)
		}
	}
	// resultsTable checks a results table of either report: a column per
	// run, a row per set then the mean row (labelled mean), every number.
	resultsTable := func(where, caption string, header []string, rows [][]string, mean string) {
		if strings.Join(header, " ") != strings.Join(columns, " ") || len(rows) != len(cfg.Eval.Sets)+1 {
			t.Errorf("%s %s: columns %v, %d rows; want %v and %d sets + mean", where, caption, header, len(rows), columns, len(cfg.Eval.Sets))
			return
		}
		for i, row := range rows {
			ds, label := "mean", mean
			if i < len(cfg.Eval.Sets) {
				ds, label = cfg.Eval.Sets[i], cfg.Eval.Sets[i]
			}
			if row[0] != label {
				t.Errorf("%s %s: row %d is %s, want %s", where, caption, i, row[0], label)
			}
			for j, c := range row[1:] {
				cell(where, caption, columns[j+1], ds, c)
			}
		}
	}

	// Figures: every SVG parses as XML with an <svg> root, every PNG decodes.
	if got := baseNames(glob("plots/*")); got != "loss.png loss.svg results_ndcg10.svg" {
		t.Errorf("plots: %s", got)
	}
	for _, f := range append(glob("plots/*"), glob("dro/plots/*")...) {
		if err := checkFigure(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}

	// report.md: every table well-formed; the results with a row per set
	// and the mean, a column per run, numbers equal to the eval JSON's.
	mdBytes, err := os.ReadFile(path("report.md"))
	if err != nil {
		t.Fatal(err)
	}
	md := string(mdBytes)
	tables, err := parseMarkdownTables(md)
	if err != nil {
		t.Fatalf("report.md: %v", err)
	}
	results := 0
	for _, tb := range tables {
		switch {
		case tb.Header[0] == "dataset":
			results++
			resultsTable("report.md", strings.Trim(tb.Caption, "*"), tb.Header, tb.Rows, "*mean*")
		case tb.Header[0] == "stage":
			if len(tb.Rows) != len(names)-1 { // the report stage is still running when it writes the table
				t.Errorf("report.md stage table: %d rows for %d stages", len(tb.Rows), len(names)-1)
			}
		case tb.Header[0] == "domain":
			if len(tb.Rows) != len(mix.Domains) {
				t.Errorf("report.md weights table: %d rows for %d domains", len(tb.Rows), len(mix.Domains))
			}
		case tb.Header[0] == "mixture":
			if len(tb.Rows) != len(stats.Mixtures) || !strings.HasPrefix(strings.Join(tb.Rows[1], " | "), "top70 | top-k 70% | 2 |") {
				t.Errorf("report.md mixtures table: %v", tb.Rows)
			}
		}
	}
	if results != 2 { // nDCG@10 and Recall@100
		t.Errorf("report.md: %d results tables, want 2", results)
	}
	if !strings.Contains(md, "not trained twice") {
		t.Error("report.md does not say the uniform baseline is the reference")
	}
	mdFigs := mdImages(md)
	if got := strings.Join(mdFigs, " "); got != "dro/plots/alpha_final.png dro/plots/alpha_steps.png plots/loss.png plots/results_ndcg10.svg" {
		t.Errorf("report.md figures: %s", got)
	}

	// report.html: a well-formed page with every section.
	h, err := os.ReadFile(path("report.html"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseHTML(h)
	if err != nil {
		t.Fatalf("report.html does not parse: %v", err)
	}
	if html := doc.elems(); len(html) != 1 || html[0].Name != "html" || len(doc.tag("head")) != 1 || len(doc.tag("body")) != 1 ||
		len(doc.tag("head")[0].tag("title")) != 1 || doc.tag("head")[0].tag("title")[0].text() == "" {
		t.Fatalf("report.html: not one <html> with a head, a title and a body")
	}
	sec := htmlSections(doc.tag("body")[0])
	for _, s := range []string{"Pipeline", "Learned domain weights (stage 1, tDRO)", "Data used per mixture", "Training loss", "Retrieval results"} {
		if _, ok := sec[s]; !ok {
			t.Errorf("report.html: no section %q", s)
		}
	}
	find := func(section string, keep func(*htmlNode) bool) []*htmlNode {
		var out []*htmlNode
		for _, e := range sec[section] {
			out = append(out, e.all(keep)...)
		}
		return out
	}
	is := func(name, class string) func(*htmlNode) bool {
		return func(n *htmlNode) bool { return n.Name == name && (class == "" || n.hasClass(class)) }
	}
	img := func(src string) func(*htmlNode) bool {
		return func(n *htmlNode) bool { return n.Name == "img" && n.Attr["src"] == src }
	}
	// The pipeline diagram: an inline SVG with a box per stage (the
	// evaluations in one), and the table of every stage.
	var boxes []string
	for _, g := range find("Pipeline", is("g", "")) {
		if tl := g.tag("title"); len(tl) == 1 {
			boxes = append(boxes, tl[0].text())
		}
	}
	if svg := find("Pipeline", is("svg", "")); len(svg) != 1 || strings.Join(boxes, " ") != "base prepare train-reference dro transfer train-top70 train-ratio eval" {
		t.Errorf("report.html pipeline diagram: %d SVGs, boxes %v", len(svg), boxes)
	}
	if tb := find("Pipeline", is("table", "")); len(tb) != 1 {
		t.Errorf("report.html: %d stage tables", len(tb))
	} else if st := readHTMLTable(tb[0]); len(st.Rows) != len(names)-1 {
		t.Errorf("report.html stage table: %d rows for %d stages", len(st.Rows), len(names)-1)
	} else {
		for i, row := range st.Rows {
			if row[0] != names[i] || row[4] != string(Ran) {
				t.Errorf("report.html stage table row %d: %v, want %s ran", i, row, names[i])
			}
		}
	}
	// The weight chart, the trajectories and the table of every domain.
	w := "Learned domain weights (stage 1, tDRO)"
	if len(find(w, img("dro/plots/alpha_final.png"))) != 1 || len(find(w, img("dro/plots/alpha_steps.png"))) != 1 {
		t.Error("report.html: no weight chart or trajectories")
	}
	if tb := find(w, is("table", "")); len(tb) != 1 || len(readHTMLTable(tb[0]).Rows) != len(mix.Domains) {
		t.Errorf("report.html: no weights table with a row per domain")
	}
	// Data per mixture: a row per mixture, counts as in stats.json.
	if tb := find("Data used per mixture", is("table", "")); len(tb) != 1 {
		t.Error("report.html: no data-per-mixture table")
	} else {
		mt := readHTMLTable(tb[0])
		if len(mt.Rows) != len(stats.Mixtures) {
			t.Errorf("report.html data per mixture: %d rows, want %d", len(mt.Rows), len(stats.Mixtures))
		}
		for i, row := range mt.Rows {
			if i < len(stats.Mixtures) && (row[0] != stats.Mixtures[i].Name || row[2] != fmt.Sprint(len(stats.Mixtures[i].Domains)) ||
				row[3] != thousands(stats.Mixtures[i].Records) || row[4] != thousands(int(stats.Mixtures[i].Tokens))) {
				t.Errorf("report.html data per mixture row %v, stats %+v", row, stats.Mixtures[i])
			}
		}
	}
	if len(find("Training loss", img("plots/loss.png"))) != 1 {
		t.Error("report.html: no loss curves")
	}
	// Results: a table per measure, a column per run, a row per set and the mean.
	rt := find("Retrieval results", is("table", "tdro-results"))
	if len(rt) != 2 || len(find("Retrieval results", img("plots/results_ndcg10.svg"))) != 1 {
		t.Errorf("report.html: %d results tables, want 2, and the nDCG@10 chart", len(rt))
	}
	captions := find("Retrieval results", is("h3", ""))
	for i, tb := range rt {
		caption := ""
		if i < len(captions) {
			caption = captions[i].text()
		}
		r := readHTMLTable(tb)
		resultsTable("report.html", caption, r.Header, r.Rows, "mean")
	}
	// Every figure either report shows exists and parses.
	var htmlFigs []string
	for _, n := range doc.tag("img") {
		htmlFigs = append(htmlFigs, n.Attr["src"])
	}
	if strings.Join(htmlFigs, " ") != strings.Join(mdFigs, " ") {
		t.Errorf("report.html shows %v, report.md %v", htmlFigs, mdFigs)
	}
	for _, f := range htmlFigs {
		if err := checkFigure(path(f)); err != nil {
			t.Errorf("report.html figure: %v", err)
		}
	}

	// Nothing in the run directory went unchecked (checkpoints/ is scratch).
	filepath.Walk(dir, func(f string, info os.FileInfo, err error) error {
		rel, _ := filepath.Rel(dir, f)
		if err != nil || rel == "checkpoints" {
			return filepath.SkipDir
		}
		if info.Mode().IsRegular() && !checked[rel] {
			t.Errorf("%s: an artefact this test does not check", rel)
		}
		return nil
	})

	rerunSkipsAll(t, tinyOptions(t, dir))
}

// tinyConfig is the tiny preset with change applied.
func tinyConfig(t *testing.T, change func(*Config)) *Config {
	t.Helper()
	cfg, err := LoadConfig("tiny", "")
	if err != nil {
		t.Fatal(err)
	}
	change(cfg)
	return cfg
}

// wantProblem requires cfg's validation to fail with a message holding want.
func wantProblem(t *testing.T, cfg *Config, want string) {
	t.Helper()
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Validate() = %v, want %q", err, want)
	}
}

// runStages runs opt's pipeline and names the stages it ran, in order.
func runStages(t *testing.T, opt Options) []string {
	t.Helper()
	res, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	var ran []string
	for _, r := range res {
		ran = append(ran, r.Stage)
	}
	return ran
}

// rerunSkipsAll runs opt's finished run again: every stage is up to date.
func rerunSkipsAll(t *testing.T, opt Options) {
	t.Helper()
	res, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Status != Skipped {
			t.Errorf("rerun: stage %s %s, want skipped", r.Stage, r.Status)
		}
	}
}

// readJSONLines reads a JSONL file; every line must be a JSON object.
func readJSONLines(t *testing.T, path string) []json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
		return nil
	}
	var out []json.RawMessage
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Errorf("%s line %d: %v", path, i+1, err)
			continue
		}
		out = append(out, json.RawMessage(line))
	}
	return out
}

func readJSONLoose(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// TestSIGKILLDuringTrainingResumes kills the pipeline process with SIGKILL
// in the middle of stage 0 (the reference training) and, in another run, in
// the middle of stage 1 (tDRO), once the stage has written a checkpoint;
// the rerun must skip what had finished, resume the killed stage from its
// checkpoint, and end with models, weights, mixtures and runs identical to
// an uninterrupted run's. scripts/pipeline_kill.sh does the same for every
// stage.
func TestSIGKILLDuringTrainingResumes(t *testing.T) {
	if os.Getenv("TDRO_PIPELINE_RUN") != "" {
		return
	}
	refDir, _ := uninterrupted(t)
	for _, tc := range []struct {
		stage, checkpoint string
		done              []string // stages that finished before it
	}{
		{"train-" + referenceRun, filepath.Join(checkpointDir(referenceRun), "checkpoint.bin"), []string{"base", "prepare"}},
		{"dro", filepath.Join(droDir, "checkpoint.bin"), []string{"base", "prepare", "train-" + referenceRun}},
	} {
		t.Run(tc.stage, func(t *testing.T) {
			dir := killDuring(t, tc.stage, tc.checkpoint, 3*time.Minute)

			res, err := Run(context.Background(), tinyOptions(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			status := map[string]Status{}
			for _, r := range res {
				status[r.Stage] = r.Status
			}
			for _, st := range tc.done {
				if status[st] != Skipped {
					t.Errorf("after SIGKILL in %s: %s %s, want skipped", tc.stage, st, status[st])
				}
			}
			if status[tc.stage] != Resumed {
				t.Errorf("after SIGKILL: %s %s, want resumed", tc.stage, status[tc.stage])
			}
			same := func(rel string) {
				a, errA := HashPath(filepath.Join(refDir, rel))
				b, errB := HashPath(filepath.Join(dir, rel))
				if errA != nil || errB != nil || a != b {
					t.Errorf("%s differs from the uninterrupted run (%v %v)", rel, errA, errB)
				}
			}
			for _, m := range []string{"reference", "top70", "ratio"} {
				same(filepath.Join(modelDir(m), "model.safetensors"))
				same(filepath.Join(evalDir(m), "runs"))
			}
			same(filepath.Join(droDir, dro.WeightsDir))
			same(mixturesDir)
		})
	}
}

// killDuring runs the pipeline helper process (env: extra environment) in
// a fresh directory and SIGKILLs it once stage has written checkpoint
// (relative to the run directory), and returns the directory. A kill that
// lands after the stage finished tests nothing: it tries again in a fresh
// directory (it lands mid-stage almost always), at most five times.
func killDuring(t *testing.T, stage, checkpoint string, limit time.Duration, env ...string) string {
	t.Helper()
	for attempt := 1; ; attempt++ {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestPipelineHelper$")
		cmd.Env = append(append(os.Environ(), "TDRO_PIPELINE_RUN="+dir), env...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		crashtest.KillWhen(t, cmd, limit, stage+"'s first checkpoint", func() bool {
			_, err := os.Stat(filepath.Join(dir, checkpoint))
			return err == nil
		})
		if m, _ := LoadManifest(dir, stage); m == nil {
			return dir
		}
		if attempt == 5 {
			t.Fatalf("%s finished before the kill landed in 5 attempts: nothing was tested", stage)
		}
		t.Logf("attempt %d: %s finished before the kill landed; again", attempt, stage)
	}
}

// TestPipelineHelper is the process TestSIGKILLDuringTrainingResumes kills.
func TestPipelineHelper(t *testing.T) {
	dir := os.Getenv("TDRO_PIPELINE_RUN")
	if dir == "" {
		t.Skip("helper process only")
	}
	if os.Getenv("TDRO_PIPELINE_STUDY") != "" {
		Run(context.Background(), studyOptions(t, dir))
		return
	}
	Run(context.Background(), tinyOptions(t, dir))
}

func TestInitCheckpointReplacesBase(t *testing.T) {
	opt := tinyOptions(t, t.TempDir())
	opt.Config.Model = ModelConfig{Init: "/models/my-bert"}
	if err := opt.Config.Validate(); err != nil {
		t.Fatal(err)
	}
	stages, err := Stages(opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stages {
		if st.Name == "base" || contains(st.After, "base") {
			t.Fatalf("stage %s still uses a from-scratch base", st.Name)
		}
		if (strings.HasPrefix(st.Name, "train-") || st.Name == "eval-"+baseRun) && !contains(st.Inputs, "/models/my-bert") {
			t.Errorf("stage %s does not hash the checkpoint it starts from: %v", st.Name, st.Inputs)
		}
	}
	opt.Config.Model.Preset = "tiny-bert"
	if err := opt.Config.Validate(); err == nil || !strings.Contains(err.Error(), "exactly one") {
		t.Fatalf("init and preset together: %v", err)
	}
}

func TestPrepareCopiesUserMixtureWithUniformWeights(t *testing.T) {
	src := t.TempDir()
	recs := func(n int) []data.Record { // query ids are unique within a domain
		var out []data.Record
		for i := range n {
			out = append(out, data.Record{QueryID: fmt.Sprintf("q%d", i), Query: "what", Positives: []data.Passage{{Text: "that"}}})
		}
		return out
	}
	mix := &data.Mixture{}
	for i, name := range []string{"a", "b"} {
		p := filepath.Join(src, name+".jsonl")
		if err := data.WriteRecords(p, recs(i+1)); err != nil {
			t.Fatal(err)
		}
		mix.Domains = append(mix.Domains, data.Domain{Name: name, Path: p, Weight: float64(3 + i)})
	}
	if err := mix.Save(filepath.Join(src, "mixture.json")); err != nil {
		t.Fatal(err)
	}
	opt := tinyOptions(t, t.TempDir())
	opt.Config.Prepare = PrepareConfig{Mixture: filepath.Join(src, "mixture.json")}
	e := &Engine{Dir: opt.Out, Log: io.Discard}
	if _, err := e.Run(context.Background(), []Stage{prepareStage(opt)}); err != nil {
		t.Fatal(err)
	}
	got, err := data.LoadMixture(filepath.Join(opt.Out, mixtureFile))
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range got.Domains {
		if d.Weight != 0.5 || d.Records != i+1 || filepath.Dir(d.Path) != filepath.Join(opt.Out, dataDir) {
			t.Errorf("domain %+v: want weight 0.5, %d records, copied under data/", d, i+1)
		}
	}
	// Editing a records file reruns the stage.
	if err := data.WriteRecords(filepath.Join(src, "a.jsonl"), recs(2)); err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(context.Background(), []Stage{prepareStage(opt)})
	if err != nil || res[0].Status != Ran {
		t.Fatalf("after editing a.jsonl: %v %v", res, err)
	}
}

func TestPresetsLoadAndValidate(t *testing.T) {
	for _, name := range configs.Names() {
		cfg, err := LoadConfig(name, "")
		if err != nil {
			t.Errorf("preset %s: %v", name, err)
			continue
		}
		if _, err := Stages(Options{Config: cfg, Data: "/data", Out: "/run"}); err != nil {
			t.Errorf("preset %s: stages: %v", name, err)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"train": {"stepz": 3}}`), 0o644)
	if _, err := LoadConfig("default", bad); err == nil || !strings.Contains(err.Error(), "stepz") {
		t.Errorf("misspelt field: %v", err)
	}
	os.WriteFile(bad, []byte(`{"transfer": [{"name": "x", "strategy": "top-k", "percent": 0}], "dro": {"steps": 0}}`), 0o644)
	if _, err := LoadConfig("default", bad); err == nil || !strings.Contains(err.Error(), "percent") || !strings.Contains(err.Error(), "steps") {
		t.Errorf("bad values: %v", err)
	}
	if _, err := LoadConfig("huge", ""); err == nil || !strings.Contains(err.Error(), "tiny") {
		t.Errorf("unknown preset: %v", err)
	}
}

// TestOfficialPreset: the official preset uses the official recipe's values
// in every stage (docs/dro.md), and the default scores tDRO at the
// reference's own temperature.
func TestOfficialPreset(t *testing.T) {
	cfg, err := LoadConfig("official", "")
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.DRO
	if cfg.Train.Temperature != 0.002 || d.Temperature != 0.002 || d.Negatives != 7 || d.Eta != 0.02 ||
		d.Measure != dro.RelativeOfficial || d.MicroBatches != 4 || d.Absent != dro.AbsentZero ||
		cfg.Train.WeightDecay != 0.1 || d.WeightDecay != 0.1 || len(cfg.Transfer) != 1 || cfg.Transfer[0].Percent != 70 {
		t.Errorf("official preset: train %+v, dro %+v, transfer %+v", cfg.Train, d, cfg.Transfer)
	}
	def, err := LoadConfig("default", "")
	if err != nil {
		t.Fatal(err)
	}
	if def.DRO.Temperature != 0 {
		t.Errorf("default dro temperature %v, want 0 (the reference's)", def.DRO.Temperature)
	}
}

// TestSilentOverridesAreErrors: settings the pipeline owns (a stage's
// model, data, output and seed) and settings tDRO cannot honour are errors
// naming the field, not accepted and ignored.
func TestSilentOverridesAreErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`{"train": {"model": "small-bert"}}`, `train.model: the pipeline sets it`},
		{`{"train": {"mixture": "m.json", "out": "x"}}`, `train.mixture`},
		{`{"dro": {"seed": 7}}`, `dro.seed: the pipeline sets it for every stage; use the top-level "seed"`},
		{`{"dro": {"reference": "r", "base": "b"}}`, `dro.base`},
		{`{"dro": {"hard_negatives_only": false}}`, `hard_negatives_only`},
	} {
		path := filepath.Join(t.TempDir(), "c.json")
		os.WriteFile(path, []byte(tc.doc), 0o644)
		if _, err := LoadConfig("tiny", path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.doc, err, tc.want)
		}
	}
}

// TestPrepareUserMixtureLikeBundled: a user's mixture gets the bundled
// data's prepare — a training query that repeats an evaluation query is
// dropped, records without negatives get BM25 negatives — as docs/pipeline.md
// says.
func TestPrepareUserMixtureLikeBundled(t *testing.T) {
	dd := shareddata.Dir(t, "eval/classic/adi")
	adi, err := collection.LoadSMART(filepath.Join(dd, "eval/classic/adi"))
	if err != nil {
		t.Fatal(err)
	}
	// The user's own evaluation set, a BEIR folder.
	own := filepath.Join(t.TempDir(), "winter")
	ownQuery := "which flowers bloom in the coldest winter months"
	for name, text := range map[string]string{
		"corpus.jsonl":   `{"_id": "d1", "title": "", "text": "snowdrops and hellebores flower in winter"}` + "\n",
		"queries.jsonl":  `{"_id": "q1", "text": "` + ownQuery + `"}` + "\n",
		"qrels/test.tsv": "query-id\tcorpus-id\tscore\nq1\td1\t1\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(own, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(own, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	adiQuery := adi.Queries[0].Text
	var recs []data.Record
	for i := range 8 {
		recs = append(recs, data.Record{QueryID: fmt.Sprint(i), Query: fmt.Sprintf("how to grow plant number %d in a garden", i),
			Positives: []data.Passage{{Text: fmt.Sprintf("plant %d grows in rich soil with water and sun", i)}}})
	}
	recs = append(recs, data.Record{QueryID: "adi", Query: adiQuery, Positives: []data.Passage{{Text: "an answer"}}},
		data.Record{QueryID: "own", Query: ownQuery, Positives: []data.Passage{{Text: "another answer"}}})
	src := t.TempDir()
	if err := data.WriteRecords(filepath.Join(src, "garden.jsonl"), recs); err != nil {
		t.Fatal(err)
	}
	mix := &data.Mixture{Domains: []data.Domain{{Name: "garden", Path: filepath.Join(src, "garden.jsonl"), Language: "en", Weight: 1}}}
	if err := mix.Save(filepath.Join(src, "mixture.json")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, against string
		sets          []string
		kept          []string // of the two queries that repeat an evaluation query
	}{
		{"bundled sets by default", "", nil, []string{"own"}},
		{"bundled and the user's sets", "", []string{"adi", own}, nil},
		{"only the run's sets", DedupRun, []string{own}, []string{"adi"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt := tinyOptions(t, t.TempDir())
			opt.Data = dd
			opt.Config.Prepare = PrepareConfig{Mixture: filepath.Join(src, "mixture.json"), Negatives: 2, DedupAgainst: tc.against}
			opt.Config.Eval.Sets = tc.sets
			e := &Engine{Dir: opt.Out, Log: io.Discard}
			if _, err := e.Run(context.Background(), []Stage{prepareStage(opt)}); err != nil {
				t.Fatal(err)
			}
			got, err := data.ReadRecords(filepath.Join(opt.Out, dataDir, "garden.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			var kept []string
			for _, r := range got {
				if r.QueryID == "adi" || r.QueryID == "own" {
					kept = append(kept, r.QueryID)
				}
				if len(r.Negatives) != 2 {
					t.Errorf("record %s has %d negatives, want 2 mined", r.QueryID, len(r.Negatives))
				}
			}
			if len(got) != 8+len(tc.kept) || !slices.Equal(kept, tc.kept) {
				t.Errorf("%d records, of the evaluation queries kept %v; want %d and %v", len(got), kept, 8+len(tc.kept), tc.kept)
			}
		})
	}
}
