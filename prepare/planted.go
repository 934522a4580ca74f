package prepare

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/tdro/tdro/collection"
	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/internal/atomicfile"
)

// PlantedOptions configure Planted.
type PlantedOptions struct {
	DataDir string   // the bundled data (its evaluation sets are the source)
	OutDir  string   // where the planted mixture and its evaluation set go
	Task    string   // the evaluation set whose task the good domains repeat ("xquadr-en")
	Neutral []string // evaluation sets turned into off-task training domains ("cran", "cisi")
	Seed    uint64
}

// Planted is a mixture with a known answer: which domains a mixture learner
// should find.
type Planted struct {
	Task    string   `json:"task"`
	Eval    string   `json:"eval"`    // the held-out half of the task, a BEIR folder (relative to the planted directory)
	Mixture string   `json:"mixture"` // relative to the planted directory
	Good    []string `json:"good"`    // the task's own queries and relevant passages: the domains to find
	Noise   []string `json:"noise"`   // the same queries with random passages as positives: pure noise
	Neutral []string `json:"neutral"` // other tasks with real labels
}

// MakePlanted writes a planted benchmark under opt.OutDir: the task's
// queries are split in halves by a seeded shuffle; one half is the
// evaluation set (eval/TASK-heldout, with the task's whole corpus), the
// other becomes two good domains (each query with its relevant passages)
// and two noise domains (each query with a random passage of the corpus as
// its positive); each Neutral set becomes a domain with its own labels.
// A learner that finds the answer weights good over neutral over noise.
func MakePlanted(opt PlantedOptions) (*Planted, error) {
	if opt.Task == "" {
		opt.Task = "xquadr-en"
	}
	if opt.Neutral == nil {
		opt.Neutral = []string{"cran", "cisi"}
	}
	cols, err := collection.Select(opt.DataDir, append([]string{opt.Task}, opt.Neutral...))
	if err != nil {
		return nil, err
	}
	task := cols[0]
	rng := rand.New(rand.NewPCG(opt.Seed, 0x9e3779b97f4a7c15))
	queries := slices.Clone(task.Queries)
	rng.Shuffle(len(queries), func(i, j int) { queries[i], queries[j] = queries[j], queries[i] })
	half := len(queries) / 2
	trainQ, evalQ := queries[:half], queries[half:]
	if len(trainQ) < 40 {
		return nil, fmt.Errorf("planted: %s has %d queries, too few to split", opt.Task, len(task.Queries))
	}
	p := &Planted{Task: opt.Task, Eval: filepath.Join("eval", opt.Task+"-heldout"), Mixture: "mixture.json"}

	held := &collection.Collection{Name: opt.Task + "-heldout", Language: task.Language, Instruction: task.Instruction, Docs: task.Docs, Qrels: map[string]map[string]int{}}
	for _, q := range sortedQueries(evalQ) {
		held.Queries = append(held.Queries, q)
		held.Qrels[q.ID] = task.Qrels[q.ID]
	}
	if err := collection.WriteBEIR(filepath.Join(opt.OutDir, p.Eval), "test", held); err != nil {
		return nil, err
	}

	docs := map[string]collection.Doc{}
	for _, d := range task.Docs {
		docs[d.ID] = d
	}
	passage := func(d collection.Doc) data.Passage { return data.Passage{DocID: d.ID, Title: d.Title, Text: d.Text} }
	good := [][]data.Record{nil, nil}
	noise := [][]data.Record{nil, nil}
	for i, q := range trainQ {
		var pos []data.Passage
		for _, id := range sortedKeys(task.Qrels[q.ID]) {
			if task.Qrels[q.ID][id] > 0 {
				pos = append(pos, passage(docs[id]))
			}
		}
		if len(pos) == 0 {
			continue
		}
		good[i%2] = append(good[i%2], data.Record{QueryID: q.ID, Query: q.Text, Positives: pos})
		random := task.Docs[rng.IntN(len(task.Docs))]
		for task.Qrels[q.ID][random.ID] > 0 {
			random = task.Docs[rng.IntN(len(task.Docs))]
		}
		noise[i%2] = append(noise[i%2], data.Record{QueryID: q.ID, Query: q.Text, Positives: []data.Passage{passage(random)}})
	}
	mix := &data.Mixture{}
	add := func(name, language, instruction string, recs []data.Record) error {
		path := filepath.Join(opt.OutDir, "train", name+".jsonl")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := data.WriteRecords(path, recs); err != nil {
			return err
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return err
		}
		d := data.Domain{Name: name, Path: abs, Language: language, Weight: 1, Records: len(recs)}
		if instruction != "" {
			d.Instructions = []string{instruction}
		}
		mix.Domains = append(mix.Domains, d)
		return nil
	}
	for i, suffix := range []string{"a", "b"} {
		name := "good-" + suffix
		if err := add(name, task.Language, task.Instruction, good[i]); err != nil {
			return nil, err
		}
		p.Good = append(p.Good, name)
		name = "noise-" + suffix
		if err := add(name, task.Language, task.Instruction, noise[i]); err != nil {
			return nil, err
		}
		p.Noise = append(p.Noise, name)
	}
	for _, c := range cols[1:] {
		var recs []data.Record
		cd := map[string]collection.Doc{}
		for _, d := range c.Docs {
			cd[d.ID] = d
		}
		for _, q := range c.Queries {
			var pos []data.Passage
			for _, id := range sortedKeys(c.Qrels[q.ID]) {
				if c.Qrels[q.ID][id] > 0 && strings.TrimSpace(cd[id].Text) != "" { // a few SMART documents are empty
					pos = append(pos, passage(cd[id]))
				}
			}
			if len(pos) > 0 {
				recs = append(recs, data.Record{QueryID: q.ID, Query: q.Text, Positives: pos})
			}
		}
		if err := add("neutral-"+c.Name, c.Language, c.Instruction, recs); err != nil {
			return nil, err
		}
		p.Neutral = append(p.Neutral, "neutral-"+c.Name)
	}
	if err := mix.Save(filepath.Join(opt.OutDir, p.Mixture)); err != nil {
		return nil, err
	}
	return p, atomicfile.WriteJSON(filepath.Join(opt.OutDir, "planted.json"), p)
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortedQueries(qs []collection.Query) []collection.Query {
	out := slices.Clone(qs)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
