// Package configs holds the presets of `tdro run`, compiled into the binary:
// default (the bundled quickstart, minutes on 2 cores), study (the default
// replicated over 3 seeds with baselines and the bottom-k control), tiny (seconds; the
// end-to-end test), large (a bigger model and longer training, for a
// GPU or a long CPU run) and official (tiny-bert at the earlier default's
// sizes, with the official tDRO recipe's values: temperature 0.002 in every stage, 1+1 passages in
// stages 0 and 2 and 1+7 in stage 1, the official measure, eta 0.02, 4
// gradient-accumulation micro-batches, weight decay 0.1, top-70% transfer). A user's --config file is read over a preset, so it
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
