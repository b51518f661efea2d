package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Stat summarises one metric over the runs.
type Stat struct {
	Median, Min, Max float64
	N                int
}

func summarise(v []float64) Stat {
	if len(v) == 0 {
		return Stat{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{Median: med, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// Spread is the largest distance from the median to an end, as a
// percentage of the median.
func (s Stat) Spread() float64 {
	if s.Median == 0 {
		return 0
	}
	return math.Max(s.Max-s.Median, s.Median-s.Min) / math.Abs(s.Median) * 100
}

// Stat returns the benchmark's metric unit over its runs.
func (b *Bench) Stat(unit string) (Stat, bool) {
	v, ok := b.Values[unit]
	if !ok || len(v) == 0 {
		return Stat{}, false
	}
	return summarise(v), true
}

// scale picks a display unit for a metric and the factor to it.
func scale(unit string, typical float64) (string, float64) {
	switch unit {
	case "ns/op":
		switch {
		case typical >= 1e9:
			return "s", 1e-9
		case typical >= 1e6:
			return "ms", 1e-6
		case typical >= 1e3:
			return "µs", 1e-3
		}
		return "ns", 1
	case "APDUs/op":
		return "APDUs", 1
	case "B/op":
		switch {
		case typical >= 1<<20:
			return "MiB/op", 1.0 / (1 << 20)
		case typical >= 1<<10:
			return "KiB/op", 1.0 / (1 << 10)
		}
		return "B/op", 1
	}
	// Custom metrics named like p95-ms or peak-MB are in ms and MB.
	if i := strings.LastIndexByte(unit, '-'); i > 0 && !strings.Contains(unit[i:], "/") {
		return unit[i+1:], 1
	}
	return unit, 1
}

// num prints v with three significant digits (more for large values).
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	case a >= 0.01:
		return fmt.Sprintf("%.3f", v)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3g", v), "0"), ".")
}

// Format prints the stat of unit: "12.3 ms", its range "11.9–13.0" and
// spread "±4.2%".
func (s Stat) Format(unit string) (median, rng, spread string) {
	u, f := scale(unit, s.Median)
	median = num(s.Median*f) + " " + u
	if s.N > 1 {
		rng = num(s.Min*f) + "–" + num(s.Max*f)
		spread = fmt.Sprintf("±%.1f%%", s.Spread())
	} else {
		rng, spread = "(one run)", "–"
	}
	return median, rng, spread
}
