package train

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestODMUpdate follows EXP3 by hand for two updates on three domains.
func TestODMUpdate(t *testing.T) {
	o, err := NewODM([]float64{1, 1, 1}, 10)
	if err != nil {
		t.Fatal(err)
	}
	// Update 1: domain 0, loss 3: R = [0.3/(1/3), 0, 0] = [0.9, 0, 0];
	// eps_0 = 1/3, eps_1 = min(1/3, sqrt(ln 3 / 3)) = 1/3, so 1 - K eps = 0:
	// uniform again.
	p := o.Update(0, 3)
	for i := range p {
		if math.Abs(p[i]-1.0/3) > 1e-12 {
			t.Fatalf("update 1: %v, want uniform (full exploration)", p)
		}
	}
	// Update 2: domain 1, loss 6: R = [0.9, 0.6*3, 0] = [0.9, 1.8, 0];
	// eps_2 = min(1/3, sqrt(ln 3 / 6)) = 0.4279..., prev = 1/3.
	p = o.Update(1, 6)
	eps := math.Min(1.0/3, math.Sqrt(math.Log(3)/6))
	if eps != 1.0/3 {
		// sqrt(ln 3/6) = 0.4279 > 1/3: still capped, uniform again.
		t.Fatalf("eps %v", eps)
	}
	for i := range p {
		if math.Abs(p[i]-1.0/3) > 1e-12 {
			t.Fatalf("update 2: %v, want uniform (eps still 1/3)", p)
		}
	}
	// Updates 3..: eps_t = sqrt(ln 3 / (3t)) < 1/3 from t = 4 on (ln 3/12 = 0.0916, sqrt 0.3026).
	p = o.Update(2, 0.3) // t = 3: eps = min(1/3, sqrt(ln3/9)=0.3494) = 1/3
	p = o.Update(1, 6)   // t = 4: eps = 0.30257
	R := []float64{0.9, 1.8 + 0.6/(1.0/3), 0.03 / (1.0 / 3)}
	prev, e4 := 1.0/3, math.Sqrt(math.Log(3)/12)
	var w [3]float64
	tot, sum := 0.0, 0.0
	for _, r := range R {
		tot += math.Exp(prev * r)
	}
	for i, r := range R {
		w[i] = (1-3*e4)*math.Exp(prev*r)/tot + e4
		sum += w[i]
	}
	for i := range p {
		if want := w[i] / sum; math.Abs(p[i]-want) > 1e-12 {
			t.Errorf("update 4, domain %d: %v, want %v", i, p[i], want)
		}
	}
	if p[1] <= p[0] || p[0] <= p[2] {
		t.Errorf("the highest-loss domain should lead: %v", p)
	}
	for i := range p {
		if p[i] < e4/1.0001 {
			t.Errorf("domain %d below the exploration floor: %v", i, p[i])
		}
	}
	if _, err := NewODM([]float64{1, 0}, 10); err == nil {
		t.Error("a zero starting weight accepted")
	}
	if _, err := NewODM([]float64{1, 1}, 0); err == nil {
		t.Error("scale 0 accepted")
	}
}

// TestODMRunResumes trains with online mixing: the trajectory has one line
// per step whose probabilities sum to 1 and move away from the start, the
// drawn domains follow them, and a run interrupted mid-way and resumed ends
// with the same weights, log and trajectory as an uninterrupted one.
func TestODMRunResumes(t *testing.T) {
	cfg := resumeConfig(t)
	cfg.Mixing, cfg.ODMRewardScale = MixingODM, 10
	ref := referenceRun(t, cfg)
	refODM, err := os.ReadFile(filepath.Join(ref.Out, ODMFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(refODM)), "\n")
	if len(lines) != cfg.Steps {
		t.Fatalf("%s has %d lines, want %d", ODMFile, len(lines), cfg.Steps)
	}
	var last odmLine
	for i, l := range lines {
		if err := json.Unmarshal([]byte(l), &last); err != nil || last.Step != i+1 {
			t.Fatalf("line %d: %v %+v", i+1, err, last)
		}
		sum := 0.0
		for _, p := range last.Probs {
			sum += p
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Errorf("step %d: probabilities sum to %v", last.Step, sum)
		}
	}
	moved := false
	for _, p := range last.Probs {
		moved = moved || math.Abs(p-1/float64(len(last.Probs))) > 1e-6
	}
	if !moved {
		t.Errorf("after %d steps the probabilities are still uniform: %v", cfg.Steps, last.Probs)
	}

	run := cfg
	run.Out = filepath.Join(t.TempDir(), "interrupted")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil && logLines(run) < 5 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	})
	_, err = Run(ctx, run, false)
	cancel()
	wg.Wait()
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run: %v", err)
	}
	if _, err := Run(context.Background(), run, true); err != nil {
		t.Fatal(err)
	}
	requireSameRun(t, ref, run)
	got, _ := os.ReadFile(filepath.Join(run.Out, ODMFile))
	if string(got) != string(refODM) {
		t.Errorf("resumed trajectory differs from the uninterrupted one:\n%s\nvs\n%s", got, refODM)
	}
}
