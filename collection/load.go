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
// QUESTIONS.json:SENTENCES.json for cross-lingual XQuAD-R, or a classic
// collection's files by name: docs=FILE,queries=FILE,qrels=FILE[,name=NAME].
// XQuAD-R languages are taken from the file names.
func Load(spec string) (*Collection, error) {
	if strings.HasPrefix(spec, "docs=") {
		return loadNamedFiles(spec)
	}
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

// loadNamedFiles reads docs=FILE,queries=FILE,qrels=FILE[,name=NAME]: a
// classic collection whose files have names tdro does not recognise. The
// name defaults to the documents file's folder.
func loadNamedFiles(spec string) (*Collection, error) {
	var f Files
	name := ""
	for _, part := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || v == "" {
			return nil, fmt.Errorf("evaluation set %q: want docs=FILE,queries=FILE,qrels=FILE[,name=NAME], got %q", spec, part)
		}
		switch k {
		case "docs":
			f.Docs = v
		case "queries":
			f.Queries = v
		case "qrels":
			f.Qrels = v
		case "name":
			name = v
		default:
			return nil, fmt.Errorf("evaluation set %q: unknown part %q (want docs, queries, qrels, name)", spec, k)
		}
	}
	if f.Docs == "" || f.Queries == "" || f.Qrels == "" {
		return nil, fmt.Errorf("evaluation set %q: name all three files: docs=FILE,queries=FILE,qrels=FILE", spec)
	}
	for _, p := range []string{f.Docs, f.Queries, f.Qrels} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("evaluation set %q: %w", spec, err)
		}
	}
	if name == "" {
		name = strings.ToLower(filepath.Base(filepath.Dir(f.Docs)))
	}
	return LoadClassic(name, f)
}
