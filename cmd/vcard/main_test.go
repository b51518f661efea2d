package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio/pcsctest"
	"github.com/smartcard-service-centre/kiosk/cardio/sim"
)

// TestMain doubles as the vcard binary when re-executed by TestSignal, and
// otherwise runs the tests with a private pcscd for TestThroughPCSC.
func TestMain(m *testing.M) {
	if os.Getenv("VCARD_TEST_MAIN") == "1" {
		os.Args = append([]string{"vcard"}, strings.Fields(os.Getenv("VCARD_TEST_ARGS"))...)
		main()
		return
	}
	pcsctest.Main(m, pcsctest.Options{Name: "VCard Test"})
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &out); code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, want := range []string{"Virtual PCD 00 00", "35963", "--card", "--save", "--addr", "never install it on a production kiosk", "PIN 123456"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help does not mention %q:\n%s", want, out.String())
		}
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.card")
	if err := sim.New().Save(existing); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.card")
	if err := os.WriteFile(garbage, []byte("not a card"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--card", "a", "--save", "b"}, 2, "not both"},
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
		{[]string{"--bogus"}, 2, "flag provided but not defined"},
		{[]string{"--addr", ""}, 2, "--addr must not be empty"},
		{[]string{"--card", filepath.Join(dir, "missing.card")}, 1, "does not exist (create one with --save"},
		{[]string{"--card", garbage}, 1, "load card"},
		{[]string{"--save", existing}, 1, "already exists"},
	}
	for _, tc := range tests {
		var out bytes.Buffer
		code := run(context.Background(), tc.args, &out)
		if code != tc.code || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%q: exit %d, output %q; want exit %d mentioning %q", tc.args, code, out.String(), tc.code, tc.want)
		}
	}
}

// fakeVPCD plays pcscd's vpcd driver: it accepts the card and exchanges
// framed messages with it.
type fakeVPCD struct {
	t  *testing.T
	ln net.Listener
}

func newFakeVPCD(t *testing.T) *fakeVPCD {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &fakeVPCD{t: t, ln: ln}
}

func (f *fakeVPCD) accept() net.Conn {
	f.t.Helper()
	_ = f.ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	c, err := f.ln.Accept()
	if err != nil {
		f.t.Fatalf("card did not connect: %v", err)
	}
	return c
}

func exchange(t *testing.T, c net.Conn, msg []byte) []byte {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...)); err != nil {
		t.Fatal(err)
	}
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatal(err)
	}
	rsp := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(c, rsp); err != nil {
		t.Fatal(err)
	}
	return rsp
}

var (
	selectPIV   = []byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}
	pinStatus   = []byte{0x00, 0x20, 0x00, 0x80}
	wrongVerify = []byte{0x00, 0x20, 0x00, 0x80, 0x08, '9', '9', '9', '9', '9', '9', 0xFF, 0xFF}
)

func sw(rsp []byte) uint16 {
	if len(rsp) < 2 {
		return 0
	}
	return binary.BigEndian.Uint16(rsp[len(rsp)-2:])
}

// startVcard runs vcard in-process until the returned stop is called.
func startVcard(t *testing.T, args ...string) (stop func() (int, string)) {
	t.Helper()
	stop, _ = startVcardLogged(t, args...)
	return stop
}

// startVcardLogged is startVcard that also hands back the log as it grows.
func startVcardLogged(t *testing.T, args ...string) (stop func() (int, string), log *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, out) }()
	return func() (int, string) {
		cancel()
		select {
		case code := <-done:
			return code, out.String()
		case <-time.After(5 * time.Second):
			t.Fatal("vcard did not stop within 5s of cancellation")
			return -1, ""
		}
	}, out
}

func TestServesReconnectsAndStops(t *testing.T) {
	f := newFakeVPCD(t)
	stop := startVcard(t, "--addr", f.ln.Addr().String())
	c := f.accept()
	if atr := exchange(t, c, []byte{0x04}); !bytes.Equal(atr, sim.New().ATR()) {
		t.Fatalf("ATR %X", atr)
	}
	if got := sw(exchange(t, c, selectPIV)); got != 0x9000 {
		t.Fatalf("SELECT PIV: SW %04X", got)
	}
	// pcscd restarting: the card comes back by itself.
	c.Close()
	c = f.accept()
	if atr := exchange(t, c, []byte{0x04}); len(atr) == 0 {
		t.Fatal("no ATR after reconnect")
	}
	code, logs := stop()
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, logs)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("connection not closed on stop (card not removed): %v", err)
	}
	for _, want := range []string{"card inserted", "reconnecting", "card removed"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestWaitsForVPCD(t *testing.T) {
	// A port bound but not yet listening refuses connections, and stays
	// ours: nothing else can take it before the test listens there.
	addr, listen := reservePort(t)
	stop, log := startVcardLogged(t, "--addr", addr)
	log.waitFor(t, "vpcd not reachable", 5*time.Second)
	ln := listen()
	f := &fakeVPCD{t: t, ln: ln}
	c := f.accept()
	defer c.Close()
	if atr := exchange(t, c, []byte{0x04}); len(atr) == 0 {
		t.Fatal("no ATR")
	}
	code, logs := stop()
	if code != 0 || !strings.Contains(logs, "vpcd not reachable") {
		t.Fatalf("exit %d, logs:\n%s", code, logs)
	}
}

func TestSaveThenCardPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alice.card")
	f := newFakeVPCD(t)

	stop := startVcard(t, "--addr", f.ln.Addr().String(), "--save", path)
	c := f.accept()
	exchange(t, c, selectPIV)
	if got := sw(exchange(t, c, wrongVerify)); got != 0x63C2 {
		t.Fatalf("wrong PIN: SW %04X, want 63C2", got)
	}
	if code, logs := stop(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, logs)
	}
	c.Close()

	// The used try survives a restart from the file.
	stop = startVcard(t, "--addr", f.ln.Addr().String(), "--card", path)
	c = f.accept()
	defer c.Close()
	exchange(t, c, selectPIV)
	if got := sw(exchange(t, c, pinStatus)); got != 0x63C2 {
		t.Fatalf("after reload PIN status SW %04X, want 63C2", got)
	}
	if code, logs := stop(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, logs)
	}
}

// SIGTERM removes the card and exits 0 (the real binary, re-executed).
func TestSignal(t *testing.T) {
	f := newFakeVPCD(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "VCARD_TEST_MAIN=1", "VCARD_TEST_ARGS=--addr "+f.ln.Addr().String())
	var out syncBuffer
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := f.accept()
	defer c.Close()
	if atr := exchange(t, c, []byte{0x04}); len(atr) == 0 {
		t.Fatal("no ATR")
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, out.String())
		}
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("vcard ignored SIGTERM")
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("connection not closed after SIGTERM: %v", err)
	}
	if !strings.Contains(out.String(), "card removed") {
		t.Fatalf("log:\n%s", out.String())
	}
}

// End to end: the card served by vcard appears in a real (private) pcscd
// and disappears when vcard stops.
func TestThroughPCSC(t *testing.T) {
	d := pcsctest.Shared(t)
	r := d.Readers[1]
	d.WaitCard(t, r.Name, false, 3*time.Second)
	stop := startVcard(t, "--addr", r.Addr)
	d.WaitCard(t, r.Name, true, 3*time.Second)
	if code, logs := stop(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, logs)
	}
	d.WaitCard(t, r.Name, false, 3*time.Second)
}

// reservePort binds a loopback TCP socket without listening on it, so
// connections to it are refused while it stays reserved; listen turns it
// into a listener (closed when the test ends).
func reservePort(t *testing.T) (addr string, listen func() net.Listener) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "reserved port")
	t.Cleanup(func() { f.Close() })
	addr = fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	return addr, func() net.Listener {
		t.Helper()
		if err := syscall.Listen(fd, 8); err != nil {
			t.Fatal(err)
		}
		ln, err := net.FileListener(f) // dups the descriptor
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		return ln
	}
}
