package report

import (
	"fmt"
	"strings"

	"github.com/tdro/tdro/eval"
)

// Markdown renders one table per measure: datasets x runs, the best value
// of each row in bold, significance marks against the baseline, a mean row,
// and a legend line.
func Markdown(r *eval.Results, o Options) (string, error) {
	var b strings.Builder
	for i, m := range o.measures() {
		t, err := NewTable(r, m, o)
		if err != nil {
			return "", err
		}
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "**%s**\n\n", m)
		b.WriteString(t.Markdown())
	}
	fmt.Fprintf(&b, "\n**Query instructions** (dataset: instruction — runs)\n\n")
	for _, row := range Instructions(r) {
		fmt.Fprintf(&b, "- %s: %s\n", mdEscape(row[0]), mdEscape(row[1]))
	}
	if o.Baseline != "" {
		fmt.Fprintf(&b, "\n%s\n", Legend(o.Baseline))
		sig, err := Significance(r, o)
		if err != nil {
			return "", err
		}
		if len(sig) > 0 {
			fmt.Fprintf(&b, "\n**p-values against %s**\n\n%s", mdEscape(o.Baseline), SigMarkdown(sig))
		}
	}
	return b.String(), nil
}

// Legend explains the significance marks.
func Legend(baseline string) string {
	return fmt.Sprintf("† p ≤ 0.05, ‡ p ≤ 0.01 against %s (paired two-sided t-test and paired randomization test; the larger p counts). Bold: best in the row.", baseline)
}

// Markdown renders the table alone.
func (t *Table) Markdown() string {
	var b strings.Builder
	b.WriteString("| dataset |")
	for _, r := range t.Runs {
		fmt.Fprintf(&b, " %s |", mdEscape(r))
	}
	b.WriteString("\n|---|")
	for range t.Runs {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	row := func(name string, cells []Cell) {
		fmt.Fprintf(&b, "| %s |", name)
		for _, c := range cells {
			fmt.Fprintf(&b, " %s |", c.Markdown())
		}
		b.WriteString("\n")
	}
	for i, ds := range t.Datasets {
		row(mdEscape(ds), t.Cells[i])
	}
	row("*"+t.MeanLabel()+"*", t.Mean)
	return b.String()
}

// Markdown renders a cell: 4 decimals, bold when best, then its mark.
func (c Cell) Markdown() string {
	if !c.OK {
		return "–"
	}
	s := fmt.Sprintf("%.4f", c.Value)
	if c.Best {
		s = "**" + s + "**"
	}
	return s + c.Mark()
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
