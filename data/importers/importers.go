// Package importers converts the raw formats of public retrieval, QA,
// paraphrase, NLI and STS datasets into tdro's unified training records,
// mines BM25 hard negatives for them, removes training queries that repeat
// evaluation queries, and prepares the default training mixture (Prepare).
//
// Every importer reads whole files (training sources are small), names the
// file, line and field of any malformed item, and with Options.SkipBad
// skips and counts such items instead of failing.
package importers

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tdro/tdro/data"
)

// Options control an import.
type Options struct {
	// SkipBad skips malformed items (counting them in Result.Skipped)
	// instead of failing on the first one.
	SkipBad bool
	// MinScore is the lowest similarity score kept by the "stsb" format
	// (nil: 4, as in the paper's recipe; 0 keeps every pair).
	MinScore *float64
	// Columns maps the "pairs" format's columns.
	Columns *Columns
}

// Result is what an import produced.
type Result struct {
	Records  []data.Record
	Skipped  int     // malformed items skipped under SkipBad
	Problems []error // the first few skipped problems, for the user
	Filtered int     // well-formed items deliberately left out (e.g. STS pairs below MinScore)
}

const maxProblems = 20

// bad handles a malformed item: an error when not skipping, else counted.
func (r *Result) bad(opt Options, err error) error {
	if !opt.SkipBad {
		return err
	}
	r.Skipped++
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, err)
	}
	return nil
}

// ItemError is a malformed input item, located by file, line and field.
type ItemError = data.LineError

var errEmpty = errors.New("empty")

// Format is one importable source format.
type Format struct {
	Name        string
	Description string
	// Parse converts one file's bytes, appending to out; name is the file
	// name used in errors and record ids.
	Parse func(name string, src []byte, opt Options, out *Result) error
}

// Convert is Parse on text checked to be UTF-8 (a byte-order mark
// dropped). Invalid UTF-8 stops the import even with SkipBad: it says the
// whole file is in another encoding, which would otherwise be read as
// U+FFFD replacement characters.
func (f Format) Convert(name string, src []byte, opt Options, out *Result) error {
	src, err := data.CheckUTF8(name, src)
	if err != nil {
		return err
	}
	return f.Parse(name, src, opt, out)
}

// Formats lists every importer by name.
var Formats = map[string]Format{}

func register(f Format) { Formats[f.Name] = f }

// FormatNames lists the formats, sorted.
func FormatNames() []string {
	var names []string
	for n := range Formats {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Import reads files (in the order given) with the named format.
func Import(format string, paths []string, opt Options) (*Result, error) {
	f, ok := Formats[format]
	if !ok {
		return nil, fmt.Errorf("unknown format %q (known: %s)", format, strings.Join(FormatNames(), ", "))
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("format %s: no input files", format)
	}
	res := &Result{}
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if err := f.Convert(p, src, opt, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// stem is a file's base name without extension, used to make ids unique
// across the files of one domain.
func stem(name string) string {
	b := filepath.Base(name)
	return strings.TrimSuffix(b, filepath.Ext(b))
}

// clean collapses runs of white space and trims the text.
func clean(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
