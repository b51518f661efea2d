package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// KEKSize is the key-encryption key's length in bytes (AES-256).
const KEKSize = 32

var (
	ErrKEKFile  = errors.New("key-encryption key file")
	ErrOpenSeal = errors.New("sealed secret cannot be opened with this key")
)

// Keys are the working keys derived from the KEK. Separate subkeys for each
// use mean a code hash can never be confused with a sealing key.
type Keys struct {
	aead        cipher.AEAD
	codeKey     []byte
	auditKey    []byte
	fingerprint string
}

// NewKeys derives the working keys from a 32-byte KEK.
func NewKeys(kek []byte) (*Keys, error) {
	if len(kek) != KEKSize {
		return nil, fmt.Errorf("%w: key must be %d bytes, got %d", ErrKEKFile, KEKSize, len(kek))
	}
	sealKey, err := hkdf.Key(sha256.New, kek, nil, "smartcard-kiosk card secrets v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive sealing key: %w", err)
	}
	codeKey, err := hkdf.Key(sha256.New, kek, nil, "smartcard-kiosk one-time codes v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive code key: %w", err)
	}
	auditKey, err := hkdf.Key(sha256.New, kek, nil, "smartcard-kiosk audit chain v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive audit key: %w", err)
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, fmt.Errorf("sealing cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sealing cipher: %w", err)
	}
	fp, err := hkdf.Key(sha256.New, kek, nil, "smartcard-kiosk fingerprint v1", 8)
	if err != nil {
		return nil, fmt.Errorf("derive fingerprint: %w", err)
	}
	return &Keys{aead: aead, codeKey: codeKey, auditKey: auditKey, fingerprint: hex.EncodeToString(fp)}, nil
}

// LoadKEK reads a KEK file: 64 hex digits, optionally followed by a newline.
// Like ssh with private keys, it refuses a file others can read.
func LoadKEK(path string) (*Keys, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: no file given (set --kek-file or KIOSK_KEK_FILE)", ErrKEKFile)
	}
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w %s does not exist", ErrKEKFile, path)
		}
		return nil, fmt.Errorf("%w: %w", ErrKEKFile, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w %s is readable by other users (mode %04o); run chmod 600 %s", ErrKEKFile, path, fi.Mode().Perm(), path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKEKFile, err)
	}
	kek, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(kek) != KEKSize {
		return nil, fmt.Errorf("%w %s must hold %d hex digits", ErrKEKFile, path, 2*KEKSize)
	}
	return NewKeys(kek)
}

// WriteNewKEK creates a KEK file with a fresh random key (mode 0600). It
// never overwrites: losing a KEK makes every sealed card secret useless.
func WriteNewKEK(path string, r io.Reader) error {
	if r == nil {
		r = rand.Reader
	}
	kek := make([]byte, KEKSize)
	if _, err := io.ReadFull(r, kek); err != nil {
		return fmt.Errorf("draw key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("%w: %w", ErrKEKFile, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKEKFile, err)
	}
	if _, err := fmt.Fprintln(f, hex.EncodeToString(kek)); err != nil {
		f.Close()
		return fmt.Errorf("%w: %w", ErrKEKFile, err)
	}
	return f.Close()
}

// Fingerprint names the KEK without revealing it, so sealed rows record
// which key they need.
func (k *Keys) Fingerprint() string { return k.fingerprint }

// CodeHash is the keyed hash stored for a one-time code. The context (the
// code's purpose and owner) is bound in, so a hash cannot be replayed
// elsewhere, and without the KEK the 10^6 codes cannot be enumerated.
func (k *Keys) CodeHash(context, code string) []byte {
	m := hmac.New(sha256.New, k.codeKey)
	m.Write([]byte(context))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return m.Sum(nil)
}

// CodeMatches compares a typed code with a stored hash in constant time.
func (k *Keys) CodeMatches(hash []byte, context, code string) bool {
	return hmac.Equal(hash, k.CodeHash(context, code))
}

// Seal encrypts plaintext; aad (e.g. the card serial and field name) is
// authenticated, so a sealed PUK cannot be moved to another card's row.
func (k *Keys) Seal(plaintext, aad []byte) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, fmt.Errorf("draw nonce: %w", err)
	}
	return k.aead.Seal(nonce, nonce, plaintext, aad), nil
}

// Open decrypts what Seal produced with the same aad.
func (k *Keys) Open(sealed, aad []byte) ([]byte, error) {
	ns := k.aead.NonceSize()
	if len(sealed) < ns+k.aead.Overhead() {
		return nil, ErrOpenSeal
	}
	pt, err := k.aead.Open(nil, sealed[:ns], sealed[ns:], aad)
	if err != nil {
		return nil, ErrOpenSeal
	}
	return pt, nil
}

// SealCard seals a card's PUK and management key for the store. The serial
// and field name are bound in as associated data.
func (k *Keys) SealCard(serial domain.CardSerial, puk []byte, mgmtAlg string, mgmtKey []byte, now time.Time) (domain.CardSecrets, error) {
	sp, err := k.Seal(puk, []byte(string(serial)+"/puk"))
	if err != nil {
		return domain.CardSecrets{}, fmt.Errorf("seal puk: %w", err)
	}
	sm, err := k.Seal(mgmtKey, []byte(string(serial)+"/mgmt/"+mgmtAlg))
	if err != nil {
		return domain.CardSecrets{}, fmt.Errorf("seal management key: %w", err)
	}
	return domain.CardSecrets{
		Serial: serial, SealedPUK: sp, MgmtKeyAlg: mgmtAlg, SealedMgmtKey: sm,
		KEKFingerprint: k.fingerprint, UpdatedAt: now,
	}, nil
}

// OpenCard recovers a card's PUK and management key.
func (k *Keys) OpenCard(cs domain.CardSecrets) (puk, mgmtKey []byte, err error) {
	if cs.KEKFingerprint != "" && cs.KEKFingerprint != k.fingerprint {
		return nil, nil, fmt.Errorf("%w: card %s was sealed with key %s, this kiosk has key %s", ErrOpenSeal, cs.Serial, cs.KEKFingerprint, k.fingerprint)
	}
	if puk, err = k.Open(cs.SealedPUK, []byte(string(cs.Serial)+"/puk")); err != nil {
		return nil, nil, fmt.Errorf("open puk of card %s: %w", cs.Serial, err)
	}
	if mgmtKey, err = k.Open(cs.SealedMgmtKey, []byte(string(cs.Serial)+"/mgmt/"+cs.MgmtKeyAlg)); err != nil {
		clear(puk) // returned to nobody: do not leave it in memory
		return nil, nil, fmt.Errorf("open management key of card %s: %w", cs.Serial, err)
	}
	return puk, mgmtKey, nil
}

// OpenCardKeys opens a card's sealed secrets into the keys a card
// operation takes; the caller clears them when done.
func (k *Keys) OpenCardKeys(cs domain.CardSecrets) (domain.CardKeys, error) {
	puk, mk, err := k.OpenCard(cs)
	if err != nil {
		return domain.CardKeys{}, fmt.Errorf("open card secrets: %w", err)
	}
	return domain.CardKeys{MgmtAlg: cs.MgmtKeyAlg, MgmtKey: mk, PUK: puk}, nil
}

// NewPUK draws a random 8-digit PUK: never shown to anyone, only sealed.
func NewPUK(r io.Reader) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, 0, 8)
	var one [1]byte
	for len(b) < 8 {
		if _, err := io.ReadFull(r, one[:]); err != nil {
			return nil, fmt.Errorf("draw puk: %w", err)
		}
		// Reject 250–255 so every digit is equally likely.
		if one[0] < 250 {
			b = append(b, '0'+one[0]%10)
		}
	}
	return b, nil
}

// NewManagementKey draws a random AES-256 management key.
func NewManagementKey(r io.Reader) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, 32)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("draw management key: %w", err)
	}
	return b, nil
}

var _ domain.AuditChain = (*Keys)(nil)

// AuditMAC is HMAC-SHA-256 over the previous event's MAC and the event's
// content, under a key derived from the KEK for the audit chain alone.
func (k *Keys) AuditMAC(prev []byte, e domain.AuditEvent) []byte {
	m := hmac.New(sha256.New, k.auditKey)
	// The previous MAC's full length first, so no prefix of what follows
	// can pass for part of it (and nil, the first row's, stays apart).
	m.Write(binary.BigEndian.AppendUint32(nil, uint32(len(prev))))
	m.Write(prev)
	m.Write(e.ChainBytes())
	return m.Sum(nil)
}

var _ domain.MailOpener = (*Keys)(nil)

// mailAAD binds a sealed body to its recipient and subject, so it cannot
// be moved to another row's address.
func mailAAD(m domain.Mail) []byte { return []byte("mail/" + m.To + "/" + m.Subject) }

// SealMail seals m's body (AES-256-GCM under the sealing key, bound to the
// recipient and subject); a sealed mail is returned as it is.
func (k *Keys) SealMail(m domain.Mail) (domain.Mail, error) {
	if m.BodySealed {
		return m, nil
	}
	sealed, err := k.Seal([]byte(m.Body), mailAAD(m))
	if err != nil {
		return domain.Mail{}, fmt.Errorf("seal mail: %w", err)
	}
	m.Body, m.BodySealed = base64.StdEncoding.EncodeToString(sealed), true
	return m, nil
}

// OpenMail recovers the body SealMail sealed; a mail not sealed is
// returned as it is.
func (k *Keys) OpenMail(m domain.Mail) (domain.Mail, error) {
	if !m.BodySealed {
		return m, nil
	}
	sealed, err := base64.StdEncoding.DecodeString(m.Body)
	if err != nil {
		return domain.Mail{}, fmt.Errorf("open mail %d: %w", m.ID, ErrOpenSeal)
	}
	body, err := k.Open(sealed, mailAAD(m))
	if err != nil {
		return domain.Mail{}, fmt.Errorf("open mail %d: %w", m.ID, err)
	}
	m.Body, m.BodySealed = string(body), false
	return m, nil
}
