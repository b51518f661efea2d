package operator_test

import (
	"crypto"
	"errors"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio/pivcard"
	"github.com/smartcard-service-centre/kiosk/cardio/sim"
	"github.com/smartcard-service-centre/kiosk/cardio/simreader"
	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/operator"
)

// The real card adapter (cardio/pivcard) over the in-process software PIV
// card (cardio/sim), which enforces what a real card does: the operator's
// log-in, Unlock and Repair run against it as against the test double.

// issueSim personalises a factory-fresh software card through the adapter,
// as the service issues a card, and returns the port on it in a reader of
// its own.
func issueSim(t *testing.T, serial domain.CardSerial, pin string, keys domain.CardKeys, blocked bool,
	certify func(domain.KeySlot, crypto.PublicKey) ([]byte, error)) domain.Card {
	t.Helper()
	ctx := t.Context()
	name := "Reader " + string(serial)
	tray := simreader.New(name)
	t.Cleanup(func() { tray.Close() })
	noErr(t, tray.Insert(name, sim.New()))
	card, err := pivcard.NewReaders(tray, pivcard.Assignment{Holder: name}).Open(ctx, domain.ReaderHolder)
	noErr(t, err)
	t.Cleanup(func() { card.Close() })
	noErr(t, card.Personalise(ctx, domain.PersonaliseRequest{
		Serial: serial, CHUIDExpiry: time.Now().AddDate(1, 0, 0), Current: pivcard.FactoryKeys(), New: keys, Certify: certify,
	}))
	noErr(t, card.ChangePasscode(ctx, pivcard.FactoryPasscode, pin))
	if blocked {
		for range domain.PasscodeTries {
			if err := card.VerifyPasscode(ctx, "00000000"); !errors.Is(err, domain.ErrWrongPasscode) && !errors.Is(err, domain.ErrCardBlocked) {
				t.Fatalf("block the card: %v", err)
			}
		}
	}
	return card
}

func TestUnlockPIVCard(t *testing.T) { testUnlock(t, issueSim) }

func TestRepairPIVCard(t *testing.T) { testRepair(t, issueSim) }

// The log-in's challenge is signed by the software card's 9A key behind
// its passcode, counted by the card.
func TestLogInPIVCard(t *testing.T) {
	f := newFixture(t, issueSim)
	ctx := t.Context()
	card := f.enrol(t, peter)
	sess, err := f.svc.Begin(ctx, card)
	noErr(t, err)
	var pe *domain.PasscodeError
	if err := f.svc.LogIn(ctx, sess, "0000"); !errors.As(err, &pe) || pe.TriesLeft != 2 {
		t.Fatalf("wrong passcode: %v", err)
	}
	noErr(t, f.svc.LogIn(ctx, sess, peter.pin))
	if sess.Step() != operator.StepChooseRole {
		t.Fatalf("step %v", sess.Step())
	}
	if st, _ := card.Status(ctx); st.PasscodeTriesLeft != domain.PasscodeTries {
		t.Fatalf("card after the right passcode: %+v", st)
	}
	// A software card with the same serial but its own keys cannot.
	copied := issueSim(t, peter.serial, peter.pin, domain.CardKeys{MgmtAlg: "AES256", MgmtKey: make([]byte, 32), PUK: []byte("12345678")},
		false, func(slot domain.KeySlot, pub crypto.PublicKey) ([]byte, error) {
			return f.ca.Issue(pub, "555000000999", peter.serial, slot, time.Now().AddDate(-1, 0, 0), time.Now().AddDate(1, 0, 0))
		})
	sess, err = f.svc.Begin(ctx, copied)
	noErr(t, err)
	wantErr(t, "log in with a copy", f.svc.LogIn(ctx, sess, peter.pin), domain.ErrCardNotGenuine)
}
