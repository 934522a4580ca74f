package train

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/tdro/tdro/data"
	"github.com/tdro/tdro/tokenize"
)

// Domain is one training dataset as the sampler sees it: its mixture entry
// and its records (data.IndexRecords reads them from disk as they are drawn;
// data.RecordSlice holds them in memory).
type Domain struct {
	data.Domain
	Records data.Records
}

// Example is one training example: a query and its group of passages, the
// positive first, then the hard negatives.
type Example struct {
	Domain   int      // index into the sampler's domains
	Query    string   // instruction applied
	Passages []string // [positive, negative_1, ..., negative_n]
}

// Batch is what one training step consumes.
type Batch struct {
	Domain   int // the batch's domain, or -1 for a mixed batch
	Examples []Example
}

// SamplerConfig says how batches are drawn.
type SamplerConfig struct {
	BatchSize int // examples per batch
	Negatives int // hard negatives per example (drawn with replacement when a record has fewer)
	// Mixed draws each example's domain independently (tDRO) instead of one
	// domain per batch (task-homogeneous batches of the LLM-DR recipe).
	Mixed bool
	// Weights overrides the domains' mixture weights (normalised here). In
	// mixed mode nil means uniform (1/k), as tDRO samples.
	Weights []float64
	Seed    uint64
}

// Sampler draws batches from domains, reproducibly: the same seed gives the
// same batches, and State/Restore continue a run exactly.
type Sampler struct {
	cfg     SamplerConfig
	domains []Domain
	cdf     []float64 // cumulative domain probabilities
	rng     *rand.Rand
	pcg     *rand.PCG
	cursor  []int   // next position in each domain's permutation
	epoch   []int   // completed passes over each domain
	perm    [][]int // permutation of each domain's records for its current epoch
}

// SamplerState is the serialisable position of a Sampler (part of every
// checkpoint). Permutations are rebuilt from the seed and epoch.
type SamplerState struct {
	RNG    []byte `json:"rng"`
	Cursor []int  `json:"cursor"`
	Epoch  []int  `json:"epoch"`
}

// NewSampler checks the domains against cfg and returns a sampler positioned
// at the start.
func NewSampler(domains []Domain, cfg SamplerConfig) (*Sampler, error) {
	if len(domains) == 0 {
		return nil, errors.New("sampler: no domains")
	}
	if cfg.BatchSize <= 0 {
		return nil, fmt.Errorf("sampler: batch size must be > 0, got %d", cfg.BatchSize)
	}
	if cfg.Negatives < 0 {
		return nil, fmt.Errorf("sampler: negatives must be >= 0, got %d", cfg.Negatives)
	}
	weights := cfg.Weights
	if weights == nil {
		weights = make([]float64, len(domains))
		for i, d := range domains {
			weights[i] = d.Weight
			if cfg.Mixed {
				weights[i] = 1
			}
		}
	}
	if len(weights) != len(domains) {
		return nil, fmt.Errorf("sampler: %d weights for %d domains", len(weights), len(domains))
	}
	cdf, err := cumulative(weights, domains)
	if err != nil {
		return nil, err
	}
	for i, d := range domains {
		if weights[i] == 0 {
			continue
		}
		if d.Records == nil || d.Records.Len() == 0 {
			return nil, fmt.Errorf("sampler: domain %q has no records", d.Name)
		}
		if !cfg.Mixed && d.Records.Len() < cfg.BatchSize {
			return nil, fmt.Errorf("sampler: domain %q has %d records, fewer than the batch size %d (its batches would repeat records as in-batch negatives)",
				d.Name, d.Records.Len(), cfg.BatchSize)
		}
	}
	pcg := rand.NewPCG(cfg.Seed, 0x7464726f) // "tdro"
	s := &Sampler{
		cfg: cfg, domains: domains, cdf: cdf, pcg: pcg, rng: rand.New(pcg),
		cursor: make([]int, len(domains)), epoch: make([]int, len(domains)), perm: make([][]int, len(domains)),
	}
	return s, nil
}

func cumulative(weights []float64, domains []Domain) ([]float64, error) {
	for i, w := range weights {
		if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
			return nil, fmt.Errorf("sampler: domain %q: weight must be a finite number >= 0, got %v", domains[i].Name, w)
		}
	}
	p, err := data.Normalize(weights)
	if err != nil {
		return nil, errors.New("sampler: domain weights sum to 0")
	}
	cdf := make([]float64, len(p))
	acc := 0.0
	for i, w := range p {
		acc += w
		cdf[i] = acc
	}
	return cdf, nil
}

// Probabilities returns the normalised domain probabilities the sampler uses.
func (s *Sampler) Probabilities() []float64 {
	p := make([]float64, len(s.cdf))
	prev := 0.0
	for i, c := range s.cdf {
		p[i], prev = c-prev, c
	}
	return p
}

// SetWeights changes the domain probabilities from the next batch on
// (online mixing); every domain given weight must have records.
func (s *Sampler) SetWeights(weights []float64) error {
	if len(weights) != len(s.domains) {
		return fmt.Errorf("sampler: %d weights for %d domains", len(weights), len(s.domains))
	}
	for i, d := range s.domains {
		if weights[i] > 0 && (d.Records == nil || d.Records.Len() < s.cfg.BatchSize) {
			return fmt.Errorf("sampler: domain %q cannot be sampled (%d records, batch %d)", d.Name, d.Records.Len(), s.cfg.BatchSize)
		}
	}
	cdf, err := cumulative(weights, s.domains)
	if err != nil {
		return err
	}
	s.cdf = cdf
	return nil
}

// Domains returns the sampler's domains, in mixture order.
func (s *Sampler) Domains() []Domain { return s.domains }

func (s *Sampler) drawDomain() int {
	u := s.rng.Float64()
	for i, c := range s.cdf {
		if u < c { // zero-weight domains never win: their c equals the previous one
			return i
		}
	}
	last := len(s.cdf) - 1 // u rounded above the final sum: the last domain with weight
	for last > 0 && s.cdf[last] == s.cdf[last-1] {
		last--
	}
	return last
}

// nextRecord returns the next record of domain d in its shuffled order,
// starting a new epoch (fresh permutation) when the domain is exhausted.
func (s *Sampler) nextRecord(d int) (data.Record, error) {
	n := s.domains[d].Records.Len()
	if s.cursor[d] >= n {
		s.cursor[d] = 0
		s.epoch[d]++
		s.perm[d] = nil
	}
	if s.perm[d] == nil {
		s.perm[d] = permutation(n, s.cfg.Seed, d, s.epoch[d])
	}
	i := s.perm[d][s.cursor[d]]
	s.cursor[d]++
	return s.record(d, i)
}

// record reads record i of domain d; one without a positive passage (only
// records built in memory can lack one: files are validated when indexed)
// is an error naming it.
func (s *Sampler) record(d, i int) (data.Record, error) {
	r, err := s.domains[d].Records.Record(i)
	if err != nil {
		return data.Record{}, fmt.Errorf("sampler: domain %q: %w", s.domains[d].Name, err)
	}
	if len(r.Positives) == 0 {
		return data.Record{}, fmt.Errorf("sampler: domain %q record %d (query_id %q) has no positive passage", s.domains[d].Name, i, r.QueryID)
	}
	return r, nil
}

// permutation is a function of (seed, domain, epoch) only, so a restored
// sampler rebuilds it without storing it.
func permutation(n int, seed uint64, domain, epoch int) []int {
	rng := rand.New(rand.NewPCG(seed^0x9e3779b97f4a7c15, uint64(domain)<<32|uint64(epoch)))
	return rng.Perm(n)
}

// Next draws the next batch. Its only errors are records that cannot be
// read (a domain file changed or removed under a running job).
func (s *Sampler) Next() (Batch, error) {
	b := Batch{Domain: -1, Examples: make([]Example, s.cfg.BatchSize)}
	if !s.cfg.Mixed {
		b.Domain = s.drawDomain()
	}
	for i := range b.Examples {
		d := b.Domain
		if s.cfg.Mixed {
			d = s.drawDomain()
		}
		r, err := s.nextRecord(d)
		if err != nil {
			return Batch{}, err
		}
		if b.Examples[i], err = s.example(d, r); err != nil {
			return Batch{}, err
		}
	}
	return b, nil
}

// PassageInput is a passage as the encoder reads it: title and text, after
// the instruction too in a symmetric domain (both sides are prompted).
func PassageInput(instr string, symmetric bool, p data.Passage) string {
	t := PassageText(p)
	if symmetric {
		t = tokenize.Instruct(instr, t)
	}
	return t
}

// DomainTexts calls text with every text the trainer can write for the
// records of domain d, queries (query true) and passages (positives and
// hard negatives): record i with the domain's instruction i mod n, where
// the trainer draws one per example.
func DomainTexts(d data.Domain, recs []data.Record, text func(query bool, s string)) {
	for i, r := range recs {
		instr := ""
		if len(d.Instructions) > 0 {
			instr = d.Instructions[i%len(d.Instructions)]
		}
		text(true, tokenize.Instruct(instr, r.Query))
		for _, p := range r.Positives {
			text(false, PassageInput(instr, d.Symmetric, p))
		}
		for _, p := range r.Negatives {
			text(false, PassageInput(instr, d.Symmetric, p))
		}
	}
}

func (s *Sampler) example(d int, r data.Record) (Example, error) {
	dom := &s.domains[d]
	instr := ""
	if len(dom.Instructions) > 0 {
		instr = dom.Instructions[s.rng.IntN(len(dom.Instructions))]
	}
	ex := Example{Domain: d, Query: tokenize.Instruct(instr, r.Query), Passages: make([]string, 1+s.cfg.Negatives)}
	passage := func(p data.Passage) string { return PassageInput(instr, dom.Symmetric, p) }
	ex.Passages[0] = passage(r.Positives[s.rng.IntN(len(r.Positives))])
	negs := r.Negatives
	if len(negs) == 0 {
		// No mined negatives: fall back to random passages of the same domain,
		// as Tevatron does for records without hard negatives.
		for j := 1; j <= s.cfg.Negatives; j++ {
			o, err := s.record(d, s.rng.IntN(dom.Records.Len()))
			if err != nil {
				return Example{}, err
			}
			ex.Passages[j] = passage(o.Positives[s.rng.IntN(len(o.Positives))])
		}
		return ex, nil
	}
	if len(negs) >= s.cfg.Negatives {
		// Without replacement: a random subset in random order.
		for j, k := range s.rng.Perm(len(negs))[:s.cfg.Negatives] {
			ex.Passages[1+j] = passage(negs[k])
		}
	} else {
		for j := 1; j <= s.cfg.Negatives; j++ {
			ex.Passages[j] = passage(negs[s.rng.IntN(len(negs))])
		}
	}
	return ex, nil
}

// PassageText joins a passage's title and text as Tevatron does
// (data.TitleText).
func PassageText(p data.Passage) string { return data.TitleText(p.Title, p.Text) }

// State returns the sampler's position.
func (s *Sampler) State() (SamplerState, error) {
	rng, err := s.pcg.MarshalBinary()
	if err != nil {
		return SamplerState{}, err
	}
	return SamplerState{RNG: rng, Cursor: append([]int(nil), s.cursor...), Epoch: append([]int(nil), s.epoch...)}, nil
}

// Restore moves the sampler to a saved position.
func (s *Sampler) Restore(st SamplerState) error {
	if len(st.Cursor) != len(s.domains) || len(st.Epoch) != len(s.domains) {
		return fmt.Errorf("sampler state has %d domains, the mixture %d", len(st.Cursor), len(s.domains))
	}
	if err := s.pcg.UnmarshalBinary(st.RNG); err != nil {
		return fmt.Errorf("sampler state: %w", err)
	}
	for d := range s.domains {
		if st.Cursor[d] < 0 || st.Cursor[d] > s.domains[d].Records.Len() {
			return fmt.Errorf("sampler state: domain %q cursor %d out of range", s.domains[d].Name, st.Cursor[d])
		}
	}
	copy(s.cursor, st.Cursor)
	copy(s.epoch, st.Epoch)
	for d := range s.perm {
		s.perm[d] = nil
	}
	return nil
}
