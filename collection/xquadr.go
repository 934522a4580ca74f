package collection

import (
	"fmt"

	"github.com/tdro/tdro/data/squad"
)

type squadFile struct {
	path string
	f    *squad.File
}

func readXQuADR(path string) (*squadFile, error) {
	f, err := squad.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return &squadFile{path: path, f: f}, nil
}

// LoadXQuADR reads XQuAD-R (LAReQA) files: each question retrieves the
// sentence holding its answer from all sentences of the file. With
// questionsPath != sentencesPath the set is cross-lingual: questions come
// from one language's file and are matched by id to the answer sentences of
// the other.
func LoadXQuADR(questionsPath, sentencesPath, questionLang, sentenceLang string) (*Collection, error) {
	q, err := readXQuADR(questionsPath)
	if err != nil {
		return nil, err
	}
	s := q
	if sentencesPath != questionsPath {
		s, err = readXQuADR(sentencesPath)
	}
	return xquadr(q, s, questionLang, sentenceLang, err)
}

func xquadr(q, s *squadFile, qLang, sLang string, err error) (*Collection, error) {
	if err != nil {
		return nil, err
	}
	name, lang := "xquadr-"+qLang, qLang
	if qLang != sLang {
		name, lang = "xquadr-"+qLang+"-"+sLang, qLang+"-"+sLang
	}
	c := newCollection(name, lang)
	c.Instruction = QAInstruction // the same task whatever the languages
	// Sentences of the target language, and the relevant ones per question id.
	relevant := map[string][]string{}
	for ai, a := range s.f.Data {
		for pi := range a.Paragraphs {
			p := &a.Paragraphs[pi]
			if len(p.Sentences) == 0 {
				return nil, fmt.Errorf("%s line %d: field %q: no sentences (not an XQuAD-R file?)", s.path, a.Line, fmt.Sprintf("data[%d].paragraphs[%d].sentences", ai, pi))
			}
			ids := make([]string, len(p.Sentences))
			for si, text := range p.Sentences {
				ids[si] = fmt.Sprintf("%d-%d-%d", ai, pi, si)
				c.Docs = append(c.Docs, Doc{ID: ids[si], Text: text})
			}
			for k := range p.QAs {
				qa := &p.QAs[k]
				for _, si := range p.AnswerSentences(qa) {
					relevant[string(qa.ID)] = append(relevant[string(qa.ID)], ids[si])
				}
			}
		}
	}
	for _, a := range q.f.Data {
		for _, p := range a.Paragraphs {
			for _, qa := range p.QAs {
				id := string(qa.ID)
				if len(relevant[id]) == 0 {
					return nil, fmt.Errorf("%s line %d: question %q has no answer sentence in %s", q.path, a.Line, id, s.path)
				}
				c.Queries = append(c.Queries, Query{ID: id, Text: qa.Question})
				for _, d := range relevant[id] {
					addQrel(c.Qrels, id, d, 1)
				}
			}
		}
	}
	return c, c.Validate()
}
