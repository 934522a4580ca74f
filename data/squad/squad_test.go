package squad

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const doc = `{"version": "1.1",
 "data": [
  {"title": "A", "paragraphs": [
    {"context": "One two. Three four.", "sentences": ["One two.", "Three four."], "sentence_breaks": [[0, 8], [9, 20]],
     "qas": [{"id": 7, "question": "q1", "answers": [{"text": "Three", "answer_start": 9}, {"text": "two", "answer_start": 4}, {"text": "x", "answer_start": -1}]}]}]},
  {"title": "B", "paragraphs": [
    {"context": "", "qas": []},
    {"context": "ok", "qas": [{"id": "b", "question": "", "answers": []}, {"id": "c", "question": "fine", "answers": []}]}]}
 ]}`

func TestParseStrictAndLenient(t *testing.T) {
	_, err := Parse([]byte(doc), "f.json", nil)
	var se *Error
	if !errors.As(err, &se) || se.Line != 6 || se.Field != "data[1].paragraphs[0].context" {
		t.Fatalf("strict: %v", err)
	}
	var bad []string
	f, err := Parse([]byte(doc), "f.json", func(err error) error { bad = append(bad, err.Error()); return nil })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`f.json line 6: field "data[1].paragraphs[0].context": empty`, `f.json line 6: field "data[1].paragraphs[1].qas[0].question": empty`}
	if !reflect.DeepEqual(bad, want) {
		t.Errorf("problems %q", bad)
	}
	if len(f.Data) != 2 || f.Data[0].Line != 3 || len(f.Data[1].Paragraphs) != 1 || len(f.Data[1].Paragraphs[0].QAs) != 1 || f.Data[0].Paragraphs[0].QAs[0].ID != "7" {
		t.Errorf("parsed %+v", f)
	}
	p := &f.Data[0].Paragraphs[0]
	if got := p.AnswerSentences(&p.QAs[0]); !reflect.DeepEqual(got, []int{0, 1}) {
		t.Errorf("answer sentences %v", got)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"data": [{"paragraphs": [}]}`, `line 1: field "data[0]": invalid JSON`},
		{`{"version": "1"}`, `field "data": missing`},
		{`[]`, "want a JSON object"},
		{"{\"data\": [\n{\"paragraphs\": 5}]}", `line 2: field "data[0].paragraphs": wrong JSON type`},
		{`{"data": []} x`, "trailing data"},
	} {
		_, err := Parse([]byte(tc.in), "f.json", nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.in, err, tc.want)
		}
	}
}
