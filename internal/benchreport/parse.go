package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Output is what one or more `go test -bench` runs printed.
type Output struct {
	// Benches in the order they first appeared.
	Benches []*Bench
	// Notes are benchmarks skipped or failed, with what they said.
	Notes []Note
	// Failed are packages whose tests did not build or failed, with the
	// first compiler message of a build failure.
	Failed []string
	// Config is the last value of each "key: value" line (goos, goarch,
	// cpu).
	Config map[string]string

	byKey map[string]*Bench
}

// Bench is one benchmark (a sub-benchmark is a Bench of its own) and its
// results over the runs (-count).
type Bench struct {
	Pkg  string // import path
	Name string // e.g. BenchmarkView/welcome/80x24, without the -GOMAXPROCS suffix
	// Units in the order first reported.
	Units []string
	// Values per unit, one per run that reported it.
	Values map[string][]float64
	Iters  []int
}

// Top is the top-level benchmark function's name.
func (b *Bench) Top() string {
	top, _, _ := strings.Cut(b.Name, "/")
	return top
}

// Runs is how many runs reported a result.
func (b *Bench) Runs() int { return len(b.Iters) }

// Note is a benchmark that was skipped or failed.
type Note struct {
	Pkg, Name string
	Kind      string // SKIP or FAIL
	Text      string
}

var (
	resultRE = regexp.MustCompile(`^(Benchmark\S*)\s+(\d+)\s+(\S.*)$`)
	nameRE   = regexp.MustCompile(`^(Benchmark\S*)(\s.*)?$`)
	itersRE  = regexp.MustCompile(`^\s*(\d+)\s+(\S.*\s\S+/op.*)$`)
	noteRE   = regexp.MustCompile(`^\s*--- (SKIP|FAIL|BENCH): (Benchmark\S*)`)
	configRE = regexp.MustCompile(`^([a-z][a-z0-9-]*): (.*)$`)
	pkgEndRE = regexp.MustCompile(`^(ok|FAIL|\?)\s+(\S+)(\s+(.*))?$`)
)

// Parse reads `go test -bench` output. procs is the GOMAXPROCS the
// benchmarks ran with: the "-procs" suffix go test adds to names is
// dropped.
func Parse(r io.Reader, procs int) (*Output, error) {
	out := &Output{Config: map[string]string{}, byKey: map[string]*Bench{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var pkg, pending string
	buildErr := map[string]string{} // package → its first compiler message
	building := ""                  // the package whose compiler messages follow
	var note *Note                  // the note whose indented lines follow
	suffix := "-" + strconv.Itoa(procs)
	clean := func(name string) string {
		if procs > 1 {
			return strings.TrimSuffix(name, suffix)
		}
		return name
	}
	for sc.Scan() {
		line := sc.Text()
		if m := noteRE.FindStringSubmatch(line); m != nil {
			if note != nil && note.Kind != "BENCH" {
				out.Notes = append(out.Notes, *note)
			}
			note = &Note{Pkg: pkg, Name: clean(m[2]), Kind: m[1]}
			continue
		}
		if p, ok := strings.CutPrefix(line, "# "); ok {
			building, _, _ = strings.Cut(p, " ")
			building = strings.TrimSuffix(building, "_test") // an external test package
			continue
		}
		if building != "" {
			if _, seen := buildErr[building]; !seen && strings.Contains(line, ".go:") {
				buildErr[building] = strings.TrimSpace(line)
			}
			if strings.Contains(line, ".go:") || strings.HasPrefix(line, "\t") {
				continue
			}
			building = ""
		}
		if note != nil {
			if strings.HasPrefix(line, "    ") || strings.HasPrefix(line, "\t") {
				if note.Kind != "BENCH" {
					note.Text = strings.TrimSpace(note.Text + "\n" + strings.TrimSpace(line))
				}
				continue
			}
			if note.Kind != "BENCH" {
				out.Notes = append(out.Notes, *note)
			}
			note = nil
		}
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if m := resultRE.FindStringSubmatch(line); m != nil {
			if err := out.add(pkg, clean(m[1]), m[2], m[3]); err != nil {
				return nil, fmt.Errorf("%q: %w", line, err)
			}
			pending = ""
			continue
		}
		if m := nameRE.FindStringSubmatch(line); m != nil {
			// The benchmark printed something between its name and its
			// result: the result follows on a line of its own.
			pending = clean(m[1])
			continue
		}
		if m := itersRE.FindStringSubmatch(line); m != nil && pending != "" {
			if err := out.add(pkg, pending, m[1], m[2]); err != nil {
				return nil, fmt.Errorf("%q: %w", line, err)
			}
			pending = ""
			continue
		}
		if m := pkgEndRE.FindStringSubmatch(line); m != nil {
			if m[1] == "FAIL" {
				failed := m[2]
				if strings.HasPrefix(m[4], "[") {
					failed += " " + m[4] // [build failed], [setup failed]
				}
				if e := buildErr[m[2]]; e != "" {
					failed += ": " + e
				}
				out.Failed = append(out.Failed, failed)
			}
			continue
		}
		if m := configRE.FindStringSubmatch(line); m != nil && strings.Contains("goos goarch cpu", m[1]) {
			out.Config[m[1]] = strings.TrimSpace(m[2])
		}
	}
	if note != nil && note.Kind != "BENCH" {
		out.Notes = append(out.Notes, *note)
	}
	return out, sc.Err()
}

// add records one result line's iterations and "value unit" pairs.
func (o *Output) add(pkg, name, iters, rest string) error {
	n, err := strconv.Atoi(iters)
	if err != nil {
		return err
	}
	f := strings.Fields(rest)
	if len(f)%2 != 0 {
		return fmt.Errorf("odd number of value/unit fields")
	}
	key := pkg + "\x00" + name
	b := o.byKey[key]
	if b == nil {
		b = &Bench{Pkg: pkg, Name: name, Values: map[string][]float64{}}
		o.byKey[key] = b
		o.Benches = append(o.Benches, b)
	}
	b.Iters = append(b.Iters, n)
	for i := 0; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return fmt.Errorf("value %q: %w", f[i], err)
		}
		unit := f[i+1]
		if _, seen := b.Values[unit]; !seen {
			b.Units = append(b.Units, unit)
		}
		b.Values[unit] = append(b.Values[unit], v)
	}
	return nil
}

// Find returns the benchmark of the package (import path ending in
// pkgSuffix, "" for any) named name, or nil.
func (o *Output) Find(pkgSuffix, name string) *Bench {
	for _, b := range o.Benches {
		if b.Name == name && (pkgSuffix == "" || strings.HasSuffix(b.Pkg, pkgSuffix)) {
			return b
		}
	}
	return nil
}

// NotesFor returns the notes of a benchmark and its sub-benchmarks.
func (o *Output) NotesFor(pkg, top string) []Note {
	var out []Note
	for _, n := range o.Notes {
		if n.Pkg == pkg && (n.Name == top || strings.HasPrefix(n.Name, top+"/")) {
			out = append(out, n)
		}
	}
	return out
}
