// Command benchreport writes BENCHMARKS.md from the output of
// `go test -bench` (make bench and make bench-full run it; it is not a
// product command). It reads every benchmark result in the output, so
// any Go benchmark in the tree appears once it exists: each with its
// method (the benchmark function's doc comment), the median of its runs
// with their range and spread, and every metric it reported. On top it
// writes the summary of the figures issue 12 asks for, with their
// targets, the ratios between figures of the same run, View() per screen,
// the machine (cores, memory, CPU, Go, kernel, load), the date and the
// commit, and the size of the kiosk binary.
//
//	go run ./internal/benchreport -in .cache/bench/bench.txt -out BENCHMARKS.md -bin bin/kiosk
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run() error {
	in := flag.String("in", ".cache/bench/bench.txt", "go test -bench output to read")
	out := flag.String("out", "BENCHMARKS.md", "report to write")
	root := flag.String("root", ".", "module root (for the benchmarks' doc comments and the commit)")
	bin := flag.String("bin", "bin/kiosk", "kiosk binary whose size is reported (\"\" none)")
	command := flag.String("command", "make bench", "the command that produced the run, as the report names it")
	settings := flag.String("settings", "", "how the benchmarks were run (count, benchtime), for the report")
	full := flag.Bool("full", false, "the run included the heavy benchmarks (make bench-full)")
	loadBefore := flag.String("load-before", "", "a copy of /proc/loadavg taken before the run")
	elapsed := flag.Duration("elapsed", 0, "how long the run took")
	procs := flag.Int("procs", runtime.GOMAXPROCS(0), "GOMAXPROCS the benchmarks ran with (the name suffix go test adds)")
	flag.Parse()

	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	o, err := Parse(f, *procs)
	if err != nil {
		return fmt.Errorf("parse %s: %w", *in, err)
	}
	if len(o.Benches) == 0 {
		return fmt.Errorf("%s has no benchmark results", *in)
	}
	module, err := modulePath(*root)
	if err != nil {
		return fmt.Errorf("read go.mod: %w", err)
	}
	ms, err := methods(*root, module)
	if err != nil {
		return fmt.Errorf("read the benchmarks' doc comments: %w", err)
	}
	users, _ := strconv.Atoi(os.Getenv("KIOSK_BENCH_USERS"))
	r := &Report{Out: o, Methods: ms, Command: *command, Full: *full, AtScale: users >= 1_000_000, Module: module,
		Machine: machine(*root, o, *procs, *settings, *loadBefore, *elapsed)}
	if *bin != "" {
		fi, err := os.Stat(*bin)
		if err != nil {
			return fmt.Errorf("kiosk binary: %w (make build makes it)", err)
		}
		r.Extra = append(r.Extra, ExtraFigure{
			Title:  "Kiosk binary size",
			Value:  fmt.Sprintf("%.1f MB", float64(fi.Size())/(1<<20)),
			Method: fmt.Sprintf("size of `%s` as `make build` made it (%d bytes; not stripped, version in -ldflags)", filepath.ToSlash(*bin), fi.Size()),
		})
	}
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		return err
	}
	return os.WriteFile(*out, buf.Bytes(), 0o644)
}

// machine describes where the run happened.
func machine(root string, o *Output, procs int, settings, loadBeforeFile string, elapsed time.Duration) []KV {
	kv := []KV{{"date", time.Now().UTC().Format("2006-01-02 15:04 MST")}}
	if c := commit(root); c != "" {
		kv = append(kv, KV{"commit", c})
	}
	cpu := cpuModel()
	if cpu == "" {
		cpu = o.Config["cpu"]
	}
	kv = append(kv,
		KV{"CPU", cpu},
		KV{"cores", fmt.Sprintf("%d logical CPUs; GOMAXPROCS %d", runtime.NumCPU(), procs)},
		KV{"memory", memTotal()},
		KV{"system", strings.TrimSpace(osName() + ", Linux " + readTrim("/proc/sys/kernel/osrelease") + ", " + o.Config["goos"] + "/" + o.Config["goarch"])},
		KV{"Go", runtime.Version()},
	)
	load := "at the end " + loadavg(readTrim("/proc/loadavg"))
	if loadBeforeFile != "" {
		if b, err := os.ReadFile(loadBeforeFile); err == nil {
			load = "before " + loadavg(string(b)) + "; " + load
		}
	}
	kv = append(kv, KV{"load average (1, 5, 15 min)", load})
	if settings != "" {
		kv = append(kv, KV{"settings", settings})
	}
	var env []string
	for _, e := range os.Environ() {
		if strings.HasPrefix(e, "KIOSK_BENCH_") && !strings.HasPrefix(e, "KIOSK_BENCH_BIN=") {
			env = append(env, e)
		}
	}
	if len(env) > 0 {
		kv = append(kv, KV{"environment", strings.Join(env, " ")})
	}
	if elapsed > 0 {
		kv = append(kv, KV{"run time", elapsed.Round(time.Second).String()})
	}
	return kv
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func loadavg(s string) string {
	f := strings.Fields(s)
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	for line := range strings.Lines(readTrim("/proc/cpuinfo")) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func memTotal() string {
	for line := range strings.Lines(readTrim("/proc/meminfo")) {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if kb, err := strconv.ParseFloat(f[0], 64); err == nil {
				return fmt.Sprintf("%.1f GiB", kb/(1<<20))
			}
		}
	}
	return "unknown"
}

func osName() string {
	for line := range strings.Lines(readTrim("/etc/os-release")) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// commit is HEAD's short hash, marked when the work tree has changes.
func commit(root string) string {
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = root
		b, err := cmd.Output()
		return strings.TrimSpace(string(b)), err
	}
	head, err := git("rev-parse", "--short=12", "HEAD")
	if err != nil {
		return ""
	}
	if st, err := git("status", "--porcelain", "--untracked-files=no"); err == nil && st != "" {
		head += " with uncommitted changes"
	}
	return head
}
