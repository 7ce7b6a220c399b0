package lazysched_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lazysched/lazysched"
	"github.com/lazysched/lazysched/lazytask"
	"github.com/lazysched/lazysched/scheduler"
)

// sentinels returns the exported Err* variables declared in the non-test
// files of dir, with what each is set to ("errors.New" or pkg.Name).
func sentinels(t *testing.T, dir string) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, sp := range g.Specs {
				vs := sp.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Err") || !name.IsExported() || i >= len(vs.Values) {
						continue
					}
					rhs := "?"
					switch v := vs.Values[i].(type) {
					case *ast.SelectorExpr:
						rhs = v.X.(*ast.Ident).Name + "." + v.Sel.Name
					case *ast.CallExpr:
						rhs = "call"
					}
					out[name.Name] = rhs
				}
			}
		}
	}
	return out
}

// The root package re-exports every sentinel of lazytask, scheduler,
// limiter and factory under its own name and value, so that errors.Is
// works through one import: a sentinel added below without its re-export
// fails here.
func TestRootReExportsEverySentinel(t *testing.T) {
	root := sentinels(t, ".")
	for _, pkg := range []string{"lazytask", "scheduler", "limiter", "factory"} {
		for name, rhs := range sentinels(t, pkg) {
			got, ok := root[name]
			if !ok {
				t.Errorf("%s.%s is not re-exported by package lazysched", pkg, name)
				continue
			}
			// An alias below (scheduler.ErrNilFunc = lazytask.ErrNilFunc)
			// may be re-exported from where it is declared.
			if got != pkg+"."+name && got != rhs {
				t.Errorf("lazysched.%s = %s; want %s.%s or %s", name, got, pkg, name, rhs)
			}
		}
	}
}

// One ErrInvalidOption for the whole module: a scheduler option's error
// matches the root's and lazytask's sentinel.
func TestOneErrInvalidOption(t *testing.T) {
	_, err := scheduler.New(scheduler.WithTimeout(-1))
	if !errors.Is(err, lazysched.ErrInvalidOption) || !errors.Is(err, lazytask.ErrInvalidOption) {
		t.Errorf("scheduler.New(WithTimeout(-1)) = %v; want an error matching lazysched.ErrInvalidOption", err)
	}
	bad := lazytask.New(func(context.Context) (int, error) { return 0, nil }, lazytask.WithWeight(0))
	if !errors.Is(bad.Err(), scheduler.ErrInvalidOption) {
		t.Errorf("lazytask.New(WithWeight(0)).Err() = %v; want an error matching scheduler.ErrInvalidOption", bad.Err())
	}
}
