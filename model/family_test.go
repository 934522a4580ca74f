package model

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// familyFiles are the files allowed to ask which family or model_type a
// config is: the registry and one file per family.
var familyFiles = map[string]bool{"family.go": true, "bert.go": true, "llama.go": true, "static.go": true}

// TestNoFamilySwitchOutsideRegistry parses every non-test Go file of the
// module and fails on a comparison or switch on ModelType outside the
// family files: adding a family must be one new file plus its register call.
func TestNoFamilySwitchOutsideRegistry(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if filepath.Dir(path) == filepath.Join(root, "model") && familyFiles[d.Name()] {
			return nil
		}
		checked++
		for _, pos := range modelTypeBranches(t, path) {
			t.Errorf("%s: branches on ModelType; move it into a family (model/family.go)", pos)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked %d files; the walk missed the module", checked)
	}
}

// modelTypeBranches finds `x.ModelType ==/!=` and `switch x.ModelType`.
func modelTypeBranches(t *testing.T, path string) []string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	isType := func(e ast.Expr) bool {
		s, ok := e.(*ast.SelectorExpr)
		return ok && s.Sel.Name == "ModelType"
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BinaryExpr:
			if (n.Op == token.EQL || n.Op == token.NEQ) && (isType(n.X) || isType(n.Y)) {
				out = append(out, fset.Position(n.Pos()).String())
			}
		case *ast.SwitchStmt:
			if n.Tag != nil && isType(n.Tag) {
				out = append(out, fset.Position(n.Pos()).String())
			}
		case *ast.IndexExpr:
			if isType(n.Index) { // a map keyed by model_type
				out = append(out, fset.Position(n.Pos()).String())
			}
		}
		return true
	})
	return out
}

// TestRegistryKnowsEveryFamily checks the registered types build a config
// each and that an unknown type's error lists the registered ones.
func TestRegistryKnowsEveryFamily(t *testing.T) {
	want := []string{"bert", "llama", "mistral", "qwen2", "roberta", "static", "xlm-roberta"}
	if got := strings.Join(ModelTypes(), " "); got != strings.Join(want, " ") {
		t.Fatalf("ModelTypes() = %s, want %s", got, strings.Join(want, " "))
	}
	for _, mt := range want {
		c := smallConfig(mt)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", mt, err)
		}
		if len(specs(c)) == 0 {
			t.Errorf("%s: no weights", mt)
		}
	}
	err := (&Config{ModelType: "qwen3", VocabSize: 8, HiddenSize: 8, NumLayers: 1, NumHeads: 1, IntermediateSize: 8}).Validate()
	if err == nil || !strings.Contains(err.Error(), "bert, llama, mistral, qwen2, roberta, static, xlm-roberta") {
		t.Errorf("qwen3: %v, want an error listing the registered types", err)
	}
}
