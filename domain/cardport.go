package domain

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"
)

// KeySlot names the card keys the service uses (PIV key references).
type KeySlot string

const (
	KeyPIVAuth  KeySlot = "9A" // PIV Authentication: needs the passcode
	KeyCardAuth KeySlot = "9E" // Card Authentication: no passcode; proves the card genuine
)

// ReaderRole says which reader a card sits in. The kiosk has one reader;
// the operator terminal has a second one for the operator's own card.
type ReaderRole string

const (
	ReaderHolder   ReaderRole = "holder"
	ReaderOperator ReaderRole = "operator"
)

// CardEvent reports a card arriving in or leaving a reader, or the card
// service (pcscd) going away and coming back.
type CardEvent struct {
	Role    ReaderRole
	Present bool
	// Unavailable: the card service was lost, so no card can be seen or
	// used in this reader (Present is false, though a card may still sit
	// in it) until an event without it says the service is back. A card
	// left in the reader is then reported present again.
	Unavailable bool
}

// CardStatus is what a card says about itself without a passcode.
type CardStatus struct {
	Serial            CardSerial
	PasscodeTriesLeft int
	Blocked           bool
}

// PasscodeError is a wrong passcode with the tries the card has left.
type PasscodeError struct{ TriesLeft int }

func (e *PasscodeError) Error() string {
	return fmt.Sprintf("wrong passcode: %d tries left", e.TriesLeft)
}
func (e *PasscodeError) Unwrap() error { return ErrWrongPasscode }

// CardKeys are a card's administrative secrets.
type CardKeys struct {
	MgmtAlg string // "AES256", "AES192", "AES128" or "3DES"
	MgmtKey []byte
	PUK     []byte
}

// PersonaliseRequest gives a card new keys, certificates and secrets.
type PersonaliseRequest struct {
	Serial      CardSerial // written to the CHUID
	CHUIDExpiry time.Time
	Current     CardKeys // what the card holds now
	New         CardKeys // what it will hold
	// Certify is called once per slot with the public key the card
	// generated and returns the certificate (DER) to store on the card.
	Certify func(slot KeySlot, pub crypto.PublicKey) ([]byte, error)
}

// Card is a card in a reader. Each method is one complete card operation
// (the adapter holds an exclusive transaction for it). Card errors are
// domain sentinels: ErrCardBlocked, *PasscodeError, ErrCardRemoved …
type Card interface {
	Status(ctx context.Context) (CardStatus, error)
	// Sign signs a digest with the Card Authentication key (no passcode).
	Sign(ctx context.Context, digest []byte) ([]byte, error)
	// SignWithPasscode verifies the passcode and signs with the PIV
	// Authentication key in one operation.
	SignWithPasscode(ctx context.Context, passcode string, digest []byte) ([]byte, error)
	VerifyPasscode(ctx context.Context, passcode string) error
	ChangePasscode(ctx context.Context, oldPasscode, newPasscode string) error
	// Unlock resets the passcode with the PUK, then verifies the new
	// passcode to prove it took.
	Unlock(ctx context.Context, puk []byte, newPasscode string) error
	Personalise(ctx context.Context, req PersonaliseRequest) error
	Close() error
}

// ErrCardRemoved means the card left the reader during an operation.
var ErrCardRemoved = errors.New("the smartcard was removed")

// ErrNoCard means there is no card in the reader.
var ErrNoCard = errors.New("there is no smartcard in the reader")

// ErrReaderUnavailable means the card reader or the card service cannot be used.
var ErrReaderUnavailable = errors.New("the smartcard reader is not available")

// ErrCardSecretRejected means the card refused the PUK or management key the
// service holds for it (wrong, or blocked): the card cannot be serviced with
// the recorded secrets and needs an operator (or replacing).
var ErrCardSecretRejected = errors.New("the smartcard refused the service's key for it")

// CardReaders is the kiosk's view of its readers.
type CardReaders interface {
	// Events reports cards arriving and leaving, starting with the cards
	// already present; the channel closes when ctx ends.
	Events(ctx context.Context) (<-chan CardEvent, error)
	Open(ctx context.Context, role ReaderRole) (Card, error)
}

// CertificateAuthority issues and checks the service's card certificates.
type CertificateAuthority interface {
	Issue(pub crypto.PublicKey, user UserID, serial CardSerial, slot KeySlot, notBefore, notAfter time.Time) ([]byte, error)
	// Verify checks der was issued by the service for that user, card and
	// slot (expired certificates are still recognised).
	Verify(der []byte, user UserID, serial CardSerial, slot KeySlot) (*x509.Certificate, error)
}

// ProveGenuine checks that the card in the reader holds the Card
// Authentication key certified for rec: it signs a fresh random challenge,
// verified against the certificate recorded when the card was issued. The
// serial the card reports is never trusted alone.
func ProveGenuine(ctx context.Context, card Card, rec Smartcard, ca CertificateAuthority, r io.Reader) error {
	if len(rec.CardAuthCert) == 0 {
		return fmt.Errorf("%w: no certificate recorded for card %s", ErrCardNotGenuine, rec.Serial)
	}
	cert, err := ca.Verify(rec.CardAuthCert, rec.UserID, rec.Serial, KeyCardAuth)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCardNotGenuine, err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: certificate key is not ECDSA", ErrCardNotGenuine)
	}
	if r == nil {
		r = rand.Reader
	}
	challenge := make([]byte, 32)
	if _, err := io.ReadFull(r, challenge); err != nil {
		return fmt.Errorf("draw challenge: %w", err)
	}
	digest := sha256.Sum256(challenge)
	sig, err := card.Sign(ctx, digest[:])
	if err != nil {
		return fmt.Errorf("sign challenge: %w", err)
	}
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		return fmt.Errorf("%w: challenge signature does not verify", ErrCardNotGenuine)
	}
	return nil
}

// Certifies checks that der is a certificate for pub: a card adapter calls
// it before a certificate goes on the card, so a CA mix-up can never put
// someone else's certificate there.
func Certifies(der []byte, pub crypto.PublicKey) error {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	k, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !k.Equal(pub) {
		return errors.New("it does not certify the key the card generated")
	}
	return nil
}
