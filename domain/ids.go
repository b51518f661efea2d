package domain

import (
	"fmt"
	"strings"
)

// UserID is the 12-digit unique user identity number printed on the card.
type UserID string

// ParseUserID accepts the 12 digits with or without the spaces people type
// ("5550 0179 9894").
func ParseUserID(s string) (UserID, error) {
	digits := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if len(digits) != 12 {
		return "", fmt.Errorf("user ID must have 12 digits, got %d", len(digits))
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return "", fmt.Errorf("user ID must contain only digits")
		}
	}
	return UserID(digits), nil
}

// String groups the digits in fours, as printed on the card.
func (id UserID) String() string {
	s := string(id)
	if len(s) != 12 {
		return s
	}
	return s[0:4] + " " + s[4:8] + " " + s[8:12]
}

// CardSerial is a smartcard's serial number: 16 upper-case hex digits.
type CardSerial string

// ParseCardSerial normalises case and rejects anything but 16 hex digits.
func ParseCardSerial(s string) (CardSerial, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	if len(u) != 16 {
		return "", fmt.Errorf("card serial must have 16 hex digits, got %d", len(u))
	}
	for _, r := range u {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'F') {
			return "", fmt.Errorf("card serial must contain only hex digits")
		}
	}
	return CardSerial(u), nil
}

func (s CardSerial) String() string { return string(s) }
