// Package pcsctest runs a private pcscd with the vsmartcard vpcd driver for
// tests, so PC/SC code is tested end to end (libpcsclite → pcscd → vpcd →
// a software card served in-process) without touching a system pcscd.
//
// pcscd's socket path is fixed at build time (/run/pcscd/pcscd.comm), so the
// daemon runs in its own mount namespace with a temporary directory bound on
// /run/pcscd; clients find it through PCSCLITE_CSOCK_NAME. libpcsclite reads
// that variable once per process, so a process has one private daemon:
// Start sets the variable before any PC/SC call, and restarts reuse the same
// socket path.
//
// Needs root (for the mount namespace), pcscd, unshare and libifdvpcd.so.
// When they are missing tests are skipped, except with CI=true, where they
// fail: CI must never skip silently.
package pcsctest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"github.com/smartcard-service-centre/kiosk/cardio/vpcd"
)

// VPCDDriver is the vpcd IFD handler installed by Debian's vsmartcard-vpcd.
const VPCDDriver = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"

// SocketEnv is the variable libpcsclite reads to find pcscd's socket.
const SocketEnv = "PCSCLITE_CSOCK_NAME"

// readyTimeout bounds the wait for pcscd to list its readers.
const readyTimeout = 10 * time.Second

// ErrUnavailable marks a machine that cannot run a private pcscd.
var ErrUnavailable = errors.New("private pcscd unavailable")

// Reader is one vpcd slot of the private pcscd.
type Reader struct {
	Name string // PC/SC reader name, e.g. "PCSCTest 00 00"
	Addr string // where a virtual card connects, e.g. "127.0.0.1:40100"
	Port int
}

// Options configure Start.
type Options struct {
	// Name is the reader FRIENDLYNAME; default "PCSCTest".
	Name string
	// Pairs is the number of vpcd entries; each gives two readers,
	// "<Name> 00 00" and "<Name> 00 01". Default 1.
	Pairs int
	// Debug makes pcscd log debug messages and APDUs to its log (also
	// enabled by the environment variable PCSCTEST_DEBUG=1).
	Debug bool
}

// Daemon is a private pcscd.
type Daemon struct {
	Dir     string   // temporary directory holding run/, conf/ and pcscd.log
	Socket  string   // value for PCSCLITE_CSOCK_NAME
	Readers []Reader // in the order pcscd lists them

	opts Options

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
}

var (
	procMu     sync.Mutex
	procSocket string  // the socket path this process is bound to
	procLive   *Daemon // the running daemon, if any
)

// Check reports why a private pcscd cannot run here (wrapping
// ErrUnavailable), or nil.
func Check() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root to run pcscd in its own mount namespace", ErrUnavailable)
	}
	if _, err := pcscdPath(); err != nil {
		return fmt.Errorf("%w: pcscd not installed (Debian package pcscd)", ErrUnavailable)
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		return fmt.Errorf("%w: unshare not installed (util-linux)", ErrUnavailable)
	}
	if _, err := os.Stat(VPCDDriver); err != nil {
		return fmt.Errorf("%w: vpcd driver missing at %s (Debian package vsmartcard-vpcd)", ErrUnavailable, VPCDDriver)
	}
	if out, err := exec.Command("unshare", "-m", "true").CombinedOutput(); err != nil {
		return fmt.Errorf("%w: cannot create a mount namespace: %v %s", ErrUnavailable, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func pcscdPath() (string, error) {
	if p, err := exec.LookPath("pcscd"); err == nil {
		return p, nil
	}
	const sbin = "/usr/sbin/pcscd"
	if _, err := os.Stat(sbin); err != nil {
		return "", err
	}
	return sbin, nil
}

// SkipOrFail skips the test with reason, or fails it when CI=true.
func SkipOrFail(tb testing.TB, reason error) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("CI=true and the PC/SC test environment is missing: %v", reason)
	}
	tb.Skipf("skipping PC/SC integration test: %v (set CI=true to make this a failure)", reason)
}

// Start starts a private pcscd with opts and waits until its readers are
// listed. Only one may run per process.
func Start(opts Options) (*Daemon, error) {
	if err := Check(); err != nil {
		return nil, err
	}
	if opts.Name == "" {
		opts.Name = "PCSCTest"
	}
	if opts.Pairs <= 0 {
		opts.Pairs = 1
	}
	if os.Getenv("PCSCTEST_DEBUG") == "1" {
		opts.Debug = true
	}
	procMu.Lock()
	defer procMu.Unlock()
	if procLive != nil {
		return nil, errors.New("pcsctest: a private pcscd already runs in this process (libpcsclite reads its socket path only once)")
	}
	dir, err := os.MkdirTemp("", "pcsctest-")
	if err != nil {
		return nil, fmt.Errorf("pcsctest: %w", err)
	}
	d := &Daemon{Dir: dir, opts: opts}
	if procSocket != "" {
		// libpcsclite already cached a socket path: keep serving there.
		d.Socket = procSocket
	} else {
		d.Socket = filepath.Join(dir, "run", "pcscd.comm")
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if lastErr = d.configure(); lastErr != nil {
			break
		}
		if lastErr = d.launch(); lastErr == nil {
			procSocket, procLive = d.Socket, d
			return d, nil
		}
		// Most likely a port was taken between choosing and binding.
	}
	_ = os.RemoveAll(dir)
	return nil, lastErr
}

// configure picks free ports and writes the reader.conf.d entries.
func (d *Daemon) configure() error {
	conf := filepath.Join(d.Dir, "conf")
	_ = os.RemoveAll(conf)
	if err := os.MkdirAll(conf, 0o755); err != nil {
		return fmt.Errorf("pcsctest: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(d.Socket), 0o755); err != nil {
		return fmt.Errorf("pcsctest: %w", err)
	}
	d.Readers = nil
	for i := 0; i < d.opts.Pairs; i++ {
		port, err := freePortPair()
		if err != nil {
			return err
		}
		// Distinct names per entry: pcscd would otherwise number them.
		name := d.opts.Name
		if i > 0 {
			name = fmt.Sprintf("%s%d", d.opts.Name, i+1)
		}
		entry := fmt.Sprintf("FRIENDLYNAME \"%s\"\nDEVICENAME   /dev/null:%d\nLIBPATH      %s\nCHANNELID    %d\n",
			name, port, VPCDDriver, port)
		if err := os.WriteFile(filepath.Join(conf, fmt.Sprintf("vpcd%d", i)), []byte(entry), 0o644); err != nil {
			return fmt.Errorf("pcsctest: %w", err)
		}
		for slot := 0; slot < 2; slot++ {
			p := port + slot
			d.Readers = append(d.Readers, Reader{
				Name: fmt.Sprintf("%s 00 %02d", name, slot),
				Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(p)),
				Port: p,
			})
		}
	}
	return nil
}

// freePortPair finds p such that p and p+1 are free (vpcd binds CHANNELID
// and CHANNELID+1 on all interfaces).
func freePortPair() (int, error) {
	for try := 0; try < 50; try++ {
		l1, err := net.Listen("tcp", ":0")
		if err != nil {
			return 0, fmt.Errorf("pcsctest: find a free port: %w", err)
		}
		p := l1.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", ":"+strconv.Itoa(p+1))
		l1.Close()
		if err == nil {
			l2.Close()
			return p, nil
		}
	}
	return 0, errors.New("pcsctest: no two consecutive free TCP ports found")
}

// launch starts pcscd and waits until it lists all readers.
func (d *Daemon) launch() error {
	pcscd, err := pcscdPath()
	if err != nil {
		return fmt.Errorf("pcsctest: %w", err)
	}
	run := filepath.Dir(d.Socket)
	// A killed pcscd leaves its socket and pid file; a new one refuses to
	// start over them.
	_ = os.Remove(d.Socket)
	_ = os.Remove(filepath.Join(run, "pcscd.pid"))
	args := []string{"--foreground", "-c", filepath.Join(d.Dir, "conf")}
	if d.opts.Debug {
		args = append(args, "--debug", "--apdu")
	}
	logf, err := os.OpenFile(d.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pcsctest: %w", err)
	}
	defer logf.Close()
	// unshare gives a private mount namespace (propagation private, so the
	// bind mount stays invisible outside); exec keeps one process: the pid
	// we hold is pcscd's.
	script := `mkdir -p /run/pcscd && mount --bind "$1" /run/pcscd && shift && exec "$@"`
	cmd := exec.Command("unshare", append([]string{"-m", "sh", "-c", script, "sh", run, pcscd}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// pcscd must not outlive a crashed test binary.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pcsctest: start pcscd: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	d.mu.Lock()
	d.cmd, d.exited = cmd, exited
	d.mu.Unlock()
	if err := os.Setenv(SocketEnv, d.Socket); err != nil {
		return fmt.Errorf("pcsctest: %w", err)
	}
	if err := d.waitReady(exited); err != nil {
		d.kill(syscall.SIGKILL)
		return err
	}
	return nil
}

func (d *Daemon) waitReady(exited <-chan struct{}) error {
	want := d.ReaderNames()
	deadline := time.Now().Add(readyTimeout)
	var last []string
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("pcsctest: pcscd exited at start; log:\n%s", d.Log())
		default:
		}
		if _, err := os.Stat(d.Socket); err == nil {
			last, lastErr = listOnce()
			if lastErr == nil && containsAll(last, want) {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("pcsctest: pcscd did not list readers %q within %v (listed %q, err %v); log:\n%s",
		want, readyTimeout, last, lastErr, d.Log())
}

func listOnce() ([]string, error) {
	c, err := scard.EstablishContext()
	if err != nil {
		return nil, err
	}
	defer c.Release()
	names, err := c.ListReaders()
	if errors.Is(err, scard.ErrNoReadersAvailable) {
		return nil, nil
	}
	return names, err
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// ReaderNames returns the names of the daemon's readers.
func (d *Daemon) ReaderNames() []string {
	names := make([]string, len(d.Readers))
	for i, r := range d.Readers {
		names[i] = r.Name
	}
	return names
}

// Reader returns the reader called name.
func (d *Daemon) Reader(name string) (Reader, bool) {
	for _, r := range d.Readers {
		if r.Name == name {
			return r, true
		}
	}
	return Reader{}, false
}

// Env returns the environment for a child process (yubico-piv-tool,
// opensc-tool) that must talk to this daemon.
func (d *Daemon) Env() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, SocketEnv+"=") })
	return append(env, SocketEnv+"="+d.Socket)
}

// LogPath is pcscd's output file.
func (d *Daemon) LogPath() string { return filepath.Join(d.Dir, "pcscd.log") }

// Log returns pcscd's output so far (the last 8 KiB).
func (d *Daemon) Log() string {
	b, err := os.ReadFile(d.LogPath())
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	if len(b) > 8<<10 {
		b = b[len(b)-8<<10:]
	}
	return string(b)
}

// Running reports whether pcscd is running.
func (d *Daemon) Running() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil {
		return false
	}
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// kill signals pcscd and waits (up to 5s) until it has exited.
func (d *Daemon) kill(sig syscall.Signal) error {
	d.mu.Lock()
	cmd, exited := d.cmd, d.exited
	d.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
		return nil
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("pcsctest: pcscd ignored %v for 5s; killed", sig)
	}
}

// Kill stops pcscd abruptly (SIGKILL), as a crash would; Restart brings it
// back on the same socket and ports.
func (d *Daemon) Kill() error { return d.kill(syscall.SIGKILL) }

// Restart starts pcscd again after Kill, with the same socket, readers and
// ports, and waits until the readers are listed.
func (d *Daemon) Restart() error {
	if d.Running() {
		return errors.New("pcsctest: restart: pcscd is still running")
	}
	return d.launch()
}

// Stop terminates pcscd and removes its directory. The process keeps its
// socket path; a later Start reuses it.
func (d *Daemon) Stop() error {
	err := d.kill(syscall.SIGTERM)
	procMu.Lock()
	if procLive == d {
		procLive = nil
	}
	procMu.Unlock()
	if rerr := os.RemoveAll(d.Dir); rerr != nil && err == nil {
		err = fmt.Errorf("pcsctest: %w", rerr)
	}
	return err
}

// settle bounds the wait for pcscd to notice an insertion or removal.
const settle = 3 * time.Second

// Insert plugs card into the named reader through vpcd. It first waits until
// pcscd sees the reader empty (a card unplugged just before may still be
// reported for up to half a second), and at test cleanup unplugs the card
// and waits until pcscd has seen it go, so tests do not see each other's
// cards. It does not wait for the insertion to be noticed: see WaitCard and
// InsertWait.
func (d *Daemon) Insert(tb testing.TB, reader string, card vpcd.Card) *vpcd.Plug {
	tb.Helper()
	r, ok := d.Reader(reader)
	if !ok {
		tb.Fatalf("pcsctest: no reader %q (have %q)", reader, d.ReaderNames())
	}
	d.WaitCard(tb, reader, false, settle)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	plug, err := vpcd.Insert(ctx, r.Addr, card, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("pcsctest: insert card into %q: %v", reader, err)
	}
	tb.Cleanup(func() {
		_ = plug.Unplug()
		if d.Running() {
			_ = WaitCard(reader, false, settle)
		}
	})
	return plug
}

// InsertWait is Insert followed by waiting until pcscd reports the card.
func (d *Daemon) InsertWait(tb testing.TB, reader string, card vpcd.Card) *vpcd.Plug {
	tb.Helper()
	p := d.Insert(tb, reader, card)
	d.WaitCard(tb, reader, true, settle)
	return p
}

// WaitCard waits until pcscd reports reader with (present) or without a
// card, failing the test after timeout.
func (d *Daemon) WaitCard(tb testing.TB, reader string, present bool, timeout time.Duration) {
	tb.Helper()
	if err := WaitCard(reader, present, timeout); err != nil {
		tb.Fatalf("pcsctest: %v", err)
	}
}

// WaitCard waits until the PC/SC service reports reader with (present) or
// without a card.
func WaitCard(reader string, present bool, timeout time.Duration) error {
	c, err := scard.EstablishContext()
	if err != nil {
		return fmt.Errorf("wait for card in %q: %w", reader, err)
	}
	defer c.Release()
	deadline := time.Now().Add(timeout)
	states := []scard.ReaderState{{Reader: reader, CurrentState: scard.StateUnaware}}
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("reader %q: card present=%v not reached within %v", reader, present, timeout)
		}
		err := c.GetStatusChange(states, left)
		if err != nil && !errors.Is(err, scard.ErrTimeout) {
			return fmt.Errorf("wait for card in %q: %w", reader, err)
		}
		if err == nil {
			if (states[0].EventState&scard.StatePresent != 0) == present {
				return nil
			}
			states[0].CurrentState = states[0].EventState &^ scard.StateChanged
		}
	}
}

var (
	sharedOnce sync.Once
	shared     *Daemon
	sharedErr  error
)

// Main runs a package's tests and stops the shared daemon afterwards. Use it
// from TestMain: func TestMain(m *testing.M) { pcsctest.Main(m, opts) }.
func Main(m *testing.M, opts Options) {
	sharedOpts = opts
	code := m.Run()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

var sharedOpts Options

// Shared returns the test binary's private pcscd, starting it on first use.
// When the machine cannot run one the test is skipped (or failed under
// CI=true); when it can but pcscd fails to start, the test fails.
func Shared(tb testing.TB) *Daemon {
	tb.Helper()
	sharedOnce.Do(func() { shared, sharedErr = Start(sharedOpts) })
	if sharedErr != nil {
		if errors.Is(sharedErr, ErrUnavailable) {
			SkipOrFail(tb, sharedErr)
		}
		tb.Fatal(sharedErr)
	}
	if !shared.Running() {
		tb.Fatalf("pcsctest: the shared pcscd is not running (killed by an earlier test without Restart?); log:\n%s", shared.Log())
	}
	return shared
}
