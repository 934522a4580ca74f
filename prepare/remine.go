package prepare

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/tdro/tdro/data"
)

// RemineOptions configure Remine.
type RemineOptions struct {
	OutDir string
	// Mine is how each domain is mined; its Retriever and Label are set per
	// domain from Retriever.
	Mine MineOptions
	// Retriever gives the retriever for a domain (the model reads each
	// domain with its own instruction).
	Retriever func(d data.Domain) Retriever
	// RetrieverKey identifies the retriever (the model's weights and
	// lengths): a domain is reused only when it, the input file and the
	// options are unchanged.
	RetrieverKey string
}

// RemineReport is what Remine did per domain.
type RemineReport struct {
	Domains []RemineDomain
	Mixture string
	Elapsed time.Duration
}

// RemineDomain is one domain's re-mining.
type RemineDomain struct {
	Name          string
	Records       int
	MeanNegatives float64
	// New is the fraction of the written negatives that the input record
	// did not have: how much the retriever changed the negatives.
	New     float64
	Elapsed time.Duration
	Reused  bool
}

// Remine re-mines the hard negatives of every domain of mix with
// opt.Retriever (the paper's second pass: negatives from a trained dense
// retriever instead of BM25), the pool being the domain's own passages. It
// writes OutDir/<domain>.jsonl and OutDir/mixture.json (mix's weights,
// instructions and flags, the new paths). A domain finished by an earlier
// call with the same inputs and options is reused, so an interrupted call
// resumes where it stopped.
func Remine(ctx context.Context, mix *data.Mixture, opt RemineOptions) (*data.Mixture, RemineReport, error) {
	start := time.Now()
	var rep RemineReport
	if opt.OutDir == "" {
		return nil, rep, fmt.Errorf("remine: no output directory")
	}
	if err := os.MkdirAll(filepath.Join(opt.OutDir, ".mine"), 0o755); err != nil {
		return nil, rep, err
	}
	out := &data.Mixture{Domains: append([]data.Domain(nil), mix.Domains...)}
	for i, d := range mix.Domains {
		dr, path, err := remineDomain(ctx, d, opt)
		if err != nil {
			return nil, rep, fmt.Errorf("mine %s (%s): %w", d.Name, d.Path, err)
		}
		rep.Domains = append(rep.Domains, dr)
		out.Domains[i].Path, out.Domains[i].Records = path, dr.Records
	}
	rep.Mixture = filepath.Join(opt.OutDir, "mixture.json")
	if err := out.Save(rep.Mixture); err != nil {
		return nil, rep, err
	}
	rep.Elapsed = time.Since(start)
	return out, rep, nil
}

func remineDomain(ctx context.Context, d data.Domain, opt RemineOptions) (RemineDomain, string, error) {
	start := time.Now()
	dr := RemineDomain{Name: d.Name}
	path, err := filepath.Abs(filepath.Join(opt.OutDir, d.Name+".jsonl"))
	if err != nil {
		return dr, "", err
	}
	in, err := fileSHA256(d.Path)
	if err != nil {
		return dr, "", err
	}
	settings, _ := json.Marshal(struct {
		Version                int
		Retriever, Input, Code string
		Negatives              int
		Seed                   uint64
		Replace                bool
		Window                 [2]int
		Instructions           []string
		Symmetric              bool
	}{1, opt.RetrieverKey, in, codeFingerprint(), opt.Mine.Negatives, opt.Mine.Seed, opt.Mine.Replace,
		[2]int{opt.Mine.Window.From, opt.Mine.Window.To}, d.Instructions, d.Symmetric})
	sum := sha256.Sum256(settings)
	key := hex.EncodeToString(sum[:])
	stampPath := filepath.Join(opt.OutDir, ".mine", d.Name+".json")
	if rep, ok := readStamp[RemineDomain](stampPath, key, path); ok {
		rep.Reused, rep.Elapsed = true, time.Since(start)
		return rep, path, nil
	}
	recs, err := data.ReadRecords(d.Path)
	if err != nil {
		return dr, "", err
	}
	before := make([]map[string]bool, len(recs))
	for i, r := range recs {
		before[i] = map[string]bool{}
		for _, p := range r.Negatives {
			before[i][p.Text] = true
		}
	}
	mo := opt.Mine
	mo.Retriever, mo.Label = opt.Retriever(d), d.Name
	if err := MineNegatives(ctx, recs, nil, mo); err != nil {
		return dr, "", err
	}
	var negs, fresh int
	for i, r := range recs {
		for _, p := range r.Negatives {
			negs++
			if !before[i][p.Text] {
				fresh++
			}
		}
	}
	if err := data.WriteRecords(path, recs); err != nil {
		return dr, "", err
	}
	dr.Records = len(recs)
	dr.MeanNegatives = float64(negs) / float64(max(len(recs), 1))
	dr.New = float64(fresh) / float64(max(negs, 1))
	if err := writeStamp(stampPath, key, dr, path); err != nil {
		return dr, "", err
	}
	dr.Elapsed = time.Since(start)
	return dr, path, nil
}

// WriteTable prints one line per domain.
func (r RemineReport) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "domain\trecords\tnegatives/record\tnew negatives\ttime\t")
	for _, d := range r.Domains {
		t := d.Elapsed.Round(100 * time.Millisecond).String()
		if d.Reused {
			t = "reused"
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.1f%%\t%s\t\n", d.Name, d.Records, d.MeanNegatives, 100*d.New, t)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "mixture: %s (%s)\n", r.Mixture, r.Elapsed.Round(100*time.Millisecond))
	return err
}
