package data

import (
	"strings"
	"testing"
)

func TestDecodeJSONNamesTheField(t *testing.T) {
	type inner struct {
		Steps int `json:"steps"`
	}
	type doc struct {
		Train   inner    `json:"train"`
		Domains []Domain `json:"domains"`
	}
	for _, tc := range []struct{ in, want string }{
		{`{"train": {"stepz": 3}}`, `unknown field "stepz" (at "train.stepz"`},
		{`{"domains": [{"name": "a"}, {"name": "b"}, {"name": "c", "weight": "x"}]}`, `field "domains[2].weight": want float64`},
		{"{\n\"train\": {\"steps\": \"ten\"}}", `line 2: field "train.steps"`},
	} {
		var d doc
		err := DecodeJSON([]byte(tc.in), &d)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.in, err, tc.want)
		}
	}
}
