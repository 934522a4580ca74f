package prepare

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"unicode"
	"unicode/utf8"

	"github.com/tdro/tdro/data"
)

// CropOptions configure CropPairs.
type CropOptions struct {
	Seed uint64
	// Min and Max bound the share of a passage's units each crop keeps
	// (Contriever's 0.1 and 0.5).
	Min, Max float64
}

// Validate says what is wrong with o, naming the fields as field.
func (o CropOptions) Validate(field string) error {
	if !(o.Min > 0 && o.Min <= o.Max && o.Max <= 1) {
		return fmt.Errorf("%s: want 0 < min <= max <= 1, got min %v, max %v", field, o.Min, o.Max)
	}
	return nil
}

// CropPairs makes label-free training records from the passages of recs,
// every distinct one (positives and negatives, by title and text: the
// mining pool) once, in order of first appearance: a record's query and
// positive are two independent random crops of the passage (Izacard et al.
// 2022, Contriever's independent cropping), so a model learns which texts
// share content before it sees a labelled pair. A unit is a word, or one character of a script
// written without spaces (Han, kana, Thai), so Chinese passages crop too.
// Passages of fewer than two units give no record. Each passage's crops
// depend only on o.Seed and its text.
func CropPairs(recs []data.Record, o CropOptions) []data.Record {
	var out []data.Record
	for _, p := range passagePool(recs) {
		text := data.TitleText(p.Title, p.Text)
		units := cropUnits(text)
		if len(units) < 2 {
			continue
		}
		h := fnv.New64a()
		h.Write([]byte(text))
		rng := rand.New(rand.NewPCG(o.Seed, h.Sum64()))
		crop := func() string {
			k := int(math.Round((o.Min + rng.Float64()*(o.Max-o.Min)) * float64(len(units))))
			k = min(max(k, 1), len(units))
			from := rng.IntN(len(units) - k + 1)
			return text[units[from][0]:units[from+k-1][1]]
		}
		q := crop()
		out = append(out, data.Record{QueryID: fmt.Sprintf("crop-%d", len(out)), Query: q,
			Positives: []data.Passage{{DocID: p.DocID, Text: crop()}}})
	}
	return out
}

// cropUnits are the byte spans [from, to) of text's units: runs of
// non-space characters, with each character of a script written without
// spaces a unit of its own.
func cropUnits(text string) [][2]int {
	var units [][2]int
	start := -1
	for i, r := range text {
		switch {
		case unicode.IsSpace(r):
			if start >= 0 {
				units, start = append(units, [2]int{start, i}), -1
			}
		case unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai):
			if start >= 0 {
				units, start = append(units, [2]int{start, i}), -1
			}
			units = append(units, [2]int{i, i + utf8.RuneLen(r)})
		case start < 0:
			start = i
		}
	}
	if start >= 0 {
		units = append(units, [2]int{start, len(text)})
	}
	return units
}
