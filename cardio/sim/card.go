// Package sim is a software PIV card: a state machine that enforces what a
// real PIV card (with the Yubico extensions standard tools expect) enforces —
// retry counters, security status, management-key authentication, PIN-always
// keys, command and response chaining — so that code which passes against it
// behaves the same against a real card. It is used in-process by tests and
// the demo tray, and as a vpcd virtual card.
package sim

import (
	"context"
	"crypto/ecdsa"
	"sync"

	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
	"github.com/smartcard-service-centre/kiosk/domain"
)

// Factory values, as on YubiKeys and most PIV test cards; the retry
// counters are those of the cards the service issues.
const (
	defaultPIN  = "123456"
	defaultPUK  = "12345678"
	maxPINTries = domain.PasscodeTries
	maxPUKTries = domain.PUKTries
)

var defaultMgmtKey = []byte{
	1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
}

// Limits that keep a hostile host from growing the card's memory.
const (
	maxChainData  = 8 << 10 // reassembled chained command
	maxObjectSize = 3052    // one PUT DATA object, as on a YubiKey 5
)

// fullAID is the PIV application identifier with version.
var fullAID = []byte{0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00}

// Card is a software PIV card. It is safe for concurrent use; commands are
// processed one at a time, as by a real card.
type Card struct {
	mu       sync.Mutex
	st       *state // persistent ("EEPROM")
	autoSave string

	// Volatile session state, lost on Reset.
	selected    bool
	pinVerified bool
	pinJust     bool // PIN verified by the command just before (PIN-always keys)
	mgmAuthed   bool
	pending     *gaChallenge // outstanding management-key witness or challenge
	chain       *chainState
	out         []byte // response bytes waiting for GET RESPONSE

	dirty bool // the current command changed persistent state
}

type chainState struct {
	ins, p1, p2 byte
	data        []byte
}

// New returns a card in factory state: PIN 123456, PUK 12345678, the default
// 3DES management key, no keys and no data objects.
func New() *Card {
	return &Card{st: factoryState(randomSerial())}
}

// ATR returns the answer to reset: T=1, with historical bytes in the style of
// a YubiKey (card capabilities, then the issuer's data "SSC-PIV").
func (c *Card) ATR() []byte {
	atr := []byte{0x3B, 0x8D, 0x80, 0x01,
		0x80, 0x73, 0xC0, 0x21, 0xC0, 0x57, 'S', 'S', 'C', '-', 'P', 'I', 'V'}
	var tck byte
	for _, b := range atr[1:] {
		tck ^= b
	}
	return append(atr, tck)
}

// Reset is a power cycle or warm reset: security status, the selected
// application and any half-finished chain are lost; persistent state stays.
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resetSession()
	c.selected = false
}

func (c *Card) resetSession() {
	c.pinVerified = false
	c.pinJust = false
	c.mgmAuthed = false
	c.pending = nil
	c.chain = nil
	c.out = nil
}

// SetAutoSave makes the card persist its state to path after every command
// that changes it, so a demo card survives restarts. An empty path turns it
// off. A failed write is reported to the host as 6581 (memory failure) and
// the command's changes are rolled back, as with a failed EEPROM write.
func (c *Card) SetAutoSave(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.autoSave = path
}

// Transmit processes one command APDU and returns response data and status
// word. It never panics: malformed input gets an error status.
func (c *Card) Transmit(cmd []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transmit(cmd).Encode()
}

// Transport adapts a Card to apdu.Transport for in-process use.
type Transport struct {
	Card *Card
}

// Transmit sends cmd to the card; it fails only when ctx is done.
func (t Transport) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return t.Card.Transmit(cmd), nil
}

var _ apdu.Transport = Transport{}

func status(sw apdu.SW) apdu.Response { return apdu.Response{SW: sw} }

// Status words the card uses.
const (
	swOK              apdu.SW = 0x9000
	swWrongLength     apdu.SW = 0x6700
	swMemoryFailure   apdu.SW = 0x6581
	swLastExpected    apdu.SW = 0x6883
	swSecurity        apdu.SW = 0x6982
	swBlocked         apdu.SW = 0x6983
	swConditions      apdu.SW = 0x6985
	swWrongData       apdu.SW = 0x6A80
	swNotSupported    apdu.SW = 0x6A81
	swFileNotFound    apdu.SW = 0x6A82
	swNoMemory        apdu.SW = 0x6A84
	swIncorrectP1P2   apdu.SW = 0x6A86
	swRefNotFound     apdu.SW = 0x6A88
	swInsNotSupported apdu.SW = 0x6D00
	swClaNotSupported apdu.SW = 0x6E00
	swNoDiagnosis     apdu.SW = 0x6F00
)

func (c *Card) transmit(raw []byte) apdu.Response {
	cmd, err := apdu.ParseCommand(raw)
	if err != nil {
		c.chain = nil
		c.out = nil
		return status(swWrongLength)
	}
	if cmd.CLA == 0x00 && cmd.INS == apdu.InsGetResponse {
		return c.getResponse(cmd)
	}
	c.out = nil // any other command abandons an unread answer
	if cmd.CLA&^apdu.ClaChain != 0 {
		c.chain = nil
		return status(swClaNotSupported)
	}
	if cmd.CLA&apdu.ClaChain != 0 {
		if c.chain == nil || c.chain.ins != cmd.INS || c.chain.p1 != cmd.P1 || c.chain.p2 != cmd.P2 {
			c.chain = &chainState{ins: cmd.INS, p1: cmd.P1, p2: cmd.P2}
		}
		if len(c.chain.data)+len(cmd.Data) > maxChainData {
			c.chain = nil
			return status(swNoMemory)
		}
		c.chain.data = append(c.chain.data, cmd.Data...)
		return status(swOK)
	}
	if ch := c.chain; ch != nil {
		c.chain = nil
		if ch.ins != cmd.INS || ch.p1 != cmd.P1 || ch.p2 != cmd.P2 {
			return status(swLastExpected)
		}
		if len(ch.data)+len(cmd.Data) > maxChainData {
			return status(swNoMemory)
		}
		cmd.Data = append(ch.data, cmd.Data...)
	}

	var snapshot *state
	if c.autoSave != "" {
		snapshot = c.st.clone()
	}
	c.dirty = false
	resp := c.dispatch(cmd)
	if c.dirty && c.autoSave != "" {
		if err := c.st.save(c.autoSave); err != nil {
			c.st = snapshot
			c.resetSession()
			return status(swMemoryFailure)
		}
	}
	if resp.SW != swOK {
		return resp
	}
	return c.respond(resp.Data, cmd.Ne)
}

// respond sends at most ne bytes (256 when the command had no Le) and keeps
// the rest for GET RESPONSE, announced with 61xx.
func (c *Card) respond(data []byte, ne int) apdu.Response {
	if ne == 0 {
		ne = 256
	}
	if len(data) <= ne {
		return apdu.Response{Data: data, SW: swOK}
	}
	c.out = append([]byte(nil), data[ne:]...)
	return apdu.Response{Data: data[:ne], SW: more(len(c.out))}
}

func more(n int) apdu.SW {
	if n >= 256 {
		return 0x6100
	}
	return 0x6100 | apdu.SW(n)
}

func (c *Card) getResponse(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0 || cmd.P2 != 0 {
		return status(swIncorrectP1P2)
	}
	if len(c.out) == 0 {
		return status(swConditions)
	}
	data := c.out
	c.out = nil
	return c.respond(data, cmd.Ne)
}

// dispatch runs one complete command. State that lives for exactly one
// command (PIN-always, the management-key challenge) is taken here, so any
// command in between cancels it.
func (c *Card) dispatch(cmd apdu.Command) apdu.Response {
	pinJust, pending := c.pinJust, c.pending
	c.pinJust, c.pending = false, nil

	if cmd.INS == 0xA4 {
		return c.selectApp(cmd)
	}
	if !c.selected {
		// No application selected: nothing on this card knows the INS.
		return status(swInsNotSupported)
	}
	switch cmd.INS {
	case 0x20:
		return c.verify(cmd)
	case 0x24:
		return c.changeReference(cmd)
	case 0x2C:
		return c.resetRetryCounter(cmd)
	case 0x87:
		return c.generalAuthenticate(cmd, pinJust, pending)
	case 0x47:
		return c.generateKey(cmd)
	case 0xCB:
		return c.getData(cmd)
	case 0xDB:
		return c.putData(cmd)
	case 0xFF:
		return c.setManagementKey(cmd)
	case 0xFD:
		return apdu.Response{Data: []byte{5, 4, 3}, SW: swOK}
	case 0xF8:
		s := c.st.Serial
		return apdu.Response{Data: []byte{byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)}, SW: swOK}
	case 0xF7:
		return c.metadata(cmd)
	case 0xFB:
		return c.factoryReset(cmd)
	}
	return status(swInsNotSupported)
}

// keyFor returns the private key in a slot, or nil.
func (c *Card) keyFor(slot byte) *ecdsa.PrivateKey { return c.st.keys[slot] }
