// Package procmem reads a process's memory figures from /proc (Linux),
// for the benchmarks that report resident memory, and takes the median
// of repeated readings.
package procmem

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// StatusKB reads a kB field of a process's /proc status (VmRSS, VmHWM,
// …): of process pid, or of the calling process if pid is 0.
func StatusKB(pid int, field string) (int64, error) {
	path := "/proc/self/status"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
			break
		}
	}
	return 0, fmt.Errorf("no %s in %s", field, path)
}

// Median is the median of v (0 for none); v is left as it is.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
