package main

import (
	"bufio"
	"go/ast"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Method is a benchmark function's doc comment and where it is.
type Method struct {
	File string // relative to the module root
	Doc  string // the doc comment as Markdown ("" when it has none)
}

// modulePath reads the module path from root/go.mod.
func modulePath(root string) (string, error) {
	f, err := os.Open(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(m), `"`), nil
		}
	}
	return "", sc.Err()
}

// methods finds every Benchmark function in the module's test files and
// returns its doc comment, keyed by import path + "." + name (external
// test packages count as their directory's package, as go test reports
// them).
func methods(root, module string) (map[string]Method, error) {
	out := map[string]Method{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return nil // a file being edited: its benchmarks get no method text
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		pkg := module
		if dir := filepath.ToSlash(filepath.Dir(rel)); dir != "." {
			pkg = path.Join(module, dir)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "Benchmark") {
				continue
			}
			m := Method{File: filepath.ToSlash(rel)}
			if fn.Doc != nil {
				m.Doc = markdown(fn.Doc.Text())
			}
			out[pkg+"."+fn.Name.Name] = m
		}
		return nil
	})
	return out, err
}

// markdown renders a doc comment as Markdown. Backquotes, which doc
// comments use for code as Markdown does, are kept as code spans.
func markdown(text string) string {
	var p comment.Parser
	pr := comment.Printer{HeadingLevel: 5}
	md := strings.TrimSpace(string(pr.Markdown(p.Parse(text))))
	return strings.ReplaceAll(md, "\\`", "`")
}
