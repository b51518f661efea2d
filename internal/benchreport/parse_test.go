package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: example.com/m/cardio/pivcard
cpu: AMD EPYC
BenchmarkUnlock-2             	  109618	      2014 ns/op	         3.000 APDUs/op	    1528 B/op	      52 allocs/op
BenchmarkUnlockSideBySide/kiosk-2         	     626	    366669 ns/op	         3.000 APDUs/op
BenchmarkUnlockSideBySide/yubico-piv-tool-2         	      36	   5643706 ns/op	        10.00 APDUs/op
BenchmarkUnlock-2             	  100000	      2100 ns/op	         3.000 APDUs/op	    1528 B/op	      52 allocs/op
BenchmarkUnlockSideBySide/kiosk-2         	     600	    400000 ns/op	         3.000 APDUs/op
BenchmarkUnlockSideBySide/yubico-piv-tool-2         	      30	   6000000 ns/op	        10.00 APDUs/op
--- SKIP: BenchmarkNoDaemon
    pcsc_test.go:12: skipping PC/SC integration test: no pcscd
PASS
ok  	example.com/m/cardio/pivcard	2.252s
pkg: example.com/m/tui
BenchmarkView/welcome/80x24-2 	some output the benchmark printed
   12345	     96000 ns/op
BenchmarkView/welcome/160x48-2         	    5000	    210000 ns/op
--- BENCH: BenchmarkView/welcome/160x48-2
    view_bench_test.go:10: a log line
    --- FAIL: BenchmarkView/broken-2
        view_bench_test.go:20: it broke
        and a second line
FAIL
FAIL	example.com/m/tui	3.1s
# example.com/m/storage/postgres [example.com/m/storage/postgres.test]
storage/postgres/store.go:1:2: undefined: x
storage/postgres/store.go:2:2: undefined: y
FAIL	example.com/m/storage/postgres [build failed]
`

func TestParse(t *testing.T) {
	o, err := Parse(strings.NewReader(sample), 2)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range o.Benches {
		names = append(names, b.Name)
	}
	want := "BenchmarkUnlock BenchmarkUnlockSideBySide/kiosk BenchmarkUnlockSideBySide/yubico-piv-tool BenchmarkView/welcome/80x24 BenchmarkView/welcome/160x48"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("benchmarks\n%s\nwant\n%s", got, want)
	}
	u := o.Find("/pivcard", "BenchmarkUnlock")
	if u.Runs() != 2 || strings.Join(u.Units, " ") != "ns/op APDUs/op B/op allocs/op" {
		t.Fatalf("BenchmarkUnlock: %d runs, units %v", u.Runs(), u.Units)
	}
	if s, _ := u.Stat("ns/op"); s.Median != 2057 || s.Min != 2014 || s.Max != 2100 || s.N != 2 {
		t.Fatalf("stat %+v", s)
	}
	if v := o.Find("/tui", "BenchmarkView/welcome/80x24"); v == nil || v.Values["ns/op"][0] != 96000 {
		t.Fatalf("a result on the line after its name: %+v", v)
	}
	if len(o.Notes) != 2 || o.Notes[0].Kind != "SKIP" || o.Notes[0].Name != "BenchmarkNoDaemon" ||
		!strings.Contains(o.Notes[0].Text, "no pcscd") || o.Notes[1].Kind != "FAIL" ||
		o.Notes[1].Name != "BenchmarkView/broken" || !strings.Contains(o.Notes[1].Text, "second line") {
		t.Fatalf("notes %+v", o.Notes)
	}
	if len(o.Failed) != 2 || o.Failed[1] != "example.com/m/storage/postgres [build failed]: storage/postgres/store.go:1:2: undefined: x" {
		t.Fatalf("failed packages %q", o.Failed)
	}
	if o.Config["cpu"] != "AMD EPYC" {
		t.Fatalf("config %v", o.Config)
	}
}

func TestParseKeepsNamesEndingInDigitsWithOneProc(t *testing.T) {
	o, err := Parse(strings.NewReader("pkg: m\nBenchmarkImport/rows-1000 \t 1\t 5 ns/op\n"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if o.Benches[0].Name != "BenchmarkImport/rows-1000" {
		t.Fatalf("name %q", o.Benches[0].Name)
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		unit string
		v    []float64
		want string
	}{
		{"ns/op", []float64{41.2e6, 40e6, 45e6}, "41.2 ms 40.0–45.0 ±9.2%"},
		{"ns/op", []float64{2014}, "2.01 µs (one run) –"},
		{"B/op", []float64{3 << 20}, "3.00 MiB/op (one run) –"},
		{"p95-ms", []float64{55.79, 61.3}, "58.5 ms 55.8–61.3 ±4.7%"},
	} {
		med, rng, spread := summarise(tc.v).Format(tc.unit)
		if got := med + " " + rng + " " + spread; got != tc.want {
			t.Errorf("%v %s: %q, want %q", tc.v, tc.unit, got, tc.want)
		}
	}
}

// The report names every benchmark, gives the summary's targets and the
// ratios from the same run, and says what was not measured.
func TestReport(t *testing.T) {
	o, err := Parse(strings.NewReader(sample), 2)
	if err != nil {
		t.Fatal(err)
	}
	r := &Report{Out: o, Module: "example.com/m", Command: "make bench",
		Methods: map[string]Method{"example.com/m/cardio/pivcard.BenchmarkUnlock": {File: "cardio/pivcard/card_test.go", Doc: "BenchmarkUnlock unlocks."}}}
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	for _, want := range []string{
		"BenchmarkUnlock unlocks.",
		"| Unlock through pcscd + vpcd — yubico-piv-tool, APDUs | **10.0 APDUs** |",
		"| yubico-piv-tool ÷ kiosk: APDUs | **3.33×** |",
		"| yubico-piv-tool ÷ kiosk: time to unlock | **15.2×** | 15.0–15.4× |",
		"| welcome | 96.0 µs | 210 µs | 2.19× |",
		"package `storage/postgres [build failed]: storage/postgres/store.go:1:2: undefined: x` failed",
		"`cardio/pivcard` BenchmarkNoDaemon: skip — skipping PC/SC integration test: no pcscd",
		"| Name and ID search p99 — PostgreSQL | – | | | < 10 ms at 1M users | not in this run",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(s)
	}
}

func TestMarkdownKeepsCodeSpans(t *testing.T) {
	got := markdown("BenchmarkX runs `tool -a x` twice:\n  - once\n  - twice\n")
	want := "BenchmarkX runs `tool -a x` twice:\n\n  - once\n  - twice"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

func TestMethods(t *testing.T) {
	root := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/m\n\ngo 1.26\n")
	write("a/b/x_test.go", "package b_test\n\nimport \"testing\"\n\n// BenchmarkFoo measures foo.\nfunc BenchmarkFoo(b *testing.B) {}\n\nfunc BenchmarkBare(b *testing.B) {}\n")
	write("testdata/y_test.go", "package y\n\n// BenchmarkNo is test data.\nfunc BenchmarkNo(b *testing.B) {}\n")
	mod, err := modulePath(root)
	if err != nil || mod != "example.com/m" {
		t.Fatalf("module %q %v", mod, err)
	}
	ms, err := methods(root, mod)
	if err != nil {
		t.Fatal(err)
	}
	if m := ms["example.com/m/a/b.BenchmarkFoo"]; m.Doc != "BenchmarkFoo measures foo." || m.File != "a/b/x_test.go" {
		t.Fatalf("BenchmarkFoo: %+v", m)
	}
	if m, ok := ms["example.com/m/a/b.BenchmarkBare"]; !ok || m.Doc != "" {
		t.Fatalf("BenchmarkBare: %+v %v", m, ok)
	}
	if len(ms) != 2 {
		t.Fatalf("methods %v", ms)
	}
}
