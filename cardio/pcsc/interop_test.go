package pcsc

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
	"github.com/smartcard-service-centre/kiosk/cardio/pcsctest"
	"github.com/smartcard-service-centre/kiosk/cardio/piv"
	"github.com/smartcard-service-centre/kiosk/cardio/sim"
)

// tool runs a PC/SC client program against the private pcscd and returns
// its combined output; on failure the test fails with the output and the
// tail of pcscd's log.
type tool struct {
	d   *pcsctest.Daemon
	dir string
}

func (tl tool) run(t *testing.T, wantOK bool, name string, args ...string) string {
	t.Helper()
	out, ok := tl.try(t, name, args...)
	if ok != wantOK {
		t.Fatalf("%s %s: success=%v, want %v\n%s\n--- pcscd log tail ---\n%s",
			name, strings.Join(args, " "), ok, wantOK, out, tail(tl.d.Log(), 2000))
	}
	return out
}

// try runs a tool and reports its output and whether it succeeded.
func (tl tool) try(t *testing.T, name string, args ...string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(tl.d.Env(), "HOME="+tl.dir, "OPENSC_CONF="+filepath.Join(tl.dir, "opensc.conf"))
	cmd.Dir = tl.dir
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: hung for 30s:\n%s", name, strings.Join(args, " "), out)
	}
	return string(out), err == nil
}

// selfSignWithCard makes a self-signed certificate for the key in slot 9A,
// signed by the card through our PC/SC and piv client code.
func selfSignWithCard(t *testing.T, d *pcsctest.Daemon, reader, pubPath, certPath, pin string) {
	t.Helper()
	pubPEM, err := os.ReadFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(pubPEM)
	if blk == nil {
		t.Fatalf("no PEM public key in %s", pubPath)
	}
	pk, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := pk.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("generated key is %T", pk)
	}
	r := New(nil)
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := r.Connect(ctx, reader)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var der []byte
	err = c.Transact(ctx, func(tr apdu.Transport) error {
		p := piv.New(tr)
		if _, err := p.Select(ctx); err != nil {
			return err
		}
		if err := p.VerifyPIN(ctx, pin); err != nil {
			return err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(time.Now().UnixNano()),
			Subject:      pkix.Name{CommonName: "Interop Test", Organization: []string{"Smartcard Service Centre"}},
			NotBefore:    time.Now().Add(-time.Minute),
			NotAfter:     time.Now().AddDate(1, 0, 0),
		}
		var err error
		der, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, p.Signer(ctx, piv.SlotAuthentication, pub))
		return err
	})
	if err != nil {
		t.Fatalf("self-sign with the card: %v", err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func requireTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			pcsctest.SkipOrFail(t, fmt.Errorf("%s not installed: %w", n, err))
		}
	}
}

// A factory-fresh software card is personalised and used by
// yubico-piv-tool, read by OpenSC, and the certificate and key
// yubico-piv-tool made are then used by our piv client — the same card
// through three independent PIV implementations.
func TestInteropYubicoOpenSC(t *testing.T) {
	requireTools(t, "yubico-piv-tool", "opensc-tool", "pkcs15-tool")
	d := pcsctest.Shared(t)
	dir := t.TempDir()
	// A minimal OpenSC configuration: no file cache, so every read goes to
	// the card.
	if err := os.WriteFile(filepath.Join(dir, "opensc.conf"),
		[]byte("app default {\n  framework pkcs15 {\n    use_file_caching = no;\n  }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tl := tool{d: d, dir: dir}
	reader := d.Readers[0].Name
	card := sim.New()
	d.InsertWait(t, reader, card)

	// -v2 makes yubico-piv-tool print every APDU, shown only on failure.
	ypt := func(t *testing.T, wantOK bool, args ...string) string {
		t.Helper()
		return tl.run(t, wantOK, "yubico-piv-tool", append([]string{"-v2", "-r", reader}, args...)...)
	}
	const (
		defaultKey = "010203040506070801020304050607080102030405060708"
		newKey     = "1A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F7081"
		puk        = "12345678"
	)

	t.Run("status", func(t *testing.T) {
		out := ypt(t, true, "-a", "version", "-a", "status")
		if !strings.Contains(out, "Application version") || !strings.Contains(out, "PIN tries left:\t3") {
			t.Fatalf("unexpected status output:\n%s", out)
		}
	})
	t.Run("pin", func(t *testing.T) {
		ypt(t, true, "-a", "verify-pin", "-P", "123456")
		ypt(t, true, "-a", "change-pin", "-P", "123456", "-N", "654321")
		ypt(t, false, "-a", "verify-pin", "-P", "123456") // the old PIN is gone
		ypt(t, true, "-a", "verify-pin", "-P", "654321")
	})
	t.Run("block and unblock", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			ypt(t, false, "-a", "verify-pin", "-P", "000000")
		}
		out := ypt(t, false, "-a", "verify-pin", "-P", "654321")
		if !strings.Contains(strings.ToLower(out), "blocked") {
			t.Fatalf("right PIN on a blocked card should say blocked:\n%s", out)
		}
		ypt(t, true, "-a", "unblock-pin", "-P", puk, "-N", "112233")
		ypt(t, true, "-a", "verify-pin", "-P", "112233")
	})
	t.Run("management key", func(t *testing.T) {
		ypt(t, true, "-k"+defaultKey, "-a", "set-mgm-key", "-n", newKey)
		// The old key must now be refused by the card.
		ypt(t, false, "-k"+defaultKey, "-a", "set-chuid")
		ypt(t, true, "-k"+newKey, "-a", "set-chuid")
	})
	pubPath := filepath.Join(dir, "pub.pem")
	certPath := filepath.Join(dir, "cert.pem")
	t.Run("generate and certificate", func(t *testing.T) {
		ypt(t, true, "-k"+newKey, "-a", "generate", "-s", "9a", "-A", "ECCP256", "-o", pubPath)
		out, ok := tl.try(t, "yubico-piv-tool", "-v2", "-r", reader, "-a", "verify-pin", "-P", "112233",
			"-a", "selfsign-certificate", "-s", "9a",
			"-S", "/CN=Interop Test/O=Smartcard Service Centre/", "-i", pubPath, "-o", certPath)
		if !ok {
			// Debian 12's yubico-piv-tool 2.2.0 is built against OpenSSL 3,
			// which upstream supports only from 2.3.0: selfsign fails
			// inside OpenSSL before any signing APDU (INS 87) reaches the
			// card. Only that known failure is tolerated; the card then
			// self-signs through our client instead.
			if !strings.Contains(out, "Failed signing certificate") || strings.Contains(out, "> 00 87") {
				t.Fatalf("selfsign-certificate failed:\n%s", out)
			}
			t.Logf("yubico-piv-tool selfsign-certificate is broken on this build (OpenSSL 3); signing the certificate with the card through our client")
			selfSignWithCard(t, d, reader, pubPath, certPath, "112233")
		}
		ypt(t, true, "-k"+newKey, "-a", "import-certificate", "-s", "9a", "-i", certPath)
		back := ypt(t, true, "-a", "read-certificate", "-s", "9a")
		want, err := os.ReadFile(certPath)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(back, strings.TrimSpace(string(want))) {
			t.Fatalf("read-certificate returned\n%s\nwant\n%s", back, want)
		}
		out = ypt(t, true, "-a", "verify-pin", "-P", "112233", "-a", "test-signature", "-s", "9a", "-i", certPath)
		if !strings.Contains(out, "Successful") {
			t.Fatalf("test-signature:\n%s", out)
		}
	})
	t.Run("opensc", func(t *testing.T) {
		out := tl.run(t, true, "opensc-tool", "--list-readers")
		if !strings.Contains(out, reader) {
			t.Fatalf("opensc-tool does not list %q:\n%s", reader, out)
		}
		idx := readerIndex(out, reader)
		out = tl.run(t, true, "opensc-tool", "--reader", idx, "--name")
		if !strings.Contains(out, "Personal Identity Verification") {
			t.Fatalf("OpenSC does not see a PIV card:\n%s", out)
		}
		out = tl.run(t, true, "pkcs15-tool", "--reader", idx, "--list-certificates")
		if !strings.Contains(out, "Certificate for PIV Authentication") {
			t.Fatalf("pkcs15-tool does not list the 9A certificate:\n%s", out)
		}
		// ID 01 is OpenSC's PKCS#15 id for the 9A certificate.
		out = tl.run(t, true, "pkcs15-tool", "--reader", idx, "--read-certificate", "01")
		want, err := os.ReadFile(certPath)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, strings.TrimSpace(string(want))) {
			t.Fatalf("pkcs15-tool --read-certificate 01 gave\n%s\nwant\n%s", out, want)
		}
	})
	t.Run("our client", func(t *testing.T) {
		want, _ := os.ReadFile(certPath)
		blk, _ := pem.Decode(want)
		if blk == nil {
			t.Fatalf("no PEM in %s", certPath)
		}
		r := New(nil)
		defer r.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := r.Connect(ctx, reader)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = c.Transact(ctx, func(tr apdu.Transport) error {
			p := piv.New(tr)
			if _, err := p.Select(ctx); err != nil {
				return err
			}
			cert, err := p.Certificate(ctx, piv.SlotAuthentication)
			if err != nil {
				return err
			}
			if !bytes.Equal(cert.Raw, blk.Bytes) {
				return errors.New("certificate differs from the one yubico-piv-tool wrote")
			}
			if err := p.VerifyPIN(ctx, "112233"); err != nil {
				return err
			}
			digest := sha256.Sum256([]byte("kiosk challenge"))
			sig, err := p.Sign(ctx, piv.SlotAuthentication, digest[:])
			if err != nil {
				return err
			}
			pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
			if !ok {
				return fmt.Errorf("certificate key is %T", cert.PublicKey)
			}
			if !ecdsa.VerifyASN1(pub, digest[:], sig) {
				return errors.New("signature does not verify against the certificate")
			}
			if err := cert.CheckSignature(x509.ECDSAWithSHA256, cert.RawTBSCertificate, cert.Signature); err != nil {
				return fmt.Errorf("self-signed certificate: %w", err)
			}
			// The management key yubico-piv-tool set is the one the card
			// now accepts.
			key := piv.ManagementKey{Alg: piv.Alg3DES, Key: mustHex(t, newKey)}
			return p.Authenticate(ctx, key)
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// readerIndex finds reader's number in opensc-tool --list-readers output.
func readerIndex(out, reader string) string {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasSuffix(strings.TrimSpace(line), reader) {
			if f := strings.Fields(line); len(f) > 0 {
				return f[0]
			}
		}
	}
	return "0"
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b := make([]byte, len(s)/2)
	if _, err := fmt.Sscanf(s, "%x", &b); err != nil {
		t.Fatal(err)
	}
	return b
}
