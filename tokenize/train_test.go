package tokenize

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// trainedOptions is the vocabulary the parity fixture's "trained" ids were
// made with: fitted to the fixture's own strings (13 languages, code, edge
// cases), so the test needs no other data.
var trainedOptions = TrainOptions{VocabSize: 6000, MinFrequency: 2, Lowercase: true, MaxCharsPerWord: 100, LimitAlphabet: 2000}

func trainOn(t testing.TB, texts []string, o TrainOptions) (*Tokenizer, map[string][]byte) {
	t.Helper()
	files, err := TrainWordPiece(slices.Values(texts), o)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := fromFiles(files)
	if err != nil {
		t.Fatal(err)
	}
	return tok, files
}

// TestTrainedTokenizerParity: a vocabulary trained on the parity strings
// encodes every one of them exactly as Hugging Face's Rust library encodes
// them with the same tokenizer.json (the fixture's "trained" ids, made by
// scripts/tokenizer-parity/run.sh from the files this test writes when
// TDRO_WRITE_TRAINED names a directory). Training is deterministic, so the
// ids also pin the trainer: a change to it fails here until the fixture is
// regenerated.
func TestTrainedTokenizerParity(t *testing.T) {
	p := readParity(t)
	tok, files := trainOn(t, texts(p), trainedOptions)
	if dir := os.Getenv("TDRO_WRITE_TRAINED"); dir != "" {
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Skipf("wrote the trained tokenizer to %s", dir)
	}
	if tok.VocabSize() != trainedOptions.VocabSize {
		t.Errorf("vocabulary of %d tokens, want %d", tok.VocabSize(), trainedOptions.VocabSize)
	}
	want, ok := p.IDs["trained"]
	if !ok || len(want) != len(p.Strings) {
		t.Fatalf("fixture has %d trained id rows for %d strings", len(want), len(p.Strings))
	}
	got := tok.EncodeAll(texts(p), 0)
	bad := 0
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			if bad++; bad <= 5 {
				t.Errorf("string %d (%s): %q\n got:  %v\n want: %v", i, p.Strings[i].Source, p.Strings[i].Text, got[i], want[i])
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d strings differ from the Rust library", bad, len(want))
	}
}

// TestTrainWordPiece checks the trainer on text small enough to follow by
// hand: the most frequent pair merges first, continuations carry "##",
// rare characters are left out unless the initial alphabet keeps them, and
// accents and special tokens survive.
func TestTrainWordPiece(t *testing.T) {
	texts := []string{"low lower lowest", "low low newer newest", "Café café", "lowq"}
	o := TrainOptions{VocabSize: 40, MinFrequency: 2, Lowercase: true, MaxCharsPerWord: 100, InitialAlphabet: []string{"ж"}}
	tok, files := trainOn(t, texts, o)
	var tj struct {
		Model struct{ Vocab map[string]int32 } `json:"model"`
	}
	if err := json.Unmarshal(files["tokenizer.json"], &tj); err != nil {
		t.Fatal(err)
	}
	token := map[int32]string{}
	for s, id := range tj.Model.Vocab {
		token[id] = s
	}
	for i, s := range Specials {
		if id, ok := tok.TokenID(s); !ok || id != int32(i) {
			t.Errorf("special %s has id %d (%v), want %d", s, id, ok, i)
		}
	}
	cases := []struct {
		text string
		want []string
	}{
		{"low", []string{"[CLS]", "low", "[SEP]"}},
		{"lowest", []string{"[CLS]", "low", "##est", "[SEP]"}},
		{"CAFÉ", []string{"[CLS]", "café", "[SEP]"}},   // lowercased, accent kept
		{"q", []string{"[CLS]", "[UNK]", "[SEP]"}},     // seen once: not in the alphabet
		{"жж", []string{"[CLS]", "ж", "##ж", "[SEP]"}}, // never seen, in the initial alphabet
	}
	for _, c := range cases {
		var got []string
		for _, id := range tok.Encode(c.text, 0) {
			got = append(got, token[id])
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: got %v, want %v", c.text, got, c.want)
		}
	}
	// The same texts in another order give the same vocabulary.
	_, a := trainOn(t, texts, o)
	_, b := trainOn(t, []string{texts[3], texts[1], texts[2], texts[0]}, o)
	if string(a["tokenizer.json"]) != string(b["tokenizer.json"]) {
		t.Error("the vocabulary depends on the order of the texts")
	}
	for _, bad := range []TrainOptions{{VocabSize: 5, MinFrequency: 1, MaxCharsPerWord: 1}, {VocabSize: 50, MaxCharsPerWord: 1},
		{VocabSize: 50, MinFrequency: 1, MaxCharsPerWord: 1, InitialAlphabet: []string{"ab"}}} {
		if _, err := TrainWordPiece(slices.Values(texts), bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}
