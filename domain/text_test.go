package domain

import (
	"testing"
	"time"
)

func TestCleanText(t *testing.T) {
	tests := map[string]string{
		"Jane Smith":                           "Jane Smith",
		"O'Brien-Ñúñez":                        "O'Brien-Ñúñez",
		"Eve\x1b[2J\x1b[HMallory":              "EveMallory",
		"Eve\x1b[31;1mRed\x1b[0m":              "EveRed",
		"title\x1b]0;pwned\x07end":             "titleend",
		"link\x1b]8;;http://x\x1b\\txt":        "linktxt",
		"dcs\x1bPq#0;2;0;0;0\x1b\\after":       "dcsafter",
		"c1\u009b31mcsi":                       "c1csi",
		"bell\a and nul\x00 and del\x7f":       "bell and nul and del",
		"two\nlines\tand tab":                  "two lines and tab",
		"bidi \u202egnp.exe":                   "bidi gnp.exe",
		"Ja\u200bne Sm\u200dith\ufeff":         "Jane Smith",
		"soft\u00ad hyphen, LRM\u200e":         "soft hyphen, LRM",
		"line\u2028sep":                        "line sep",
		"trailing esc\x1b":                     "trailing esc",
		"charset\x1b(Bok":                      "charsetok",
		"unterminated \x1b]0;title never ends": "unterminated ",
	}
	for in, want := range tests {
		if got := CleanText(in); got != want {
			t.Errorf("CleanText(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"plain", "\x1b[2J", "\x1b]0;x\x07", "\u009b1m", "\x1bP"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := CleanText(s)
		for _, r := range out {
			if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 || isInvisibleFormat(r) || r == 0x2028 || r == 0x2029 {
				t.Fatalf("CleanText(%q) left control rune %U", s, r)
			}
		}
		if CleanText(out) != out {
			t.Fatalf("CleanText not idempotent on %q", s)
		}
	})
}

func TestPeriod(t *testing.T) {
	for d, want := range map[time.Duration]string{
		15 * time.Minute:                "15 minutes",
		time.Minute:                     "1 minute",
		time.Hour:                       "1 hour",
		90 * time.Minute:                "1 hour 30 minutes",
		2*time.Hour + time.Minute:       "2 hours 1 minute",
		24 * time.Hour:                  "24 hours",
		45 * time.Second:                "45 seconds",
		time.Second:                     "1 second",
		10*time.Minute + 29*time.Second: "10 minutes",
		10*time.Minute + 30*time.Second: "11 minutes",
	} {
		if got := Period(d); got != want {
			t.Errorf("Period(%s) = %q, want %q", d, got, want)
		}
	}
}
