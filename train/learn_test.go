package train

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/internal/shareddata"
	"github.com/tdro/tdro/model"
	"github.com/tdro/tdro/prepare"
	"github.com/tdro/tdro/tokenize"
)

// TestTrainLossDecreasesAndRetrievalImproves trains tiny-bert from scratch
// with the earlier default recipe (configs/default.json's until it moved to
// the static model) on the bundled default mixture as the pipeline prepares
// it, and checks that the loss falls and
// that retrieval on records of the same domains that training never saw
// beats the untrained model.
func TestTrainLossDecreasesAndRetrievalImproves(t *testing.T) {
	mixture, held := preparedMixture(t, 200, 40)
	cfg := smallConfig(t, mixture)
	// That train stage (and DefaultConfig's optimizer and loss: lr 5e-4
	// cosine, temperature 0.05). 120 steps of 16 queries are
	// about one pass over the 12 x ~160 training records.
	cfg.Steps, cfg.BatchSize, cfg.Negatives, cfg.QueryMaxLen, cfg.PassageMaxLen = 120, 16, 1, 32, 64
	cfg.LearningRate, cfg.WarmupSteps, cfg.CheckpointEvery = 5e-4, 10, 0
	untrained, err := BuildModel(cfg.Model, cfg.Tokenizer, nil, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	before := heldOutRetrieval(t, untrained, held, cfg)
	res, err := Run(context.Background(), cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	after := heldOutRetrieval(t, res.Model, held, cfg)
	log := readLog(t, res.Log)
	if len(log) != cfg.Steps {
		t.Fatalf("log has %d lines, want %d", len(log), cfg.Steps)
	}
	mean := func(es []LogEntry) float64 {
		s := 0.0
		for _, e := range es {
			s += e.Loss
		}
		return s / float64(len(es))
	}
	// Each batch is from one domain and domains differ in loss, so the means
	// run over 20 steps (~1.7 batches per domain).
	first, last := mean(log[:20]), mean(log[len(log)-20:])
	acc0, mrr0 := before.mean()
	acc1, mrr1 := after.mean()
	improved := 0
	for i, d := range held {
		t.Logf("%-12s Acc@1 %.3f -> %.3f, MRR %.3f -> %.3f", d.Name, before.acc1[i], after.acc1[i], before.mrr[i], after.mrr[i])
		if after.acc1[i] > before.acc1[i] {
			improved++
		}
	}
	t.Logf("loss: first 20 steps %.3f, last 20 %.3f; held-out Acc@1 %.3f -> %.3f, MRR %.3f -> %.3f (untrained -> trained), Acc@1 up in %d of %d domains; %.0f tokens/s",
		first, last, acc0, acc1, mrr0, mrr1, improved, len(held), log[len(log)-1].TokensPerSec)
	// Thresholds are about half the smallest change seen over training
	// seeds 1-5 (docs/train.md, "Learning").
	if !(last < first-0.4) {
		t.Errorf("loss did not decrease: first 20 steps %.3f, last 20 %.3f", first, last)
	}
	if !(acc1 > acc0+0.06) {
		t.Errorf("held-out Acc@1 did not improve: untrained %.3f, trained %.3f", acc0, acc1)
	}
	if !(mrr1 > mrr0+0.06) {
		t.Errorf("held-out MRR did not improve: untrained %.3f, trained %.3f", mrr0, mrr1)
	}
	if improved < 9 {
		t.Errorf("held-out Acc@1 improved in %d of %d domains, want at least 9", improved, len(held))
	}
	// The saved Hugging Face checkpoint loads and embeds like the trained model.
	loaded, err := model.Load(res.ModelDir)
	if err != nil {
		t.Fatal(err)
	}
	if acc, mrr := heldOutRetrieval(t, loaded, held, cfg).mean(); math.Abs(acc-acc1) > 1e-9 || math.Abs(mrr-mrr1) > 1e-9 {
		t.Errorf("reloaded model Acc@1 %.3f, MRR %.3f; trained %.3f, %.3f", acc, mrr, acc1, mrr1)
	}
}

// heldOutDomain is a domain's held-out records, with what the sampler uses
// to turn them into texts.
type heldOutDomain struct {
	data.Domain
	Records []data.Record
}

// preparedMixture runs prepare.Run over the bundled data with the
// options of configs/default.json (seed 1, 7 BM25 hard negatives, skip bad
// items) but at most perDomain records per domain, and splits each domain
// (seeded): heldOut records whose queries and positives are all distinct
// are held out; the rest, less the records that share a query or positive
// text with a held-out record, are the training mixture, whose hard
// negatives drop any held-out text. Training sees no held-out text at all.
func preparedMixture(t testing.TB, perDomain, heldOut int) (string, []heldOutDomain) {
	t.Helper()
	mix, _, err := prepare.Run(context.Background(), prepare.Options{
		DataDir: shareddata.Dir(t, "train", "eval"), OutDir: t.TempDir(),
		Seed: 1, MaxPerDomain: perDomain, Negatives: 7, SkipBad: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var held []heldOutDomain
	dropped, negsDropped := 0, 0
	for i := range mix.Domains {
		d := &mix.Domains[i]
		recs, err := data.ReadRecords(d.Path)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, uint64(i)))
		rng.Shuffle(len(recs), func(a, b int) { recs[a], recs[b] = recs[b], recs[a] })
		heldText := map[string]bool{}
		texts := func(r data.Record) []string {
			out := []string{r.Query}
			for _, p := range r.Positives {
				out = append(out, PassageText(p))
			}
			return out
		}
		seen := func(ss []string) bool {
			for _, s := range ss {
				if heldText[s] {
					return true
				}
			}
			return false
		}
		h := heldOutDomain{Domain: *d}
		var train []data.Record
		for _, r := range recs {
			if len(h.Records) < heldOut && !seen(texts(r)) {
				h.Records = append(h.Records, r)
				for _, s := range texts(r) {
					heldText[s] = true
				}
			} else {
				train = append(train, r)
			}
		}
		if len(h.Records) < heldOut {
			t.Fatalf("domain %s: %d records with distinct texts, want %d held out", d.Name, len(h.Records), heldOut)
		}
		kept := train[:0]
		for _, r := range train {
			if seen(texts(r)) {
				dropped++
				continue
			}
			negs := r.Negatives[:0]
			for _, p := range r.Negatives {
				if heldText[PassageText(p)] {
					negsDropped++
				} else {
					negs = append(negs, p)
				}
			}
			r.Negatives = negs
			kept = append(kept, r)
		}
		d.Path, d.Records = filepath.Join(dir, d.Name+".jsonl"), len(kept)
		if err := data.WriteRecords(d.Path, kept); err != nil {
			t.Fatal(err)
		}
		held = append(held, h)
	}
	t.Logf("%d domains: %d held out and ~%d training records each; %d training records sharing a text with a held-out one dropped, %d hard negatives",
		len(mix.Domains), heldOut, perDomain-heldOut, dropped, negsDropped)
	path := filepath.Join(dir, "mixture.json")
	if err := mix.Save(path); err != nil {
		t.Fatal(err)
	}
	return path, held
}

// retrieval holds per-domain held-out Acc@1 and MRR.
type retrieval struct{ acc1, mrr []float64 }

// mean is over domains, which hold equally many queries: the mean over all
// queries.
func (r retrieval) mean() (acc1, mrr float64) {
	for i := range r.acc1 {
		acc1, mrr = acc1+r.acc1[i], mrr+r.mrr[i]
	}
	return acc1 / float64(len(r.acc1)), mrr / float64(len(r.mrr))
}

// heldOutRetrieval ranks each held-out query's positive among its domain's
// held-out positives by cosine similarity, with the texts built as the
// sampler builds them (the domain's instruction on queries, and on passages
// of symmetric domains) at cfg's lengths, and returns each domain's Acc@1
// and MRR. Ties count against the positive.
func heldOutRetrieval(t testing.TB, m *model.Model, held []heldOutDomain, cfg Config) retrieval {
	t.Helper()
	var r retrieval
	for _, d := range held {
		instr := ""
		if len(d.Instructions) > 0 {
			instr = d.Instructions[0]
		}
		var qs, ps []string
		for _, rec := range d.Records {
			qs = append(qs, tokenize.Instruct(instr, rec.Query))
			p := PassageText(rec.Positives[0])
			if d.Symmetric {
				p = tokenize.Instruct(instr, p)
			}
			ps = append(ps, p)
		}
		qe, err := m.Encode(qs, cfg.QueryMaxLen, 64)
		if err != nil {
			t.Fatal(err)
		}
		pe, err := m.Encode(ps, cfg.PassageMaxLen, 64)
		if err != nil {
			t.Fatal(err)
		}
		acc1, mrr := 0.0, 0.0
		for i, q := range qe {
			own, rank := cosine(q, pe[i]), 1
			for j, p := range pe {
				if j != i && cosine(q, p) >= own {
					rank++
				}
			}
			if rank == 1 {
				acc1++
			}
			mrr += 1 / float64(rank)
		}
		r.acc1 = append(r.acc1, acc1/float64(len(qe)))
		r.mrr = append(r.mrr, mrr/float64(len(qe)))
	}
	return r
}
