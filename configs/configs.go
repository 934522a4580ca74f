// Package configs holds the presets of `tdro run`, compiled into the binary:
// default (the bundled quickstart, minutes on 2 cores), tiny (seconds; the
// end-to-end test) and large (a bigger model and longer training, for a
// GPU or a long CPU run). A user's --config file is read over a preset, so it
// only needs the fields that differ.
package configs

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.json
var files embed.FS

// Preset returns the JSON of a named preset.
func Preset(name string) ([]byte, error) {
	b, err := files.ReadFile(name + ".json")
	if err != nil {
		return nil, fmt.Errorf("unknown preset %q (have %s)", name, strings.Join(Names(), ", "))
	}
	return b, nil
}

// Names lists the presets.
func Names() []string {
	entries, _ := fs.ReadDir(files, ".")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".json"))
	}
	sort.Strings(names)
	return names
}
