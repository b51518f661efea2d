package domain

import (
	"errors"
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
		{"four digits", printable, "2580", true},
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
	if err := p.CheckConfirm("2580", "2580"); err != nil {
		t.Fatal(err)
	}
	if err := p.CheckConfirm("2580", "2581"); !errors.Is(err, ErrPasscodePolicy) {
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
