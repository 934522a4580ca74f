package pipeline

import (
	"fmt"
	"html"
	"strings"
)

// DiagramNode is one box of the pipeline diagram.
type DiagramNode struct {
	Name   string   // stage name
	Label  string   // what it does, in a few words
	After  []string // boxes with arrows into this one
	Time   string   // e.g. "2m05s"
	CPU    string   // CPU time of the stage
	Status Status

	group   string // drawn inside this group's box (Stage.Group)
	seconds float64
}

// layout places each node in the column after its last dependency and
// stacks the nodes of a column.
func layout(nodes []DiagramNode) (col, row map[string]int, cols, rows int) {
	col, row = map[string]int{}, map[string]int{}
	perCol := map[int]int{}
	for _, n := range nodes {
		c := 0
		for _, a := range n.After {
			if col[a]+1 > c {
				c = col[a] + 1
			}
		}
		col[n.Name], row[n.Name] = c, perCol[c]
		perCol[c]++
		cols = max(cols, c+1)
		rows = max(rows, perCol[c])
	}
	return col, row, cols, rows
}

// DiagramSVG draws the stages as boxes in dependency columns with arrows,
// each box showing the stage's wall time. Each column is as wide as its
// longest line and long labels wrap onto two lines, so the diagram fits a
// page at full size instead of being shrunk to unreadable text.
func DiagramSVG(nodes []DiagramNode) string {
	const lineH, gx, gy, pad, minW = 16, 30, 14, 10, 96
	col, row, cols, rows := layout(nodes)
	lines := map[string][]string{}
	colW := make([]int, cols)
	maxLines := 1
	for _, n := range nodes {
		lines[n.Name] = wrapLabel(n.Label, 18)
		maxLines = max(maxLines, len(lines[n.Name]))
		w := minW
		for _, l := range lines[n.Name] {
			w = max(w, 18+int(7.4*float64(len([]rune(l)))))
		}
		colW[col[n.Name]] = max(colW[col[n.Name]], w)
	}
	bh := 24 + lineH*maxLines
	colX := make([]int, cols+1)
	colX[0] = pad
	for c := range cols {
		colX[c+1] = colX[c] + colW[c] + gx
	}
	width, height := colX[cols]-gx+pad, pad*2+rows*bh+(rows-1)*gy
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" style="max-width:100%%;height:auto" font-family="sans-serif">`, width, height, width, height)
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#666"/></marker></defs>`)
	x := func(n string) int { return colX[col[n]] }
	w := func(n string) int { return colW[col[n]] }
	y := func(n string) int { return pad + row[n]*(bh+gy) }
	for _, n := range nodes {
		for _, a := range n.After {
			if col[a] != col[n.Name]-1 {
				continue // a long edge would cross the boxes between; the column order already says it
			}
			fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#666" stroke-width="1.3" marker-end="url(#arrow)"/>`,
				x(a)+w(a), y(a)+bh/2, x(n.Name)-2, y(n.Name)+bh/2)
		}
	}
	for _, n := range nodes {
		fill := map[Status]string{Ran: "#e3efff", Resumed: "#fff2d6", Skipped: "#eeeeee"}[n.Status]
		if fill == "" {
			fill = "#ffffff"
		}
		fmt.Fprintf(&b, `<g><title>%s</title><rect x="%d" y="%d" width="%d" height="%d" rx="7" fill="%s" stroke="#4a6a9a"/>`,
			html.EscapeString(n.Name), x(n.Name), y(n.Name), w(n.Name), bh, fill)
		ls := lines[n.Name]
		top := y(n.Name) + (bh-lineH*(len(ls)+1))/2 + 12 // label lines and the time line, centred
		for i, l := range ls {
			fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12.5" text-anchor="middle" font-weight="bold">%s</text>`,
				x(n.Name)+w(n.Name)/2, top+i*lineH, html.EscapeString(l))
		}
		sub := n.Time
		if n.Status == Skipped || n.Status == Resumed {
			sub += " · " + string(n.Status)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11.5" text-anchor="middle" fill="#333">%s</text></g>`,
			x(n.Name)+w(n.Name)/2, top+len(ls)*lineH+1, html.EscapeString(sub))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// wrapLabel splits a label longer than width runes onto two lines, at the
// space nearest its middle.
func wrapLabel(label string, width int) []string {
	r := []rune(label)
	if len(r) <= width {
		return []string{label}
	}
	best := -1
	for i, c := range r {
		if c == ' ' && (best < 0 || abs(i-len(r)/2) < abs(best-len(r)/2)) {
			best = i
		}
	}
	if best < 0 {
		return []string{label}
	}
	return []string{string(r[:best]), string(r[best+1:])}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// DiagramText is the diagram for Markdown: one line per dependency column,
// so the flow reads top to bottom.
func DiagramText(nodes []DiagramNode) string {
	col, _, cols, _ := layout(nodes)
	lines := make([][]string, cols)
	for _, n := range nodes {
		lines[col[n.Name]] = append(lines[col[n.Name]], fmt.Sprintf("%s (%s)", n.Label, n.Time))
	}
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteString("   ↓\n")
		}
		b.WriteString(strings.Join(l, "  |  "))
		b.WriteString("\n")
	}
	return b.String()
}
