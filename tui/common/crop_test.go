package common

import (
	"fmt"
	"strings"
	"testing"

	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

func TestCropKeepsTheFocusInView(t *testing.T) {
	th := theme.New(true)
	lines := make([]string, 30)
	for i := range lines {
		lines[i] = fmt.Sprintf("line %d", i)
	}
	body := strings.Join(lines, "\n")
	for _, tc := range []struct {
		focus, end int
		first      string
		above      bool
	}{
		{-1, 0, "line 0", false},
		{2, 5, "line 0", false},
		{20, 23, "", true},
		{29, 30, "", true},
	} {
		got := strings.Split(Crop(th, Frame{Body: body, Focus: tc.focus, FocusEnd: tc.end}, 40, 10), "\n")
		if len(got) > 10 || len(got) < 9 {
			t.Fatalf("focus %d: %d lines, want 9 or 10 (no marker below at the end)", tc.focus, len(got))
		}
		joined := strings.Join(got, "\n")
		if tc.focus >= 0 {
			for i := tc.focus; i < tc.end; i++ {
				if !strings.Contains(joined, fmt.Sprintf("line %d\n", i)) && !strings.HasSuffix(joined, fmt.Sprintf("line %d", i)) {
					t.Errorf("focus %d–%d: line %d not shown:\n%s", tc.focus, tc.end, i, joined)
				}
			}
		}
		if above := strings.Contains(got[0], "more above"); above != tc.above {
			t.Errorf("focus %d: more above = %v, want %v", tc.focus, above, tc.above)
		}
		if tc.first != "" && got[0] != tc.first {
			t.Errorf("focus %d: first line %q, want %q", tc.focus, got[0], tc.first)
		}
	}
	if got := Crop(th, Frame{Body: "a\nb", Focus: -1}, 40, 10); got != "a\nb" {
		t.Errorf("short body changed: %q", got)
	}
}
