package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/charmbracelet/x/vt"

	"github.com/smartcard-service-centre/kiosk/cardio/pcsctest"
	"github.com/smartcard-service-centre/kiosk/internal/procmem"
)

// benchBinEnv names a kiosk binary to measure (make bench passes the one
// make build made); unset, the benchmark builds its own.
const benchBinEnv = "KIOSK_BENCH_BIN"

// firstFrameText is on the start screen, in the kiosk's own view.
const firstFrameText = "Insert your Smartcard"

const benchFrameW, benchFrameH = 120, 40

// BenchmarkStartToFirstFrame starts the kiosk binary (bin/kiosk from make
// build, or one built for the run) in a pseudo-terminal of 120×40 that a
// terminal emulator (charmbracelet/x/vt) reads and answers, and times
// from the process start until the emulated screen shows the start screen
// ("Insert your Smartcard"): flags and environment, the KEK, the SQLite
// store opened (migrations checked), the CA, the readers, the mail
// sender, the Bubble Tea program and its first frame. Sub-benchmarks:
// demo (--readers sim, as make demo: the card tray and on-screen inbox
// beside the kiosk) and pcsc (production wiring: --readers pcsc on the
// test's private pcscd, --mail-dir, no demo panels). Then, outside the
// clock, it reads the process's VmRSS at the first frame
// (first-frame-MB) and stops it with SIGTERM; on the run's first start
// it also waits a second and reads VmRSS (idle-MB) and VmHWM (peak-MB,
// the highest since the start).
func BenchmarkStartToFirstFrame(b *testing.B) {
	bin := benchKioskBinary(b)
	b.Run("demo", func(b *testing.B) {
		dir := b.TempDir()
		env := kioskBenchEnv(dir)
		for _, args := range [][]string{{"keygen"}, {"seed", "--demo"}} {
			benchRunKiosk(b, bin, env, args...)
		}
		benchFirstFrame(b, bin, env, "--readers", "sim")
	})
	b.Run("pcsc", func(b *testing.B) {
		d := pcsctest.Shared(b)
		dir := b.TempDir()
		env := append(kioskBenchEnv(dir), pcsctest.SocketEnv+"="+d.Socket)
		for _, args := range [][]string{{"keygen"}, {"seed", "--demo"}} {
			benchRunKiosk(b, bin, env, args...)
		}
		benchFirstFrame(b, bin, env, "--readers", "pcsc", "--holder-reader", d.Readers[0].Name,
			"--mail-dir", filepath.Join(dir, "mail"))
	})
}

// kioskBenchEnv is this process's environment with every KIOSK_ setting
// cleared (as make demo does), the data directory dir, and a terminal.
func kioskBenchEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KIOSK_") && !strings.HasPrefix(kv, "TERM=") && !strings.HasPrefix(kv, pcsctest.SocketEnv+"=") {
			env = append(env, kv)
		}
	}
	return append(env, "KIOSK_DATA_DIR="+dir, "TERM=xterm-256color")
}

func benchKioskBinary(b *testing.B) string {
	b.Helper()
	if p := os.Getenv(benchBinEnv); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := os.Stat(abs); err != nil {
			b.Fatalf("%s=%s: %v (run make build)", benchBinEnv, p, err)
		}
		return abs
	}
	dir := b.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/kiosk")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return filepath.Join(dir, "kiosk")
}

func benchRunKiosk(b *testing.B, bin string, env []string, args ...string) {
	b.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("kiosk %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func benchFirstFrame(b *testing.B, bin string, env []string, args ...string) {
	var first, idle, peak []float64
	for b.Loop() {
		k, err := benchStartInPTY(bin, env, args...)
		if err != nil {
			b.Fatal(err)
		}
		err = k.waitFor(firstFrameText, 30*time.Second)
		b.StopTimer()
		if err != nil {
			k.stop()
			b.Fatal(err)
		}
		pid := k.cmd.Process.Pid
		if rss, err := benchRSS(pid, "VmRSS"); err == nil {
			first = append(first, rss)
		}
		// The idle figure once per run: it takes a second.
		if len(idle) == 0 {
			time.Sleep(time.Second)
			if rss, err := benchRSS(pid, "VmRSS"); err == nil {
				idle = append(idle, rss)
			}
			if hwm, err := benchRSS(pid, "VmHWM"); err == nil {
				peak = append(peak, hwm)
			}
		}
		if err := k.stop(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	if len(first) == 0 || len(idle) == 0 || len(peak) == 0 {
		b.Fatal("could not read the kiosk's /proc status")
	}
	b.ReportMetric(procmem.Median(first), "first-frame-MB")
	b.ReportMetric(procmem.Median(idle), "idle-MB")
	b.ReportMetric(procmem.Median(peak), "peak-MB")
}

// benchRSS reads a kB field of process pid's /proc status, in MB.
func benchRSS(pid int, field string) (float64, error) {
	kb, err := procmem.StatusKB(pid, field)
	return float64(kb) / 1024, err
}

// ptyKiosk is the kiosk running on a pseudo-terminal whose other side is
// a terminal emulator: it draws what the kiosk writes and answers its
// queries, as a terminal would.
type ptyKiosk struct {
	cmd    *exec.Cmd
	master *os.File
	emu    *vt.Emulator
	mu     sync.Mutex
	cond   *sync.Cond
	screen string
	err    error // the output ended
	done   chan struct{}
}

func benchStartInPTY(bin string, env []string, args ...string) (*ptyKiosk, error) {
	master, slave, err := benchOpenPTY(benchFrameW, benchFrameH)
	if err != nil {
		return nil, err
	}
	defer slave.Close()
	k := &ptyKiosk{master: master, emu: vt.NewEmulator(benchFrameW, benchFrameH), done: make(chan struct{})}
	k.cond = sync.NewCond(&k.mu)
	k.cmd = exec.Command(bin, args...)
	k.cmd.Env = env
	k.cmd.Stdin, k.cmd.Stdout, k.cmd.Stderr = slave, slave, slave
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := k.cmd.Start(); err != nil {
		master.Close()
		return nil, err
	}
	// The emulator's answers to the kiosk's queries go back as typed.
	go func() { _, _ = io.Copy(master, k.emu) }()
	go k.read()
	return k, nil
}

func (k *ptyKiosk) read() {
	defer close(k.done)
	buf := make([]byte, 32<<10)
	for {
		n, err := k.master.Read(buf)
		if n > 0 {
			_, _ = k.emu.Write(buf[:n])
			s := k.emu.String()
			k.mu.Lock()
			k.screen = s
			k.cond.Broadcast()
			k.mu.Unlock()
		}
		if err != nil {
			k.mu.Lock()
			k.err = err
			k.cond.Broadcast()
			k.mu.Unlock()
			return
		}
	}
}

// waitFor waits until the screen shows text.
func (k *ptyKiosk) waitFor(text string, timeout time.Duration) error {
	timer := time.AfterFunc(timeout, func() {
		k.mu.Lock()
		if k.err == nil {
			k.err = errors.New("timed out")
		}
		k.cond.Broadcast()
		k.mu.Unlock()
	})
	defer timer.Stop()
	k.mu.Lock()
	defer k.mu.Unlock()
	for !strings.Contains(k.screen, text) {
		if k.err != nil {
			return fmt.Errorf("the kiosk never showed %q (%v); the screen:\n%s", text, k.err, k.screen)
		}
		k.cond.Wait()
	}
	return nil
}

// stop ends the kiosk with SIGTERM (SIGKILL after 10 s) and closes the
// terminal.
func (k *ptyKiosk) stop() error {
	_ = k.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- k.cmd.Wait() }()
	var err error
	select {
	case err = <-exited:
	case <-time.After(10 * time.Second):
		_ = k.cmd.Process.Kill()
		<-exited
		err = errors.New("the kiosk ignored SIGTERM for 10 s")
	}
	k.master.Close()
	<-k.done
	_ = k.emu.Close()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		err = nil // stopped by the signal
	}
	return err
}

// benchOpenPTY opens a pseudo-terminal pair of the given size.
func benchOpenPTY(cols, rows int) (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*os.File, *os.File, error) {
		master.Close()
		return nil, nil, fmt.Errorf("open a pseudo-terminal: %w", err)
	}
	var unlock int32
	if err := benchIoctl(master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); err != nil {
		return fail(err)
	}
	var n uint32
	if err := benchIoctl(master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); err != nil {
		return fail(err)
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return fail(err)
	}
	ws := struct{ rows, cols, x, y uint16 }{uint16(rows), uint16(cols), 0, 0}
	if err := benchIoctl(slave.Fd(), syscall.TIOCSWINSZ, uintptr(unsafe.Pointer(&ws))); err != nil {
		slave.Close()
		return fail(err)
	}
	return master, slave, nil
}

func benchIoctl(fd, req, arg uintptr) error {
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, req, arg); e != 0 {
		return e
	}
	return nil
}
