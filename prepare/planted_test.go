package prepare

import (
	"path/filepath"
	"testing"

	"github.com/tdro/tdro/collection"
	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/internal/shareddata"
)

// TestMakePlanted: the held-out evaluation half shares no query with the
// training domains; a good record's positives are the task's relevant
// passages, a noise record's positive never is; neutral domains keep their
// own labels; the mixture loads.
func TestMakePlanted(t *testing.T) {
	dataDir := shareddata.Dir(t)
	out := t.TempDir()
	p, err := MakePlanted(PlantedOptions{DataDir: dataDir, OutDir: out, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	task, err := collection.Select(dataDir, []string{p.Task})
	if err != nil {
		t.Fatal(err)
	}
	qrels := task[0].Qrels
	held, err := collection.LoadBEIR(filepath.Join(out, p.Eval), "test")
	if err != nil {
		t.Fatal(err)
	}
	heldQ := map[string]bool{}
	for _, q := range held.Queries {
		heldQ[q.ID] = true
	}
	mix, err := data.LoadMixture(filepath.Join(out, p.Mixture))
	if err != nil {
		t.Fatal(err)
	}
	if len(mix.Domains) != len(p.Good)+len(p.Noise)+len(p.Neutral) || len(p.Good) != 2 || len(p.Noise) != 2 {
		t.Fatalf("domains %d: good %v noise %v neutral %v", len(mix.Domains), p.Good, p.Noise, p.Neutral)
	}
	trained := 0
	for _, d := range mix.Domains {
		recs, err := data.ReadRecords(d.Path)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			rel := false
			for _, pos := range r.Positives {
				rel = rel || qrels[r.QueryID][pos.DocID] > 0
			}
			switch {
			case d.Name == "good-a" || d.Name == "good-b":
				trained++
				if heldQ[r.QueryID] || !rel {
					t.Fatalf("%s: query %s held out %v, positive relevant %v", d.Name, r.QueryID, heldQ[r.QueryID], rel)
				}
			case d.Name == "noise-a" || d.Name == "noise-b":
				if heldQ[r.QueryID] || rel {
					t.Fatalf("%s: query %s held out %v, positive relevant %v", d.Name, r.QueryID, heldQ[r.QueryID], rel)
				}
			}
		}
	}
	if trained+len(held.Queries) != len(task[0].Queries) || len(held.Queries) < len(task[0].Queries)/2 {
		t.Errorf("%d trained + %d held out of %d queries", trained, len(held.Queries), len(task[0].Queries))
	}
}
