package democard

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio/ca"
	"github.com/smartcard-service-centre/kiosk/cardio/pivcard"
	"github.com/smartcard-service-centre/kiosk/cardio/sim"
	"github.com/smartcard-service-centre/kiosk/cardio/simreader"
	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/demo"
)

func newCard(t *testing.T, serial domain.CardSerial, blocked bool, now time.Time) demo.NewCard {
	t.Helper()
	mk := make([]byte, 32)
	if _, err := rand.Read(mk); err != nil {
		t.Fatal(err)
	}
	// Issued two years ago, as the oldest demo cards are.
	return demo.NewCard{
		Serial: serial, UserID: "555001799894", Passcode: "1357", Blocked: blocked,
		Keys:     domain.CardKeys{MgmtAlg: "AES256", MgmtKey: mk, PUK: []byte("31415926")},
		IssuedAt: now.AddDate(0, 0, -750), CertExpiry: now.AddDate(0, 0, -20),
	}
}

// open serves the card file in an in-process reader, as the demo does.
func open(t *testing.T, path string) *pivcard.Card {
	t.Helper()
	c, err := sim.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tray := simreader.New("R")
	t.Cleanup(func() { tray.Close() })
	if err := tray.Insert("R", c); err != nil {
		t.Fatal(err)
	}
	conn, err := tray.Connect(context.Background(), "R")
	if err != nil {
		t.Fatal(err)
	}
	card := pivcard.New(conn)
	t.Cleanup(func() { card.Close() })
	return card
}

func TestIssueCommit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Now().UTC().Truncate(time.Second)
	auth, generated, err := OpenCA(filepath.Join(dir, "ca"), now)
	if err != nil || !generated {
		t.Fatalf("OpenCA: %v %v", generated, err)
	}
	m := &Maker{CA: ca.ForDomain(auth), Dir: filepath.Join(dir, "cards")}
	const serial = domain.CardSerial("4082A001132F2817")
	nc := newCard(t, serial, true, now)
	certs, err := m.Issue(ctx, nc)
	if err != nil {
		t.Fatal(err)
	}
	if files, _ := List(m.Dir); len(files) != 0 {
		t.Fatalf("card files before commit: %v", files)
	}
	if err := m.Commit(); err != nil {
		t.Fatal(err)
	}
	files, err := List(m.Dir)
	if err != nil || len(files) != 1 || files[0] != Path(m.Dir, serial) {
		t.Fatalf("card files %v %v", files, err)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("card file mode: %v %v", fi.Mode(), err)
	}

	// The card is what the store will record: genuine for the returned
	// certificate (even though expired), blocked, and unlocked by the PUK.
	card := open(t, files[0])
	st, err := card.Status(ctx)
	if err != nil || st.Serial != serial || !st.Blocked {
		t.Fatalf("status %+v %v", st, err)
	}
	rec := domain.Smartcard{Serial: serial, UserID: nc.UserID, CardAuthCert: certs.CardAuth}
	if err := domain.ProveGenuine(ctx, card, rec, ca.ForDomain(auth), nil); err != nil {
		t.Fatalf("demo card is not genuine: %v", err)
	}
	in, err := card.Inspect(ctx)
	if err != nil || !in.CertExpiry().Equal(nc.CertExpiry) {
		t.Fatalf("certificate expiry %v, want %v (%v)", in.CertExpiry(), nc.CertExpiry, err)
	}
	if err := card.Unlock(ctx, nc.Keys.PUK, "2468"); err != nil {
		t.Fatal(err)
	}
	// The 9A certificate returned certifies the key the card signs with
	// once the passcode is given: an operator's log-in.
	pivCert, err := ca.ForDomain(auth).Verify(certs.PIVAuth, nc.UserID, serial, domain.KeyPIVAuth)
	if err != nil {
		t.Fatalf("9A certificate: %v", err)
	}
	digest := sha256.Sum256([]byte("log-in challenge"))
	sig, err := card.SignWithPasscode(ctx, "2468", digest[:])
	if err != nil || !ecdsa.VerifyASN1(pivCert.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatalf("the 9A key is not the certified one (%v)", err)
	}

	// Never overwritten, and the CA is loaded, not made again.
	if _, err := m.Issue(ctx, nc); !errors.Is(err, ErrExists) {
		t.Fatalf("second issue: %v, want ErrExists", err)
	}
	if _, generated, err := OpenCA(filepath.Join(dir, "ca"), now); err != nil || generated {
		t.Fatalf("OpenCA again: generated=%v %v", generated, err)
	}
}

func TestPasscodeAndUnblocked(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Now()
	auth, _, err := OpenCA(filepath.Join(dir, "ca"), now)
	if err != nil {
		t.Fatal(err)
	}
	m := &Maker{CA: ca.ForDomain(auth), Dir: dir}
	nc := newCard(t, "4082A00100000011", false, now)
	nc.Passcode = "0000" // the passcode the blocking code would otherwise use
	nc.Blocked = true
	if _, err := m.Issue(ctx, nc); err != nil {
		t.Fatal(err)
	}
	nc2 := newCard(t, "4082A00100000029", false, now)
	if _, err := m.Issue(ctx, nc2); err != nil {
		t.Fatal(err)
	}
	if err := m.Commit(); err != nil {
		t.Fatal(err)
	}
	if st, err := open(t, Path(dir, nc.Serial)).Status(ctx); err != nil || !st.Blocked {
		t.Fatalf("blocked card: %+v %v", st, err)
	}
	card := open(t, Path(dir, nc2.Serial))
	if err := card.VerifyPasscode(ctx, nc2.Passcode); err != nil {
		t.Fatalf("persona passcode: %v", err)
	}
	var pe *domain.PasscodeError
	if err := card.VerifyPasscode(ctx, pivcard.FactoryPasscode); !errors.As(err, &pe) || pe.TriesLeft != domain.PasscodeTries-1 {
		t.Fatalf("factory passcode: %v, want a wrong passcode with %d tries left", err, domain.PasscodeTries-1)
	}
}

func TestDiscardAndCommitNeverOverwrite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Now()
	auth, _, err := OpenCA(filepath.Join(dir, "ca"), now)
	if err != nil {
		t.Fatal(err)
	}
	m := &Maker{CA: ca.ForDomain(auth), Dir: filepath.Join(dir, "cards")}
	nc := newCard(t, "4082A00100000011", false, now)
	if _, err := m.Issue(ctx, nc); err != nil {
		t.Fatal(err)
	}
	m.Discard()
	if entries, _ := os.ReadDir(m.Dir); len(entries) != 0 {
		t.Fatalf("files left after Discard: %v", entries)
	}

	if _, err := m.Issue(ctx, nc); err != nil {
		t.Fatal(err)
	}
	// Another process wrote the card meanwhile: Commit must not replace it.
	final := Path(m.Dir, nc.Serial)
	if err := os.WriteFile(final, []byte("someone else's"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := m.Commit(); err == nil {
		t.Fatal("Commit replaced an existing card file")
	}
	if b, _ := os.ReadFile(final); string(b) != "someone else's" {
		t.Fatal("existing card file was changed")
	}

	// A CA that refuses is reported, and nothing is written.
	m2 := &Maker{CA: refusingCA{}, Dir: filepath.Join(dir, "other")}
	if _, err := m2.Issue(ctx, newCard(t, "4082A00100000037", false, now)); err == nil {
		t.Fatal("issued without certificates")
	}
	if files, _ := List(m2.Dir); len(files) != 0 {
		t.Fatalf("files %v", files)
	}
}

type refusingCA struct{ domain.CertificateAuthority }

func (refusingCA) Issue(crypto.PublicKey, domain.UserID, domain.CardSerial, domain.KeySlot, time.Time, time.Time) ([]byte, error) {
	return nil, errors.New("CA refuses")
}
