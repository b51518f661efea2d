package domain_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// rows is an audit trail held in a slice, walked in order.
type rows []domain.AuditEvent

func (r rows) WalkAudit(_ context.Context, fn func(domain.AuditEvent) error) error {
	for _, e := range r {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// hmacChain is the chain's shape with a fixed test key (the real one,
// secret.Keys, is tested with the stores).
type hmacChain []byte

func (k hmacChain) AuditMAC(prev []byte, e domain.AuditEvent) []byte {
	m := hmac.New(sha256.New, k)
	m.Write(prev)
	m.Write(e.ChainBytes())
	return m.Sum(nil)
}

func chained(k hmacChain, n int) rows {
	var out rows
	var prev []byte
	at := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	for i := range n {
		e := domain.AuditEvent{ID: int64(i + 1), At: at.Add(time.Duration(i) * time.Minute), Action: domain.AuditSelfUnlock,
			Outcome: domain.OutcomeSuccess, ActorID: "555000000011", Terminal: "booth-1", Detail: fmt.Sprint("event ", i+1)}
		e.MAC = k.AuditMAC(prev, e)
		prev = e.MAC
		out = append(out, e)
	}
	return out
}

func TestVerifyAudit(t *testing.T) {
	key := hmacChain("test audit key")
	tests := []struct {
		name   string
		tamper func(r rows) rows
		// want: the IDs of the broken rows and a word of each reason;
		// last: the last row whose link holds.
		want []string
		last int64
	}{
		{"intact", func(r rows) rows { return r }, nil, 5},
		{"changed detail", func(r rows) rows { r[2].Detail = "nothing happened"; return r }, []string{"3 changed"}, 5},
		{"changed outcome of the last row", func(r rows) rows { r[4].Outcome = domain.OutcomeFailure; return r }, []string{"5 changed"}, 4},
		{"deleted row", func(r rows) rows { return slices.Delete(r, 1, 2) }, []string{"3 deleted"}, 5},
		{"inserted forged row", func(r rows) rows {
			forged := r[1]
			forged.ID, forged.Detail, forged.MAC = 99, "forged", hmacChain("guessed key").AuditMAC(r[1].MAC, forged)
			return slices.Insert(r, 2, forged)
		}, []string{"99 inserted"}, 5},
		{"inserted row without MAC", func(r rows) rows {
			return slices.Insert(r, 3, domain.AuditEvent{ID: 98, Action: domain.AuditSelfUnlock})
		}, []string{"98 inserted"}, 5},
		{"two changes", func(r rows) rows { r[1].Terminal = "x"; r[3].ActorID = "555000000037"; return r },
			[]string{"2 changed", "4 changed"}, 5},
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

func TestVerifyAuditUnchainedRowsFirst(t *testing.T) {
	key := hmacChain("k")
	r := append(rows{{ID: 1}, {ID: 2}}, chained(key, 2)...)
	rep, err := domain.VerifyAudit(t.Context(), r, key)
	if err != nil || rep.Unchained != 2 || rep.Rows != 4 {
		t.Fatalf("report %+v, %v; want 2 unchained of 4 and no break", rep, err)
	}
}
