package tokenize

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/tdro/tdro/internal/shareddata"
)

func load(t testing.TB, name string) *Tokenizer {
	t.Helper()
	tok, err := Load(filepath.Join(shareddata.Dir(t), "tokenizers", name))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestWordPieceTemplateTruncationPadding(t *testing.T) {
	tok := load(t, "all-MiniLM-L6-v2")
	if got := tok.Encode("Hello, world!", 0); !slices.Equal(got, []int32{101, 7592, 1010, 2088, 999, 102}) {
		t.Fatalf("Encode = %v", got)
	}
	// Truncation keeps [CLS] ... [SEP].
	if got := tok.Encode("Hello, world!", 4); !slices.Equal(got, []int32{101, 7592, 1010, 102}) {
		t.Fatalf("truncated = %v", got)
	}
	b := tok.EncodeBatch([]string{"hello", "Hello, world!"}, 0)
	if len(b.IDs[0]) != 6 || !slices.Equal(b.IDs[0], []int32{101, 7592, 102, 0, 0, 0}) || !slices.Equal(b.Mask[0], []int32{1, 1, 1, 0, 0, 0}) {
		t.Fatalf("padded batch = %v %v", b.IDs, b.Mask)
	}
	if tok.VocabSize() != 30522 || tok.PadID() != 0 {
		t.Fatalf("vocab %d pad %d", tok.VocabSize(), tok.PadID())
	}
}

func TestByteLevelBPEAndEOS(t *testing.T) {
	tok := load(t, "qwen3")
	eos, ok := tok.TokenID("<|im_end|>")
	if !ok || tok.EOSID() != eos {
		t.Fatalf("EOS = %d, want <|im_end|> = %d", tok.EOSID(), eos)
	}
	plain := tok.Encode("Hello world", 0)
	if len(plain) != 2 {
		t.Fatalf("Hello world -> %v, want 2 tokens", plain)
	}
	tok.AppendEOS = true
	got := tok.Encode("Hello world  and more", 3)
	if len(got) != 3 || got[2] != eos || got[0] != plain[0] || got[1] != plain[1] {
		t.Fatalf("truncated with EOS = %v", got)
	}
	if s := tok.Decode(tok.Encode("Grüße, 世界!  ok", 0)[:len(tok.Encode("Grüße, 世界!  ok", 0))-1]); s != "Grüße, 世界!  ok" {
		t.Fatalf("round trip = %q", s)
	}
}

func TestInstruct(t *testing.T) {
	if got := Instruct("Given a question, retrieve passages", "what is bm25"); got != "Instruct: Given a question, retrieve passages\nQuery: what is bm25" {
		t.Fatal(got)
	}
	if Instruct("", "q") != "q" {
		t.Fatal("empty task must leave the query alone")
	}
}
