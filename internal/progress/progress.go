// Package progress shows a progress bar with rate and ETA on stderr for long
// work, and stays silent when stderr is not a terminal unless forced, so logs
// and tests stay clean.
package progress

import (
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Bar is a progress bar; a nil *Bar is valid and does nothing.
type Bar struct{ b *progressbar.ProgressBar }

// Enabled reports whether bars are drawn: stderr is a terminal, or
// TDRO_PROGRESS=1 forces them (TDRO_PROGRESS=0 hides them).
func Enabled() bool {
	switch os.Getenv("TDRO_PROGRESS") {
	case "1":
		return true
	case "0":
		return false
	}
	return term.IsTerminal(int(os.Stderr.Fd()))
}

// New starts a bar for total units of work (total < 0: unknown).
func New(total int64, description string) *Bar {
	if !Enabled() {
		return nil
	}
	return &Bar{progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(description),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)}
}

// Add advances the bar by n units.
func (p *Bar) Add(n int) {
	if p != nil {
		p.b.Add(n)
	}
}

// Set moves the bar to n units done (for resumed work).
func (p *Bar) Set(n int64) {
	if p != nil {
		p.b.Set64(n)
	}
}

// Describe changes the text in front of the bar.
func (p *Bar) Describe(s string) {
	if p != nil {
		p.b.Describe(s)
	}
}

// Finish completes and clears the bar.
func (p *Bar) Finish() {
	if p != nil {
		p.b.Finish()
	}
}
