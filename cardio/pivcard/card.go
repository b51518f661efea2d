// Package pivcard implements the domain's card port on PIV cards: Card
// (domain.Card) over a cardio.Conn and the PIV client, and Readers
// (domain.CardReaders) over cardio.Readers. Every domain operation is one
// exclusive card transaction that starts with SELECT, because another
// application (or a reset) may have changed the card's state in between,
// and every failure is reported with the domain's sentinel errors.
package pivcard

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio"
	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
	"github.com/smartcard-service-centre/kiosk/cardio/piv"
	"github.com/smartcard-service-centre/kiosk/domain"
)

// FactoryPasscode is the PIN of a factory-fresh PIV card (and of cardio/sim).
const FactoryPasscode = "123456"

// FactoryKeys returns a factory-fresh card's secrets: PUK 12345678 and the
// default 3DES management key, as on YubiKeys and most PIV test cards.
func FactoryKeys() domain.CardKeys {
	return domain.CardKeys{MgmtAlg: "3DES", MgmtKey: slices.Clone(piv.DefaultManagementKey.Key), PUK: []byte("12345678")}
}

// fullTries is what Status reports while the PIN is verified: a card does
// not say its counter then, but a successful VERIFY has just reset it.
const fullTries = domain.PasscodeTries

// Card is a PIV card in a reader. It owns its connection: Close ends it
// (resetting the card, so a verified passcode does not outlive the session).
// A Card is not safe for concurrent use, like the card itself.
type Card struct {
	conn cardio.Conn
	rand io.Reader
}

var _ domain.Card = (*Card)(nil)

// New returns the card behind conn; it sends nothing yet.
func New(conn cardio.Conn) *Card { return &Card{conn: conn, rand: rand.Reader} }

// Close ends the connection.
func (c *Card) Close() error { return mapErr(c.conn.Close()) }

// transact runs fn as one complete card operation: an exclusive
// transaction, SELECT of the PIV application, then fn's commands.
func (c *Card) transact(ctx context.Context, op string, fn func(cl *piv.Client) error) error {
	err := c.conn.Transact(ctx, func(t apdu.Transport) error {
		cl := piv.New(t, piv.WithRand(c.rand))
		if _, err := cl.Select(ctx); err != nil {
			if isCardAnswer(err) {
				return fmt.Errorf("%w: the card has no PIV application: %w", domain.ErrCardNotFound, err)
			}
			return err
		}
		return fn(cl)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, mapErr(err))
	}
	return nil
}

// Status reads the serial from the CHUID and the passcode's tries left
// (an empty VERIFY, which costs no try).
func (c *Card) Status(ctx context.Context) (domain.CardStatus, error) {
	var st domain.CardStatus
	err := c.transact(ctx, "read card status", func(cl *piv.Client) error {
		serial, err := readSerial(ctx, cl)
		if err != nil {
			return err
		}
		st.Serial = serial
		ps, err := cl.PINStatus(ctx)
		if err != nil {
			return err
		}
		st.Blocked = ps.Blocked
		switch {
		case ps.Verified:
			st.PasscodeTriesLeft = fullTries
		case !ps.Blocked:
			st.PasscodeTriesLeft = ps.Retries
		}
		return nil
	})
	return st, err
}

func readSerial(ctx context.Context, cl *piv.Client) (domain.CardSerial, error) {
	s, err := cl.Serial(ctx)
	if err != nil {
		if isCardAnswer(err) {
			// No CHUID, or not in the service's format: not one of ours.
			return "", fmt.Errorf("%w: %w", domain.ErrCardNotFound, err)
		}
		return "", err
	}
	serial, err := domain.ParseCardSerial(s)
	if err != nil {
		return "", fmt.Errorf("%w: %w", domain.ErrCardNotFound, err)
	}
	return serial, nil
}

// Sign signs digest with the Card Authentication key (9E, no passcode).
func (c *Card) Sign(ctx context.Context, digest []byte) ([]byte, error) {
	var sig []byte
	err := c.transact(ctx, "sign with the card authentication key", func(cl *piv.Client) error {
		var err error
		sig, err = cl.Sign(ctx, piv.SlotCardAuthentication, digest)
		if errors.Is(err, apdu.ErrNotFound) {
			return fmt.Errorf("%w: no card authentication key: %w", domain.ErrCardNotGenuine, err)
		}
		return err
	})
	return sig, err
}

// SignWithPasscode verifies the passcode and signs digest with the PIV
// Authentication key (9A) in one transaction.
func (c *Card) SignWithPasscode(ctx context.Context, passcode string, digest []byte) ([]byte, error) {
	var sig []byte
	err := c.transact(ctx, "sign with the passcode", func(cl *piv.Client) error {
		if err := verifyPIN(ctx, cl, passcode); err != nil {
			return err
		}
		var err error
		sig, err = cl.Sign(ctx, piv.SlotAuthentication, digest)
		return err
	})
	return sig, err
}

// VerifyPasscode checks the passcode with the card.
func (c *Card) VerifyPasscode(ctx context.Context, passcode string) error {
	return c.transact(ctx, "verify passcode", func(cl *piv.Client) error {
		return verifyPIN(ctx, cl, passcode)
	})
}

// ChangePasscode replaces the passcode; the card checks the current one.
func (c *Card) ChangePasscode(ctx context.Context, oldPasscode, newPasscode string) error {
	if err := checkNewPasscode(newPasscode); err != nil {
		return fmt.Errorf("change passcode: %w", err)
	}
	return c.transact(ctx, "change passcode", func(cl *piv.Client) error {
		if piv.CheckPIN(oldPasscode) != nil {
			return wrongWithoutTry(ctx, cl)
		}
		return passcodeErr(ctx, cl, cl.ChangePIN(ctx, oldPasscode, newPasscode))
	})
}

// Unlock sets a new passcode with the PUK (RESET RETRY COUNTER) and then
// verifies it, proving it took: SELECT and two commands.
func (c *Card) Unlock(ctx context.Context, puk []byte, newPasscode string) error {
	if err := checkNewPasscode(newPasscode); err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	if err := piv.CheckPIN(string(puk)); err != nil {
		return fmt.Errorf("unlock: %w: the recorded PUK is malformed", domain.ErrCardSecretRejected)
	}
	return c.transact(ctx, "unlock", func(cl *piv.Client) error {
		if err := cl.Unblock(ctx, string(puk), newPasscode); err != nil {
			return secretErr("PUK", err)
		}
		if err := cl.VerifyPIN(ctx, newPasscode); err != nil {
			return fmt.Errorf("the new passcode did not verify after the reset: %w", passcodeErr(ctx, cl, err))
		}
		return nil
	})
}

// Personalise authenticates with the current management key, generates new
// P-256 keys in 9A and 9E, stores the certificates req.Certify returns for
// them, writes the CHUID, then changes the PUK and the management key. The
// secrets change last, so a failure before them leaves the card reachable
// with the secrets the service still holds.
func (c *Card) Personalise(ctx context.Context, req domain.PersonaliseRequest) error {
	cur, err := managementKey(req.Current)
	if err != nil {
		return fmt.Errorf("personalise: current keys: %w", err)
	}
	next, err := managementKey(req.New)
	if err != nil {
		return fmt.Errorf("personalise: new keys: %w", err)
	}
	for _, puk := range [][]byte{req.Current.PUK, req.New.PUK} {
		if err := piv.CheckPIN(string(puk)); err != nil {
			return fmt.Errorf("personalise: PUK: %w", err)
		}
	}
	chuid, err := piv.NewCHUID(string(req.Serial), req.CHUIDExpiry)
	if err != nil {
		return fmt.Errorf("personalise: %w", err)
	}
	if req.Certify == nil {
		return errors.New("personalise: no Certify function")
	}
	return c.transact(ctx, "personalise", func(cl *piv.Client) error {
		if err := cl.Authenticate(ctx, cur); err != nil {
			return secretErr("management key", err)
		}
		for _, s := range []struct {
			slot piv.Slot
			key  domain.KeySlot
		}{{piv.SlotAuthentication, domain.KeyPIVAuth}, {piv.SlotCardAuthentication, domain.KeyCardAuth}} {
			pub, err := cl.GenerateKey(ctx, s.slot)
			if err != nil {
				return err
			}
			der, err := req.Certify(s.key, pub)
			if err != nil {
				return fmt.Errorf("certify the %s key: %w", s.key, err)
			}
			if err := domain.Certifies(der, pub); err != nil {
				return fmt.Errorf("certificate for %s: %w", s.key, err)
			}
			if err := cl.PutData(ctx, s.slot.Object, piv.EncodeCertificate(der)); err != nil {
				return fmt.Errorf("store the %s certificate: %w", s.key, err)
			}
		}
		if err := cl.SetCHUID(ctx, chuid); err != nil {
			return err
		}
		if string(req.Current.PUK) != string(req.New.PUK) {
			if err := cl.ChangePUK(ctx, string(req.Current.PUK), string(req.New.PUK)); err != nil {
				return secretErr("PUK", err)
			}
		}
		if !cur.Equal(next) {
			if err := cl.SetManagementKey(ctx, next); err != nil {
				return err
			}
		}
		return nil
	})
}

// managementKey converts the domain's key description.
func managementKey(k domain.CardKeys) (piv.ManagementKey, error) {
	var alg piv.Algorithm
	switch k.MgmtAlg {
	case "AES256":
		alg = piv.AlgAES256
	case "AES192":
		alg = piv.AlgAES192
	case "AES128":
		alg = piv.AlgAES128
	case "3DES":
		alg = piv.Alg3DES
	default:
		return piv.ManagementKey{}, fmt.Errorf("unknown management key algorithm %q", k.MgmtAlg)
	}
	if len(k.MgmtKey) != alg.KeyLen() {
		return piv.ManagementKey{}, fmt.Errorf("%s management key of %d bytes", k.MgmtAlg, len(k.MgmtKey))
	}
	return piv.ManagementKey{Alg: alg, Key: k.MgmtKey}, nil
}

// Inspection is what a technician wants to know about a card; parts the
// card could not give are listed in Problems rather than failing the whole.
type Inspection struct {
	Serial       domain.CardSerial
	CHUIDExpiry  time.Time
	TriesLeft    int
	Blocked      bool
	Certificates map[domain.KeySlot]*x509.Certificate
	// Missing names the objects the card does not hold ("CHUID",
	// "9A certificate", …); Problems are objects it could not give.
	Missing  []string
	Problems []string
}

// CertExpiry is the earliest expiry of the card's certificates (zero if
// it has none).
func (in Inspection) CertExpiry() time.Time {
	var t time.Time
	for _, c := range in.Certificates {
		if t.IsZero() || c.NotAfter.Before(t) {
			t = c.NotAfter
		}
	}
	return t
}

// Inspect reads everything that needs no passcode: CHUID, tries left and
// the 9A and 9E certificates. Only a failure to reach the card (or a card
// without a PIV application) is an error; a factory-fresh card is not.
func (c *Card) Inspect(ctx context.Context) (Inspection, error) {
	in := Inspection{Certificates: map[domain.KeySlot]*x509.Certificate{}}
	err := c.transact(ctx, "inspect card", func(cl *piv.Client) error {
		// Anything but a reader failure is about this card's content
		// (e.g. a certificate that does not parse): note it, go on.
		problem := func(what string, err error) error {
			if cardio.IsTransport(err) {
				return err
			}
			if errors.Is(err, apdu.ErrNotFound) {
				in.Missing = append(in.Missing, what)
				return nil
			}
			in.Problems = append(in.Problems, fmt.Sprintf("%s: %v", what, err))
			return nil
		}
		if ch, err := cl.CHUID(ctx); err != nil {
			if err := problem("CHUID", err); err != nil {
				return err
			}
		} else {
			in.CHUIDExpiry = ch.Expiry
			s, err := ch.Serial()
			if err == nil {
				in.Serial = domain.CardSerial(s)
			} else if err := problem("serial", err); err != nil {
				return err
			}
		}
		ps, err := cl.PINStatus(ctx)
		switch {
		case err != nil:
			if err := problem("passcode status", err); err != nil {
				return err
			}
		case ps.Verified:
			in.TriesLeft = fullTries
		default:
			in.TriesLeft, in.Blocked = max(ps.Retries, 0), ps.Blocked
		}
		for _, s := range []struct {
			slot piv.Slot
			key  domain.KeySlot
		}{{piv.SlotAuthentication, domain.KeyPIVAuth}, {piv.SlotCardAuthentication, domain.KeyCardAuth}} {
			cert, err := cl.Certificate(ctx, s.slot)
			if err != nil {
				if err := problem(string(s.key)+" certificate", err); err != nil {
					return err
				}
				continue
			}
			in.Certificates[s.key] = cert
		}
		return nil
	})
	return in, err
}

func checkNewPasscode(p string) error {
	if err := piv.CheckPIN(p); err != nil {
		return fmt.Errorf("%w: %w", domain.ErrPasscodePolicy, err)
	}
	return nil
}

func verifyPIN(ctx context.Context, cl *piv.Client, passcode string) error {
	if piv.CheckPIN(passcode) != nil {
		return wrongWithoutTry(ctx, cl)
	}
	return passcodeErr(ctx, cl, cl.VerifyPIN(ctx, passcode))
}

// wrongWithoutTry reports a passcode that cannot be right (the card would
// refuse its format) with the tries the card still has: none was spent.
func wrongWithoutTry(ctx context.Context, cl *piv.Client) error {
	ps, err := cl.PINStatus(ctx)
	switch {
	case err != nil:
		return err
	case ps.Blocked:
		return domain.ErrCardBlocked
	case ps.Verified:
		return &domain.PasscodeError{TriesLeft: fullTries}
	}
	return &domain.PasscodeError{TriesLeft: ps.Retries}
}

// passcodeErr maps the card's answer to a passcode check. The try that
// blocks the card matches both domain.ErrCardBlocked and
// *domain.PasscodeError{TriesLeft: 0}.
func passcodeErr(ctx context.Context, cl *piv.Client, err error) error {
	var ae *apdu.AuthError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae) && ae.Retries == 0:
		return fmt.Errorf("%w: %w", domain.ErrCardBlocked, &domain.PasscodeError{TriesLeft: 0})
	case errors.As(err, &ae) && ae.Retries > 0:
		return &domain.PasscodeError{TriesLeft: ae.Retries}
	case errors.As(err, &ae):
		// 6300: the card did not say how many tries are left; ask.
		return wrongWithoutTry(ctx, cl)
	case errors.Is(err, apdu.ErrBlocked):
		return fmt.Errorf("%w: %w", domain.ErrCardBlocked, err)
	}
	return err
}

// secretErr maps a refused PUK or management key: the service's record and
// the card disagree, which no retry by the card holder can fix.
func secretErr(what string, err error) error {
	var ae *apdu.AuthError
	switch {
	case errors.As(err, &ae) && ae.Retries > 0:
		return fmt.Errorf("%w: wrong %s (%d tries left)", domain.ErrCardSecretRejected, what, ae.Retries)
	case errors.Is(err, apdu.ErrBlocked):
		return fmt.Errorf("%w: the %s is blocked", domain.ErrCardSecretRejected, what)
	case isCardAnswer(err):
		return fmt.Errorf("%w: %s: %w", domain.ErrCardSecretRejected, what, err)
	}
	return err
}

// isCardAnswer reports whether err is the card's (or its data's) fault
// rather than the reader's: a status word or content that does not parse.
func isCardAnswer(err error) bool {
	if err == nil || cardio.IsTransport(err) {
		return false
	}
	var se *apdu.StatusError
	return errors.As(err, &se) || errors.Is(err, piv.ErrMalformedResponse) ||
		errors.Is(err, piv.ErrMalformedCHUID) || errors.Is(err, piv.ErrSerialFormat) ||
		errors.Is(err, piv.ErrNoCertificate) || errors.Is(err, piv.ErrCardNotAuthenticated) ||
		errors.Is(err, apdu.ErrShortResponse)
}

// mapErr gives reader failures their domain sentinel, keeping the cause.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, domain.ErrCardRemoved), errors.Is(err, domain.ErrNoCard), errors.Is(err, domain.ErrReaderUnavailable):
		return err
	case errors.Is(err, cardio.ErrCardRemoved), errors.Is(err, cardio.ErrCardReset):
		// A reset loses the verified passcode and management key in the
		// middle of the operation: for the flow it is the same as a pull.
		return fmt.Errorf("%w: %w", domain.ErrCardRemoved, err)
	case errors.Is(err, cardio.ErrNoCard):
		return fmt.Errorf("%w: %w", domain.ErrNoCard, err)
	case errors.Is(err, cardio.ErrNoService), errors.Is(err, cardio.ErrNoReader),
		errors.Is(err, cardio.ErrReaderUnavailable), errors.Is(err, cardio.ErrClosed):
		return fmt.Errorf("%w: %w", domain.ErrReaderUnavailable, err)
	}
	return err
}
