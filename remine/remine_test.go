package remine

import (
	"context"
	"strings"
	"testing"

	"github.com/tdro/tdro/data"
)

// TestWithModelNeedsLengths: a model without tdro_train.json and no lengths
// given is refused before any work, naming the directory and the flags.
func TestWithModelNeedsLengths(t *testing.T) {
	dir := t.TempDir()
	_, _, err := WithModel(context.Background(), &data.Mixture{}, Options{Model: dir, OutDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "--query-len") {
		t.Fatalf("WithModel without lengths: %v", err)
	}
}
