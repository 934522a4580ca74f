package collection

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// WriteBEIR writes c as a BEIR folder (corpus.jsonl, queries.jsonl,
// qrels/SPLIT.tsv) that LoadBEIR reads back.
func WriteBEIR(dir, split string, c *Collection) error {
	if err := os.MkdirAll(filepath.Join(dir, "qrels"), 0o755); err != nil {
		return err
	}
	write := func(name string, fn func(w *bufio.Writer) error) error {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		w := bufio.NewWriter(f)
		if err := fn(w); err != nil {
			f.Close()
			return err
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	line := func(w *bufio.Writer, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	err := write("corpus.jsonl", func(w *bufio.Writer) error {
		for _, d := range c.Docs {
			if err := line(w, map[string]string{"_id": d.ID, "title": d.Title, "text": d.Text}); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = write("queries.jsonl", func(w *bufio.Writer) error {
			for _, q := range c.Queries {
				if err := line(w, map[string]string{"_id": q.ID, "text": q.Text}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err == nil {
		err = write(filepath.Join("qrels", split+".tsv"), func(w *bufio.Writer) error {
			fmt.Fprintln(w, "query-id\tcorpus-id\tscore")
			for _, q := range c.Queries {
				docs := make([]string, 0, len(c.Qrels[q.ID]))
				for d := range c.Qrels[q.ID] {
					docs = append(docs, d)
				}
				sort.Strings(docs)
				for _, d := range docs {
					fmt.Fprintf(w, "%s\t%s\t%d\n", q.ID, d, c.Qrels[q.ID][d])
				}
			}
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("write BEIR folder %s: %w", dir, err)
	}
	return nil
}
