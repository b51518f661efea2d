package demo

import "testing"

func TestTrayIndex(t *testing.T) {
	for k, want := range map[string]int{"f1": 0, "f9": 8, "alt+1": 0, "alt+5": 4,
		"f11": 9, "alt+0": 9, "f12": 10, "alt+-": 10, "f10": -1, "alt+m": -1} {
		if got := trayIndex(k); got != want {
			t.Errorf("trayIndex(%q) = %d, want %d", k, got, want)
		}
	}
}

type noTray struct{}

func (noTray) Cards() []TrayCard { return nil }
func (noTray) Toggle(int) error  { return nil }

// The kiosk gets the room the demo leaves: beside the panels on a wide
// terminal, above the demo's keys, or all of it when there is no room for
// both (the kiosk then says the terminal is too small, with its size).
func TestArrangement(t *testing.T) {
	for _, tc := range []struct {
		w, h   int
		flip   bool
		panels bool
		want   arrangement
		kw, kh int
	}{
		{130, 44, false, true, beside, 85, 43},
		{100, 30, false, true, beside, 65, 29},
		{130, 44, true, true, above, 130, 43},
		{99, 30, false, true, above, 99, 29},
		{99, 30, true, true, instead, 99, 29},
		{80, 21, false, true, above, 80, 20},
		{80, 20, false, true, alone, 80, 20},
		{59, 30, true, true, alone, 59, 30},
		{130, 44, false, false, alone, 130, 44},
	} {
		var o Options
		if tc.panels {
			o.Tray = noTray{}
		}
		m := New(nil, o)
		m.width, m.height, m.flip = tc.w, tc.h, tc.flip
		a := m.arrangement()
		kw, kh := m.kioskSize(a)
		if a != tc.want || kw != tc.kw || kh != tc.kh {
			t.Errorf("%d×%d (toggled %v, panels %v): arrangement %d with the kiosk %d×%d, want %d with %d×%d",
				tc.w, tc.h, tc.flip, tc.panels, a, kw, kh, tc.want, tc.kw, tc.kh)
		}
	}
}
