package domain

import (
	"errors"
	"testing"
)

func TestEmailPolicy(t *testing.T) {
	p := EmailPolicy{Domains: DefaultApprovedDomains}
	tests := []struct {
		in, want string
		err      error
	}{
		{"jane.smith@nhs.net", "jane.smith@nhs.net", nil},
		{"  Jane.Smith@NHS.NET ", "Jane.Smith@nhs.net", nil},
		{"j@trust.nhs.uk", "j@trust.nhs.uk", nil},
		{"j@dwp.gov.uk", "j@dwp.gov.uk", nil},
		{"j@mod.uk", "j@mod.uk", nil},
		{"j@gmail.com", "", ErrEmailNotApproved},
		{"j@evilnhs.net", "", ErrEmailNotApproved},
		{"j@nhs.net.evil.com", "", ErrEmailNotApproved},
		{"Jane <j@nhs.net>", "", ErrInvalidEmail},
		{"j@nhs.net\r\nBcc: x@evil.com", "", ErrInvalidEmail},
		{"not an address", "", ErrInvalidEmail},
		{"", "", ErrInvalidEmail},
	}
	for _, tt := range tests {
		got, err := p.Normalise(tt.in)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("Normalise(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestMaskEmail(t *testing.T) {
	for in, want := range map[string]string{
		"john.smith@nhs.net": "j•••@nhs.net",
		"é@nhs.net":          "é•••@nhs.net",
		"nonsense":           "•••",
	} {
		if got := MaskEmail(in); got != want {
			t.Errorf("MaskEmail(%q) = %q, want %q", in, got, want)
		}
	}
}
