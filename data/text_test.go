package data

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestCheckUTF8(t *testing.T) {
	for _, tc := range []struct {
		name, in   string
		line       int
		field, msg string // want; "" msg: valid
		out        string
	}{
		{"plain", "a\nb", 0, "", "", "a\nb"},
		{"bom dropped", "\xEF\xBB\xBF{\"q\":1}", 0, "", "", `{"q":1}`},
		{"utf-16 le", "\xFF\xFEa\x00", 1, "", "UTF-16", ""},
		{"utf-16 be", "\xFE\xFF\x00a", 1, "", "UTF-16", ""},
		{"latin-1 text", "ok\ncaf\xE9", 2, "", "0xE9 at column 4", ""},
		{"latin-1 jsonl", "{\"query\":\"ok\"}\n{\"query\":\"x\",\"positive_passages\":[{\"text\":\"na\xEFve\"}]}", 2, "positive_passages[0].text", "not UTF-8", ""},
		{"latin-1 json key", "{\"caf\xE9\": 1}", 1, "caf\uFFFD", "not UTF-8", ""},
		{"array of strings", "{\"pos\":[\"a\",\"b\xE9\"]}", 1, "pos[1]", "not UTF-8", ""},
	} {
		got, err := CheckUTF8("f.jsonl", []byte(tc.in))
		if tc.msg == "" {
			if err != nil || string(got) != tc.out {
				t.Errorf("%s: %q, %v", tc.name, got, err)
			}
			continue
		}
		var le *LineError
		if !errors.As(err, &le) || le.File != "f.jsonl" || le.Line != tc.line || le.Field != tc.field || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v (%+v), want line %d field %q %q", tc.name, err, le, tc.line, tc.field, tc.msg)
		}
	}
	if _, err := CheckLine("f", 3, []byte("\xEF\xBB\xBFx")); err != nil {
		t.Errorf("a BOM character inside the file is valid UTF-8: %v", err)
	}
	if b, err := CheckLine("f", 1, []byte("\xEF\xBB\xBFx")); err != nil || string(b) != "x" {
		t.Errorf("line 1 BOM: %q, %v", b, err)
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want []float64
		err  string
	}{
		{[]float64{1, 3}, []float64{0.25, 0.75}, ""},
		{[]float64{1e308, 1e308, 0}, []float64{0.5, 0.5, 0}, ""}, // the plain sum overflows to +Inf
		{[]float64{0, 0}, nil, "every weight is 0"},
		{[]float64{1, math.NaN()}, nil, "weight 1"},
		{[]float64{-1, 2}, nil, "weight 0"},
		{[]float64{math.Inf(1)}, nil, "finite"},
	} {
		got, err := Normalize(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Fatalf("%v: %v, %v", tc.in, got, err)
		}
		for i := range got {
			if math.Abs(got[i]-tc.want[i]) > 1e-15 {
				t.Errorf("%v: got %v, want %v", tc.in, got, tc.want)
			}
		}
	}
}
