package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// testGetMail: one mail by its ID, as the kiosk reads a code mail's
// delivery state.
func testGetMail(t *testing.T, s domain.Store) {
	ctx := t.Context()
	at := base.Add(192 * time.Hour)
	m := enqueue(t, s, newMail(at, at.Add(time.Hour)))
	got, err := s.GetMail(ctx, m.ID)
	noErr(t, "get mail", err)
	equal(t, "mail by id", got, m)
	noErr(t, "mark failed", s.MarkMailFailed(ctx, m.ID, "421 try later", at.Add(time.Minute)))
	got, err = s.GetMail(ctx, m.ID)
	noErr(t, "get mail", err)
	if got.Attempts != 1 || got.LastError != "421 try later" || got.Delivery(at) != domain.DeliveryDelayed {
		t.Fatalf("mail after a failed attempt: %+v", got)
	}
	_, err = s.GetMail(ctx, 1<<62)
	isErr(t, "get unknown mail", err, domain.ErrNotFound, "get mail")
}

// testMailExpireReports: ExpireMail gives up exactly the unsent mail whose
// code has expired, wipes the code, and reports each such mail once.
func testMailExpireReports(t *testing.T, s domain.Store) {
	ctx := t.Context()
	clearOutbox(t, s)
	at := base.Add(216 * time.Hour)
	now := at.Add(10 * time.Minute)
	gone := enqueue(t, s, newMail(at, now))                     // expires exactly now
	failed := enqueue(t, s, newMail(at, now.Add(-time.Minute))) // failed once, then expired
	noErr(t, "mark failed", s.MarkMailFailed(ctx, failed.ID, "421", at.Add(time.Minute)))
	live := enqueue(t, s, newMail(at, now.Add(time.Minute)))
	plain := enqueue(t, s, newMail(at, time.Time{})) // no code: never expires
	sent := enqueue(t, s, newMail(at, now.Add(-time.Minute)))
	noErr(t, "mark sent", s.MarkMailSent(ctx, sent.ID, at))
	given := enqueue(t, s, newMail(at, now.Add(-time.Minute)))
	noErr(t, "give up", s.MarkMailFailed(ctx, given.ID, "550", time.Time{}))

	got, err := s.ExpireMail(ctx, now)
	noErr(t, "expire mail", err)
	var ids []int64
	for _, m := range got {
		ids = append(ids, m.ID)
		if m.Body != "" || !m.GaveUp() || m.LastError != "expired before delivery" || m.To == "" {
			t.Errorf("reported mail %+v: want given up, its body wiped, its address kept", m)
		}
	}
	slices.Sort(ids)
	if want := []int64{gone.ID, failed.ID}; !slices.Equal(ids, want) {
		t.Fatalf("expired %v, want %v (not the live, plain, sent or given-up mail)", ids, want)
	}
	if g := getMail(t, s, failed.ID); g.Attempts != 1 || g.Delivery(now) != domain.DeliveryFailed {
		t.Fatalf("expired mail %+v: attempts are kept, and it reads as failed", g)
	}
	for _, m := range []domain.Mail{live, plain} {
		if g := getMail(t, s, m.ID); g.Body != m.Body || g.GaveUp() {
			t.Fatalf("mail %d touched: %+v", m.ID, g)
		}
	}
	again, err := s.ExpireMail(ctx, now)
	noErr(t, "expire mail again", err)
	if len(again) != 0 {
		t.Fatalf("expired mail reported twice: %+v", again)
	}
	_, err = s.ExpireMail(ctx, time.Time{})
	failsPlainly(t, "expire without time", err)
}

// testConcurrentExpireMail: kiosks expiring at once report each expired
// mail exactly once between them, so each is audited once.
func (st *suite) testConcurrentExpireMail(t *testing.T, s domain.Store) {
	ctx := t.Context()
	clearOutbox(t, s)
	kiosks := st.pair(t, s)
	at := base.Add(240 * time.Hour)
	now := at.Add(time.Hour)
	want := map[int64]bool{}
	for i := range racers {
		m := enqueue(t, s, newMail(at.Add(time.Duration(i)*time.Millisecond), at.Add(time.Minute)))
		want[m.ID] = true
	}
	var (
		mu   sync.Mutex
		seen = map[int64]int{}
		errs [racers]error
	)
	race(func(i int) {
		got, err := kiosks[i%2].ExpireMail(ctx, now)
		errs[i] = err
		mu.Lock()
		defer mu.Unlock()
		for _, m := range got {
			seen[m.ID]++
		}
	})
	for _, err := range errs {
		noErr(t, "expire mail", err)
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("mail %d reported %d times, want once", id, seen[id])
		}
	}
}
