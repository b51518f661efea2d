package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

const lease = 2 * time.Minute

// clearOutbox marks every unsent mail sent, so mails left by earlier tests
// on a shared database are never claimed by this one.
func clearOutbox(t *testing.T, s domain.Queries) {
	t.Helper()
	all, err := s.ListMail(t.Context(), 1<<30)
	noErr(t, "list mail", err)
	for _, m := range all {
		if !m.Sent() {
			noErr(t, "mark leftover mail sent", s.MarkMailSent(t.Context(), m.ID, base))
		}
	}
}

func newMail(created time.Time, notAfter time.Time) domain.Mail {
	tag := newTag()
	return domain.Mail{To: "test." + tag + "@nhs.net", Subject: "Smartcard Unlock Code " + tag,
		Body: "Your code is 123456.\r\nThis code is valid for 15 minutes.\n", CreatedAt: created, NotAfter: notAfter}
}

func enqueue(t *testing.T, s domain.Queries, m domain.Mail) domain.Mail {
	t.Helper()
	got, err := s.EnqueueMail(t.Context(), m)
	noErr(t, "enqueue mail", err)
	if got.ID <= 0 {
		t.Fatalf("mail id %d", got.ID)
	}
	want := m
	want.ID, want.CreatedAt, want.NotAfter = got.ID, stored(m.CreatedAt), stored(m.NotAfter)
	want.NextAttemptAt = stored(m.NextAttemptAt)
	if want.NextAttemptAt.IsZero() {
		want.NextAttemptAt = want.CreatedAt
	}
	want.Attempts, want.LastError, want.SentAt = 0, "", time.Time{}
	equal(t, "enqueued mail", got, want)
	return got
}

// claim expects ClaimMail at now to take want.
func claim(t *testing.T, s domain.Queries, now time.Time, want domain.Mail) domain.Mail {
	t.Helper()
	got, err := s.ClaimMail(t.Context(), now, lease)
	noErr(t, fmt.Sprintf("claim mail at %v", now), err)
	want.NextAttemptAt = stored(now.Add(lease))
	equal(t, "claimed mail", got, want)
	return got
}

// nothingDue expects ClaimMail at now to find nothing.
func nothingDue(t *testing.T, s domain.Queries, now time.Time) {
	t.Helper()
	m, err := s.ClaimMail(t.Context(), now, lease)
	if err == nil {
		t.Fatalf("claim at %v took mail %d (%+v), want nothing due", now, m.ID, m)
	}
	isErr(t, "claim with nothing due", err, domain.ErrNotFound, "claim mail")
}

func getMail(t *testing.T, s domain.Queries, id int64) domain.Mail {
	t.Helper()
	all, err := s.ListMail(t.Context(), 1<<30)
	noErr(t, "list mail", err)
	for _, m := range all {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("mail %d not listed", id)
	return domain.Mail{}
}

func testMailEnqueueList(t *testing.T, s domain.Store) {
	ctx := t.Context()
	// Later than every other test's mail, so these are the newest on a
	// shared database.
	at := base.AddDate(50, 0, 0)
	m1 := enqueue(t, s, newMail(at, at.Add(15*time.Minute)))
	// What the store assigns is ignored on input; a set NextAttemptAt is kept.
	in := newMail(at.Add(time.Second), time.Time{})
	in.ID, in.Attempts, in.LastError, in.SentAt = 99, 7, "stale", at
	in.NextAttemptAt = at.Add(time.Hour)
	m2 := enqueue(t, s, in)
	// Same creation time as m2: the id breaks the tie.
	m3 := enqueue(t, s, newMail(at.Add(time.Second), time.Time{}))
	if !(m1.ID < m2.ID && m2.ID < m3.ID) {
		t.Fatalf("mail ids not increasing: %d %d %d", m1.ID, m2.ID, m3.ID)
	}
	// Text is stored verbatim, including line endings and non-ASCII.
	m4in := newMail(at.Add(2*time.Second), time.Time{})
	m4in.Body = "Grüße\r\n\r\n  indented\n"
	m4 := enqueue(t, s, m4in)
	// A sealed body is kept as given, with its flag.
	m5in := newMail(at.Add(3*time.Second), at.Add(15*time.Minute))
	m5in.Body, m5in.BodySealed = "c2VhbGVkIGJvZHk=", true
	m5 := enqueue(t, s, m5in)
	list, err := s.ListMail(ctx, 1)
	noErr(t, "list mail", err)
	equal(t, "sealed mail", list, []domain.Mail{m5})

	list, err = s.ListMail(ctx, 4)
	noErr(t, "list mail", err)
	equal(t, "newest first", list[1:], []domain.Mail{m4, m3, m2})
	list, err = s.ListMail(ctx, 0)
	noErr(t, "list mail without limit", err)
	if len(list) < 5 || !slices.Equal(list[:5], []domain.Mail{m5, m4, m3, m2, m1}) {
		t.Fatalf("default limit lists %d mails, want the 5 newest first", len(list))
	}

	_, err = s.EnqueueMail(ctx, domain.Mail{To: "a@nhs.net", Subject: "s"})
	failsPlainly(t, "no creation time", err)
	_, err = s.EnqueueMail(ctx, domain.Mail{Subject: "s", CreatedAt: at})
	failsPlainly(t, "no recipient", err)
}

func testMailClaimOrder(t *testing.T, s domain.Store) {
	clearOutbox(t, s)
	at := base.Add(24 * time.Hour)
	// Enqueued out of creation order; b and c share a creation time.
	c := enqueue(t, s, newMail(at.Add(2*time.Second), time.Time{}))
	a := enqueue(t, s, newMail(at, time.Time{}))
	d := enqueue(t, s, newMail(at.Add(2*time.Second), time.Time{}))
	later := newMail(at.Add(time.Second), time.Time{})
	later.NextAttemptAt = at.Add(time.Hour) // e.g. scheduled
	l := enqueue(t, s, later)

	nothingDue(t, s, at.Add(-time.Microsecond))
	now := at.Add(10 * time.Second)
	claim(t, s, now, a)
	claim(t, s, now, c)
	claim(t, s, now, d)
	nothingDue(t, s, now)
	for _, m := range []domain.Mail{a, c, d} {
		noErr(t, "mark sent", s.MarkMailSent(t.Context(), m.ID, now))
	}
	// Due exactly at NextAttemptAt.
	nothingDue(t, s, l.NextAttemptAt.Add(-time.Microsecond))
	claim(t, s, l.NextAttemptAt, l)

	_, err := s.ClaimMail(t.Context(), time.Time{}, lease)
	failsPlainly(t, "claim without time", err)
	_, err = s.ClaimMail(t.Context(), now, 0)
	failsPlainly(t, "claim without lease", err)
}

func testMailLease(t *testing.T, s domain.Store) {
	clearOutbox(t, s)
	at := base.Add(48 * time.Hour)
	m := enqueue(t, s, newMail(at, at.Add(time.Hour)))
	got := claim(t, s, at, m)
	// Not claimable again while the first sender holds it...
	nothingDue(t, s, at)
	nothingDue(t, s, at.Add(lease-time.Microsecond))
	// ...but taken over once the lease ends (the first sender died).
	claim(t, s, at.Add(lease), got)
	// Only the lease moved: attempts and the rest are untouched.
	m2 := getMail(t, s, m.ID)
	if m2.Attempts != 0 || m2.Sent() || m2.NextAttemptAt != stored(at.Add(2*lease)) {
		t.Fatalf("mail after two claims: %+v", m2)
	}
}

func testMailExpired(t *testing.T, s domain.Store) {
	clearOutbox(t, s)
	at := base.Add(72 * time.Hour)
	gone := enqueue(t, s, newMail(at, at.Add(time.Minute)))
	// Expired exactly at NotAfter, as Mail.Expired says.
	nothingDue(t, s, gone.NotAfter)
	nothingDue(t, s, gone.NotAfter.Add(time.Hour))
	// Claimable until then.
	m := enqueue(t, s, newMail(at.Add(time.Second), at.Add(time.Hour)))
	claim(t, s, m.NotAfter.Add(-time.Microsecond), m)
	// The expired mail, though oldest, does not block a live one.
	live := enqueue(t, s, newMail(at.Add(4*time.Second), time.Time{}))
	claim(t, s, at.Add(time.Minute), live)
	// The expired mail is given up and the code it carries wiped.
	if g := getMail(t, s, gone.ID); !g.GaveUp() || g.Sent() || g.Body != "" || g.LastError != "expired before delivery" {
		t.Fatalf("expired mail: %+v, want given up with its body wiped", g)
	}
	if g := getMail(t, s, live.ID); g.Body != live.Body {
		t.Fatalf("live mail's body changed: %q", g.Body)
	}
}

func testMailSent(t *testing.T, s domain.Store) {
	ctx := t.Context()
	clearOutbox(t, s)
	at := base.Add(96 * time.Hour)
	m := enqueue(t, s, newMail(at, time.Time{}))
	claim(t, s, at, m)
	sentAt := at.Add(time.Second + 7)
	noErr(t, "mark sent", s.MarkMailSent(ctx, m.ID, sentAt))
	nothingDue(t, s, at.Add(time.Hour))
	// A second delivery report keeps the first time.
	noErr(t, "mark sent again", s.MarkMailSent(ctx, m.ID, at.Add(time.Hour)))
	got := getMail(t, s, m.ID)
	if !got.Sent() || got.SentAt != stored(sentAt) || got.Attempts != 0 {
		t.Fatalf("sent mail: %+v, want sent at %v", got, stored(sentAt))
	}
	// Sent without ever being claimed: also never claimed.
	m2 := enqueue(t, s, newMail(at, time.Time{}))
	noErr(t, "mark unclaimed sent", s.MarkMailSent(ctx, m2.ID, at))
	nothingDue(t, s, at.Add(time.Hour))

	if got := getMail(t, s, m.ID); got.Body != m.Body {
		t.Fatalf("a mail without a code lost its body when sent: %q", got.Body)
	}
	// A mail carrying a code keeps it only until it is sent.
	code := enqueue(t, s, newMail(at.Add(time.Second), at.Add(time.Hour)))
	claim(t, s, at.Add(time.Second), code)
	noErr(t, "mark code mail sent", s.MarkMailSent(ctx, code.ID, at.Add(2*time.Second)))
	if got := getMail(t, s, code.ID); got.Body != "" || !got.Sent() {
		t.Fatalf("sent code mail: %+v, want its body wiped", got)
	}

	isErr(t, "mark unknown sent", s.MarkMailSent(ctx, 1<<62, at), domain.ErrNotFound, "mark mail sent")
	failsPlainly(t, "mark sent without time", s.MarkMailSent(ctx, m2.ID, time.Time{}))
}

func testMailFailed(t *testing.T, s domain.Store) {
	ctx := t.Context()
	clearOutbox(t, s)
	at := base.Add(120 * time.Hour)
	m := enqueue(t, s, newMail(at, time.Time{}))
	got := claim(t, s, at, m)
	next := at.Add(10*time.Second + 3)
	noErr(t, "mark failed", s.MarkMailFailed(ctx, m.ID, "dial tcp 127.0.0.1:25: connection refused", next))
	want := got
	want.Attempts, want.LastError, want.NextAttemptAt = 1, "dial tcp 127.0.0.1:25: connection refused", stored(next)
	equal(t, "failed mail", getMail(t, s, m.ID), want)
	nothingDue(t, s, next.Add(-time.Microsecond))
	got = claim(t, s, next, want)
	next2 := next.Add(20 * time.Second)
	noErr(t, "mark failed again", s.MarkMailFailed(ctx, m.ID, "421 try later", next2))
	want = got
	want.Attempts, want.LastError, want.NextAttemptAt = 2, "421 try later", stored(next2)
	equal(t, "failed twice", getMail(t, s, m.ID), want)

	// A zero next means the sender gave up: never due again.
	got = claim(t, s, next2, want)
	noErr(t, "give up", s.MarkMailFailed(ctx, m.ID, "gave up after 3 attempts: 550 no such user", time.Time{}))
	want = got
	want.Attempts, want.LastError, want.NextAttemptAt = 3, "gave up after 3 attempts: 550 no such user", time.Time{}
	equal(t, "given up", getMail(t, s, m.ID), want)
	nothingDue(t, s, next2.AddDate(10, 0, 0))

	// Giving up on a mail that carries a code wipes the code; a retry does not.
	code := enqueue(t, s, newMail(at.Add(time.Minute), at.Add(time.Hour)))
	claim(t, s, at.Add(time.Minute), code)
	noErr(t, "retry code mail", s.MarkMailFailed(ctx, code.ID, "421", at.Add(2*time.Minute)))
	if got := getMail(t, s, code.ID); got.Body != code.Body {
		t.Fatalf("retried code mail lost its body: %q", got.Body)
	}
	noErr(t, "give up code mail", s.MarkMailFailed(ctx, code.ID, "550", time.Time{}))
	if got := getMail(t, s, code.ID); got.Body != "" || !got.GaveUp() {
		t.Fatalf("given-up code mail: %+v, want its body wiped", got)
	}

	isErr(t, "mark unknown failed", s.MarkMailFailed(ctx, 1<<62, "x", next), domain.ErrNotFound, "mark mail failed")
}

// testMailInTx: a mail enqueued in a transaction that rolls back is gone,
// so a code and its mail are stored together or not at all.
func testMailInTx(t *testing.T, s domain.Store) {
	ctx := t.Context()
	clearOutbox(t, s)
	at := base.Add(144 * time.Hour)
	boom := errors.New("boom")
	err := s.InTx(ctx, func(q domain.Queries) error {
		enqueue(t, q, newMail(at, time.Time{}))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want boom", err)
	}
	nothingDue(t, s, at.Add(time.Hour))
	var m domain.Mail
	noErr(t, "in tx", s.InTx(ctx, func(q domain.Queries) error {
		m = enqueue(t, q, newMail(at, time.Time{}))
		return nil
	}))
	claim(t, s, at, m)
}

// testConcurrentClaimMail: senders claiming at once take every mail exactly
// once, and none is told "nothing due" while unclaimed mail is left (on
// PostgreSQL a claimer must skip a row another is taking, not give up).
func testConcurrentClaimMail(t *testing.T, s domain.Store) {
	ctx := t.Context()
	clearOutbox(t, s)
	at := base.Add(168 * time.Hour)
	const perRacer = 2
	// More mail than the racers take, so some is always free.
	const mails = racers * (perRacer + 1)
	want := map[int64]bool{}
	for i := range mails {
		m := enqueue(t, s, newMail(at.Add(time.Duration(i%7)*time.Millisecond), time.Time{}))
		want[m.ID] = true
	}
	now := at.Add(time.Second)
	var (
		mu      sync.Mutex
		claimed = map[int64]int{}
		errs    [racers]error
	)
	race(func(i int) {
		for range perRacer {
			m, err := s.ClaimMail(ctx, now, lease)
			if err != nil {
				errs[i] = err
				return
			}
			mu.Lock()
			claimed[m.ID]++
			mu.Unlock()
		}
	})
	for _, err := range errs {
		noErr(t, "concurrent claim with mail left", err)
	}
	// The rest, one by one, then nothing.
	for {
		m, err := s.ClaimMail(ctx, now, lease)
		if errors.Is(err, domain.ErrNotFound) {
			break
		}
		noErr(t, "claim the rest", err)
		claimed[m.ID]++
	}
	for id, n := range claimed {
		if !want[id] {
			t.Errorf("claimed mail %d that this test did not enqueue", id)
		}
		if n != 1 {
			t.Errorf("mail %d claimed %d times", id, n)
		}
	}
	if len(claimed) != mails {
		t.Fatalf("%d of %d mails claimed", len(claimed), mails)
	}
}
