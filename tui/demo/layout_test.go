package demo

import (
	"testing"

	"github.com/smartcard-service-centre/kiosk/domain"
)

func TestTrayIndex(t *testing.T) {
	h, o := domain.ReaderHolder, domain.ReaderOperator
	for k, want := range map[string]struct {
		i int
		r domain.ReaderRole
	}{"f1": {0, h}, "f9": {8, h}, "alt+1": {0, h}, "alt+5": {4, h},
		"f11": {9, h}, "alt+0": {9, h}, "f12": {10, h}, "alt+-": {10, h},
		"shift+f1": {0, o}, "alt+q": {0, o}, "shift+f8": {7, o}, "alt+i": {7, o},
		"shift+f11": {9, o}, "alt+p": {9, o}, "shift+f12": {10, o}, "alt+=": {10, o},
		"f10": {-1, ""}, "alt+m": {-1, ""}, "shift+f10": {-1, ""}} {
		if i, r := trayIndex(k); i != want.i || r != want.r {
			t.Errorf("trayIndex(%q) = %d, %q; want %d, %q", k, i, r, want.i, want.r)
		}
	}
}

// Every tray key is bound once, and the operator's reader's keys only
// around the operator terminal.
func TestTrayKeyMaps(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range append(trayKeyNames(domain.ReaderHolder), trayKeyNames(domain.ReaderOperator)...) {
		if seen[k] {
			t.Errorf("%q is bound twice", k)
		}
		seen[k] = true
	}
	if DefaultKeyMap().Operator.Enabled() {
		t.Error("the kiosk's demo offers the operator's reader")
	}
	if !OperatorKeyMap().Operator.Enabled() || !OperatorKeyMap().Tray.Enabled() {
		t.Error("the operator terminal's demo does not reach both readers")
	}
	if got := altKeys(domain.ReaderOperator); got != "alt+q…p, =" {
		t.Errorf("altKeys(operator) = %q", got)
	}
}

type noTray struct{}

func (noTray) Cards() []TrayCard                   { return nil }
func (noTray) Toggle(int, domain.ReaderRole) error { return nil }

// The kiosk gets the room the demo leaves: beside the panels on a wide
// terminal (up to the 80 columns its screens are laid out for before the
// panels grow), above the demo's keys, or all of it when there is no room
// for both (the kiosk then says the terminal is too small, with its size).
func TestArrangement(t *testing.T) {
	for _, tc := range []struct {
		w, h   int
		flip   bool
		panels bool
		want   arrangement
		kw, kh int
		pw     int // the panels' width
	}{
		{140, 44, false, true, beside, 90, 43, 48},
		{130, 44, false, true, beside, 80, 43, 48},
		{120, 40, false, true, beside, 80, 39, 38},
		{100, 30, false, true, beside, 60, 29, 38},
		{130, 44, true, true, above, 130, 43, 0},
		{99, 30, false, true, above, 99, 29, 0},
		{99, 30, true, true, instead, 99, 29, 95},
		{80, 24, true, true, instead, 80, 23, 76},
		{80, 21, false, true, above, 80, 20, 0},
		{80, 20, false, true, alone, 80, 20, 0},
		{59, 30, true, true, alone, 59, 30, 0},
		{130, 44, false, false, alone, 130, 44, 0},
	} {
		var o Options
		if tc.panels {
			o.Tray = noTray{}
		}
		m := New(nil, o)
		m.width, m.height, m.flip = tc.w, tc.h, tc.flip
		l := m.layout()
		if l.a != tc.want || l.kw != tc.kw || l.kh != tc.kh || l.pw != tc.pw {
			t.Errorf("%d×%d (toggled %v, panels %v): arrangement %d with the kiosk %d×%d and panels %d wide, want %d with %d×%d and %d",
				tc.w, tc.h, tc.flip, tc.panels, l.a, l.kw, l.kh, l.pw, tc.want, tc.kw, tc.kh, tc.pw)
		}
	}
}
