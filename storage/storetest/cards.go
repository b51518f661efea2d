package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

func testSmartcards(t *testing.T, s domain.Store) {
	ctx := t.Context()
	u := putUser(t, s, "Test", "Holder")
	c1 := domain.Smartcard{
		Serial: newSerial(), UserID: u.ID, Type: "PIV",
		IssuedAt: base, CertExpiry: base.AddDate(2, 0, 0),
		RenewalsSinceOperator: 2, CardAuthCert: []byte{0x30, 0x82, 0x01, 0x00, 0xff},
		PIVAuthCert: []byte{0x30, 0x82, 0x01, 0x00, 0x9a}, NeedsRepair: true,
	}
	noErr(t, "put smartcard", s.PutSmartcard(ctx, c1))
	got, err := s.GetSmartcard(ctx, c1.Serial)
	noErr(t, "get smartcard", err)
	want := c1
	want.IssuedAt, want.CertExpiry = stored(c1.IssuedAt), stored(c1.CertExpiry)
	equal(t, "smartcard", got, want)
	if !got.Active() {
		t.Fatal("zero CancelledAt did not read back as active")
	}

	// Update by serial: cancel it, drop the certificate.
	c1.CancelledAt, c1.CancelReason, c1.RenewalsSinceOperator, c1.CardAuthCert = base.Add(time.Hour), "Lost", 0, nil
	c1.PIVAuthCert, c1.NeedsRepair = nil, false
	noErr(t, "update smartcard", s.PutSmartcard(ctx, c1))
	got, err = s.GetSmartcard(ctx, c1.Serial)
	noErr(t, "get smartcard", err)
	want = c1
	want.IssuedAt, want.CertExpiry, want.CancelledAt = stored(c1.IssuedAt), stored(c1.CertExpiry), stored(c1.CancelledAt)
	equal(t, "updated smartcard", got, want)

	c2 := putCard(t, s, u.ID, base.Add(24*time.Hour))
	c3 := domain.Smartcard{Serial: newSerial(), UserID: u.ID, Type: "Gemplus"} // no dates at all
	noErr(t, "put smartcard", s.PutSmartcard(ctx, c3))
	list, err := s.ListSmartcards(ctx, u.ID)
	noErr(t, "list smartcards", err)
	equal(t, "smartcards oldest first, undated last", list, []domain.Smartcard{want, c2, c3})
	list, err = s.ListSmartcards(ctx, newUserID())
	noErr(t, "list smartcards", err)
	equal(t, "no smartcards", len(list), 0)

	_, err = s.GetSmartcard(ctx, newSerial())
	isErr(t, "unknown smartcard", err, domain.ErrNotFound, "get smartcard")
	err = s.PutSmartcard(ctx, domain.Smartcard{Serial: newSerial(), UserID: newUserID()})
	isErr(t, "smartcard of unknown user", err, domain.ErrNotFound, "put smartcard")
	for _, serial := range []domain.CardSerial{"4082a001132f2817", "4082A001132F281", "4082A001132F28170", "4082A001132F281G", ""} {
		failsPlainly(t, "put smartcard "+string(serial), s.PutSmartcard(ctx, domain.Smartcard{Serial: serial, UserID: u.ID}))
	}
	failsPlainly(t, "negative renewals", s.PutSmartcard(ctx, domain.Smartcard{Serial: newSerial(), UserID: u.ID, RenewalsSinceOperator: -1}))
}

func testCardSecrets(t *testing.T, s domain.Store) {
	ctx := t.Context()
	u := putUser(t, s, "Test", "Holder")
	c := putCard(t, s, u.ID, base)
	sec := domain.CardSecrets{Serial: c.Serial, SealedPUK: []byte{0, 1, 2, 0xfe, 0xff}, MgmtKeyAlg: "AES256",
		SealedMgmtKey: []byte("nonce|ciphertext|tag\x00"), KEKFingerprint: "sha256:ab12", UpdatedAt: base}
	noErr(t, "put card secrets", s.PutCardSecrets(ctx, sec))
	got, err := s.GetCardSecrets(ctx, c.Serial)
	noErr(t, "get card secrets", err)
	want := sec
	want.UpdatedAt = stored(base)
	equal(t, "card secrets", got, want)

	sec2 := domain.CardSecrets{Serial: c.Serial, SealedPUK: []byte{9}, MgmtKeyAlg: "3DES", SealedMgmtKey: []byte{8},
		KEKFingerprint: "sha256:cd34"}
	noErr(t, "replace card secrets", s.PutCardSecrets(ctx, sec2))
	got, err = s.GetCardSecrets(ctx, c.Serial)
	noErr(t, "get card secrets", err)
	equal(t, "replaced card secrets", got, sec2)

	fps, err := s.KEKFingerprints(ctx)
	noErr(t, "key fingerprints", err)
	// The replaced secrets' key is gone; the list is sorted, each once.
	if !slices.Contains(fps, "sha256:cd34") || slices.Contains(fps, "sha256:ab12") || !slices.IsSorted(fps) ||
		len(slices.Compact(slices.Clone(fps))) != len(fps) {
		t.Fatalf("key fingerprints %q, want sha256:cd34 and not sha256:ab12, sorted, each once", fps)
	}
	_, err = s.GetCardSecrets(ctx, newSerial())
	isErr(t, "unknown card secrets", err, domain.ErrNotFound, "get card secrets")
	sec2.Serial = newSerial()
	isErr(t, "secrets of unknown card", s.PutCardSecrets(ctx, sec2), domain.ErrNotFound, "put card secrets")
	bad := want
	bad.MgmtKeyAlg = "ROT13"
	failsPlainly(t, "unknown algorithm", s.PutCardSecrets(ctx, bad))
	bad = want
	bad.SealedPUK = nil
	failsPlainly(t, "missing PUK", s.PutCardSecrets(ctx, bad))
}
