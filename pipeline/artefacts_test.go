package pipeline

// Parsers for the artefacts of a run directory (report.html, report.md,
// SVG and PNG figures), used by TestEndToEndTinyPreset to check that each
// one parses and holds what it should, not only that it contains a string.

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image/png"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// htmlNode is an element ("" Name: a text node) of a parsed HTML page.
type htmlNode struct {
	Name string
	Attr map[string]string
	Text string
	Kids []*htmlNode
}

// parseHTML reads an HTML page with encoding/xml's tokenizer in its
// non-strict HTML mode (HTML entities, unquoted attributes, the void
// elements of xml.HTMLAutoClose) and checks that it is well-formed: every
// other element is closed by its own end tag, in order, and nothing is
// left open at the end. It reads raw tokens and keeps its own stack,
// because the decoder's Token() in non-strict mode silently closes an
// element that a mismatched end tag meets, which would hide exactly the
// errors this is for.
func parseHTML(b []byte) (*htmlNode, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	void := map[string]bool{}
	for _, n := range xml.HTMLAutoClose {
		void[n] = true
	}
	root := &htmlNode{Name: "#document"}
	stack := []*htmlNode{root}
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		line, _ := d.InputPos()
		top := stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			n := &htmlNode{Name: strings.ToLower(t.Name.Local), Attr: map[string]string{}}
			for _, a := range t.Attr {
				n.Attr[a.Name.Local] = a.Value
			}
			top.Kids = append(top.Kids, n)
			if !void[n.Name] {
				stack = append(stack, n)
			}
		case xml.EndElement:
			name := strings.ToLower(t.Name.Local)
			switch {
			case void[name]: // <img/> or a stray </br>: nothing to close
			case len(stack) == 1:
				return nil, fmt.Errorf("line %d: </%s> closes nothing", line, name)
			case top.Name != name:
				return nil, fmt.Errorf("line %d: <%s> closed by </%s>", line, top.Name, name)
			default:
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			top.Kids = append(top.Kids, &htmlNode{Text: string(t)})
		}
	}
	if len(stack) > 1 {
		return nil, fmt.Errorf("<%s> is not closed at the end of the page", stack[len(stack)-1].Name)
	}
	return root, nil
}

// text is the concatenated text inside n, spaces trimmed.
func (n *htmlNode) text() string {
	var b strings.Builder
	var walk func(*htmlNode)
	walk = func(n *htmlNode) {
		b.WriteString(n.Text)
		for _, k := range n.Kids {
			walk(k)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}

// all returns the elements under n (n included), depth first, for which
// keep is true.
func (n *htmlNode) all(keep func(*htmlNode) bool) []*htmlNode {
	var out []*htmlNode
	var walk func(*htmlNode)
	walk = func(n *htmlNode) {
		if n.Name != "" && keep(n) {
			out = append(out, n)
		}
		for _, k := range n.Kids {
			walk(k)
		}
	}
	walk(n)
	return out
}

// tag returns the elements named name under n.
func (n *htmlNode) tag(name string) []*htmlNode {
	return n.all(func(e *htmlNode) bool { return e.Name == name })
}

// elems returns n's child elements (text nodes left out).
func (n *htmlNode) elems() []*htmlNode {
	var out []*htmlNode
	for _, k := range n.Kids {
		if k.Name != "" {
			out = append(out, k)
		}
	}
	return out
}

func (n *htmlNode) hasClass(c string) bool {
	for _, f := range strings.Fields(n.Attr["class"]) {
		if f == c {
			return true
		}
	}
	return false
}

// htmlSections splits the children of body at its <h2> headings: heading
// text -> the elements after it, up to the next heading.
func htmlSections(body *htmlNode) map[string][]*htmlNode {
	out := map[string][]*htmlNode{}
	cur := ""
	for _, e := range body.elems() {
		if e.Name == "h2" {
			cur = e.text()
			out[cur] = nil
			continue
		}
		if cur != "" {
			out[cur] = append(out[cur], e)
		}
	}
	return out
}

// htmlTable is a <table>'s cells as text: its header row and body rows.
type htmlTable struct {
	Header []string
	Rows   [][]string
}

// readHTMLTable reads a table whose first row is its header (inside
// <thead> or not) and whose other rows are data.
func readHTMLTable(t *htmlNode) htmlTable {
	var out htmlTable
	for i, tr := range t.tag("tr") {
		var cells []string
		for _, c := range tr.elems() {
			if c.Name == "th" || c.Name == "td" {
				cells = append(cells, c.text())
			}
		}
		if i == 0 {
			out.Header = cells
		} else {
			out.Rows = append(out.Rows, cells)
		}
	}
	return out
}

// mdTable is one pipe table of a Markdown file and the last line of text
// before it (its caption, e.g. "**ndcg@10**").
type mdTable struct {
	Caption string
	Header  []string
	Rows    [][]string
}

var mdSeparator = regexp.MustCompile(`^\|(\s*:?-+:?\s*\|)+$`)

// parseMarkdownTables reads every pipe table of md and checks its shape:
// a header, a separator row with one cell per column, and rows of the
// header's width.
func parseMarkdownTables(md string) ([]mdTable, error) {
	cells := func(line string) []string {
		line = strings.TrimSpace(line)
		line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
		out := strings.Split(line, "|")
		for i := range out {
			out[i] = strings.TrimSpace(out[i])
		}
		return out
	}
	lines := strings.Split(md, "\n")
	var out []mdTable
	caption, fence := "", false
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if strings.HasPrefix(l, "```") {
			fence = !fence
			continue
		}
		if fence || !strings.HasPrefix(l, "|") {
			if l != "" && !fence {
				caption = l
			}
			continue
		}
		t := mdTable{Caption: caption, Header: cells(l)}
		if i+1 >= len(lines) || !mdSeparator.MatchString(strings.TrimSpace(lines[i+1])) || len(cells(lines[i+1])) != len(t.Header) {
			return nil, fmt.Errorf("line %d: table %q has no separator row of %d columns", i+2, l, len(t.Header))
		}
		for i += 2; i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "|"); i++ {
			row := cells(lines[i])
			if len(row) != len(t.Header) {
				return nil, fmt.Errorf("line %d: %d cells under a header of %d", i+1, len(row), len(t.Header))
			}
			t.Rows = append(t.Rows, row)
		}
		i--
		out = append(out, t)
		caption = ""
	}
	if fence {
		return nil, fmt.Errorf("unclosed code fence")
	}
	return out, nil
}

// mdImages are the targets of the Markdown image links ![alt](target).
func mdImages(md string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`!\[[^\]]*\]\(([^)\s]+)\)`).FindAllStringSubmatch(md, -1) {
		out = append(out, m[1])
	}
	return out
}

// resultNumber reads a results cell: a number, perhaps bold (**x**) and
// marked significant († or ‡).
func resultNumber(cell string) (float64, error) {
	return strconv.ParseFloat(strings.Trim(cell, "*†‡ "), 64)
}

// checkSVG parses an SVG file as strict XML: one <svg> root element in the
// SVG namespace with at least one element inside, everything closed.
func checkSVG(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	roots, inside, depth := 0, 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if t.Name.Local != "svg" || t.Name.Space != "http://www.w3.org/2000/svg" {
					return fmt.Errorf("%s: root element {%s}%s, want an SVG <svg>", path, t.Name.Space, t.Name.Local)
				}
			} else {
				inside++
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	if roots != 1 || inside == 0 {
		return fmt.Errorf("%s: %d root elements with %d elements inside, want one <svg> with content", path, roots, inside)
	}
	return nil
}

// checkPNG decodes a PNG file completely.
func checkPNG(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
		return fmt.Errorf("%s: %dx%d pixels", path, b.Dx(), b.Dy())
	}
	return nil
}

// checkFigure parses a figure by its extension.
func checkFigure(path string) error {
	switch {
	case strings.HasSuffix(path, ".png"):
		return checkPNG(path)
	case strings.HasSuffix(path, ".svg"):
		return checkSVG(path)
	}
	return fmt.Errorf("%s: not a PNG or SVG figure", path)
}

func TestParseHTMLRejectsMalformedPages(t *testing.T) {
	good := `<!DOCTYPE html><html><head><meta charset="utf-8"><title>a &amp; b&nbsp;c</title></head>` +
		`<body><h2>One</h2><p>x<br>y</p><img src="a.png" alt=a><svg xmlns="http://www.w3.org/2000/svg"><path d="M0,0"/></svg></body></html>`
	doc, err := parseHTML([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if got := doc.tag("title")[0].text(); got != "a & b\u00a0c" {
		t.Errorf("title %q", got)
	}
	if got := len(htmlSections(doc.tag("body")[0])["One"]); got != 3 {
		t.Errorf("section One has %d elements, want 3", got)
	}
	for _, bad := range []string{
		`<html><body><p>x</body></html>`,            // unclosed <p>
		`<html><body><div></p></div></body></html>`, // stray end tag
		`<html><body><table><tr><td>x</td></tr>`,    // truncated page
	} {
		if _, err := parseHTML([]byte(bad)); err == nil {
			t.Errorf("%s: parsed", bad)
		}
	}
}

func TestParseMarkdownTables(t *testing.T) {
	md := "# T\n\n**ndcg@10**\n\n| dataset | a |\n|---|---:|\n| x | 0.5 |\n| *mean* | **0.5**‡ |\n\n```\n| not | a table |\n```\n"
	ts, err := parseMarkdownTables(md)
	if err != nil || len(ts) != 1 || ts[0].Caption != "**ndcg@10**" || len(ts[0].Rows) != 2 {
		t.Fatalf("%+v %v", ts, err)
	}
	if v, err := resultNumber(ts[0].Rows[1][1]); err != nil || v != 0.5 {
		t.Errorf("cell %q: %v %v", ts[0].Rows[1][1], v, err)
	}
	if _, err := parseMarkdownTables("| a | b |\n|---|---|\n| 1 |\n"); err == nil {
		t.Error("a short row parsed")
	}
}
