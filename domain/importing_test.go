package domain_test

import (
	"errors"
	"testing"

	"github.com/smartcard-service-centre/kiosk/domain"
)

func TestParseActivityCode(t *testing.T) {
	for _, ok := range []string{"B0001", " B1300 ", "S0010"} {
		if _, err := domain.ParseActivityCode(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "b0001", "B001", "B00011", "B00O1", "0B001", "Ä0001"} {
		if c, err := domain.ParseActivityCode(bad); err == nil {
			t.Errorf("%q accepted as %q", bad, c)
		}
	}
}

// The first MaxRowProblems by line are kept, whatever order they come
// in, and all are counted.
func TestImportProblemsKeepsTheFirst(t *testing.T) {
	var ip domain.ImportProblems
	for _, line := range []int{50, 3, 40, 2} {
		ip.Add(domain.RowProblem{Line: line, Column: "user_id", Problem: "bad"})
	}
	for line := 100; line < 130; line++ {
		ip.Add(domain.RowProblem{Line: line})
	}
	ip.Add(domain.RowProblem{Line: 1, Problem: "header"})
	if ip.Total != 35 || len(ip.Problems) != domain.MaxRowProblems {
		t.Fatalf("total %d, kept %d", ip.Total, len(ip.Problems))
	}
	want := []int{1, 2, 3, 40, 50, 100}
	for i, line := range want {
		if ip.Problems[i].Line != line {
			t.Fatalf("kept %v, want lines starting %v", ip.Problems, want)
		}
	}
	if last := ip.Problems[domain.MaxRowProblems-1].Line; last != 114 {
		t.Fatalf("last kept line %d, want 114", last)
	}
	if !errors.Is(&ip, domain.ErrImportRefused) || ip.Error() != "35 problems in the file, nothing was imported (first: line 1: header)" {
		t.Fatalf("error %q", ip.Error())
	}
}
