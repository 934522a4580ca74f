package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/dro"
	"github.com/tdro/tdro/internal/atomicfile"
	"github.com/tdro/tdro/tokenize"
)

// DomainStats is what one prepared domain holds.
type DomainStats struct {
	Records int   `json:"records"`
	Tokens  int64 `json:"tokens"` // queries and positive passages, untruncated, with the run's tokenizer (hard negatives are mined from the same passages, so they would count them twice)
}

// MixtureStats is the data a fine-tuning mixture draws from: the domains it
// samples with a weight > 0.
type MixtureStats struct {
	Name     string             `json:"name"`
	Strategy string             `json:"strategy"`
	Domains  []string           `json:"domains"`
	Weights  map[string]float64 `json:"weights"`
	Records  int                `json:"records"`
	Tokens   int64              `json:"tokens"`
}

// StatsFile is mixtures/stats.json.
type StatsFile struct {
	Domains  map[string]DomainStats `json:"domains"`
	Mixtures []MixtureStats         `json:"mixtures"` // uniform first
}

// countDomain counts the records and the query and positive tokens of a domain file.
func countDomain(ctx context.Context, tok *tokenize.Tokenizer, path string) (DomainStats, error) {
	var st DomainStats
	var texts []string
	flush := func() {
		for _, t := range texts {
			st.Tokens += int64(len(tok.Tokens(t)))
		}
		texts = texts[:0]
	}
	err := data.ScanRecords(path, func(_ int, r data.Record) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		st.Records++
		texts = appendPieces(texts, r.Query)
		for _, p := range r.Positives {
			texts = appendPieces(texts, passageText(p))
		}
		if len(texts) >= 4096 {
			flush()
		}
		return nil
	})
	flush()
	return st, err
}

// pieceBytes bounds the text handed to the tokenizer at once: its cost
// grows faster than linearly with the length of a text (measured: 28 ms for
// a 1,150-character PubMed abstract, 0.4 ms for a 170-character headline).
const pieceBytes = 256

// appendPieces cuts text before whitespace into pieces of at most
// pieceBytes (at a rune boundary when a piece has no space, as in Chinese).
// Pre-tokenizers split at whitespace, so the token count is unchanged for
// WordPiece and byte-level BPE keeps the space with the following word.
func appendPieces(out []string, text string) []string {
	for len(text) > pieceBytes {
		cut := strings.LastIndexFunc(text[:pieceBytes], unicode.IsSpace)
		if cut <= 0 {
			cut = pieceBytes
			for cut > 0 && !utf8.RuneStart(text[cut]) {
				cut--
			}
		}
		out = append(out, text[:cut])
		text = text[cut:]
	}
	return append(out, text)
}

func passageText(p data.Passage) string {
	if p.Title == "" {
		return p.Text
	}
	return p.Title + " " + p.Text
}

// transferStage turns the learned weights into the stage-2 mixtures and
// counts the data each one draws from.
func transferStage(opt Options, tokenizerPath string) Stage {
	cfg := opt.Config
	var learned []string
	for _, l := range cfg.weightLearners() {
		learned = append(learned, cfg.learnerStage(l))
	}
	mixture, mixtureStage := cfg.trainingMixture()
	return Stage{
		Name: "transfer", Kind: KindTransfer, After: append([]string{mixtureStage}, learned...), Label: "transfer", Flow: learned,
		Inputs: []string{tokenizerPath},
		Config: struct {
			Transfer []TransferConfig
			Weights  string
		}{cfg.transfers(), cfg.DRO.SelectFrom},
		// One output per mixture, so that each fine-tuning keys on its own
		// (Stage.Reads); the directory is scratch, cleared with the key.
		Outputs: transferOutputs(cfg),
		Scratch: []string{mixturesDir},
		Run: func(ctx context.Context, s *Step) error {
			mix, err := data.LoadMixture(s.Path(mixture))
			if err != nil {
				return err
			}
			tok, err := tokenize.Load(tokenizerPath)
			if err != nil {
				return err
			}
			stats := StatsFile{Domains: map[string]DomainStats{}}
			for _, d := range mix.Domains {
				if stats.Domains[d.Name], err = countDomain(ctx, tok, d.Path); err != nil {
					return fmt.Errorf("count %s: %w", d.Name, err)
				}
			}
			add := func(name, strategy string, m *data.Mixture) {
				ms := MixtureStats{Name: name, Strategy: strategy, Weights: map[string]float64{}}
				for i, w := range m.Weights() {
					d := m.Domains[i]
					if w == 0 {
						continue
					}
					ms.Domains = append(ms.Domains, d.Name)
					ms.Weights[d.Name] = w
					ms.Records += stats.Domains[d.Name].Records
					ms.Tokens += stats.Domains[d.Name].Tokens
				}
				stats.Mixtures = append(stats.Mixtures, ms)
			}
			add("uniform", "uniform", mix)
			for _, t := range cfg.transfers() {
				out := s.Path(mixturePath(t.Name))
				var m *data.Mixture
				switch t.Strategy {
				case dro.Proportional, dro.Temperature:
					m, err = baselineMixture(mix, t, out)
				case StrategyODM: // starts uniform; the bandit moves the weights while it trains
					m = mix
					err = mix.Save(out)
				default:
					m, err = dro.TransferFiles(s.Path(mixture), s.Path(cfg.learnerWeights(cfg.learnerOf(t))), t.Strategy, t.Percent, out)
				}
				if err != nil {
					return err
				}
				add(t.Name, strategyLabel(t), m)
				s.Logf("%s: %d of %d domains", t.Name, len(m.Domains), len(mix.Domains))
			}
			return atomicfile.WriteJSON(s.Path(mixturesDir, "stats.json"), &stats)
		},
	}
}

// transferOutputs are the transfer stage's files: the data statistics and
// one mixture per transfer entry.
func transferOutputs(cfg *Config) []string {
	out := []string{filepath.Join(mixturesDir, "stats.json")}
	for _, t := range cfg.transfers() {
		out = append(out, mixturePath(t.Name))
	}
	return out
}

// baselineMixture writes a size-based baseline (no learned weights) of mix.
func baselineMixture(mix *data.Mixture, t TransferConfig, out string) (*data.Mixture, error) {
	sized := &data.Mixture{Domains: append([]data.Domain(nil), mix.Domains...)}
	if err := dro.RecordCounts(sized); err != nil {
		return nil, err
	}
	m, err := dro.Baseline(sized, t.Strategy, t.Temperature)
	if err != nil {
		return nil, fmt.Errorf("transfer %s: %w", t.Name, err)
	}
	return m, m.Save(out)
}

func strategyLabel(t TransferConfig) string {
	switch t.Strategy {
	case dro.TopK:
		return fmt.Sprintf("top-k %g%%", t.Percent)
	case dro.BottomK:
		return fmt.Sprintf("bottom-k %g%%", t.Percent)
	case dro.Temperature:
		return fmt.Sprintf("temperature T=%g", t.Temperature)
	}
	return string(t.Strategy)
}

// loadStats reads mixtures/stats.json.
func loadStats(dir string) (*StatsFile, error) {
	var st StatsFile
	if err := readJSON(filepath.Join(dir, mixturesDir, "stats.json"), &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := data.DecodeJSON(b, v); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}
