package domain

import (
	"fmt"
	"net/mail"
	"strings"
)

// DefaultApprovedDomains are the providers approved for use with the Spine
// (seed 004); their subdomains are approved too.
var DefaultApprovedDomains = []string{"nhs.net", "nhs.uk", "gov.uk", "mod.uk"}

// EmailPolicy decides which addresses may receive codes.
type EmailPolicy struct {
	Domains []string
}

// Normalise checks an address typed by a person and returns it in the form
// it is stored: a bare address with a lower-case domain.
func (p EmailPolicy) Normalise(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 254 {
		return "", fmt.Errorf("%w: enter an address such as jane.smith@nhs.net", ErrInvalidEmail)
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return "", fmt.Errorf("%w: enter an address such as jane.smith@nhs.net", ErrInvalidEmail)
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], strings.ToLower(s[at+1:])
	if local == "" || domain == "" || strings.ContainsAny(s, "\r\n\t") {
		return "", fmt.Errorf("%w: enter an address such as jane.smith@nhs.net", ErrInvalidEmail)
	}
	if !p.approved(domain) {
		return "", fmt.Errorf("%w: use an address ending in %s", ErrEmailNotApproved, strings.Join(p.Domains, ", "))
	}
	return local + "@" + domain, nil
}

func (p EmailPolicy) approved(domain string) bool {
	for _, d := range p.Domains {
		d = strings.ToLower(strings.Trim(d, ". "))
		if d != "" && (domain == d || strings.HasSuffix(domain, "."+d)) {
			return true
		}
	}
	return false
}

// MaskEmail shows an address without revealing it: "j•••@nhs.net".
func MaskEmail(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 1 {
		return "•••"
	}
	first := []rune(addr[:at])[0]
	return string(first) + "•••" + addr[at:]
}
