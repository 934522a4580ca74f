package collection

import "strings"

// QAInstruction is the instruction of extractive QA over Wikipedia: the
// training instruction of the bundled QA domains (cmrc2018, drcd, korquad,
// data/importers) and the evaluation instruction of XQuAD-R, the same task,
// so that evaluation asks the model what training taught it.
const QAInstruction = "Given a question, retrieve Wikipedia passages that answer the question"

// instructions are the query instructions of known evaluation sets, by
// exact name (case aside; XQuAD-R sets get QAInstruction from their
// loader, whatever their name). A set named otherwise gets none, and
// evaluation warns: guessing from a prefix gave a BEIR folder named
// "medical-faq" MEDLINE's instruction and one named "nqueens-docs" NQ's.
// E5-Mistral's (Wang et al. 2024, which the LLM-DR recipe and
// tDRO's evaluation use) for BEIR, and ones in the same style for the classic
// SMART collections and XQuAD-R. A retriever trained with instructed queries
// must be evaluated with them too: the instruction is part of its input.
var instructions = map[string]string{
	"arguana":              "Given a claim, find documents that refute the claim",
	"climate-fever":        "Given a claim about climate change, retrieve documents that support or refute the claim",
	"dbpedia-entity":       "Given a query, retrieve relevant entity descriptions from DBPedia",
	"dbpedia-entity-5k":    "Given a query, retrieve relevant entity descriptions from DBPedia", // bundled sample
	"fever":                "Given a claim, retrieve documents that support or refute the claim",
	"fiqa":                 "Given a financial question, retrieve user replies that best answer the question",
	"hotpotqa":             "Given a multi-hop question, retrieve documents that can help answer the question",
	"msmarco":              "Given a web search query, retrieve relevant passages that answer the query",
	"msmarco-trec-dl19-5k": "Given a web search query, retrieve relevant passages that answer the query", // bundled sample
	"nfcorpus":             "Given a question, retrieve relevant documents that best answer the question",
	"nq":                   "Given a question, retrieve Wikipedia passages that answer the question",
	"quora":                "Given a question, retrieve questions that are semantically equivalent to the given question",
	"scidocs":              "Given a scientific paper title, retrieve paper abstracts that are cited by the given paper",
	"scifact":              "Given a scientific claim, retrieve documents that support or refute the claim",
	"webis-touche2020":     "Given a question, retrieve detailed and persuasive arguments that answer the question",
	"trec-covid":           "Given a query on COVID-19, retrieve documents that answer the query",
	"cisi":                 "Given a query on library and information science, retrieve abstracts that are relevant to it",
	"cran":                 "Given a question on aeronautics, retrieve scientific abstracts that answer the question",
	"med":                  "Given a medical question, retrieve MEDLINE abstracts that answer the question",
	"adi":                  "Given a query on documentation, retrieve abstracts that are relevant to it",
}

// DefaultInstruction is the query instruction tdro uses for an evaluation
// set of exactly this name (any case), or "" when it knows none (give one
// with tdro eval --instruction, or eval.instruction in a run config).
func DefaultInstruction(name string) string {
	return instructions[strings.ToLower(name)]
}

// newCollection is an empty collection with its default instruction.
func newCollection(name, lang string) *Collection {
	return &Collection{Name: name, Language: lang, Instruction: DefaultInstruction(name), Qrels: map[string]map[string]int{}}
}
