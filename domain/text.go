package domain

import (
	"strconv"
	"strings"
	"time"
	"unicode"
)

// CleanText makes text from the store or a card safe to draw on a terminal:
// escape sequences (CSI, OSC, DCS …) are removed whole, other control
// characters and bidirectional overrides (which can disguise a name) are
// dropped, as are the other invisible format characters (zero-width
// spaces and joiners, soft hyphens, byte-order marks), which can make two
// names look alike; tabs and line breaks become spaces.
func CleanText(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == 0x1b: // ESC
			i = skipEscape(rs, i)
		case r == 0x9b: // C1 CSI
			i = skipCSI(rs, i+1)
		case r == 0x90 || r == 0x9d || r == 0x9e || r == 0x9f || r == 0x98: // C1 DCS, OSC, PM, APC, SOS
			i = skipString(rs, i+1)
		case r == '\t' || r == '\n' || r == '\r' || r == 0x2028 || r == 0x2029:
			b.WriteByte(' ')
		case unicode.IsControl(r), isInvisibleFormat(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// skipEscape returns the index of the last rune of the escape sequence
// starting at rs[i] == ESC.
func skipEscape(rs []rune, i int) int {
	if i+1 >= len(rs) {
		return i
	}
	switch rs[i+1] {
	case '[':
		return skipCSI(rs, i+2)
	case ']', 'P', 'X', '^', '_':
		return skipString(rs, i+2)
	}
	// Two- or three-character sequences (ESC c, ESC ( B …).
	j := i + 1
	for j < len(rs) && rs[j] >= 0x20 && rs[j] <= 0x2f {
		j++
	}
	return min(j, len(rs)-1)
}

// skipCSI skips parameter and intermediate bytes up to the final byte.
func skipCSI(rs []rune, j int) int {
	for ; j < len(rs); j++ {
		if rs[j] >= 0x40 && rs[j] <= 0x7e {
			return j
		}
		if rs[j] < 0x20 || rs[j] > 0x7e {
			return j - 1 // malformed: stop before the stray rune
		}
	}
	return len(rs) - 1
}

// skipString skips a control string up to BEL or ST (ESC \ or 0x9c).
func skipString(rs []rune, j int) int {
	for ; j < len(rs); j++ {
		switch {
		case rs[j] == 0x07 || rs[j] == 0x9c:
			return j
		case rs[j] == 0x1b && j+1 < len(rs) && rs[j+1] == '\\':
			return j + 1
		}
	}
	return len(rs) - 1
}

// isInvisibleFormat reports Unicode format characters (category Cf):
// bidirectional overrides and marks, zero-width characters, soft hyphens,
// byte-order marks and the like, none of which a name needs.
func isInvisibleFormat(r rune) bool { return unicode.Is(unicode.Cf, r) }

// Period words a duration for people, to the minute: "15 minutes",
// "1 hour", "1 hour 30 minutes"; under a minute, in seconds. Screens and
// emails use it alike, so both say what the setting is.
func Period(d time.Duration) string {
	if d < time.Minute {
		return count(int(d.Round(time.Second)/time.Second), "second", "seconds")
	}
	mins := int(d.Round(time.Minute) / time.Minute)
	h, m := mins/60, mins%60
	switch {
	case h == 0:
		return count(m, "minute", "minutes")
	case m == 0:
		return count(h, "hour", "hours")
	}
	return count(h, "hour", "hours") + " " + count(m, "minute", "minutes")
}

// count words n things: "1 hour", "2 hours".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
