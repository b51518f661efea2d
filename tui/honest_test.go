package tui_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/tui"
	"github.com/smartcard-service-centre/kiosk/tui/common"
)

// Losing the card service (pcscd stopped) with a card in the reader is
// said as the reader service being unavailable, with staff told (an
// error in the log): never as the card removed. The kiosk recovers by
// itself when the service returns, the card still in the reader.
func TestReaderServiceLost(t *testing.T) {
	t.Parallel()
	down := common.ReaderServiceDown.What
	for _, tc := range []struct {
		name string
		// to brings the visit to where the service goes (nil: no visit);
		// an unlock waits there for the card to answer.
		to   func(k *kiosk, answers map[domain.QuestionID]string)
		want []string
	}{
		{"no visit", nil, []string{down, "Staff have been told.", "Card reader not available"}},
		{"holder's menu", func(k *kiosk, _ map[domain.QuestionID]string) { k.waitFor("What would you like to do?") },
			[]string{down, "Staff have been told.", "Card reader not available"}},
		{"card being unlocked", func(k *kiosk, answers map[domain.QuestionID]string) {
			k.toNewPasscode(answers)
			k.typeText("2468")
			k.press("tab")
			k.typeText("2468")
			k.waitFor("The passcodes match")
			k.press("enter")
			k.waitFor("Please wait… do not remove your Smartcard")
		}, []string{"The card reader service stopped while we were working on your Smartcard", "may or may not have been done",
			"Staff have been told.", "When the reader is back, insert your Smartcard again to check.", down}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t)
			p := testPerson()
			card := fx.add(p)
			release := make(chan struct{})
			var once sync.Once
			free := func() { once.Do(func() { close(release) }) }
			t.Cleanup(free)
			card.Hook = func(op string) {
				if op == "Unlock" {
					<-release // the card answers only after the service is gone
				}
			}
			k := fx.start(100, 40)
			k.waitFor("Insert your Smartcard")
			if tc.to != nil {
				fx.readers.Insert(card)
				tc.to(k, p.Answers)
			}
			fx.readers.LoseService()
			s := k.waitFor(tc.want...)
			free()
			for _, bad := range []string{"Your Smartcard was removed", "No Smartcard in the reader", "Insert your Smartcard into the reader"} {
				if strings.Contains(flat(s), bad) {
					t.Fatalf("the lost reader service is shown as %q:\n%s", bad, s)
				}
			}
			eventually(t, "the loss logged as an error", func() bool {
				return strings.Contains(k.logText(), `level=ERROR msg="card reader"`)
			})

			fx.readers.RestoreService()
			if tc.to == nil {
				k.waitFor("Insert your Smartcard into the reader to begin.")
			} else {
				// The card never left: its visit starts again by itself.
				k.waitFor("Hello, Mr Test Person", "What would you like to do?")
			}
			k.waitGone("Card reader not available")
			eventually(t, "the recovery in the log", func() bool {
				return strings.Contains(k.logText(), "card reader available again")
			})
		})
	}
}

// blipStore is the store as the service sees it, where a test can make
// code look-ups or transactions fail for a while, as a database that
// does not answer for a moment.
type blipStore struct {
	domain.Store
	codes, tx atomic.Bool
}

var errBlip = errors.New("read tcp 10.0.0.5:5432: connection reset by peer")

func (b *blipStore) LatestCode(ctx context.Context, id domain.UserID, p domain.CodePurpose) (domain.OneTimeCode, error) {
	if b.codes.Load() {
		return domain.OneTimeCode{}, errBlip
	}
	return b.Store.LatestCode(ctx, id, p)
}

func (b *blipStore) InTx(ctx context.Context, fn func(q domain.Queries) error) error {
	if b.tx.Load() {
		return errBlip
	}
	return b.Store.InTx(ctx, fn)
}

// withBlips gives the fixture's service a store that can blip.
func withBlips(b **blipStore) func(*selfservice.Config) {
	return func(cfg *selfservice.Config) {
		*b = &blipStore{Store: cfg.Store}
		cfg.Store = *b
	}
}

// countMail counts the emails with subject in the outbox.
func (fx *fixture) countMail(subject string) int {
	fx.t.Helper()
	mails, err := fx.store.ListMail(fx.t.Context(), 100)
	if err != nil {
		fx.t.Fatal(err)
	}
	n := 0
	for _, m := range mails {
		if m.Subject == subject {
			n++
		}
	}
	return n
}

// A database blip while the code is checked keeps the visit at the code
// step: the answers (or registration details) and the code stand, no new
// code is used up, and the same code works once the database is back.
func TestBlipAtTheCodeStep(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		toCode  func(k *kiosk, fx *fixture)
		subject string
		title   string
		next    string
	}{
		{"unlock", func(k *kiosk, fx *fixture) {
			card := fx.add(testPerson())
			fx.readers.Insert(card)
			k.toCode(testPerson().Answers)
		}, "Smartcard Unlock Code", "Smartcard Unlock Code", "Reset Smartcard Passcode"},
		{"registration", func(k *kiosk, fx *fixture) {
			p := unblocked()
			p.Email, p.Answers = "", nil
			card := fx.add(p)
			signIn(k.t, k, card, p.PIN)
			k.press("enter")
			k.waitFor("Register for Smartcard Unlock", "Continue")
			k.toRegistrationCode("test.person@nhs.net")
		}, "Smartcard Unlock Service Registration Code", "Registration Code", "Registration complete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var blips *blipStore
			fx := newFixture(t, withBlips(&blips))
			k := fx.start(100, 44)
			tc.toCode(k, fx)
			code := fx.latestCode(tc.subject)
			blips.codes.Store(true)
			k.typeText(code)
			k.press("enter")
			s := k.waitFor("We could not check your code just now", "Nothing is lost and your code still works: press Enter to try again")
			for _, bad := range []string{"Service not available", "What would you like to do?"} {
				if strings.Contains(flat(s), bad) {
					t.Fatalf("a blip at the code step threw the visit's progress away (%q):\n%s", bad, s)
				}
			}
			blips.codes.Store(false)
			k.press("enter") // the code is still typed
			k.waitFor(tc.next)
			if n := fx.countMail(tc.subject); n != 1 {
				t.Fatalf("%d codes emailed, want the one: a blip used up a code", n)
			}
		})
	}
}

// A code email that could not be queued is not a code sent: the holder
// stays at the code step, asks again, and still has the visit's codes.
func TestFailedSendKeepsTheCodeStep(t *testing.T) {
	t.Parallel()
	var blips *blipStore
	fx := newFixture(t, withBlips(&blips))
	p := testPerson()
	card := fx.add(p)
	k := fx.start(100, 40, func(o *tui.Options) { o.IdleTimeout = time.Hour })
	fx.readers.Insert(card)
	k.pressStart()
	blips.tx.Store(true)
	k.answer(p.Answers, false)
	k.waitFor("We could not send the email just now. Press ctrl+r to send the code again.")
	k.press("ctrl+r")
	k.waitFor("The Smartcard Service Centre cannot complete this at the moment.")
	blips.tx.Store(false)
	for range domain.DefaultCodePolicy.MaxSends {
		k.press("ctrl+r")
		k.waitFor("You asked for a new code")
		k.typeText("1") // typing clears the news, so the next one shows
		k.waitGone("You asked for a new code")
		k.press("backspace")
	}
	if n := fx.countMail("Smartcard Unlock Code"); n != domain.DefaultCodePolicy.MaxSends {
		t.Fatalf("%d codes emailed, want %d: failed sends counted against the visit", n, domain.DefaultCodePolicy.MaxSends)
	}
}

// The code screen says how far the code's email has really got: being
// sent while it waits in the outbox, seed 004's "we have sent" once the
// mail service took it, and what to do when delivery fails. Following it
// does not keep an idle visit alive.
func TestCodeScreenFollowsDelivery(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := testPerson()
	card := fx.add(p)
	k := fx.start(100, 44, tui.WithDeliveryPoll(20*time.Millisecond))
	fx.readers.Insert(card)
	k.toCode(p.Answers)
	ctx := t.Context()
	latest := func() int64 {
		t.Helper()
		mails, err := fx.store.ListMail(ctx, 1)
		if err != nil || len(mails) != 1 {
			t.Fatalf("outbox: %v, %v", mails, err)
		}
		return mails[0].ID
	}
	s := k.waitFor("We are sending a Smartcard Unlock Code to your registered email address (t•••@nhs.net). Once you receive the code")
	if strings.Contains(flat(s), "We have sent") {
		t.Fatalf("the code screen says the code was sent while it waits in the outbox:\n%s", s)
	}

	// The mail service refused it once: it may come late.
	id := latest()
	if err := fx.store.MarkMailFailed(ctx, id, "421 4.3.2 try again later", fx.clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	k.waitFor("The email is taking longer than it should", "may arrive late",
		"If it has not arrived in a few minutes, press ctrl+r to send a new code.")
	// Then took it.
	if err := fx.store.MarkMailSent(ctx, id, fx.clock.Now()); err != nil {
		t.Fatal(err)
	}
	k.waitFor("We have sent a Smartcard Unlock Code to your registered email address (t•••@nhs.net). Once you receive the code, enter it below and press the Next button.")
	k.waitGone("may arrive late")

	// A new code is followed from the start; this one is given up.
	k.press("ctrl+r")
	k.waitFor("You asked for a new code, so any earlier code no longer works.", "We are sending a Smartcard Unlock Code")
	id = latest()
	if err := fx.store.MarkMailFailed(ctx, id, "550 5.1.1 no such user", time.Time{}); err != nil {
		t.Fatal(err)
	}
	s = k.waitFor("We could not send a Smartcard Unlock Code to your registered email address (t•••@nhs.net).",
		"The email could not be delivered, so this code will not arrive. Press ctrl+r to send a new code.")
	if strings.Contains(flat(s), "Once you receive the code") {
		t.Fatalf("the screen waits for a code that will not come:\n%s", s)
	}

	// Still being sent, and followed: the visit times out all the same.
	k.press("ctrl+r")
	k.waitFor("We are sending a Smartcard Unlock Code")
	fx.clock.Advance(tui.DefaultIdleTimeout + time.Second)
	k.waitFor("Your session ended because there was no activity")
}

// The registration code screen follows its email the same way.
func TestRegistrationCodeFollowsDelivery(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := unblocked()
	p.Email, p.Answers = "", nil
	card := fx.add(p)
	k := fx.start(100, 44, tui.WithDeliveryPoll(20*time.Millisecond))
	signIn(t, k, card, p.PIN)
	k.press("enter")
	k.waitFor("Register for Smartcard Unlock", "Continue")
	k.toRegistrationCode("test.person@nhs.net")
	k.waitFor("We are sending a Registration Code to t•••@nhs.net. Enter it below")
	mails, err := fx.store.ListMail(t.Context(), 1)
	if err != nil || len(mails) != 1 {
		t.Fatalf("outbox: %v, %v", mails, err)
	}
	if err := fx.store.MarkMailSent(t.Context(), mails[0].ID, fx.clock.Now()); err != nil {
		t.Fatal(err)
	}
	k.waitFor("We have sent a Registration Code to t•••@nhs.net. Enter it below and press the Next button to complete your registration.")
}
