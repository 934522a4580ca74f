package prepare

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tdro/tdro/data"
)

func TestCropUnits(t *testing.T) {
	for _, c := range []struct {
		text string
		want []string
	}{
		{"hello  world", []string{"hello", "world"}},
		{" 北京是首都。", []string{"北", "京", "是", "首", "都", "。"}},
		{"Go 语言 rocks", []string{"Go", "语", "言", "rocks"}},
		{"서울은 수도다", []string{"서울은", "수도다"}},
		{"", nil},
	} {
		var got []string
		for _, u := range cropUnits(c.text) {
			got = append(got, c.text[u[0]:u[1]])
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("cropUnits(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}

func TestCropPairs(t *testing.T) {
	long := "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty"
	recs := []data.Record{
		{QueryID: "a", Query: "q", Positives: []data.Passage{{DocID: "p1", Text: long}}, Negatives: []data.Passage{{Text: "single"}, {Title: "北京", Text: "是中华人民共和国的首都"}}},
		{QueryID: "b", Query: "q2", Positives: []data.Passage{{DocID: "p1", Text: long}}}, // the same passage again
	}
	o := CropOptions{Seed: 7, Min: 0.1, Max: 0.5}
	got := CropPairs(recs, o)
	if len(got) != 2 { // the long passage once, the Chinese one; "single" has one unit
		t.Fatalf("%d records, want 2: %+v", len(got), got)
	}
	sources := []string{long, "北京 是中华人民共和国的首都"}
	for i, r := range got {
		n := len(cropUnits(sources[i]))
		if r.QueryID == "" || len(r.Positives) != 1 || len(r.Negatives) != 0 {
			t.Fatalf("record %d: %+v", i, r)
		}
		for _, crop := range []string{r.Query, r.Positives[0].Text} {
			k := len(cropUnits(crop))
			if !strings.Contains(sources[i], crop) || k < 1 || float64(k) > 0.5*float64(n)+0.5 {
				t.Errorf("record %d: crop %q of %d units is not a 10-50%% span of %q (%d units)", i, crop, k, sources[i], n)
			}
		}
	}
	if again := CropPairs(recs, o); !reflect.DeepEqual(again, got) {
		t.Error("the same seed cropped differently")
	}
	o.Seed = 8
	if other := CropPairs(recs, o); reflect.DeepEqual(other, got) {
		t.Error("another seed cropped the same")
	}
	for _, bad := range []CropOptions{{Min: 0, Max: 0.5}, {Min: 0.6, Max: 0.5}, {Min: 0.1, Max: 1.5}} {
		if bad.Validate("pretrain") == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}
