package sqlstore

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPrefixEnd(t *testing.T) {
	for _, tc := range []struct {
		prefix, want string
		ok           bool
	}{
		{"sm", "sn", true},
		{"é", "ê", true},
		{"a\uD7FF", "a\uE000", true},        // past the surrogates
		{"ab\U0010FFFF", "ac", true},        // carried past the last character
		{"\U0010FFFF\U0010FFFF", "", false}, // nothing above
		{"x\U0010FFFF\U0010FFFF", "y", true},
	} {
		got, ok := PrefixEnd(tc.prefix)
		if got != tc.want || ok != tc.ok {
			t.Errorf("PrefixEnd(%q) = %q, %v; want %q, %v", tc.prefix, got, ok, tc.want, tc.ok)
		}
		if !ok {
			continue
		}
		if !utf8.ValidString(got) {
			t.Errorf("PrefixEnd(%q) = %q: not UTF-8", tc.prefix, got)
		}
		// Above everything that starts with the prefix, and above the
		// prefix itself.
		for _, s := range []string{tc.prefix, tc.prefix + "\U0010FFFF\U0010FFFF", tc.prefix + "zzz"} {
			if strings.Compare(s, got) >= 0 {
				t.Errorf("PrefixEnd(%q) = %q is not above %q", tc.prefix, got, s)
			}
		}
	}
}
