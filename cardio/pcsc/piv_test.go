package pcsc

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio"
	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
	"github.com/smartcard-service-centre/kiosk/cardio/pcsctest"
	"github.com/smartcard-service-centre/kiosk/cardio/piv"
	"github.com/smartcard-service-centre/kiosk/cardio/sim"
)

// Compile-time check that the software card can be served through vpcd.
var _ interface {
	ATR() []byte
	Reset()
	Transmit([]byte) []byte
} = (*sim.Card)(nil)

// pivTransact runs fn with a PIV client inside one PC/SC transaction.
func pivTransact(ctx context.Context, c cardio.Conn, fn func(p *piv.Client) error) error {
	return c.Transact(ctx, func(t apdu.Transport) error { return fn(piv.New(t)) })
}

// The piv client against the software card through libpcsclite, pcscd and
// vpcd: what the kiosk does with a real card.
func TestPIVOverPCSC(t *testing.T) {
	d := pcsctest.Shared(t)
	r := New(nil)
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reader := d.Readers[1].Name
	card := sim.New()
	d.InsertWait(t, reader, card)

	c, err := r.Connect(ctx, reader)
	if err != nil {
		t.Fatal(err)
	}
	const serial = "4082A001132F2817"
	err = pivTransact(ctx, c, func(p *piv.Client) error {
		if _, err := p.Select(ctx); err != nil {
			return err
		}
		st, err := p.PINStatus(ctx)
		if err != nil {
			return err
		}
		if st.Verified || st.Retries != 3 {
			t.Errorf("fresh card PIN status %+v, want 3 tries, not verified", st)
		}
		var ae *apdu.AuthError
		if err := p.VerifyPIN(ctx, "000000"); !errors.As(err, &ae) || ae.Retries != 2 {
			t.Errorf("wrong PIN: %v, want 2 tries left", err)
		}
		if err := p.VerifyPIN(ctx, "123456"); err != nil {
			return err
		}
		if err := p.Authenticate(ctx, piv.DefaultManagementKey); err != nil {
			return err
		}
		ch, err := piv.NewCHUID(serial, time.Now().AddDate(2, 0, 0))
		if err != nil {
			return err
		}
		return p.SetCHUID(ctx, ch)
	})
	if err != nil {
		t.Fatalf("personalise: %v", err)
	}
	// A second transaction on the same connection keeps the session.
	err = pivTransact(ctx, c, func(p *piv.Client) error {
		got, err := p.Serial(ctx)
		if err != nil {
			return err
		}
		if got != serial {
			t.Errorf("serial %q, want %q", got, serial)
		}
		st, err := p.PINStatus(ctx)
		if err != nil {
			return err
		}
		if !st.Verified {
			t.Errorf("PIN no longer verified within the session: %+v", st)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	// Close resets the card: the next session starts unverified, with the
	// retry counter restored by the successful VERIFY.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c, err = r.Connect(ctx, reader)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = pivTransact(ctx, c, func(p *piv.Client) error {
		if _, err := p.Select(ctx); err != nil {
			return err
		}
		st, err := p.PINStatus(ctx)
		if err != nil {
			return err
		}
		if st.Verified || st.Retries != 3 {
			t.Errorf("after reconnect PIN status %+v, want unverified with 3 tries", st)
		}
		// The card-authentication flow: a 9E key signs without a PIN.
		if err := p.Authenticate(ctx, piv.DefaultManagementKey); err != nil {
			return err
		}
		pub, err := p.GenerateKey(ctx, piv.SlotCardAuthentication)
		if err != nil {
			return err
		}
		digest := sha256.Sum256([]byte("challenge"))
		sig, err := p.Sign(ctx, piv.SlotCardAuthentication, digest[:])
		if err != nil {
			return err
		}
		if !ecdsa.VerifyASN1(pub, digest[:], sig) {
			t.Error("9E signature does not verify")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("third session: %v", err)
	}
}

// Another application resetting the card (here: a second Conn closing,
// which resets) invalidates our session; the next Transact reconnects by
// itself and the card shows that the PIN must be verified again.
func TestResetByAnotherApplication(t *testing.T) {
	d := pcsctest.Shared(t)
	var logs syncLog
	r := New(slog.New(slog.NewTextHandler(&logs, nil)))
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reader := d.Readers[0].Name
	d.InsertWait(t, reader, sim.New())
	mine, err := r.Connect(ctx, reader)
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Close()
	err = pivTransact(ctx, mine, func(p *piv.Client) error {
		if _, err := p.Select(ctx); err != nil {
			return err
		}
		return p.VerifyPIN(ctx, "123456")
	})
	if err != nil {
		t.Fatal(err)
	}
	other, err := r.Connect(ctx, reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	err = pivTransact(ctx, mine, func(p *piv.Client) error {
		if _, err := p.Select(ctx); err != nil {
			return err
		}
		st, err := p.PINStatus(ctx)
		if err == nil && st.Verified {
			t.Error("PIN still verified after the card was reset")
		}
		return err
	})
	if err != nil {
		t.Fatalf("Transact after a reset by another application: %v", err)
	}
	if !strings.Contains(logs.String(), "reconnecting") {
		t.Fatalf("the reset was not seen (no reconnect); log:\n%s", logs.String())
	}
}

// syncLog collects log output from several goroutines.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
