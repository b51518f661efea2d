package domain_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
)

// rows is an audit trail held in a slice, walked in order; rows with IDs
// up to legacy are from before the chain began.
type rows []domain.AuditEvent

const legacy = 2

func (r rows) UnchainedThrough(context.Context) (int64, error) { return legacy, nil }

func (r rows) WalkAudit(_ context.Context, fn func(domain.AuditEvent) error) error {
	for _, e := range r {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// testKeys are the real keys (secret.Keys) from a fixed test KEK.
func testKeys(t *testing.T, kek string) *secret.Keys {
	t.Helper()
	k, err := secret.NewKeys([]byte(kek))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// chained makes n chained rows, with IDs after the legacy ones.
func chained(k domain.AuditChain, n int) rows {
	var out rows
	var prev []byte
	at := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	for i := range n {
		e := domain.AuditEvent{ID: int64(legacy + i + 1), At: at.Add(time.Duration(i) * time.Minute), Action: domain.AuditSelfUnlock,
			Outcome: domain.OutcomeSuccess, ActorID: "555000000011", Terminal: "booth-1", Detail: fmt.Sprint("event ", i+1)}
		e.MAC = k.AuditMAC(prev, e)
		prev = e.MAC
		out = append(out, e)
	}
	return out
}

func TestVerifyAudit(t *testing.T) {
	key := testKeys(t, "audit chain test key-encryption!")
	other := testKeys(t, "another key-encryption key, 32B.")
	// Row IDs below are legacy+1 … legacy+5, written 3 … 7.
	tests := []struct {
		name   string
		tamper func(r rows) rows
		// want: the IDs of the broken rows and a word of each reason;
		// last: the last row whose link holds.
		want []string
		last int64
	}{
		{"intact", func(r rows) rows { return r }, nil, 7},
		{"changed detail", func(r rows) rows { r[2].Detail = "nothing happened"; return r }, []string{"5 changed"}, 7},
		{"changed outcome of the newest row", func(r rows) rows { r[4].Outcome = domain.OutcomeFailure; return r }, []string{"7 changed"}, 6},
		{"deleted row", func(r rows) rows { return slices.Delete(r, 1, 2) }, []string{"5 deleted"}, 7},
		{"inserted forged row", func(r rows) rows {
			forged := r[1]
			forged.ID, forged.Detail, forged.MAC = 99, "forged", other.AuditMAC(r[1].MAC, forged)
			return slices.Insert(r, 2, forged)
		}, []string{"99 inserted"}, 7},
		{"forged row at the end", func(r rows) rows {
			forged := r[4]
			forged.ID, forged.Detail, forged.MAC = 99, "forged", other.AuditMAC(r[4].MAC, forged)
			return append(r, forged)
		}, []string{"99 inserted"}, 7},
		{"inserted row without MAC", func(r rows) rows {
			return slices.Insert(r, 3, domain.AuditEvent{ID: 98, Action: domain.AuditSelfUnlock})
		}, []string{"98 removed"}, 7},
		// The row after one whose MAC is gone cannot be checked either.
		{"MAC cleared", func(r rows) rows { r[3].MAC = nil; return r }, []string{"6 removed", "7 changed"}, 5},
		{"MAC mangled", func(r rows) rows { r[3].MAC = append(slices.Clone(r[3].MAC), 0); return r }, []string{"6 tampered", "7 changed"}, 5},
		{"copied row", func(r rows) rows { return slices.Insert(r, 2, r[1]) }, []string{"4 copy"}, 7},
		{"two changes", func(r rows) rows { r[1].Terminal = "x"; r[3].ActorID = "555000000037"; return r },
			[]string{"4 changed", "6 changed"}, 7},
		{"legacy rows first", func(r rows) rows { return append(rows{{ID: 1}, {ID: 2}}, r...) }, nil, 7},
		{"a row without MAC after the legacy ones", func(r rows) rows { return append(rows{{ID: 1}, {ID: 2}, {ID: 97}}, r...) },
			[]string{"97 removed"}, 7},
		{"every MAC cleared", func(r rows) rows {
			for i := range r {
				r[i].MAC = nil
			}
			return r
		}, []string{"3 removed", "4 removed", "5 removed", "6 removed", "7 removed"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.tamper(chained(key, 5))
			rep, err := domain.VerifyAudit(t.Context(), r, key)
			var got []string
			for _, b := range rep.Breaks {
				got = append(got, fmt.Sprint(b.Event.ID, " ", b.Why))
			}
			if len(got) != len(tc.want) {
				t.Fatalf("breaks %q, want %q", got, tc.want)
			}
			for i, w := range tc.want {
				id, word, _ := strings.Cut(w, " ")
				if !strings.HasPrefix(got[i], id+" ") || !strings.Contains(got[i], word) {
					t.Errorf("break %d: %q, want row %s %s", i, got[i], id, word)
				}
			}
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, domain.ErrAuditChainBroken) {
				t.Errorf("err %v", err)
			}
			if rep.Last.ID != tc.last {
				t.Errorf("last verified row %d, want %d", rep.Last.ID, tc.last)
			}
		})
	}
}
