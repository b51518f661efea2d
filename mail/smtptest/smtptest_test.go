package smtptest_test

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/smartcard-service-centre/kiosk/mail/smtptest"
)

const msg = "From: <a@example.org>\r\n" +
	"To: <b@example.org>\r\n" +
	"Subject: hello\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"caf=C3=A9 line one\r\n" +
	"line two\r\n"

// sendPlain sends msg without TLS or AUTH.
func sendPlain(t *testing.T, addr string) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail("a@example.org", []string{"b@example.org"}, strings.NewReader(msg)); err != nil {
		return err
	}
	return c.Quit()
}

func TestReceivesPlain(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{})
	if !strings.HasSuffix(srv.Addr(), ":"+srv.Port()) || srv.Port() == "0" {
		t.Fatalf("Addr %q Port %q", srv.Addr(), srv.Port())
	}
	if err := sendPlain(t, srv.Addr()); err != nil {
		t.Fatal(err)
	}
	got := srv.WaitMessages(t, 1, 5*time.Second)
	if len(got) != 1 {
		t.Fatalf("%d messages", len(got))
	}
	m := got[0]
	if m.From != "a@example.org" || len(m.To) != 1 || m.To[0] != "b@example.org" || m.User != "" || m.TLS {
		t.Errorf("envelope %+v", m)
	}
	if m.Header.Get("Subject") != "hello" || string(m.Data) != msg {
		t.Errorf("header %v data %q", m.Header, m.Data)
	}
	if want := "café line one\nline two\n"; m.Body != want {
		t.Errorf("body %q, want %q", m.Body, want)
	}
	if srv.AuthTries() != 0 {
		t.Errorf("%d AUTH attempts", srv.AuthTries())
	}
}

func TestReceivesOverSTARTTLSWithAuth(t *testing.T) {
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{TLS: true, User: "u", Pass: "p"})
	_, pool := smtptest.Cert(t)
	c, err := smtp.DialStartTLS(srv.Addr(), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", "u", "wrong")); err == nil {
		t.Fatal("wrong password accepted")
	}
	if err := c.Auth(sasl.NewPlainClient("", "u", "p")); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("a@example.org", []string{"b@example.org"}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	m := srv.WaitMessages(t, 1, 5*time.Second)[0]
	if !m.TLS || m.User != "u" {
		t.Errorf("TLS %v user %q", m.TLS, m.User)
	}
	if srv.AuthTries() != 2 {
		t.Errorf("%d AUTH attempts, want 2", srv.AuthTries())
	}
}

func TestRejectRcpt(t *testing.T) {
	reject := &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	srv := smtptest.Start(t, "127.0.0.1:0", smtptest.Options{RejectRcpt: reject})
	err := sendPlain(t, srv.Addr())
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 550 {
		t.Fatalf("error %v, want 550", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages accepted", n)
	}
}
