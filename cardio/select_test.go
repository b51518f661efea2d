package cardio

import (
	"errors"
	"strings"
	"testing"
)

func TestSelectReader(t *testing.T) {
	two := []string{"Gemalto PC Twin Reader 00 00", "Identiv uTrust 4701 F 01 00"}
	same := []string{"Virtual PCD 00 00", "Virtual PCD 00 01"}
	tests := []struct {
		name   string
		names  []string
		match  string
		index  int
		want   string
		errHas string // substring of the error; "" means success
	}{
		{"holder default", two, "", HolderReaderIndex, two[0], ""},
		{"operator default", two, "", OperatorReaderIndex, two[1], ""},
		{"match overrides index", two, "utrust", HolderReaderIndex, two[1], ""},
		{"exact name beats substring", same, "Virtual PCD 00 00", 1, same[0], ""},
		{"unique substring", same, "00 01", 0, same[1], ""},
		{"ambiguous", same, "virtual", 0, "", "matches 2 readers"},
		{"no match lists readers", two, "ACS", 0, "", `"Gemalto PC Twin Reader 00 00"`},
		{"none connected", nil, "", 0, "", "no card reader is connected"},
		{"none connected with match", nil, "x", 0, "", "no card reader is connected"},
		{"operator reader missing", two[:1], "", OperatorReaderIndex, "", "reader #2 wanted but only 1 connected"},
		{"negative index", two, "", -1, "", "invalid reader position"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SelectReader(tc.names, tc.match, tc.index)
			if tc.errHas == "" {
				if err != nil || got != tc.want {
					t.Fatalf("got %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %q, want error containing %q", got, tc.errHas)
			}
			if !errors.Is(err, ErrNoReader) {
				t.Errorf("error %v does not wrap ErrNoReader", err)
			}
			if !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("error %q does not contain %q", err, tc.errHas)
			}
		})
	}
}

func TestEventString(t *testing.T) {
	e := Event{Reader: "R", Kind: CardInserted, ATR: []byte{0x3B, 0x01}}
	if got := e.String(); got != "R: card inserted (ATR 3B01)" {
		t.Errorf("got %q", got)
	}
	if got := (Event{Reader: "R", Kind: ReaderRemoved}).String(); got != "R: reader removed" {
		t.Errorf("got %q", got)
	}
	if got := EventKind(99).String(); got != "EventKind(99)" {
		t.Errorf("got %q", got)
	}
}
