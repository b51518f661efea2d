package sim

import (
	"crypto/subtle"

	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
)

const (
	refPIN = 0x80
	refPUK = 0x81
)

func triesLeft(n int) apdu.SW { return 0x63C0 | apdu.SW(n) }

// verify is VERIFY (SP 800-73-4 Part 2, 3.2.1) for the PIN only.
func (c *Card) verify(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0x00 && cmd.P1 != 0xFF {
		return status(swIncorrectP1P2)
	}
	if cmd.P2 != refPIN {
		return status(swRefNotFound) // no global PIN; the PUK is not for VERIFY
	}
	if cmd.P1 == 0xFF {
		// Reset the PIN's security status; the counter is untouched.
		if len(cmd.Data) != 0 {
			return status(swWrongLength)
		}
		c.pinVerified = false
		return status(swOK)
	}
	if len(cmd.Data) == 0 {
		// Status query: costs no try.
		switch {
		case c.st.PINTries == 0:
			return status(swBlocked)
		case c.pinVerified:
			return status(swOK)
		default:
			return status(triesLeft(c.st.PINTries))
		}
	}
	if len(cmd.Data) != 8 {
		return status(swWrongData)
	}
	if c.st.PINTries == 0 {
		return status(swBlocked)
	}
	if subtle.ConstantTimeCompare(cmd.Data, c.st.PIN) != 1 {
		c.pinVerified = false
		c.st.PINTries--
		c.dirty = true
		return status(triesLeft(c.st.PINTries))
	}
	if c.st.PINTries != maxPINTries {
		c.st.PINTries = maxPINTries
		c.dirty = true
	}
	c.pinVerified = true
	c.pinJust = true
	return status(swOK)
}

// changeReference is CHANGE REFERENCE DATA (INS 24) for the PIN or PUK: the
// current value is checked against its own counter.
func (c *Card) changeReference(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0x00 {
		return status(swIncorrectP1P2)
	}
	var value *[]byte
	var tries *int
	var full int
	var isDefault *bool
	switch cmd.P2 {
	case refPIN:
		value, tries, full, isDefault = &c.st.PIN, &c.st.PINTries, maxPINTries, &c.st.PINDefault
	case refPUK:
		value, tries, full, isDefault = &c.st.PUK, &c.st.PUKTries, maxPUKTries, &c.st.PUKDefault
	default:
		return status(swRefNotFound)
	}
	if len(cmd.Data) != 16 {
		return status(swWrongData)
	}
	if *tries == 0 {
		return status(swBlocked)
	}
	// A malformed new value is refused before the old one is checked, so it
	// costs no try.
	if !validPadded(cmd.Data[8:]) {
		return status(swWrongData)
	}
	if subtle.ConstantTimeCompare(cmd.Data[:8], *value) != 1 {
		if cmd.P2 == refPIN {
			c.pinVerified = false
		}
		*tries--
		c.dirty = true
		return status(triesLeft(*tries))
	}
	*value = append([]byte(nil), cmd.Data[8:]...)
	*tries = full
	*isDefault = false
	c.dirty = true
	return status(swOK)
}

// resetRetryCounter is RESET RETRY COUNTER (INS 2C): the PUK is checked on
// every attempt, and a blocked PUK refuses even the right value.
func (c *Card) resetRetryCounter(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0x00 {
		return status(swIncorrectP1P2)
	}
	if cmd.P2 != refPIN {
		return status(swRefNotFound)
	}
	if len(cmd.Data) != 16 {
		return status(swWrongData)
	}
	if c.st.PUKTries == 0 {
		return status(swBlocked)
	}
	if !validPadded(cmd.Data[8:]) {
		return status(swWrongData)
	}
	if subtle.ConstantTimeCompare(cmd.Data[:8], c.st.PUK) != 1 {
		c.st.PUKTries--
		c.dirty = true
		return status(triesLeft(c.st.PUKTries))
	}
	c.st.PIN = append([]byte(nil), cmd.Data[8:]...)
	c.st.PINTries = maxPINTries
	c.st.PUKTries = maxPUKTries
	c.st.PINDefault = false
	c.pinVerified = false // the new PIN must be verified to be used
	c.dirty = true
	return status(swOK)
}
