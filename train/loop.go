package train

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	gmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/tdro/tdro/internal/atomicfile"
	"github.com/tdro/tdro/internal/progress"
)

// ErrInterrupted is returned (wrapped, with the context's error) when a run
// stops early because its context was cancelled; a checkpoint was saved.
var ErrInterrupted = errors.New("interrupted")

// Loop runs numbered steps with atomic checkpoints, a JSONL log line per
// step, a progress bar with ETA and clean interruption. Run drives it with
// contrastive steps; tDRO drives it with its own, adding its state through
// SaveExtra and RestoreExtra.
type Loop struct {
	Dir             string // run directory: checkpoint.bin and log.jsonl
	Steps           int    // total steps
	CheckpointEvery int    // steps between checkpoints; 0: at the end and on interrupt only
	Store           *gmodel.Store
	Sampler         *Sampler
	Name            string // progress bar label

	SaveExtra    func() (map[string]json.RawMessage, error)
	RestoreExtra func(map[string]json.RawMessage) error

	// Hooks run after each step, after the loop's own (the log line, the
	// progress bar and the periodic checkpoint), in order.
	Hooks []Hook
}

// A Hook runs after every step with the number of steps done and the step's
// log record — GoMLX's train.Loop OnStep idea. The loop's log, progress bar
// and checkpoints are hooks; a caller adds its own, such as an evaluation
// every N steps (EveryNSteps). An error stops the run (after a checkpoint
// at the last saved step, as any step error).
type Hook interface {
	AfterStep(done int, record any) error
}

// HookFunc is a function as a Hook.
type HookFunc func(done int, record any) error

// AfterStep implements Hook.
func (f HookFunc) AfterStep(done int, record any) error { return f(done, record) }

// EveryNSteps is a hook calling fn after steps n, 2n, ... (never for n <= 0).
func EveryNSteps(n int, fn HookFunc) Hook {
	return HookFunc(func(done int, record any) error {
		if n <= 0 || done%n != 0 {
			return nil
		}
		return fn(done, record)
	})
}

// CheckpointPath is where the loop keeps its checkpoint.
func (l *Loop) CheckpointPath() string { return filepath.Join(l.Dir, "checkpoint.bin") }

// LogPath is the JSONL log, one line per step.
func (l *Loop) LogPath() string { return filepath.Join(l.Dir, "log.jsonl") }

// Start returns the number of steps already done: 0 for a fresh run, or the
// checkpoint's step when resume is set (store, sampler and extra state are
// restored, and log lines past the checkpoint dropped). An existing
// checkpoint without resume is an error, so a run is never overwritten by
// accident.
func (l *Loop) Start(resume bool) (int, error) {
	ck := l.CheckpointPath()
	if _, err := os.Stat(ck); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return 0, err
		}
		if err := os.MkdirAll(l.Dir, 0o755); err != nil {
			return 0, err
		}
		return 0, l.truncateLog(0)
	}
	if !resume {
		return 0, fmt.Errorf("%s already holds a checkpoint: resume it (--resume) or choose another output directory", l.Dir)
	}
	st, err := LoadCheckpoint(ck, l.Store)
	if err != nil {
		return 0, err
	}
	if err := l.Sampler.Restore(st.Sampler); err != nil {
		return 0, fmt.Errorf("checkpoint %s: %w", ck, err)
	}
	if l.RestoreExtra != nil {
		if err := l.RestoreExtra(st.Extra); err != nil {
			return 0, fmt.Errorf("checkpoint %s: %w", ck, err)
		}
	}
	if st.Step > l.Steps {
		return 0, fmt.Errorf("checkpoint %s is at step %d, past the %d steps configured", ck, st.Step, l.Steps)
	}
	return st.Step, l.truncateLog(st.Step)
}

// truncateLog keeps the log lines of steps <= step (a crash can leave lines
// past the last checkpoint, and a torn last line).
func (l *Loop) truncateLog(step int) error { return truncateJSONL(l.LogPath(), step) }

// truncateJSONL keeps the lines of a per-step JSONL file (a "step" field
// in each) up to step, dropping everything from the first line past it or
// torn.
func truncateJSONL(path string, step int) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var keep bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var rec struct{ Step int }
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Step > step || step == 0 {
			break
		}
		keep.Write(sc.Bytes())
		keep.WriteByte('\n')
	}
	return atomicfile.WriteFile(path, keep.Bytes())
}

// appendLine appends a per-step line to a JSONL file.
func appendLine(path string, line []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// Save writes a checkpoint for done steps.
func (l *Loop) Save(done int) error {
	ss, err := l.Sampler.State()
	if err != nil {
		return err
	}
	st := &State{Step: done, Sampler: ss}
	if l.SaveExtra != nil {
		if st.Extra, err = l.SaveExtra(); err != nil {
			return err
		}
	}
	return SaveCheckpoint(l.CheckpointPath(), l.Store, st)
}

// Run calls step(i) for i = start .. Steps-1 and logs what it returns (a
// JSON object whose "step" field is i+1). It checkpoints every
// CheckpointEvery steps and at the end; when ctx is cancelled it checkpoints
// and returns an error wrapping ErrInterrupted.
func (l *Loop) Run(ctx context.Context, start int, step func(i int) (any, error)) error {
	logf, err := os.OpenFile(l.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	bar := progress.New(int64(l.Steps), l.Name)
	bar.Set(int64(start))
	defer bar.Finish()
	saved := start
	hooks := append([]Hook{
		HookFunc(func(done int, rec any) error { // the log line
			line, err := json.Marshal(rec)
			if err != nil {
				return fmt.Errorf("log: %w", err)
			}
			if _, err := logf.Write(append(line, '\n')); err != nil {
				return fmt.Errorf("write %s: %w", l.LogPath(), err)
			}
			return nil
		}),
		HookFunc(func(int, any) error { bar.Add(1); return nil }),
		EveryNSteps(l.CheckpointEvery, func(done int, _ any) error {
			if done == l.Steps {
				return nil // the final save below
			}
			if err := l.Save(done); err != nil {
				return err
			}
			saved = done
			return nil
		}),
	}, l.Hooks...)
	for i := start; i < l.Steps; i++ {
		if ctx.Err() != nil {
			if saved != i {
				if err := l.Save(i); err != nil {
					return fmt.Errorf("save checkpoint on interrupt: %w", err)
				}
			}
			return fmt.Errorf("%w at step %d of %d (checkpoint saved): %w", ErrInterrupted, i, l.Steps, ctx.Err())
		}
		rec, err := step(i)
		if err != nil {
			return fmt.Errorf("step %d: %w", i+1, err)
		}
		for _, h := range hooks {
			if err := h.AfterStep(i+1, rec); err != nil {
				return fmt.Errorf("step %d: %w", i+1, err)
			}
		}
	}
	if saved != l.Steps {
		return l.Save(l.Steps)
	}
	return nil
}
