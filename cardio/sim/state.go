package sim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"

	"github.com/smartcard-service-centre/kiosk/cardio/piv"
)

// state is what a real card keeps in non-volatile memory.
type state struct {
	Serial      uint32
	PIN, PUK    []byte // 8 bytes, 0xFF padded
	PINTries    int
	PUKTries    int
	PINDefault  bool
	PUKDefault  bool
	MgmtAlg     byte
	MgmtKey     []byte
	MgmtDefault bool
	keys        map[byte]*ecdsa.PrivateKey
	objects     map[uint32][]byte // object tag → contents of its 53 envelope
}

func factoryState(serial uint32) *state {
	return &state{
		Serial:      serial,
		PIN:         pad(defaultPIN),
		PUK:         pad(defaultPUK),
		PINTries:    maxPINTries,
		PUKTries:    maxPUKTries,
		PINDefault:  true,
		PUKDefault:  true,
		MgmtAlg:     alg3DES,
		MgmtKey:     append([]byte(nil), defaultMgmtKey...),
		MgmtDefault: true,
		keys:        map[byte]*ecdsa.PrivateKey{},
		objects:     map[uint32][]byte{},
	}
}

func randomSerial() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return binary.BigEndian.Uint32(b[:])&0x7FFFFFFF | 0x01000000
}

func pad(s string) []byte {
	out := []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	copy(out, s)
	return out
}

// validPadded reports whether b is a PIN or PUK as the card keeps it: this
// product's rule (piv.CheckPIN), padded with 0xFF to 8 bytes.
func validPadded(b []byte) bool {
	_, err := piv.DecodePIN(b)
	return err == nil
}

func (s *state) clone() *state {
	n := *s
	n.PIN = append([]byte(nil), s.PIN...)
	n.PUK = append([]byte(nil), s.PUK...)
	n.MgmtKey = append([]byte(nil), s.MgmtKey...)
	n.keys = maps.Clone(s.keys) // private keys are never mutated in place
	n.objects = make(map[uint32][]byte, len(s.objects))
	for k, v := range s.objects {
		n.objects[k] = append([]byte(nil), v...)
	}
	return &n
}

// fileState is the JSON form. It holds the PIN, PUK, management key and
// private keys in the clear, like the card's own memory: files are 0600.
type fileState struct {
	Version     int               `json:"version"`
	Serial      uint32            `json:"serial"`
	PIN         []byte            `json:"pin"`
	PUK         []byte            `json:"puk"`
	PINTries    int               `json:"pin_tries"`
	PUKTries    int               `json:"puk_tries"`
	PINDefault  bool              `json:"pin_default"`
	PUKDefault  bool              `json:"puk_default"`
	MgmtAlg     byte              `json:"mgmt_alg"`
	MgmtKey     []byte            `json:"mgmt_key"`
	MgmtDefault bool              `json:"mgmt_default"`
	Keys        map[string][]byte `json:"keys"`    // "9A" → P-256 private scalar
	Objects     map[string][]byte `json:"objects"` // "5FC102" → contents
}

const fileVersion = 1

func (s *state) marshal() ([]byte, error) {
	f := fileState{
		Version: fileVersion, Serial: s.Serial, PIN: s.PIN, PUK: s.PUK,
		PINTries: s.PINTries, PUKTries: s.PUKTries, PINDefault: s.PINDefault, PUKDefault: s.PUKDefault,
		MgmtAlg: s.MgmtAlg, MgmtKey: s.MgmtKey, MgmtDefault: s.MgmtDefault,
		Keys: map[string][]byte{}, Objects: map[string][]byte{},
	}
	for slot, k := range s.keys {
		b, err := k.Bytes()
		if err != nil {
			return nil, fmt.Errorf("key %02X: %w", slot, err)
		}
		f.Keys[fmt.Sprintf("%02X", slot)] = b
	}
	for tag, v := range s.objects {
		f.Objects[fmt.Sprintf("%X", tag)] = v
	}
	return json.MarshalIndent(f, "", "  ")
}

var errBadState = errors.New("sim: invalid card state")

func unmarshalState(b []byte) (*state, error) {
	var f fileState
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadState, err)
	}
	if f.Version != fileVersion {
		return nil, fmt.Errorf("%w: version %d", errBadState, f.Version)
	}
	s := &state{
		Serial: f.Serial, PIN: f.PIN, PUK: f.PUK, PINTries: f.PINTries, PUKTries: f.PUKTries,
		PINDefault: f.PINDefault, PUKDefault: f.PUKDefault,
		MgmtAlg: f.MgmtAlg, MgmtKey: f.MgmtKey, MgmtDefault: f.MgmtDefault,
		keys: map[byte]*ecdsa.PrivateKey{}, objects: map[uint32][]byte{},
	}
	if !validPadded(s.PIN) || !validPadded(s.PUK) {
		return nil, fmt.Errorf("%w: pin or puk", errBadState)
	}
	if s.PINTries < 0 || s.PINTries > maxPINTries || s.PUKTries < 0 || s.PUKTries > maxPUKTries {
		return nil, fmt.Errorf("%w: retry counters", errBadState)
	}
	if mgmtKeyLen(s.MgmtAlg) == 0 || len(s.MgmtKey) != mgmtKeyLen(s.MgmtAlg) {
		return nil, fmt.Errorf("%w: management key", errBadState)
	}
	for name, raw := range f.Keys {
		slot, err := strconv.ParseUint(name, 16, 8)
		if err != nil || !isKeySlot(byte(slot)) {
			return nil, fmt.Errorf("%w: slot %q", errBadState, name)
		}
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw)
		if err != nil {
			return nil, fmt.Errorf("%w: key %s: %w", errBadState, name, err)
		}
		s.keys[byte(slot)] = k
	}
	for name, v := range f.Objects {
		tag, err := strconv.ParseUint(name, 16, 32)
		if err != nil || !writableObject(uint32(tag)) || len(v) == 0 || len(v) > maxObjectSize {
			return nil, fmt.Errorf("%w: object %q", errBadState, name)
		}
		s.objects[uint32(tag)] = v
	}
	return s, nil
}

// save writes the state atomically: a temporary file in the same directory,
// synced, then renamed over the target.
func (s *state) save(path string) error {
	b, err := s.marshal()
	if err != nil {
		return fmt.Errorf("save card: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("save card: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save card: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("save card: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save card: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save card: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save card: %w", err)
	}
	return nil
}

// Save writes the card's persistent state (not its session) to path as JSON
// with mode 0600, atomically.
func (c *Card) Save(path string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.save(path)
}

// Load returns a card with the persistent state saved at path, freshly
// powered: nothing selected, nothing verified.
func Load(path string) (*Card, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load card: %w", err)
	}
	s, err := unmarshalState(b)
	if err != nil {
		return nil, fmt.Errorf("load card %s: %w", path, err)
	}
	return &Card{st: s}, nil
}

// String describes the card for logs, without secrets.
func (c *Card) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return "sim card " + hex.EncodeToString([]byte{byte(c.st.Serial >> 24), byte(c.st.Serial >> 16), byte(c.st.Serial >> 8), byte(c.st.Serial)})
}
