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
// each box showing the stage's wall time.
func DiagramSVG(nodes []DiagramNode) string {
	const bh, gx, gy, pad = 54, 36, 14, 10
	bw := 150
	for _, n := range nodes {
		bw = max(bw, 16+int(7.4*float64(len([]rune(n.Label)))))
	}
	col, row, cols, rows := layout(nodes)
	width, height := pad*2+cols*bw+(cols-1)*gx, pad*2+rows*bh+(rows-1)*gy
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" style="max-width:100%%;height:auto" font-family="sans-serif">`, width, height, width, height)
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#666"/></marker></defs>`)
	x := func(n string) int { return pad + col[n]*(bw+gx) }
	y := func(n string) int { return pad + row[n]*(bh+gy) }
	for _, n := range nodes {
		for _, a := range n.After {
			if col[a] != col[n.Name]-1 {
				continue // a long edge would cross the boxes between; the column order already says it
			}
			fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#666" stroke-width="1.3" marker-end="url(#arrow)"/>`,
				x(a)+bw, y(a)+bh/2, x(n.Name)-2, y(n.Name)+bh/2)
		}
	}
	for _, n := range nodes {
		fill := map[Status]string{Ran: "#e3efff", Resumed: "#fff2d6", Skipped: "#eeeeee"}[n.Status]
		if fill == "" {
			fill = "#ffffff"
		}
		fmt.Fprintf(&b, `<g><title>%s</title><rect x="%d" y="%d" width="%d" height="%d" rx="7" fill="%s" stroke="#4a6a9a"/>`,
			html.EscapeString(n.Name), x(n.Name), y(n.Name), bw, bh, fill)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12.5" text-anchor="middle" font-weight="bold">%s</text>`,
			x(n.Name)+bw/2, y(n.Name)+22, html.EscapeString(n.Label))
		sub := n.Time
		if n.Status == Skipped || n.Status == Resumed {
			sub += " · " + string(n.Status)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11.5" text-anchor="middle" fill="#333">%s</text></g>`,
			x(n.Name)+bw/2, y(n.Name)+40, html.EscapeString(sub))
	}
	b.WriteString(`</svg>`)
	return b.String()
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
