package components

import (
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

func newPair(t *testing.T, current bool) PasscodeFields {
	t.Helper()
	c := &common.Common{Keys: common.DefaultKeyMap(), Theme: theme.New(true)}
	p, _ := NewPasscodeFieldsFor(c, domain.DefaultPasscodePolicy(), current)
	return p
}

func (p PasscodeFields) typed(s string) PasscodeFields {
	for _, r := range s {
		p, _, _ = p.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	return p
}

func (p PasscodeFields) tab() PasscodeFields {
	p, _, _ = p.Update(tea.KeyPressMsg{Code: tea.KeyTab})
	return p
}

// The confirmation says nothing while the new passcode is refused, match
// or not; once the new one is acceptable it says whether they match.
func TestPasscodePairPolicyBeforeMatch(t *testing.T) {
	tests := []struct {
		newPIN, confirm string
		newBad          bool
		newSays         string
		confirmBad      bool
		confirmSays     string
	}{
		{"1212", "1212", true, "This passcode is too easy to guess (a repeated pattern). Choose another.", false, ""},
		{"2580", "2581", true, "This passcode is too easy to guess (a pattern on the keypad). Choose another.", false, ""},
		{"12", "12", true, "The passcode must be between 4 and 8 characters long.", false, ""},
		{"4739", "4738", false, "Meets the passcode rules", true, "The two passcodes do not match."},
		{"4739", "4739", false, "Meets the passcode rules", false, "The passcodes match"},
	}
	for _, tt := range tests {
		t.Run(tt.newPIN+"/"+tt.confirm, func(t *testing.T) {
			p := newPair(t, false).typed(tt.newPIN).tab().typed(tt.confirm)
			n, c := p.fields[0], p.fields[1]
			if n.Feedback != tt.newSays || n.Bad != tt.newBad {
				t.Errorf("new passcode says %q (bad %v), want %q (bad %v)", n.Feedback, n.Bad, tt.newSays, tt.newBad)
			}
			if c.Feedback != tt.confirmSays || c.Bad != tt.confirmBad {
				t.Errorf("confirmation says %q (bad %v), want %q (bad %v)", c.Feedback, c.Bad, tt.confirmSays, tt.confirmBad)
			}
			if want := tt.newPIN == "4739" && tt.confirm == "4739"; p.Ready() != want {
				t.Errorf("Ready() = %v, want %v", p.Ready(), want)
			}
		})
	}
}

// Every field stops taking characters at 8: the policy's maximum for the
// new passcode, a card's for the current one.
func TestPasscodePairStopsAtTheMaximum(t *testing.T) {
	p := newPair(t, true).typed("Kx9!aQ7#zz").tab().typed("Tr0ub4d!xyz").tab().typed("Tr0ub4d!xyz")
	if p.Current() != "Kx9!aQ7#" || p.New() != "Tr0ub4d!" || p.Confirm() != "Tr0ub4d!" {
		t.Fatalf("fields hold %q, %q, %q; want 8 characters each", p.Current(), p.New(), p.Confirm())
	}
	if !p.Ready() {
		t.Fatal("eight acceptable characters typed twice are not ready")
	}
}
