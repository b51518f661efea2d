package simreader

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/smartcard-service-centre/kiosk/cardio"
	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
	"github.com/smartcard-service-centre/kiosk/cardio/piv"
	"github.com/smartcard-service-centre/kiosk/cardio/sim"
)

var _ Card = (*sim.Card)(nil)

func pivTransact(ctx context.Context, c cardio.Conn, fn func(p *piv.Client) error) error {
	return c.Transact(ctx, func(t apdu.Transport) error { return fn(piv.New(t)) })
}

// The software PIV card through the tray behaves as through PC/SC: session
// state lives until Close, which resets the card.
func TestSimCardSession(t *testing.T) {
	tray := New("Kiosk Reader")
	card := sim.New()
	ev, err := tray.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tray.Insert("Kiosk Reader", card); err != nil {
		t.Fatal(err)
	}
	if e := expect(t, ev, "Kiosk Reader", cardio.CardInserted); !bytes.Equal(e.ATR, card.ATR()) {
		t.Fatalf("ATR %X, want %X", e.ATR, card.ATR())
	}
	c, err := tray.Connect(ctx, "Kiosk Reader")
	if err != nil {
		t.Fatal(err)
	}
	err = pivTransact(ctx, c, func(p *piv.Client) error {
		if _, err := p.Select(ctx); err != nil {
			return err
		}
		var ae *apdu.AuthError
		if err := p.VerifyPIN(ctx, "999999"); !errors.As(err, &ae) || ae.Retries != 2 {
			t.Errorf("wrong PIN: %v, want 2 tries left", err)
		}
		return p.VerifyPIN(ctx, "123456")
	})
	if err != nil {
		t.Fatal(err)
	}
	err = pivTransact(ctx, c, func(p *piv.Client) error {
		st, err := p.PINStatus(ctx)
		if err == nil && !st.Verified {
			t.Errorf("PIN not verified in the same session: %+v", st)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	c, _ = tray.Connect(ctx, "Kiosk Reader")
	defer c.Close()
	err = pivTransact(ctx, c, func(p *piv.Client) error {
		if _, err := p.Select(ctx); err != nil {
			return err
		}
		st, err := p.PINStatus(ctx)
		if err == nil && (st.Verified || st.Retries != 3) {
			t.Errorf("after Close: %+v, want unverified with 3 tries", st)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSimCardPulledMidOperation(t *testing.T) {
	tray := New("R")
	_ = tray.Insert("R", sim.New())
	c, _ := tray.Connect(ctx, "R")
	defer c.Close()
	err := pivTransact(ctx, c, func(p *piv.Client) error {
		if _, err := p.Select(ctx); err != nil {
			return err
		}
		if err := tray.Remove("R"); err != nil {
			t.Fatal(err)
		}
		return p.VerifyPIN(ctx, "123456")
	})
	if !errors.Is(err, cardio.ErrCardRemoved) {
		t.Fatalf("got %v, want ErrCardRemoved", err)
	}
}
