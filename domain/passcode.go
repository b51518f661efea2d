package domain

import (
	"fmt"
	"strings"
)

// Charset is the set of characters a passcode may use. The seeds disagree
// (older SOPs say numeric, the 2023 service says "any standard keyboard
// characters"), so it is a setting with the newest rule as the default.
type Charset int

const (
	CharsetPrintable    Charset = iota // visible ASCII, no spaces (default)
	CharsetAlphanumeric                // letters and digits
	CharsetNumeric                     // digits only
)

// ParseCharset reads a setting value: numeric, alphanumeric or printable.
func ParseCharset(s string) (Charset, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "printable", "":
		return CharsetPrintable, nil
	case "alphanumeric":
		return CharsetAlphanumeric, nil
	case "numeric":
		return CharsetNumeric, nil
	}
	return 0, fmt.Errorf("passcode charset %q: want numeric, alphanumeric or printable", s)
}

func (c Charset) String() string {
	switch c {
	case CharsetNumeric:
		return "numeric"
	case CharsetAlphanumeric:
		return "alphanumeric"
	default:
		return "printable"
	}
}

func (c Charset) allows(r rune) bool {
	digit := r >= '0' && r <= '9'
	letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
	switch c {
	case CharsetNumeric:
		return digit
	case CharsetAlphanumeric:
		return digit || letter
	default:
		return r > ' ' && r <= '~'
	}
}

// PasscodePolicy is the card passcode rule the seeds describe.
type PasscodePolicy struct {
	MinLen, MaxLen int
	Charset        Charset
	// DenyList holds passcodes refused outright (compared case-insensitively),
	// on top of the common passcodes and patterns of commonpins.go.
	DenyList []string
}

// DefaultDenyList: the seeds name "password"; the rest are the usual guesses.
var DefaultDenyList = []string{
	"password", "passw0rd", "passcode", "smartcard", "qwerty", "qwertyui",
	"letmein", "iloveyou", "abc123", "1q2w3e4r", "123123", "121212",
	"112233", "123321", "12341234", "11223344", "asdfghjk", "zxcvbnm",
}

// DefaultPasscodePolicy: 4–8 characters (seed 004), printable by default.
func DefaultPasscodePolicy() PasscodePolicy {
	return PasscodePolicy{MinLen: 4, MaxLen: 8, Charset: CharsetPrintable, DenyList: DefaultDenyList}
}

// PolicyError says which rule a passcode broke, in words for the card holder.
type PolicyError struct{ Reason string }

func (e *PolicyError) Error() string { return e.Reason }
func (e *PolicyError) Unwrap() error { return ErrPasscodePolicy }

// Describe explains the policy on screen before anything is typed.
func (p PasscodePolicy) Describe() string {
	var chars string
	switch p.Charset {
	case CharsetNumeric:
		chars = "You can use the digits 0 to 9."
	case CharsetAlphanumeric:
		chars = "You can use letters and digits."
	default:
		chars = "You can use any standard keyboard characters except spaces."
	}
	avoid := "password"
	if p.Charset == CharsetNumeric {
		avoid = "a year"
	}
	return fmt.Sprintf("The passcode must be between %d and %d characters long. %s Avoid easy guesses such as 1234, 1212, 2580 or %s.", p.MinLen, p.MaxLen, chars, avoid)
}

// Check returns a *PolicyError (matching ErrPasscodePolicy) or nil.
func (p PasscodePolicy) Check(pin string) error {
	n := len([]rune(pin))
	if n < p.MinLen || n > p.MaxLen {
		return &PolicyError{fmt.Sprintf("The passcode must be between %d and %d characters long.", p.MinLen, p.MaxLen)}
	}
	for _, r := range pin {
		if !p.Charset.allows(r) {
			switch p.Charset {
			case CharsetNumeric:
				return &PolicyError{"The passcode may contain only the digits 0 to 9."}
			case CharsetAlphanumeric:
				return &PolicyError{"The passcode may contain only letters and digits."}
			default:
				return &PolicyError{"The passcode may contain only standard keyboard characters, without spaces."}
			}
		}
	}
	if why := easyToGuess(pin, p.Charset == CharsetNumeric, p.DenyList); why != "" {
		return &PolicyError{fmt.Sprintf("This passcode is too easy to guess (%s). Choose another.", why)}
	}
	return nil
}

// CheckConfirm applies the policy and checks both entries match.
func (p PasscodePolicy) CheckConfirm(pin, confirm string) error {
	if err := p.Check(pin); err != nil {
		return err
	}
	if pin != confirm {
		return &PolicyError{"The two passcodes do not match."}
	}
	return nil
}
