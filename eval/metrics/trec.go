package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/tdro/tdro/internal/atomicfile"
)

// ReadQrels reads a TREC qrels file: "qid iter docid rel" per line.
func ReadQrels(path string) (Qrels, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	q, err := ParseQrels(f)
	if err != nil {
		return nil, fmt.Errorf("read qrels %s: %w", path, err)
	}
	return q, nil
}

// ParseQrels reads TREC qrels from r. A document judged twice for one query
// with different grades is an error.
func ParseQrels(r io.Reader) (Qrels, error) {
	q := Qrels{}
	err := scanLines(r, func(line int, f []string) error {
		if len(f) != 4 {
			return fmt.Errorf("line %d: want 4 fields (qid iter docid rel), got %d", line, len(f))
		}
		rel, err := strconv.Atoi(f[3])
		if err != nil {
			return fmt.Errorf("line %d: relevance %q is not an integer", line, f[3])
		}
		m := q[f[0]]
		if m == nil {
			m = map[string]int{}
			q[f[0]] = m
		}
		if old, ok := m[f[2]]; ok && old != rel {
			return fmt.Errorf("line %d: query %s document %s judged both %d and %d", line, f[0], f[2], old, rel)
		}
		m[f[2]] = rel
		return nil
	})
	return q, err
}

// ReadRun reads a TREC run file: "qid Q0 docid rank score tag" per line. The
// rank column is ignored (as trec_eval does); the tag of the first line is
// returned.
func ReadRun(path string) (Run, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	run, tag, err := ParseRun(f)
	if err != nil {
		return nil, "", fmt.Errorf("read run %s: %w", path, err)
	}
	return run, tag, nil
}

// ParseRun reads a TREC run from r. NaN or infinite scores and a document
// listed twice for one query are errors naming the line.
func ParseRun(r io.Reader) (Run, string, error) {
	run := Run{}
	tag := ""
	seen := map[[2]string]int{}
	err := scanLines(r, func(line int, f []string) error {
		if len(f) != 6 {
			return fmt.Errorf("line %d: want 6 fields (qid Q0 docid rank score tag), got %d", line, len(f))
		}
		score, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			return fmt.Errorf("line %d: score %q is not a number", line, f[4])
		}
		if math.IsNaN(score) || math.IsInf(score, 0) {
			return fmt.Errorf("line %d: score %s of query %s document %s is not finite", line, f[4], f[0], f[2])
		}
		key := [2]string{f[0], f[2]}
		if first, dup := seen[key]; dup {
			return fmt.Errorf("line %d: query %s document %s already listed on line %d", line, f[0], f[2], first)
		}
		seen[key] = line
		if tag == "" {
			tag = f[5]
		}
		run[f[0]] = append(run[f[0]], Result{DocID: f[2], Score: score})
		return nil
	})
	return run, tag, err
}

// WriteRun writes run atomically in TREC format, each query ranked the
// trec_eval way and cut to its best k results (k <= 0: all), queries in
// byte order.
func WriteRun(path string, run Run, tag string, k int) error {
	f, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := FormatRun(f, run, tag, k); err != nil {
		return fmt.Errorf("write run %s: %w", path, err)
	}
	return f.Commit()
}

// FormatRun writes run to w in TREC format (see WriteRun).
func FormatRun(w io.Writer, run Run, tag string, k int) error {
	if tag == "" || strings.ContainsAny(tag, " \t\n") {
		return fmt.Errorf("run tag %q must be one non-empty word", tag)
	}
	qids := make([]string, 0, len(run))
	for q := range run {
		qids = append(qids, q)
	}
	sort.Strings(qids)
	bw := bufio.NewWriter(w)
	for _, q := range qids {
		ranked := Rank(run[q])
		if k > 0 && len(ranked) > k {
			ranked = ranked[:k]
		}
		for i, r := range ranked {
			if math.IsNaN(r.Score) || math.IsInf(r.Score, 0) {
				return fmt.Errorf("query %s document %s: score %v is not finite", q, r.DocID, r.Score)
			}
			fmt.Fprintf(bw, "%s Q0 %s %d %s %s\n", q, r.DocID, i+1, strconv.FormatFloat(r.Score, 'g', -1, 64), tag)
		}
	}
	return bw.Flush()
}

func scanLines(r io.Reader, fn func(line int, fields []string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if err := fn(line, f); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", line+1, err)
	}
	return nil
}
