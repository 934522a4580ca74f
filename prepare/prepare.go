// Package prepare builds a training mixture from raw sources: it runs the
// importers (data/importers, which only convert formats), removes training
// queries that repeat evaluation queries, samples each domain, mines BM25
// hard negatives and writes the mixture, resumably (a stamp per domain).
package prepare

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/tdro/tdro/collection"
	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/data/importers"
	"github.com/tdro/tdro/dedup"
	"github.com/tdro/tdro/internal/atomicfile"
)

// Source is one training domain of the default mixture: where its raw
// files are under the data directory and how to read and prompt them.
type Source struct {
	Name         string
	Language     string
	Format       string   // a key of Formats
	Files        []string // glob patterns relative to the data directory (or absolute), matched in sorted order
	Instructions []string // e5-style query instructions
	Symmetric    bool     // both sides are the same kind of text (duplicates, NLI, STS)
}

// DefaultSTSLanguages are the stsb_mt languages in the default mixture: the
// XQuAD-R evaluation languages that no other training domain covers.
var DefaultSTSLanguages = []string{"de", "es", "ru"}

// DefaultSources lists the bundled training domains (../shared/data/train),
// with one stsb_mt domain per language in stsLanguages.
func DefaultSources(stsLanguages []string) []Source {
	srcs := []Source{
		{Name: "cmrc2018", Language: "zh", Format: "squad", Files: []string{"train/cmrc2018/*.json"}, Instructions: []string{collection.QAInstruction}},
		{Name: "drcd", Language: "zh-Hant", Format: "squad", Files: []string{"train/drcd/*.json"}, Instructions: []string{collection.QAInstruction}},
		{Name: "korquad", Language: "ko", Format: "squad", Files: []string{"train/korquad/*.json"}, Instructions: []string{collection.QAInstruction}},
		{Name: "ko_chatbot", Language: "ko", Format: "ko_chatbot", Files: []string{"train/ko_chatbot/*.csv"},
			Instructions: []string{"Given a chit-chat message, retrieve a suitable reply"}},
		{Name: "ko_qpair", Language: "ko", Format: "ko_qpair", Files: []string{"train/ko_qpair/*.csv"}, Symmetric: true,
			Instructions: []string{"Retrieve questions that are semantically equivalent to the given question"}},
		{Name: "pubmedqa", Language: "en", Format: "pubmedqa", Files: []string{"train/pubmedqa/*.json"},
			Instructions: []string{"Given a biomedical question, retrieve PubMed abstracts that answer the question"}},
		{Name: "conala", Language: "en", Format: "conala", Files: []string{"train/conala/*.json"},
			Instructions: []string{"Given a programming task described in natural language, retrieve Python code that does it"}},
		{Name: "agnews", Language: "en", Format: "agnews", Files: []string{"train/agnews/*.csv"},
			Instructions: []string{"Given a news headline, retrieve the news article it introduces"}},
		{Name: "sick", Language: "en", Format: "sick", Files: []string{"train/sick/SICK.txt"}, Symmetric: true,
			Instructions: []string{"Given a premise, retrieve a hypothesis that is entailed by the premise"}},
	}
	for _, lang := range stsLanguages {
		srcs = append(srcs, Source{Name: "stsb_mt-" + lang, Language: lang, Format: "stsb",
			Files: []string{"train/stsb_mt/stsb-" + lang + "-*.csv"}, Symmetric: true,
			Instructions: []string{"Retrieve semantically similar text"}})
	}
	return srcs
}

// Defaults of Options.
const (
	DefaultMaxPerDomain = 3000
	DefaultNegatives    = 7
	DefaultSeed         = 42
)

// Options configure Run.
type Options struct {
	DataDir      string   // data root in the ../shared/data layout (train/, eval/)
	OutDir       string   // where mixture.json and one <domain>.jsonl per domain go
	Seed         uint64   // sampling seed (0: DefaultSeed)
	MaxPerDomain int      // records kept per domain, a seeded sample (0: DefaultMaxPerDomain; < 0: all)
	Negatives    int      // hard negatives per record (0: DefaultNegatives; < 0: none)
	SkipBad      bool     // skip and count malformed source items instead of failing
	Sources      []Source // nil: DefaultSources(DefaultSTSLanguages)
	// Evaluation are the sets training queries are deduplicated against
	// (nil: collection.Bundled(DataDir)); pass them when already loaded.
	Evaluation []*collection.Collection
	// HeldOut records of every domain (a seeded choice) are set aside
	// before the MaxPerDomain sample, mined like the rest and written to
	// HeldOutDir/<domain>.jsonl, in no training file: the same records for
	// every MaxPerDomain, so that runs differing in it score on one test.
	HeldOut    int
	HeldOutDir string
	Log        io.Writer // per-domain progress lines (nil: silent)
}

// DomainReport describes one prepared domain.
type DomainReport struct {
	Name, Language string
	Imported       int            // well-formed records read from the source
	Filtered       int            // well-formed items the format leaves out on purpose (label-1 pairs, neutral NLI, STS < 4)
	Skipped        int            // malformed source items skipped (SkipBad)
	Duplicates     int            // training queries within SimHash distance 2 of an evaluation query, removed
	DuplicatesBy   map[string]int // removed duplicates per evaluation collection
	Records        int            // records written
	MeanQueryLen   float64        // characters
	MeanPassageLen float64        // characters, over positive passages
	WithNegatives  float64        // fraction of written records with at least one hard negative
	MeanNegatives  float64
	Elapsed        time.Duration
	Reused         bool // taken from a previous run (same sources, options and inputs)
}

// Report is what Run did.
type Report struct {
	Domains     []DomainReport
	EvalQueries int // evaluation queries fingerprinted for dedup
	Mixture     string
	Elapsed     time.Duration
}

// Run builds the training mixture from the raw sources: import each
// domain, drop queries that (nearly) repeat any bundled evaluation query,
// keep a seeded sample of at most MaxPerDomain records, mine BM25 hard
// negatives over the domain's whole passage pool, and write one JSONL file
// per domain plus mixture.json (uniform weights) under OutDir. The same
// options give byte-identical files. Each finished domain leaves a stamp in
// OutDir/.prepare, so an interrupted run resumes where it stopped and an
// unchanged domain is not recomputed.
func Run(ctx context.Context, opt Options) (*data.Mixture, *Report, error) {
	start := time.Now()
	if opt.Seed == 0 {
		opt.Seed = DefaultSeed
	}
	if opt.MaxPerDomain == 0 {
		opt.MaxPerDomain = DefaultMaxPerDomain
	}
	if opt.Negatives == 0 {
		opt.Negatives = DefaultNegatives
	}
	if opt.Sources == nil {
		opt.Sources = DefaultSources(DefaultSTSLanguages)
	}
	if opt.Log == nil {
		opt.Log = io.Discard
	}
	evals := opt.Evaluation
	if evals == nil {
		var err error
		if evals, err = collection.Bundled(opt.DataDir); err != nil {
			return nil, nil, fmt.Errorf("load evaluation sets for dedup: %w", err)
		}
	}
	if opt.HeldOut > 0 {
		if opt.HeldOutDir == "" {
			return nil, nil, fmt.Errorf("prepare: HeldOut %d without a HeldOutDir", opt.HeldOut)
		}
		if err := os.MkdirAll(opt.HeldOutDir, 0o755); err != nil {
			return nil, nil, err
		}
	}
	set := EvalQuerySet(evals)
	evalSum := evalFingerprint(evals) + " " + codeFingerprint()
	rep := &Report{EvalQueries: set.Len(), Mixture: filepath.Join(opt.OutDir, "mixture.json")}
	mix := &data.Mixture{}
	for _, src := range opt.Sources {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		d, dr, err := prepareDomain(ctx, src, set, evalSum, opt)
		if err != nil {
			return nil, nil, fmt.Errorf("domain %s: %w", src.Name, err)
		}
		verb := "prepared"
		if dr.Reused {
			verb = "reused  "
		}
		fmt.Fprintf(opt.Log, "%s %-14s %6d records in %v\n", verb, src.Name, dr.Records, dr.Elapsed.Round(time.Millisecond))
		mix.Domains = append(mix.Domains, d)
		rep.Domains = append(rep.Domains, dr)
	}
	for i := range mix.Domains {
		mix.Domains[i].Weight = 1 / float64(len(mix.Domains))
	}
	if err := mix.Save(rep.Mixture); err != nil {
		return nil, nil, err
	}
	rep.Elapsed = time.Since(start)
	return mix, rep, nil
}

func prepareDomain(ctx context.Context, src Source, set *dedup.Set, evalSum string, opt Options) (data.Domain, DomainReport, error) {
	start := time.Now()
	dr := DomainReport{Name: src.Name, Language: src.Language}
	var paths []string
	for _, g := range src.Files {
		if !filepath.IsAbs(g) {
			g = filepath.Join(opt.DataDir, g)
		}
		m, err := filepath.Glob(g)
		if err != nil {
			return data.Domain{}, dr, err
		}
		sort.Strings(m)
		paths = append(paths, m...)
	}
	if len(paths) == 0 {
		return data.Domain{}, dr, fmt.Errorf("no files match %s under %s", strings.Join(src.Files, ", "), opt.DataDir)
	}
	path := filepath.Join(opt.OutDir, src.Name+".jsonl")
	d := data.Domain{Name: src.Name, Path: path, Language: src.Language, Instructions: src.Instructions, Symmetric: src.Symmetric}
	if abs, err := filepath.Abs(path); err == nil {
		d.Path = abs
	}
	key, err := domainKey(src, paths, evalSum, opt)
	if err != nil {
		return data.Domain{}, dr, err
	}
	outputs := []string{path}
	if opt.HeldOut > 0 {
		outputs = append(outputs, filepath.Join(opt.HeldOutDir, src.Name+".jsonl"))
	}
	stampPath := filepath.Join(opt.OutDir, ".prepare", src.Name+".json")
	if rep, ok := readStamp[DomainReport](stampPath, key, outputs...); ok {
		dr = rep
		dr.Reused, dr.Elapsed = true, time.Since(start)
		d.Records, d.SourceRecords = dr.Records, dr.Imported-dr.Duplicates-opt.HeldOut
		return d, dr, nil
	}
	res, err := importers.Import(src.Format, paths, importers.Options{SkipBad: opt.SkipBad})
	if err != nil {
		return data.Domain{}, dr, err
	}
	dr.Imported, dr.Skipped, dr.Filtered = len(res.Records), res.Skipped, res.Filtered
	kept, by := RemoveEvalDuplicates(res.Records, set)
	dr.Duplicates, dr.DuplicatesBy = len(res.Records)-len(kept), by
	var dev []data.Record
	if n := opt.HeldOut; n > 0 {
		if len(kept) < 2*n {
			return data.Domain{}, dr, fmt.Errorf("%d records: holding out %d leaves fewer to train on than to score", len(kept), n)
		}
		dev, kept = SplitOff(kept, n, rand.New(rand.NewPCG(opt.Seed, 0x686f6c646f7574))) // "holdout"
	}
	recs := Sample(kept, opt.MaxPerDomain, opt.Seed)
	for _, rs := range [][]data.Record{recs, dev} { // each record's negatives depend only on the seed and its query
		if opt.Negatives > 0 && len(rs) > 0 {
			if err := MineNegatives(ctx, rs, res.Records, MineOptions{Negatives: opt.Negatives, Seed: opt.Seed, Label: src.Name}); err != nil {
				return data.Domain{}, dr, err
			}
		}
	}
	if dev != nil {
		if err := data.WriteRecords(outputs[1], dev); err != nil {
			return data.Domain{}, dr, err
		}
	}
	if len(recs) == 0 {
		return data.Domain{}, dr, fmt.Errorf("no records left (%d imported, %d duplicates of evaluation queries removed)", dr.Imported, dr.Duplicates)
	}
	if err := data.WriteRecords(path, recs); err != nil {
		return data.Domain{}, dr, err
	}
	dr.Records = len(recs)
	var ql, pl, np, withNeg, negs int
	for _, r := range recs {
		ql += utf8.RuneCountInString(r.Query)
		for _, p := range r.Positives {
			pl += utf8.RuneCountInString(p.Text)
			np++
		}
		if len(r.Negatives) > 0 {
			withNeg++
		}
		negs += len(r.Negatives)
	}
	dr.MeanQueryLen = float64(ql) / float64(len(recs))
	dr.MeanPassageLen = float64(pl) / float64(max(np, 1))
	dr.WithNegatives = float64(withNeg) / float64(len(recs))
	dr.MeanNegatives = float64(negs) / float64(len(recs))
	if err := writeStamp(stampPath, key, dr, outputs...); err != nil {
		return data.Domain{}, dr, err
	}
	dr.Elapsed = time.Since(start)
	d.Records, d.SourceRecords = len(recs), len(kept)
	return d, dr, nil
}

// A stamp (OutDir/.prepare/<domain>.json) records what produced a domain's
// files (its training file, and its held-out file when prepare holds one
// out) — a hash of the source definition, the options, the input files,
// the evaluation queries and the tdro executable — so that an interrupted
// or repeated prepare reuses the domains already done. It holds no times, so reruns stay
// byte-identical.
// Remine's stamps (OutDir/.mine/<domain>.json) are the same with its own
// report.
type stamp[R any] struct {
	Key    string `json:"key"`
	Output string `json:"output_sha256"` // each output's SHA-256, space-separated
	Report R      `json:"report"`
}

func domainKey(src Source, paths []string, evalSum string, opt Options) (string, error) {
	h := sha256.New()
	settings, _ := json.Marshal(struct {
		Version                 int
		Source                  Source
		Seed                    uint64
		MaxPerDomain, Negatives int
		SkipBad                 bool
		Evaluation              string
		HeldOut                 int `json:",omitempty"`
	}{1, src, opt.Seed, opt.MaxPerDomain, opt.Negatives, opt.SkipBad, evalSum, opt.HeldOut})
	h.Write(settings)
	for _, p := range paths {
		sum, err := fileSHA256(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "\n%s %s", filepath.Base(p), sum)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readStamp returns the report of the stamp at path when it matches key
// and every output file still has the recorded content.
func readStamp[R any](path, key string, outputs ...string) (R, bool) {
	var st stamp[R]
	var none R
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &st) != nil || st.Key != key {
		return none, false
	}
	if sum, err := outputsSHA256(outputs); err != nil || sum != st.Output {
		return none, false
	}
	return st.Report, true
}

// writeStamp records report as what produced outputs under key (report
// holds no times: reruns stay byte-identical).
func writeStamp[R any](path, key string, report R, outputs ...string) error {
	sum, err := outputsSHA256(outputs)
	if err != nil {
		return err
	}
	return atomicfile.WriteJSON(path, stamp[R]{Key: key, Output: sum, Report: report})
}

// outputsSHA256 lists the outputs' SHA-256s, space-separated (one output's
// is its file's, as stamps have always recorded).
func outputsSHA256(outputs []string) (string, error) {
	sums := make([]string, len(outputs))
	for i, o := range outputs {
		var err error
		if sums[i], err = fileSHA256(o); err != nil {
			return "", err
		}
	}
	return strings.Join(sums, " "), nil
}

// codeFingerprint hashes the running executable, so that stamps written by
// another build of tdro (whose importers may differ) are never reused.
func codeFingerprint() string {
	exe, err := os.Executable()
	if err == nil {
		var sum string
		if sum, err = fileSHA256(exe); err == nil {
			return sum
		}
	}
	return fmt.Sprintf("unknown-%d-%d", os.Getpid(), time.Now().UnixNano()) // never matches: no reuse
}

// evalFingerprint hashes the evaluation queries dedup compares against.
func evalFingerprint(cs []*collection.Collection) string {
	h := sha256.New()
	for _, c := range cs {
		fmt.Fprintf(h, "%s\x00", c.Name)
		for _, q := range c.Queries {
			fmt.Fprintf(h, "%s\x00", q.Text)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// EvalQuerySet fingerprints every query of the given evaluation
// collections (dedup.PaperDistance), remembering each one's collection.
func EvalQuerySet(cs []*collection.Collection) *dedup.Set {
	set := dedup.NewSet(dedup.PaperDistance)
	for _, c := range cs {
		for _, q := range c.Queries {
			set.Add(q.Text, c.Name)
		}
	}
	return set
}

// RemoveEvalDuplicates drops records whose query is within the set's
// distance of an evaluation query, and counts the drops per evaluation
// collection.
func RemoveEvalDuplicates(recs []data.Record, set *dedup.Set) (kept []data.Record, removedBy map[string]int) {
	removedBy = map[string]int{}
	for _, r := range recs {
		if src, dup := set.Match(r.Query); dup {
			removedBy[src]++
			continue
		}
		kept = append(kept, r)
	}
	return kept, removedBy
}

// SplitOff sets n records of recs drawn by rng aside (sorted by query id)
// and returns them and the rest (in their original order): prepare's
// held-out split before the sample, and the pipeline's after it.
func SplitOff(recs []data.Record, n int, rng *rand.Rand) (held, rest []data.Record) {
	pick := map[int]bool{}
	for _, i := range rng.Perm(len(recs))[:n] {
		pick[i] = true
	}
	for i, r := range recs {
		if pick[i] {
			held = append(held, r)
		} else {
			rest = append(rest, r)
		}
	}
	slices.SortFunc(held, data.ByQueryID)
	return held, rest
}

// Sample keeps a seeded uniform sample of at most n records (n < 0: all),
// in their original order.
func Sample(recs []data.Record, n int, seed uint64) []data.Record {
	if n < 0 || len(recs) <= n {
		return recs
	}
	rng := rand.New(rand.NewPCG(seed, 0x5a4d706c65)) // "sample"
	idx := rng.Perm(len(recs))[:n]
	sort.Ints(idx)
	out := make([]data.Record, n)
	for i, j := range idx {
		out[i] = recs[j]
	}
	return out
}

// WriteTable prints the report as a table: text columns left-aligned,
// numbers right-aligned.
func (r *Report) WriteTable(w io.Writer) error {
	nameW, langW := len("total (NN domains)"), len("language")
	for _, d := range r.Domains {
		nameW, langW = max(nameW, len(d.Name)), max(langW, len(d.Language))
	}
	left := func(s string, n int) string { return s + strings.Repeat(" ", n-len(s)) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\t%s\timported\tfiltered\tskipped\tdup removed\trecords\tquery len\tpassage len\t%% hard neg\tneg/rec\ttime\t\n", left("domain", nameW), left("language", langW))
	var imported, filtered, records, dups, skipped int
	for _, d := range r.Domains {
		elapsed := fmt.Sprintf("%.2fs", d.Elapsed.Seconds())
		if d.Reused {
			elapsed = "reused"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%s\t\n", left(d.Name, nameW), left(d.Language, langW),
			d.Imported, d.Filtered, d.Skipped, d.Duplicates, d.Records, d.MeanQueryLen, d.MeanPassageLen, 100*d.WithNegatives, d.MeanNegatives, elapsed)
		imported, filtered, skipped = imported+d.Imported, filtered+d.Filtered, skipped+d.Skipped
		records, dups = records+d.Records, dups+d.Duplicates
	}
	fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t\t\t\t\t%.2fs\t\n", left(fmt.Sprintf("total (%d domains)", len(r.Domains)), nameW), left("", langW),
		imported, filtered, skipped, dups, records, r.Elapsed.Seconds())
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "imported: well-formed records from the source; filtered: items the format leaves out by rule (label-1 pairs, neutral/contradiction NLI\n"+
		"pairs, STS < 4); skipped: malformed items; dup removed: queries within SimHash distance %d of one of %d evaluation queries;\n"+
		"records: written, a seeded sample of at most --max-per-domain; lengths in characters; mixture: %s\n", dedup.PaperDistance, r.EvalQueries, r.Mixture)
	return err
}

// DefaultDataDir is where the bundled data lives relative to the repository
// root; it is returned when that directory exists.
func DefaultDataDir() string {
	for _, d := range []string{"../shared/data", "shared/data"} {
		if _, err := os.Stat(filepath.Join(d, "train")); err == nil {
			return d
		}
	}
	return "../shared/data"
}
