package procmem

import (
	"os"
	"testing"
)

func TestStatusKB(t *testing.T) {
	self, err := StatusKB(0, "VmRSS")
	if err != nil || self <= 0 {
		t.Fatalf("own VmRSS: %d, %v", self, err)
	}
	byPID, err := StatusKB(os.Getpid(), "VmHWM")
	if err != nil || byPID < self/2 {
		t.Fatalf("VmHWM by pid: %d, %v (VmRSS %d)", byPID, err, self)
	}
	if _, err := StatusKB(0, "NoSuchField"); err == nil {
		t.Fatal("a field that is not there was read")
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		in := append([]float64(nil), tc.in...)
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Errorf("Median changed its input: %v", tc.in)
			}
		}
	}
}
