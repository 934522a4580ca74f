package collection

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Load reads one evaluation set named by a path: a BEIR folder
// (corpus.jsonl, queries.jsonl, qrels/test.tsv), a SMART folder
// (.ALL/.QRY/.REL), an XQuAD-R file (LANG.json), or
// QUESTIONS.json:SENTENCES.json for cross-lingual XQuAD-R. XQuAD-R
// languages are taken from the file names.
func Load(spec string) (*Collection, error) {
	if q, s, ok := strings.Cut(spec, ":"); ok && strings.HasSuffix(q, ".json") && strings.HasSuffix(s, ".json") {
		return LoadXQuADR(q, s, fileLang(q), fileLang(s))
	}
	st, err := os.Stat(spec)
	if err != nil {
		return nil, err
	}
	switch {
	case !st.IsDir() && strings.HasSuffix(spec, ".json"):
		return LoadXQuADR(spec, spec, fileLang(spec), fileLang(spec))
	case !st.IsDir():
		return nil, fmt.Errorf("evaluation set %s: a file must be an XQuAD-R .json (or QUESTIONS.json:SENTENCES.json)", spec)
	}
	if _, err := os.Stat(filepath.Join(spec, "corpus.jsonl")); err == nil {
		return LoadBEIR(spec, "test")
	}
	return LoadSMART(spec)
}

// fileLang is the language an XQuAD-R file is named after ("de.json" -> "de").
func fileLang(path string) string {
	return strings.TrimSuffix(filepath.Base(path), ".json")
}
