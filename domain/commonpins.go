package domain

import (
	"slices"
	"strings"
)

// Passcodes that are too easy to guess, refused whenever a new passcode is
// chosen (never when a card holder signs in with the one they have).
//
// Sources:
//   - Nick Berry, "PIN analysis", DataGenetics blog, September 2012
//     (datagenetics.com/blog/september32012/): 3.4 million four-digit
//     passwords from leaked password tables. Its 20 most common, in order:
//     1234 1111 0000 1212 7777 1004 2000 4444 2222 6969 9999 3333 5555 6666
//     1122 1313 8888 4321 2001 1010 — runs of one digit, repeated pairs,
//     sequences, and years; it also points out keypad shapes (2580, and
//     159753 for six digits), 0007 (#23), 1984 (#26), many years 19xx, and
//     8675309 among seven-digit codes.
//   - Joseph Bonneau, Sören Preibusch, Ross Anderson, "A birthday present
//     every eleven wallets? The security of customer-chosen banking PINs",
//     Financial Cryptography 2012: the same few factors (repetitions,
//     sequences, keypad patterns, years and dates) explain most human
//     choices, and a denied-PIN list of the most popular ones is what they
//     advise issuers to keep.
//
// Rules generate most of the list (so eight-character versions are caught
// as well as four); commonPasscodes holds the few that no rule covers.

// Why a passcode is too easy to guess, in words for the card holder.
const (
	guessRepeatedChar = "one character repeated"
	guessRepeated     = "a repeated pattern"
	guessSequence     = "a sequence"
	guessKeypad       = "a pattern on the keypad"
	guessYear         = "a year"
	guessCommon       = "one of the most common passcodes"
)

// commonPasscodes: DataGenetics entries that no rule below covers whatever
// the charset (2000, 2001 and 1984 are years, refused as such only when
// passcodes are numeric).
var commonPasscodes = []string{"1004", "2000", "2001", "0007", "1984", "8675309"}

// sequences are rows a finger slides along: the digits in order (0 both
// first, as on a keypad's 0123, and last, as on a keyboard's top row 7890)
// and the letter rows of a QWERTY keyboard. A passcode that is part of one,
// read either way, is a sequence. Letters in order (abcd) are caught by
// isStepRun.
var sequences = []string{"01234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"}

// keypadLines are the straight three-key lines of a keypad's 3×3 block
// (rows, columns, diagonals), the same on a phone or ATM keypad (1 2 3 on
// top) and a computer numpad (7 8 9 on top).
var keypadLines = []string{"123", "456", "789", "147", "258", "369", "159", "357"}

// keypadShapes are four-key shapes that use the 0, read either way:
//   - straight down a column to the 0 below it: 2580 on a phone or ATM
//     keypad (0 under 8); 7410 and 8520 on a numpad (0 under 1 and 2);
//   - down an outer column, then across to the 0: 1470, 3690 (phone),
//     9630 (numpad);
//   - down a diagonal to the 0: 1590, 3570 (phone), 9510 (numpad);
//   - the four corners: 1379 (and any other order, see isKeypadPattern).
var keypadShapes = []string{"2580", "7410", "8520", "1470", "3690", "9630", "1590", "3570", "9510"}

// easyToGuess says why pin (already within the length and charset rules)
// is too easy to guess, or "" if it is not. Years are refused only when
// passcodes are numeric, where a four-digit year is a large part of what
// is left to choose from.
func easyToGuess(pin string, numeric bool, deny []string) string {
	s := strings.ToLower(pin)
	switch {
	case isSameChar(s):
		return guessRepeatedChar
	case isStepRun(s) || isPartOfSequence(s):
		return guessSequence
	case isRepeatedBlock(s) || isDoubled(s):
		return guessRepeated
	case isKeypadPattern(s):
		return guessKeypad
	case numeric && isYear(s):
		return guessYear
	case slices.Contains(commonPasscodes, s) || slices.ContainsFunc(deny, func(d string) bool { return strings.ToLower(d) == s }):
		return guessCommon
	}
	return ""
}

func isSameChar(s string) bool {
	return s != "" && strings.Count(s, s[:1]) == len(s)
}

// isStepRun reports an ascending or descending run of digits or letters,
// the whole passcode long (1234, 8765, abcd, dcba).
func isStepRun(s string) bool {
	b := []byte(s)
	if len(b) < 3 {
		return false
	}
	class := func(c byte) int {
		switch {
		case c >= '0' && c <= '9':
			return 1
		case c >= 'a' && c <= 'z':
			return 2
		}
		return 0
	}
	if class(b[0]) == 0 {
		return false
	}
	step := int(b[1]) - int(b[0])
	if step != 1 && step != -1 {
		return false
	}
	for i := 1; i < len(b); i++ {
		if class(b[i]) != class(b[0]) || int(b[i])-int(b[i-1]) != step {
			return false
		}
	}
	return true
}

// isPartOfSequence reports a passcode read along one of the sequences,
// forwards or backwards (7890, 0987, qwerty, lkjh).
func isPartOfSequence(s string) bool {
	if len(s) < 4 {
		return false
	}
	r := reverse(s)
	for _, seq := range sequences {
		if strings.Contains(seq, s) || strings.Contains(seq, r) {
			return true
		}
	}
	return false
}

// isRepeatedBlock reports a passcode that is one shorter block said again
// and again: 1212 (ABAB), 6969, 123123, 12341234, abab.
func isRepeatedBlock(s string) bool {
	for n := 1; n <= len(s)/2; n++ {
		if len(s)%n == 0 && strings.Repeat(s[:n], len(s)/n) == s {
			return true
		}
	}
	return false
}

// isDoubled reports each character typed twice: 1122 (AABB), 112233,
// 11223344.
func isDoubled(s string) bool {
	if len(s) < 4 || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i += 2 {
		if s[i] != s[i+1] {
			return false
		}
	}
	return true
}

// isKeypadPattern reports a shape on the keypad: one of keypadShapes, the
// four corners in any order (1379, 1397, 7931…), or two of keypadLines one
// after the other (789456, 147258, 159753, the X across the keypad).
func isKeypadPattern(s string) bool {
	r := reverse(s)
	if slices.Contains(keypadShapes, s) || slices.Contains(keypadShapes, r) {
		return true
	}
	if len(s) == 4 && strings.Count(s, "1") == 1 && strings.Count(s, "3") == 1 && strings.Count(s, "7") == 1 && strings.Count(s, "9") == 1 {
		return true
	}
	if len(s) == 6 {
		return isKeypadLine(s[:3]) && isKeypadLine(s[3:])
	}
	return false
}

func isKeypadLine(s string) bool {
	return slices.Contains(keypadLines, s) || slices.Contains(keypadLines, reverse(s))
}

// isYear reports four digits from 1900 to 2099: years of birth and
// anniversaries are among the most common choices in both sources.
func isYear(s string) bool {
	if len(s) != 4 || !(strings.HasPrefix(s, "19") || strings.HasPrefix(s, "20")) {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// reverse reverses s byte by byte: the patterns are all ASCII, and a
// passcode reaching them has passed the charset check.
func reverse(s string) string {
	b := []byte(s)
	slices.Reverse(b)
	return string(b)
}
