package main

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// Report is everything BENCHMARKS.md says.
type Report struct {
	Out     *Output
	Methods map[string]Method
	Machine []KV // name, value
	Command string
	Full    bool
	// AtScale: the run had a million users (KIOSK_BENCH_USERS), the scale
	// the search and import targets are set for.
	AtScale bool
	Module  string
	// Extra figures measured outside go test (the binary's size).
	Extra []ExtraFigure
}

// KV is a row of a two-column table.
type KV struct{ K, V string }

// ExtraFigure is a figure measured by the report's own program.
type ExtraFigure struct {
	Title, Value, Method string
}

// rel shortens an import path to its directory in the module.
func (r *Report) rel(pkg string) string {
	if pkg == r.Module {
		return "."
	}
	return strings.TrimPrefix(pkg, r.Module+"/")
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// Write writes the report as Markdown.
func (r *Report) Write(w io.Writer) error {
	p := &printer{w: w}
	p.f("# Benchmarks\n\n")
	p.f("<!-- Written by %s (internal/benchreport) from one run; do not edit by hand. -->\n\n", r.Command)
	p.f("Every figure here comes from one run of `%s` on the machine below. ", r.Command)
	p.f("Each benchmark ran several times (`go test -count`); a figure is the **median** of those runs, ")
	p.f("with the lowest and highest run and the **spread** (the larger distance from the median to either, in %% of the median). ")
	p.f("Times are per operation; MB are MiB (2²⁰ bytes). ")
	p.f("Absolute times depend on the machine and on what else it was doing: compare the ratios, and see the load average.\n\n")
	if !r.Full {
		p.f("The heavy parts (1M users, 1M-row imports, the 60 s load) run only with `make bench-full`.\n\n")
	}

	p.f("## Machine\n\n| | |\n|---|---|\n")
	for _, kv := range r.Machine {
		p.f("| %s | %s |\n", kv.K, cell(kv.V))
	}
	p.f("\n")

	r.summary(p)
	r.ratios(p)
	r.views(p)
	r.notMeasured(p)
	r.all(p)
	return p.err
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func (r *Report) summary(p *printer) {
	p.f("## Summary\n\n")
	p.f("The figures issue 12 asks for. Targets are the issue's; ✅ means the median is under the target, ❌ that it is not.\n\n")
	p.f("| figure | median | runs (min–max) | spread | target | benchmark |\n|---|---|---|---|---|---|\n")
	for _, f := range figures {
		matched := f.matches(r.Out)
		if len(matched) == 0 {
			why := f.missing
			if why == "" {
				why = "not in this run" + r.why(f)
			}
			p.f("| %s | – | | | %s | %s |\n", f.title, targetText(f, nil), cell(why))
			continue
		}
		switch f.pick {
		case "":
			matched = matched[:1]
		case "max":
			best, bestV := matched[0], -1.0
			for _, b := range matched {
				if s, ok := b.Stat(f.unit); ok && s.Median > bestV {
					best, bestV = b, s.Median
				}
			}
			matched = []*Bench{best}
		}
		for _, b := range matched {
			title := f.title
			if f.pick == "each" {
				title += " — "
				if f.pkg == "" {
					title += r.rel(b.Pkg) + " "
				}
				title += b.Name
			}
			s, ok := b.Stat(f.unit)
			if !ok {
				p.f("| %s | – | | | %s | `%s` reports no %s |\n", title, targetText(f, b), b.Name, f.unit)
				continue
			}
			med, rng, spread := s.Format(f.unit)
			tt := targetText(f, b)
			if t := f.targetFor(b); t != nil && f.full && !r.AtScale {
				tt += " (checked at 1M users: `make bench-full`)"
			} else if t != nil {
				if s.Median < t.below {
					tt += " ✅"
				} else {
					tt += " ❌"
				}
			}
			p.f("| %s | **%s** | %s | %s | %s | `%s` (%s) |\n", title, med, rng, spread, tt, b.Name, f.unit)
		}
	}
	for _, e := range r.Extra {
		p.f("| %s | **%s** | (one measurement) | – | | %s |\n", e.Title, e.Value, cell(e.Method))
	}
	p.f("\n")
}

// why says what a run's notes tell of a figure's missing benchmark.
func (r *Report) why(f figure) string {
	re := regexp.MustCompile(f.match)
	for _, n := range r.Out.Notes {
		top, _, _ := strings.Cut(n.Name, "/")
		if (f.pkg == "" || strings.HasSuffix(n.Pkg, "/"+f.pkg)) && (re.MatchString(n.Name) || strings.HasPrefix(f.match, "^"+top)) {
			return fmt.Sprintf(": %s %s (%s)", strings.ToLower(n.Kind), n.Name, firstLine(n.Text))
		}
	}
	for _, pf := range r.Out.Failed {
		if f.pkg != "" && strings.Contains(pf, "/"+f.pkg) {
			return ": the package failed (" + pf + ")"
		}
	}
	return ""
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	// Drop the file:line prefix testing adds.
	if i := strings.Index(line, ": "); i > 0 && strings.Contains(line[:i], ".go:") {
		line = line[i+2:]
	}
	return line
}

func (f figure) targetFor(b *Bench) *target {
	if f.target == nil {
		return nil
	}
	return f.target(b)
}

func targetText(f figure, b *Bench) string {
	if f.target == nil {
		return ""
	}
	if b == nil {
		b = &Bench{}
	}
	if t := f.target(b); t != nil {
		return t.text
	}
	return ""
}

func (r *Report) ratios(p *printer) {
	p.f("## Ratios\n\n")
	p.f("Each ratio divides two figures of the same run, so that it holds better than either figure from one machine to another. ")
	p.f("The range is over the runs paired in order (run *i* of one benchmark with run *i* of the other).\n\n")
	p.f("| ratio | median | runs (min–max) | target | compares |\n|---|---|---|---|---|\n")
	for _, q := range ratios {
		numB := r.Out.Find("/"+q.num.pkg, q.num.name)
		den := r.Out.Find("/"+q.den.pkg, q.den.name)
		if numB == nil || den == nil {
			p.f("| %s | – | | | not in this run: %s |\n", q.title, cell(q.what))
			continue
		}
		nv, den2 := numB.Values[q.num.unit], den.Values[q.den.unit]
		if len(nv) == 0 || len(den2) == 0 {
			p.f("| %s | – | | | a metric is missing (%s, %s) |\n", q.title, q.num.unit, q.den.unit)
			continue
		}
		ns, _ := numB.Stat(q.num.unit)
		ds, _ := den.Stat(q.den.unit)
		nb, nk := base(q.num.unit, ns.Median)
		db, dk := base(q.den.unit, ds.Median)
		if nk != dk || db == 0 {
			p.f("| %s | – | | | units %s and %s do not divide |\n", q.title, q.num.unit, q.den.unit)
			continue
		}
		rng := "(one run each)"
		if len(nv) == len(den2) && len(nv) > 1 {
			var per []float64
			for i := range nv {
				a, _ := base(q.num.unit, nv[i])
				b, _ := base(q.den.unit, den2[i])
				if b != 0 {
					per = append(per, a/b)
				}
			}
			s := summarise(per)
			rng = num(s.Min) + "–" + num2(s.Max)
		}
		tt := ""
		if bound := q.below; bound > 0 {
			mark := "✅"
			if nb/db >= bound {
				mark = "❌"
			}
			tt = "< " + num2(bound) + " " + mark
		}
		p.f("| %s | **%s** | %s | %s | %s |\n", q.title, num2(nb/db), rng, tt, cell(q.what))
	}
	p.f("\n")
}

func num2(v float64) string { return num(v) + "×" }

var viewRE = regexp.MustCompile(`^BenchmarkView/([^/]+)/(\d+)x(\d+)$`)

// views tabulates View() per screen and size.
func (r *Report) views(p *printer) {
	type row struct {
		screen string
		bySize map[string]*Bench
	}
	var rows []*row
	var sizes []string
	for _, b := range r.Out.Benches {
		m := viewRE.FindStringSubmatch(b.Name)
		if m == nil || !strings.HasSuffix(b.Pkg, "/tui") {
			continue
		}
		i := slices.IndexFunc(rows, func(x *row) bool { return x.screen == m[1] })
		if i < 0 {
			rows = append(rows, &row{screen: m[1], bySize: map[string]*Bench{}})
			i = len(rows) - 1
		}
		size := m[2] + "×" + m[3]
		rows[i].bySize[size] = b
		if !slices.Contains(sizes, size) {
			sizes = append(sizes, size)
		}
	}
	p.f("## View() per main screen\n\n")
	if len(rows) == 0 {
		p.f("Not in this run%s.\n\n", r.why(figure{pkg: "tui", match: `^BenchmarkView`}))
		return
	}
	p.f("`tui.Model.View()` on each screen of the kiosk (median of the runs; allocations per frame in brackets).")
	if len(sizes) == 2 {
		p.f(" The last column is the time at %s divided by the time at %s.", sizes[1], sizes[0])
	}
	p.f("\n\n| screen |")
	for _, s := range sizes {
		p.f(" %s |", s)
	}
	if len(sizes) == 2 {
		p.f(" ratio |")
	}
	p.f("\n|---|%s\n", strings.Repeat("---|", len(sizes)+min(1, len(sizes)/2)))
	for _, rw := range rows {
		p.f("| %s |", rw.screen)
		var meds []float64
		for _, s := range sizes {
			b := rw.bySize[s]
			st, ok := Stat{}, false
			if b != nil {
				st, ok = b.Stat("ns/op")
			}
			if !ok {
				p.f(" – |")
				meds = append(meds, 0)
				continue
			}
			med, _, spread := st.Format("ns/op")
			if st.N < 2 {
				spread = ""
			} else {
				spread = " " + spread
			}
			allocs := ""
			if a, ok := b.Stat("allocs/op"); ok {
				allocs = fmt.Sprintf(" (%s allocs)", num(a.Median))
			}
			p.f(" %s%s%s |", med, spread, allocs)
			meds = append(meds, st.Median)
		}
		if len(sizes) == 2 {
			if meds[0] > 0 && meds[1] > 0 {
				p.f(" %s |", num2(meds[1]/meds[0]))
			} else {
				p.f(" – |")
			}
		}
		p.f("\n")
	}
	p.f("\n")
}

func (r *Report) notMeasured(p *printer) {
	if len(r.Out.Notes) == 0 && len(r.Out.Failed) == 0 {
		return
	}
	p.f("## Not measured in this run\n\n")
	for _, pf := range r.Out.Failed {
		p.f("- package `%s` failed: its benchmarks are missing or incomplete\n", cell(strings.TrimPrefix(pf, r.Module+"/")))
	}
	for _, n := range r.Out.Notes {
		p.f("- `%s` %s: %s — %s\n", r.rel(n.Pkg), n.Name, strings.ToLower(n.Kind), firstLine(n.Text))
	}
	p.f("\n")
}

// all lists every benchmark of the run by package, each with its method
// (its doc comment) and every metric it reported.
func (r *Report) all(p *printer) {
	p.f("## Every benchmark\n\n")
	p.f("Every Go benchmark in the tree that ran, grouped by package; the method is the benchmark's doc comment.\n\n")
	var pkgs []string
	for _, b := range r.Out.Benches {
		if !slices.Contains(pkgs, b.Pkg) {
			pkgs = append(pkgs, b.Pkg)
		}
	}
	for _, pkg := range pkgs {
		p.f("### %s\n\n", r.rel(pkg))
		var tops []string
		for _, b := range r.Out.Benches {
			if b.Pkg == pkg && !slices.Contains(tops, b.Top()) {
				tops = append(tops, b.Top())
			}
		}
		for _, top := range tops {
			p.f("#### %s\n\n", top)
			if m, ok := r.Methods[pkg+"."+top]; ok {
				p.f("*%s*\n\n", m.File)
				if m.Doc != "" {
					p.f("%s\n\n", m.Doc)
				} else {
					p.f("(no doc comment)\n\n")
				}
			}
			p.f("| benchmark | metric | median | runs (min–max) | spread | runs |\n|---|---|---|---|---|---|\n")
			for _, b := range r.Out.Benches {
				if b.Pkg != pkg || b.Top() != top {
					continue
				}
				name := strings.TrimPrefix(strings.TrimPrefix(b.Name, top), "/")
				if name == "" {
					name = "·"
				}
				for _, u := range orderUnits(b.Units) {
					s, _ := b.Stat(u)
					med, rng, spread := s.Format(u)
					p.f("| %s | %s | %s | %s | %s | %d |\n", cell(name), u, med, rng, spread, s.N)
					name = ""
				}
			}
			p.f("\n")
			for _, n := range r.Out.NotesFor(pkg, top) {
				p.f("- %s %s: %s\n", n.Name, strings.ToLower(n.Kind), cell(firstLine(n.Text)))
			}
		}
	}
}

// orderUnits puts ns/op first and the framework's memory figures last.
func orderUnits(units []string) []string {
	rank := func(u string) int {
		switch u {
		case "ns/op":
			return 0
		case "B/op":
			return 2
		case "allocs/op":
			return 3
		}
		return 1
	}
	out := slices.Clone(units)
	slices.SortStableFunc(out, func(a, b string) int { return rank(a) - rank(b) })
	return out
}
