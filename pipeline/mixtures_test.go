package pipeline

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tdro/tdro/collection"
	"github.com/tdro/tdro/internal/shareddata"
	"github.com/tdro/tdro/tokenize"
)

func TestPiecesKeepTheTokenCount(t *testing.T) {
	data := shareddata.Dir(t)
	med, err := collection.LoadSMART(filepath.Join(data, "eval", "classic", "med"))
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{strings.Repeat("中文句子没有空格。", 60), "short", ""}
	for _, d := range med.Docs[:20] {
		texts = append(texts, d.Text)
	}
	for _, name := range []string{"all-MiniLM-L6-v2", "qwen3"} {
		tok, err := tokenize.Load(filepath.Join(data, "tokenizers", name))
		if err != nil {
			t.Fatal(err)
		}
		for i, text := range texts {
			pieces := appendPieces(nil, text)
			n := 0
			for _, p := range pieces {
				if len(p) > pieceBytes {
					t.Fatalf("piece of %d bytes", len(p))
				}
				n += len(tok.Tokens(p))
			}
			if strings.Join(pieces, "") != text {
				t.Fatalf("text %d: pieces do not join back", i)
			}
			want := len(tok.Tokens(text))
			if name == "all-MiniLM-L6-v2" && n != want {
				t.Errorf("%s text %d: %d tokens in pieces, %d whole", name, i, n, want)
			}
			if name == "qwen3" && (n < want || float64(n) > 1.02*float64(want)+1) { // BPE merges may not cross a cut
				t.Errorf("%s text %d: %d tokens in pieces, %d whole", name, i, n, want)
			}
		}
	}
}
