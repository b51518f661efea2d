// Package apdu encodes ISO/IEC 7816-4 command APDUs, parses responses, maps
// status words to typed errors, and sends commands over a Transport with
// command chaining and GET RESPONSE handled.
package apdu

import (
	"errors"
	"fmt"
)

// MaxShortData is the most data a short command APDU can carry; longer
// payloads are split with command chaining.
const MaxShortData = 255

// MaxShortNe is the largest Ne a short command can ask for (Le = 00).
const MaxShortNe = 256

// ClaChain is the class bit that marks every command of a chain but the last.
const ClaChain = 0x10

// Instructions used outside a specific application.
const (
	InsGetResponse = 0xC0
)

// Command is a command APDU. Ne is the maximum number of response bytes
// expected: 0 means no Le field, 256 is encoded as Le = 00 in short form.
type Command struct {
	CLA, INS, P1, P2 byte
	Data             []byte
	Ne               int
}

func (c Command) String() string {
	return fmt.Sprintf("%02X %02X %02X %02X (Lc=%d Ne=%d)", c.CLA, c.INS, c.P1, c.P2, len(c.Data), c.Ne)
}

// Encode returns the short-form encoding of c. Use Chain for data over
// MaxShortData bytes.
func (c Command) Encode() ([]byte, error) {
	if len(c.Data) > MaxShortData {
		return nil, fmt.Errorf("apdu: %d bytes of data do not fit a short command", len(c.Data))
	}
	if c.Ne < 0 || c.Ne > MaxShortNe {
		return nil, fmt.Errorf("apdu: Ne %d does not fit a short command", c.Ne)
	}
	out := make([]byte, 0, 5+len(c.Data)+1)
	out = append(out, c.CLA, c.INS, c.P1, c.P2)
	if len(c.Data) > 0 {
		out = append(out, byte(len(c.Data)))
		out = append(out, c.Data...)
	}
	if c.Ne > 0 {
		out = append(out, byte(c.Ne)) // 256 wraps to 00 as ISO 7816-4 wants
	}
	return out, nil
}

// Chain splits c into short commands: every part but the last carries
// CLA|0x10 and MaxShortData bytes; only the last asks for a response (Ne).
// A command whose data fits is returned alone and unchanged.
func (c Command) Chain() []Command {
	if len(c.Data) <= MaxShortData {
		return []Command{c}
	}
	var parts []Command
	data := c.Data
	for len(data) > MaxShortData {
		parts = append(parts, Command{CLA: c.CLA | ClaChain, INS: c.INS, P1: c.P1, P2: c.P2, Data: data[:MaxShortData]})
		data = data[MaxShortData:]
	}
	return append(parts, Command{CLA: c.CLA, INS: c.INS, P1: c.P1, P2: c.P2, Data: data, Ne: c.Ne})
}

// ErrMalformedCommand reports a command APDU whose length fields do not
// match its size.
var ErrMalformedCommand = errors.New("apdu: malformed command")

// ParseCommand decodes a command APDU in any of the ISO/IEC 7816-4 cases,
// short or extended. Card implementations (the software card) use it.
func ParseCommand(b []byte) (Command, error) {
	if len(b) < 4 {
		return Command{}, fmt.Errorf("%w: %d bytes", ErrMalformedCommand, len(b))
	}
	c := Command{CLA: b[0], INS: b[1], P1: b[2], P2: b[3]}
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
		return c, nil
	case len(body) == 1: // case 2 short
		c.Ne = int(body[0])
		if c.Ne == 0 {
			c.Ne = 256
		}
		return c, nil
	case body[0] != 0: // case 3 or 4 short
		lc := int(body[0])
		switch len(body) {
		case 1 + lc:
		case 2 + lc:
			c.Ne = int(body[1+lc])
			if c.Ne == 0 {
				c.Ne = 256
			}
		default:
			return Command{}, fmt.Errorf("%w: Lc %d with %d body bytes", ErrMalformedCommand, lc, len(body))
		}
		c.Data = body[1 : 1+lc : 1+lc]
		return c, nil
	case len(body) == 3: // case 2 extended
		c.Ne = int(body[1])<<8 | int(body[2])
		if c.Ne == 0 {
			c.Ne = 65536
		}
		return c, nil
	case len(body) > 3: // case 3 or 4 extended
		lc := int(body[1])<<8 | int(body[2])
		if lc == 0 {
			return Command{}, fmt.Errorf("%w: extended Lc of zero", ErrMalformedCommand)
		}
		switch len(body) {
		case 3 + lc:
		case 5 + lc:
			c.Ne = int(body[3+lc])<<8 | int(body[4+lc])
			if c.Ne == 0 {
				c.Ne = 65536
			}
		default:
			return Command{}, fmt.Errorf("%w: extended Lc %d with %d body bytes", ErrMalformedCommand, lc, len(body))
		}
		c.Data = body[3 : 3+lc : 3+lc]
		return c, nil
	default:
		return Command{}, fmt.Errorf("%w: %d body bytes", ErrMalformedCommand, len(body))
	}
}

// SW is a status word (SW1 SW2).
type SW uint16

// Common status words.
const (
	SWSuccess SW = 0x9000
)

// SW1 returns the first status byte.
func (s SW) SW1() byte { return byte(s >> 8) }

// SW2 returns the second status byte.
func (s SW) SW2() byte { return byte(s) }

func (s SW) String() string { return fmt.Sprintf("%04X", uint16(s)) }

// Response is a response APDU split into its data and status word.
type Response struct {
	Data []byte
	SW   SW
}

// ErrShortResponse reports a response without a complete status word.
var ErrShortResponse = errors.New("apdu: response shorter than a status word")

// ParseResponse splits a raw response. Data aliases b.
func ParseResponse(b []byte) (Response, error) {
	if len(b) < 2 {
		return Response{}, fmt.Errorf("%w: %d bytes", ErrShortResponse, len(b))
	}
	n := len(b) - 2
	return Response{Data: b[:n:n], SW: SW(b[n])<<8 | SW(b[n+1])}, nil
}

// Encode returns data followed by the status word.
func (r Response) Encode() []byte {
	out := make([]byte, 0, len(r.Data)+2)
	out = append(out, r.Data...)
	return append(out, r.SW.SW1(), r.SW.SW2())
}

// Err maps the status word to an error; it is nil for 9000.
func (r Response) Err() error { return ErrorFor(r.SW) }
