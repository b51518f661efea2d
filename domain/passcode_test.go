package domain

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestPasscodePolicy(t *testing.T) {
	printable := DefaultPasscodePolicy()
	numeric := DefaultPasscodePolicy()
	numeric.Charset = CharsetNumeric
	alnum := DefaultPasscodePolicy()
	alnum.Charset = CharsetAlphanumeric

	tests := []struct {
		name   string
		policy PasscodePolicy
		pin    string
		ok     bool
	}{
		{"four digits", printable, "4739", true},
		{"eight mixed", printable, "Tr0ub4d!", true},
		{"too short", printable, "258", false},
		{"too long", printable, "258025802", false},
		{"empty", printable, "", false},
		{"all one char", printable, "9999", false},
		{"all one char long", printable, "11111", false},
		{"ascending digits", printable, "1234", false},
		{"descending digits", printable, "4321", false},
		{"ascending letters", printable, "abcd", false},
		{"descending upper letters", printable, "DCBA", false},
		{"long run", printable, "12345678", false},
		{"run broken", printable, "1235", true},
		{"keypad column, now refused", printable, "2580", false},
		{"deny list", printable, "password", false},
		{"deny list any case", printable, "PassWord", false},
		{"space refused", printable, "ab cd9", false},
		{"non-ascii refused", printable, "pässw0rd", false},
		{"control char refused", printable, "ab\x1b[2J", false},
		{"numeric ok", numeric, "7392", true},
		{"numeric refuses letters", numeric, "73a2", false},
		{"alnum ok", alnum, "k7Rq", true},
		{"alnum refuses symbols", alnum, "k7R!", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(tt.pin)
			if tt.ok && err != nil {
				t.Fatalf("Check(%q) = %v, want ok", tt.pin, err)
			}
			if !tt.ok {
				var pe *PolicyError
				if !errors.As(err, &pe) || !errors.Is(err, ErrPasscodePolicy) || pe.Reason == "" {
					t.Fatalf("Check(%q) = %v, want a PolicyError", tt.pin, err)
				}
			}
		})
	}
}

func TestPasscodeConfirm(t *testing.T) {
	p := DefaultPasscodePolicy()
	if err := p.CheckConfirm("4739", "4739"); err != nil {
		t.Fatal(err)
	}
	if err := p.CheckConfirm("4739", "4738"); !errors.Is(err, ErrPasscodePolicy) {
		t.Fatalf("mismatch: got %v", err)
	}
}

func TestParseCharset(t *testing.T) {
	for in, want := range map[string]Charset{"": CharsetPrintable, "Numeric": CharsetNumeric, "alphanumeric": CharsetAlphanumeric, "printable": CharsetPrintable} {
		got, err := ParseCharset(in)
		if err != nil || got != want {
			t.Errorf("ParseCharset(%q) = %v, %v", in, got, err)
		}
		if in != "" && got.String() != strings.ToLower(in) {
			t.Errorf("String() = %q", got.String())
		}
	}
	if _, err := ParseCharset("emoji"); err == nil {
		t.Error("want error for unknown charset")
	}
}

// Easy guesses are refused with the reason in plain words; each rule is
// shown with a near miss that is allowed.
func TestPasscodePolicyRefusesEasyGuesses(t *testing.T) {
	printable := DefaultPasscodePolicy()
	numeric := DefaultPasscodePolicy()
	numeric.Charset = CharsetNumeric

	const (
		repeatedChar = "(one character repeated)"
		repeated     = "(a repeated pattern)"
		sequence     = "(a sequence)"
		keypad       = "(a pattern on the keypad)"
		year         = "(a year)"
		common       = "(one of the most common passcodes)"
	)
	tests := []struct {
		policy PasscodePolicy
		pin    string
		why    string // "" when allowed
	}{
		// Runs of one character, any length.
		{printable, "0000", repeatedChar},
		{printable, "77777777", repeatedChar},
		{printable, "AAAA", repeatedChar},
		// Repeated pairs and blocks (ABAB), and doubled characters (AABB).
		{printable, "1212", repeated},
		{printable, "6969", repeated},
		{printable, "1010", repeated},
		{printable, "121212", repeated},
		{printable, "007007", repeated},
		{printable, "25802580", repeated},
		{printable, "AbAb", repeated},
		{printable, "1122", repeated},
		{printable, "11223344", repeated},
		{printable, "1221", ""}, // mirrored, not repeated
		{printable, "1213", ""},
		{printable, "1123", ""},
		// Sequences up and down, to the longest allowed.
		{printable, "0123", sequence},
		{printable, "9876", sequence},
		{printable, "4321", sequence},
		{printable, "23456789", sequence},
		{printable, "87654321", sequence},
		{printable, "7890", sequence}, // the keyboard's top row
		{printable, "0987", sequence},
		{printable, "qwer", sequence},
		{printable, "LKJH", sequence},
		{printable, "8901", ""},
		{printable, "1245", ""},
		// Keypad shapes.
		{printable, "2580", keypad},
		{printable, "0852", keypad},
		{printable, "1470", keypad},
		{printable, "0741", keypad},
		{printable, "3690", keypad},
		{printable, "7410", keypad},
		{printable, "8520", keypad},
		{printable, "1590", keypad},
		{printable, "1379", keypad},
		{printable, "9173", keypad}, // the corners in another order
		{printable, "1378", ""},
		{printable, "7913", keypad},
		{printable, "159753", keypad},
		{printable, "789456", keypad},
		{printable, "147258", keypad},
		{printable, "147259", ""},
		// Years, only when passcodes are numeric.
		{numeric, "1972", year},
		{numeric, "2024", year},
		{numeric, "2099", year},
		{numeric, "1899", ""},
		{numeric, "2100", ""},
		{numeric, "19721", ""},
		{printable, "1972", ""},
		// The common ones no rule covers, whatever the charset.
		{printable, "1004", common},
		{printable, "2000", common},
		{numeric, "2001", year},
		{printable, "2001", common},
		{printable, "0007", common},
		{printable, "8675309", common},
		// The existing deny list.
		{printable, "password", common},
		{printable, "PassWord", common},
		{printable, "letmein", common},
	}
	for _, tt := range tests {
		t.Run(tt.policy.Charset.String()+"/"+tt.pin, func(t *testing.T) {
			err := tt.policy.Check(tt.pin)
			if tt.why == "" {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want ok", tt.pin, err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) || !errors.Is(err, ErrPasscodePolicy) {
				t.Fatalf("Check(%q) = %v, want a PolicyError", tt.pin, err)
			}
			want := "This passcode is too easy to guess " + tt.why + ". Choose another."
			if pe.Reason != want {
				t.Fatalf("Check(%q) = %q, want %q", tt.pin, pe.Reason, want)
			}
		})
	}
}

// DataGenetics' 20 most common four-digit PINs (see commonpins.go) are all
// refused, whatever the charset.
func TestPasscodePolicyRefusesDataGeneticsTop20(t *testing.T) {
	top20 := []string{"1234", "1111", "0000", "1212", "7777", "1004", "2000", "4444", "2222", "6969",
		"9999", "3333", "5555", "6666", "1122", "1313", "8888", "4321", "2001", "1010"}
	for _, cs := range []Charset{CharsetPrintable, CharsetAlphanumeric, CharsetNumeric} {
		p := DefaultPasscodePolicy()
		p.Charset = cs
		for _, pin := range top20 {
			if err := p.Check(pin); !errors.Is(err, ErrPasscodePolicy) {
				t.Errorf("%s: Check(%q) = %v, want refused", cs, pin, err)
			}
		}
	}
}

// The rules cost little choice: of the 10,000 four-digit passcodes a
// numeric kiosk allows, fewer than one in twenty are refused (446, nearly
// half of them years), each with the reason the rules name.
func TestPasscodePolicyRefusesFewFourDigitPasscodes(t *testing.T) {
	p := DefaultPasscodePolicy()
	p.Charset = CharsetNumeric
	refused := 0
	for i := range 10000 {
		pin := fmt.Sprintf("%04d", i)
		err := p.Check(pin)
		if err == nil {
			continue
		}
		refused++
		var pe *PolicyError
		if !errors.As(err, &pe) || !strings.HasPrefix(pe.Reason, "This passcode is too easy to guess (") {
			t.Fatalf("Check(%q) = %v", pin, err)
		}
	}
	if refused < 400 || refused > 500 {
		t.Fatalf("%d of 10000 four-digit passcodes refused, want about 450", refused)
	}
}
