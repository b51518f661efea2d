// Package vpcd serves a card to the vsmartcard virtual reader driver (vpcd,
// Debian package vsmartcard-vpcd) loaded into pcscd.
//
// The roles are the opposite of what the names suggest: vpcd, inside pcscd,
// listens on a TCP port (35963 for "Virtual PCD 00 00", 35964 for
// "Virtual PCD 00 01" with the default reader.conf) and the virtual card
// connects to it. While the connection is open the reader reports a card;
// closing the connection removes the card.
//
// Wire format, both directions: a 2-byte big-endian length, then that many
// bytes. A 1-byte message from vpcd is a control message (power off, power
// on, reset, get ATR); only "get ATR" is answered. Every longer message is a
// command APDU, answered with the card's response APDU.
//
// Never run vpcd on a production kiosk: it accepts cards from the network.
package vpcd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// DefaultAddr is where the default vpcd reader.conf entry listens
// (reader "Virtual PCD 00 00"); the second slot is on port 35964.
const DefaultAddr = "127.0.0.1:35963"

// Control messages sent by vpcd (one byte each).
const (
	ctrlPowerOff = 0x00
	ctrlPowerOn  = 0x01
	ctrlReset    = 0x02
	ctrlGetATR   = 0x04
)

// maxMessage is the largest payload the 2-byte length prefix can carry.
const maxMessage = 0xFFFF

// Card is what a virtual card must provide; *sim.Card satisfies it.
type Card interface {
	ATR() []byte
	// Reset returns the card to its power-on state (security status
	// cleared, no application selected).
	Reset()
	Transmit(cmd []byte) []byte
}

// Serve runs the vpcd protocol for card on conn until vpcd closes the
// connection (returns nil), ctx ends (returns ctx.Err()) or an I/O or
// protocol error occurs. It closes conn before returning, which vpcd reports
// to PC/SC as the card being removed.
func Serve(ctx context.Context, conn net.Conn, card Card, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Closing the connection is the only way to interrupt a blocked read.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()

	for {
		msg, err := readMsg(conn, func() { quickAck(conn) })
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				log.Info("vpcd closed the connection")
				return nil
			}
			return fmt.Errorf("vpcd: read: %w", err)
		}
		var reply []byte
		switch {
		case len(msg) == 0:
			// Not produced by vpcd; ignore rather than answer, as vpcd
			// would not read an answer.
			log.Warn("vpcd: empty message ignored")
			continue
		case len(msg) == 1:
			switch msg[0] {
			case ctrlPowerOff:
				// Power loss clears volatile state on a real card.
				log.Debug("vpcd: power off")
				card.Reset()
				continue
			case ctrlPowerOn:
				log.Debug("vpcd: power on")
				card.Reset()
				continue
			case ctrlReset:
				log.Debug("vpcd: reset")
				card.Reset()
				continue
			case ctrlGetATR:
				reply = card.ATR()
			default:
				log.Warn("vpcd: unknown control message ignored", "code", msg[0])
				continue
			}
		default:
			reply = card.Transmit(msg)
			if log.Enabled(ctx, slog.LevelDebug) {
				// Header and status word only: command data may hold a PIN.
				log.Debug("vpcd: apdu", "header", fmt.Sprintf("%X", msg[:min(4, len(msg))]),
					"len", len(msg), "sw", fmt.Sprintf("%X", reply[max(0, len(reply)-2):]))
			}
		}
		if err := writeMsg(conn, reply); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("vpcd: write: %w", err)
		}
	}
}

// readMsg reads one length-prefixed message; beforeRead runs before each
// of its two reads.
func readMsg(r io.Reader, beforeRead func()) ([]byte, error) {
	var hdr [2]byte
	beforeRead()
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	beforeRead()
	if _, err := io.ReadFull(r, msg); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return msg, nil
}

func writeMsg(w io.Writer, msg []byte) error {
	if len(msg) > maxMessage {
		return fmt.Errorf("message of %d bytes exceeds the %d-byte frame limit", len(msg), maxMessage)
	}
	buf := make([]byte, 2+len(msg))
	binary.BigEndian.PutUint16(buf, uint16(len(msg)))
	copy(buf[2:], msg)
	_, err := w.Write(buf)
	return err
}

// Dial opens a TCP connection to vpcd at addr ("host:port").
func Dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to vpcd at %s: %w", addr, err)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		// APDUs are tiny request/response pairs: send them at once.
		_ = tcp.SetNoDelay(true)
	}
	return conn, nil
}

// Plug is a card inserted into a vpcd slot: it is served in the background
// until Unplug is called or vpcd goes away.
type Plug struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
	err    error // set before done is closed
}

// Insert connects card to the vpcd slot at addr and serves it in the
// background. The card counts as inserted as soon as Insert returns;
// PC/SC notices it at its next poll (vpcd polls about every 400 ms).
func Insert(ctx context.Context, addr string, card Card, log *slog.Logger) (*Plug, error) {
	conn, err := Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p := &Plug{cancel: cancel, done: make(chan struct{})}
	go func() {
		err := Serve(sctx, conn, card, log)
		if errors.Is(err, context.Canceled) && sctx.Err() != nil {
			err = nil // removed on purpose
		}
		p.err = err
		close(p.done)
	}()
	return p, nil
}

// Done is closed when the card is no longer served.
func (p *Plug) Done() <-chan struct{} { return p.done }

// Err reports why serving stopped (nil after Unplug or a clean close by
// vpcd). Only meaningful after Done is closed.
func (p *Plug) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Unplug removes the card: it closes the connection and waits until the
// serving goroutine has stopped, so the card is no longer used afterwards.
func (p *Plug) Unplug() error {
	p.once.Do(p.cancel)
	<-p.done
	return p.err
}

// Backoff returns the wait before reconnect attempt n (0-based): 100 ms
// doubling up to max.
func Backoff(n int, max time.Duration) time.Duration {
	d := 100 * time.Millisecond
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}
