package collection

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Select resolves evaluation-set specs to collections: a bundled set's
// name (exact), "bundled" for all of them (in dataDir), or a path Load
// reads (a BEIR or SMART folder, an XQuAD-R file, QUESTIONS.json:SENTENCES.json).
// The same set twice, an empty list or a spec that is neither a path nor a
// bundled name is an error. tdro eval --data and a run config's eval.sets
// both select with it.
func Select(dataDir string, sets []string) ([]*Collection, error) {
	var bundled []*Collection
	getBundled := func() ([]*Collection, error) {
		if bundled != nil {
			return bundled, nil
		}
		var err error
		bundled, err = Bundled(dataDir)
		if err != nil {
			return nil, fmt.Errorf("bundled evaluation sets in %s: %w", dataDir, err)
		}
		return bundled, nil
	}
	var out []*Collection
	seen := map[string]bool{}
	add := func(c *Collection) error {
		if seen[c.Name] {
			return fmt.Errorf("evaluation set %s given twice", c.Name)
		}
		seen[c.Name] = true
		out = append(out, c)
		return nil
	}
	for _, s := range sets {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if isPath(s) {
			c, err := Load(s)
			if err != nil {
				return nil, err
			}
			if err := add(c); err != nil {
				return nil, err
			}
			continue
		}
		all, err := getBundled()
		if err != nil {
			return nil, err
		}
		found := false
		for _, c := range all {
			if s == "bundled" || c.Name == s {
				found = true
				if err := add(c); err != nil {
					return nil, err
				}
			}
		}
		if !found {
			var names []string
			for _, c := range all {
				names = append(names, c.Name)
			}
			return nil, fmt.Errorf("evaluation set %q: no such file or folder, and no bundled set of that name (bundled: %s; a path is read as a BEIR folder with corpus.jsonl, a SMART folder, an XQuAD-R .json file or QUESTIONS.json:SENTENCES.json)", s, strings.Join(names, ", "))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no evaluation sets")
	}
	return out, nil
}

// isPath tells a --data value naming files (Load) from a bundled set name.
// isPath: s names a file or folder (or a cross-lingual XQuAD-R pair).
func isPath(s string) bool {
	if strings.HasPrefix(s, "docs=") {
		return true
	}
	if q, sent, ok := strings.Cut(s, ":"); ok && strings.HasSuffix(q, ".json") && strings.HasSuffix(sent, ".json") {
		return true
	}
	_, err := os.Stat(s)
	return err == nil
}
