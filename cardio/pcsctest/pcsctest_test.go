package pcsctest

import (
	"bytes"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/ebfe/scard"
)

func TestMain(m *testing.M) { Main(m, Options{Name: "Harness Test"}) }

type staticCard struct{ atr []byte }

func (c staticCard) ATR() []byte { return c.atr }
func (staticCard) Reset()        {}
func (staticCard) Transmit(cmd []byte) []byte {
	return []byte{cmd[1], 0x90, 0x00}
}

// T=1 ATR with one historical byte: 3B 81 01 <h> TCK.
var testATR = []byte{0x3B, 0x81, 0x01, 0x42, 0x81 ^ 0x01 ^ 0x42}

func TestHarness(t *testing.T) {
	d := Shared(t)
	if got := os.Getenv(SocketEnv); got != d.Socket {
		t.Fatalf("%s = %q, want %q", SocketEnv, got, d.Socket)
	}
	if want := []string{"Harness Test 00 00", "Harness Test 00 01"}; !slices.Equal(d.ReaderNames(), want) {
		t.Fatalf("readers %q, want %q", d.ReaderNames(), want)
	}
	if d.Readers[1].Port != d.Readers[0].Port+1 {
		t.Fatalf("ports %d, %d are not consecutive", d.Readers[0].Port, d.Readers[1].Port)
	}
	names, err := listOnce()
	if err != nil || !slices.Equal(names, d.ReaderNames()) {
		t.Fatalf("pcscd lists %q, %v", names, err)
	}

	reader := d.Readers[1].Name
	start := time.Now()
	plug := d.Insert(t, reader, staticCard{testATR})
	d.WaitCard(t, reader, true, 3*time.Second)
	t.Logf("card seen after %v", time.Since(start))

	ctx, err := scard.EstablishContext()
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Release()
	card, err := ctx.Connect(reader, scard.ShareShared, scard.ProtocolAny)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	st, err := card.Status()
	if err != nil || !bytes.Equal(st.Atr, testATR) {
		t.Fatalf("status ATR %X, %v; want %X", st.Atr, err, testATR)
	}
	rsp, err := card.Transmit([]byte{0x00, 0xCA, 0x01, 0x02, 0x00})
	if err != nil || !bytes.Equal(rsp, []byte{0xCA, 0x90, 0x00}) {
		t.Fatalf("transmit: %X, %v", rsp, err)
	}
	_ = card.Disconnect(scard.LeaveCard)

	start = time.Now()
	if err := plug.Unplug(); err != nil {
		t.Fatalf("unplug: %v", err)
	}
	d.WaitCard(t, reader, false, 3*time.Second)
	t.Logf("removal seen after %v", time.Since(start))
}

func TestSkipOrFailUnderCI(t *testing.T) {
	t.Setenv("CI", "true")
	ft := &fakeTB{TB: t}
	func() {
		defer func() { _ = recover() }()
		SkipOrFail(ft, ErrUnavailable)
	}()
	if !ft.failed || ft.skipped {
		t.Fatalf("CI=true: failed=%v skipped=%v, want a failure", ft.failed, ft.skipped)
	}
	t.Setenv("CI", "")
	ft = &fakeTB{TB: t}
	func() {
		defer func() { _ = recover() }()
		SkipOrFail(ft, ErrUnavailable)
	}()
	if ft.failed || !ft.skipped {
		t.Fatalf("no CI: failed=%v skipped=%v, want a skip", ft.failed, ft.skipped)
	}
}

// fakeTB records Fatalf/Skipf instead of acting on them; both stop the
// calling function as the real ones do (via panic, recovered above).
type fakeTB struct {
	testing.TB
	failed, skipped bool
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(string, ...any) {
	f.failed = true
	panic("fatal")
}
func (f *fakeTB) Skipf(string, ...any) {
	f.skipped = true
	panic("skip")
}
