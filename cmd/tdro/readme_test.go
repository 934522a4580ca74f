package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/internal/shareddata"
)

// readmeOwnDataCommand is the README's own-data line: the tdro run command
// with the tiny preset, and the my.json it shows in its comment.
func readmeOwnDataCommand(t *testing.T) (args []string, myJSON string) {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		cmd, comment, ok := strings.Cut(line, "# my.json: ")
		if ok && strings.HasPrefix(cmd, "tdro run --preset tiny ") {
			return strings.Fields(cmd)[1:], strings.TrimSpace(comment)
		}
	}
	t.Fatal(`README.md has no "tdro run --preset tiny ... # my.json: {...}" line`)
	return nil, ""
}

// TestREADMEOwnDataCommand runs the README's own-data command exactly as
// printed (a relative --out, --data ../shared/data) on a tiny mixture of
// two domains, from two working directories — once with the mixture's
// absolute path in my.json, once with a path relative to my.json — and
// requires each to reach the report.
func TestREADMEOwnDataCommand(t *testing.T) {
	shared := shareddata.Dir(t)
	args, myJSON := readmeOwnDataCommand(t)
	root := t.TempDir()
	// ../shared/data from each working directory is the bundled data.
	if err := os.MkdirAll(filepath.Join(root, "shared"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(shared, filepath.Join(root, "shared", "data")); err != nil {
		t.Fatal(err)
	}
	user := filepath.Join(root, "userdata")
	mix := &data.Mixture{}
	for _, dom := range []string{"recipes", "gardening"} {
		var recs []data.Record
		for i := range 12 {
			recs = append(recs, data.Record{QueryID: fmt.Sprint(i), Query: fmt.Sprintf("how do I do %s task %d", dom, i),
				Positives: []data.Passage{{Text: fmt.Sprintf("step-by-step %s advice number %d", dom, i)}},
				Negatives: []data.Passage{{Text: fmt.Sprintf("unrelated %s remark %d", dom, i+1)}}})
		}
		path := filepath.Join(user, dom+".jsonl")
		if err := data.WriteRecords(path, recs); err != nil {
			t.Fatal(err)
		}
		mix.Domains = append(mix.Domains, data.Domain{Name: dom, Path: path, Language: "en", Weight: 1})
	}
	if err := mix.Save(filepath.Join(user, "mixture.json")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ wd, mixture string }{
		{"work", filepath.Join(user, "mixture.json")}, // the README's /path/to/mixture.json
		{"elsewhere", "../userdata/mixture.json"},     // relative to my.json
	} {
		wd := filepath.Join(root, tc.wd)
		if err := os.MkdirAll(wd, 0o755); err != nil {
			t.Fatal(err)
		}
		cfg := strings.Replace(myJSON, "/path/to/mixture.json", tc.mixture, 1)
		if err := os.WriteFile(filepath.Join(wd, "my.json"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Chdir(wd)
		_, stderr, code := tdroProcess(t, "", args...)
		if code != 0 {
			t.Fatalf("from %s: tdro %v: exit %d\n%s", tc.wd, args, code, stderr)
		}
		out := args[len(args)-1]
		for _, f := range []string{"report.md", "report.html", "data/mixture.json"} {
			if _, err := os.Stat(filepath.Join(wd, out, f)); err != nil {
				t.Errorf("from %s: %v", tc.wd, err)
			}
		}
		if got, err := data.LoadMixture(filepath.Join(wd, out, "data/mixture.json")); err != nil || len(got.Domains) != 2 {
			t.Errorf("from %s: prepared mixture %+v, %v", tc.wd, got, err)
		}
	}
}
