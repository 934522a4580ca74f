package jsonpos

import "testing"

func TestLineOfAndValueStart(t *testing.T) {
	doc := []byte("{\n \"a\": 1,\n\n  \"b\": 2}")
	for _, tc := range []struct {
		off  int64
		line int
	}{{-5, 1}, {0, 1}, {1, 1}, {2, 2}, {11, 3}, {12, 4}, {999, 4}} {
		if got := LineOf(doc, tc.off); got != tc.line {
			t.Errorf("LineOf(%d) = %d, want %d", tc.off, got, tc.line)
		}
	}
	if got := ValueStart(doc, 9); doc[got] != '"' || LineOf(doc, got) != 4 {
		t.Errorf("ValueStart(9) = %d (%q)", got, doc[got])
	}
	if got := ValueStart(doc, int64(len(doc))); got != int64(len(doc)) {
		t.Errorf("ValueStart at end = %d", got)
	}
}
