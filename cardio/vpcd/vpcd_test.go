package vpcd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// fakeCard records what vpcd asked of it.
type fakeCard struct {
	mu     sync.Mutex
	resets int
	cmds   [][]byte
	atr    []byte
	rsp    []byte
}

func (c *fakeCard) ATR() []byte { return c.atr }
func (c *fakeCard) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resets++
}
func (c *fakeCard) Transmit(cmd []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cmds = append(c.cmds, bytes.Clone(cmd))
	return c.rsp
}

// vpcdSide plays the driver's part of the protocol over a real TCP socket.
type vpcdSide struct {
	t    *testing.T
	conn net.Conn
}

func (v vpcdSide) send(msg ...byte) {
	v.t.Helper()
	buf := binary.BigEndian.AppendUint16(nil, uint16(len(msg)))
	if _, err := v.conn.Write(append(buf, msg...)); err != nil {
		v.t.Fatalf("write: %v", err)
	}
}

func (v vpcdSide) recv() []byte {
	v.t.Helper()
	_ = v.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	var hdr [2]byte
	if _, err := io.ReadFull(v.conn, hdr[:]); err != nil {
		v.t.Fatalf("read length: %v", err)
	}
	msg := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(v.conn, msg); err != nil {
		v.t.Fatalf("read body: %v", err)
	}
	return msg
}

// listen starts a fake vpcd listener and returns its address and a channel
// delivering the accepted connection.
func listen(t *testing.T) (string, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			ch <- c
		}
	}()
	return ln.Addr().String(), ch
}

func TestProtocol(t *testing.T) {
	addr, accepted := listen(t)
	card := &fakeCard{atr: []byte{0x3B, 0x88, 0x80, 0x01}, rsp: []byte{0x61, 0x62, 0x90, 0x00}}
	plug, err := Insert(context.Background(), addr, card, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn := <-accepted
	defer conn.Close()
	v := vpcdSide{t, conn}

	v.send(ctrlGetATR)
	if got := v.recv(); !bytes.Equal(got, card.atr) {
		t.Fatalf("ATR = %X, want %X", got, card.atr)
	}
	v.send(ctrlPowerOff)
	v.send(ctrlPowerOn)
	v.send(ctrlReset)
	apdu := []byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}
	v.send(apdu...)
	if got := v.recv(); !bytes.Equal(got, card.rsp) {
		t.Fatalf("response = %X, want %X", got, card.rsp)
	}
	// Control messages have no reply: the next reply must be the ATR.
	v.send(ctrlGetATR)
	if got := v.recv(); !bytes.Equal(got, card.atr) {
		t.Fatalf("second ATR = %X", got)
	}
	card.mu.Lock()
	resets, cmds := card.resets, card.cmds
	card.mu.Unlock()
	if resets != 3 {
		t.Errorf("resets = %d, want 3 (off, on, reset)", resets)
	}
	if len(cmds) != 1 || !bytes.Equal(cmds[0], apdu) {
		t.Errorf("card got %X, want exactly the one APDU", cmds)
	}

	// Unplug closes the connection: vpcd sees EOF (= card removed).
	if err := plug.Unplug(); err != nil {
		t.Fatalf("Unplug: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("after Unplug read = %v, want EOF", err)
	}
	select {
	case <-plug.Done():
	default:
		t.Fatal("Done not closed after Unplug")
	}
}

func TestPeerCloseEndsServe(t *testing.T) {
	addr, accepted := listen(t)
	plug, err := Insert(context.Background(), addr, &fakeCard{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn := <-accepted
	conn.Close()
	select {
	case <-plug.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("Serve did not stop after vpcd closed the connection")
	}
	if err := plug.Err(); err != nil {
		t.Fatalf("clean close gave %v", err)
	}
}

func TestTruncatedFrameIsError(t *testing.T) {
	addr, accepted := listen(t)
	plug, err := Insert(context.Background(), addr, &fakeCard{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn := <-accepted
	// Announce 10 bytes, send 3, hang up.
	_, _ = conn.Write([]byte{0x00, 0x0A, 1, 2, 3})
	conn.Close()
	<-plug.Done()
	if err := plug.Err(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want unexpected EOF", err)
	}
}

func TestServeStopsOnContext(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, a, &fakeCard{}, nil) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Serve ignored context cancellation")
	}
}

func TestOversizedReply(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	card := &fakeCard{rsp: make([]byte, maxMessage+1)}
	done := make(chan error, 1)
	go func() { done <- Serve(context.Background(), a, card, nil) }()
	v := vpcdSide{t, b}
	v.send(0x00, 0xCA, 0x00, 0x00)
	if err := <-done; err == nil {
		t.Fatal("a reply larger than the frame limit was accepted")
	}
}

func TestDialFailsClearly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, err = Insert(context.Background(), addr, &fakeCard{}, nil)
	if err == nil {
		t.Fatal("Insert to a closed port succeeded")
	}
	if !bytes.Contains([]byte(err.Error()), []byte(addr)) {
		t.Fatalf("error %q does not name the address", err)
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}
	for n, w := range want {
		if got := Backoff(n, time.Second); got != w {
			t.Errorf("Backoff(%d) = %v, want %v", n, got, w)
		}
	}
}
