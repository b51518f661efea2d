package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/mail/smtptest"
)

const testPassword = "S3cr3t/pa%ss word"

// escapedPassword is testPassword as it must appear in a URL.
var escapedPassword = url.PathEscape(testPassword)

func TestParseSMTPURL(t *testing.T) {
	type want struct {
		host     string
		port     int
		implicit bool
		starttls StartTLS
		user     string
		password string
		auth     Auth
		timeout  time.Duration
	}
	ok := []struct {
		url  string
		want want
	}{
		{"smtp://relay.example.org", want{host: "relay.example.org", port: 587, starttls: StartTLSRequired}},
		{"smtp://kiosk:" + escapedPassword + "@send.nhs.net:587?starttls=required",
			want{host: "send.nhs.net", port: 587, starttls: StartTLSRequired, user: "kiosk", password: testPassword, auth: AuthAuto}},
		{"smtp://relay:25?starttls=opportunistic", want{host: "relay", port: 25, starttls: StartTLSOpportunistic}},
		{"smtp://127.0.0.1:2525/?starttls=NONE&timeout=5s", want{host: "127.0.0.1", port: 2525, starttls: StartTLSNone, timeout: 5 * time.Second}},
		{"smtps://u%40nhs.net:pw@smtp.office365.com", want{host: "smtp.office365.com", port: 465, implicit: true,
			starttls: StartTLSRequired, user: "u@nhs.net", password: "pw", auth: AuthAuto}},
		{"smtps://u:pw@[::1]:4650?auth=login", want{host: "::1", port: 4650, implicit: true, starttls: StartTLSRequired,
			user: "u", password: "pw", auth: AuthLogin}},
		{"SMTP://u:pw@h?auth=plain", want{host: "h", port: 587, starttls: StartTLSRequired, user: "u", password: "pw", auth: AuthPlain}},
	}
	for _, tc := range ok {
		t.Run(tc.url, func(t *testing.T) {
			got, err := parseSMTPURL(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			g := want{got.host, got.port, got.implicit, got.starttls, got.user, got.password, got.auth, got.timeout}
			if g != tc.want {
				t.Fatalf("got  %+v\nwant %+v", g, tc.want)
			}
			if strings.Contains(got.String(), testPassword) || strings.Contains(got.String(), escapedPassword) {
				t.Fatalf("String() shows the password: %s", got)
			}
		})
	}

	bad := []struct{ url, msg string }{
		{"", "no URL"},
		{"http://u:" + escapedPassword + "@h", "scheme must be smtp or smtps"},
		{"smtp://u:" + escapedPassword + "@", "no host"},
		{"smtp://u:" + escapedPassword + "@h:0", "invalid port"},
		{"smtp://u:" + escapedPassword + "@h:99999", "invalid port"},
		{"smtp://u:" + escapedPassword + "@h:x", "invalid URL"},
		{"smtp://u:" + testPassword + "@h", "invalid URL"}, // unescaped '%' and '/'
		{"smtp://u:pass%zzword@h", "invalid URL"},
		{"smtp://u:" + escapedPassword + "@h/inbox", "unexpected path"},
		{"smtp://u:" + escapedPassword + "@h?starttls=requried", "starttls must be"},
		{"smtp://u:" + escapedPassword + "@h?starttls=none&starttls=required", "given 2 times"},
		{"smtps://u:" + escapedPassword + "@h?starttls=none", "starttls applies to smtp:// only"},
		{"smtp://u:" + escapedPassword + "@h?starttls=none", "need TLS"},
		{"smtp://u@h?starttls=none", "need TLS"},
		{"smtp://u:" + escapedPassword + "@h?auth=cram-md5", "auth must be"},
		{"smtp://h?auth=plain", "auth needs a user name"},
		{"smtp://u:" + escapedPassword + "@h?timeout=-1s", "timeout must be"},
		{"smtp://u:" + escapedPassword + "@h?timeout=soon", "timeout must be"},
		{"smtp://u:" + escapedPassword + "@h?tls=on", `unknown parameter "tls"`},
		{"smtp://u:" + escapedPassword + "@h?a=%zz", "invalid query"},
	}
	for _, tc := range bad {
		t.Run(tc.url, func(t *testing.T) {
			_, err := NewSMTP(SMTPConfig{URL: tc.url})
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.msg) {
				t.Errorf("error %q does not say %q", msg, tc.msg)
			}
			for _, secret := range []string{testPassword, escapedPassword, "zzword"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error %q contains the password", msg)
				}
			}
		})
	}
}

// quotedFrom is DefaultFrom as net/mail formats it.
const quotedFrom = `"Smartcard Service Centre" <smartcard.servicecentre@nhs.net>`

func TestNewSMTPSettings(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     SMTPConfig
		from    string
		timeout time.Duration
		err     string
	}{
		{"defaults", SMTPConfig{URL: "smtp://h"}, quotedFrom, DefaultSMTPTimeout, ""},
		{"from and timeout", SMTPConfig{URL: "smtp://h", From: "kiosk@nhs.net", Timeout: time.Second}, "<kiosk@nhs.net>", time.Second, ""},
		{"URL timeout wins", SMTPConfig{URL: "smtp://h?timeout=3s", Timeout: time.Second}, quotedFrom, 3 * time.Second, ""},
		{"bad from", SMTPConfig{URL: "smtp://h", From: "not an address"}, "", 0, "from address"},
		{"negative timeout", SMTPConfig{URL: "smtp://h", Timeout: -time.Second}, "", 0, "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSMTP(tc.cfg)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.from != tc.from || s.timeout != tc.timeout {
				t.Fatalf("from %q timeout %v, want %q %v", s.from, s.timeout, tc.from, tc.timeout)
			}
			if s.tls.ServerName != "h" || s.tls.MinVersion < tls.VersionTLS12 {
				t.Fatalf("TLS config %+v", s.tls)
			}
		})
	}
}

// trusting returns a TLS config that trusts the test certificate only.
func trusting(t *testing.T) *tls.Config {
	_, pool := smtptest.Cert(t)
	return &tls.Config{RootCAs: pool}
}

func TestSMTPDeliver(t *testing.T) {
	userinfo := "kiosk:" + escapedPassword + "@"
	for _, tc := range []struct {
		name     string
		server   smtptest.Options
		url      string // %s is the port
		trust    bool
		wantTLS  bool
		wantUser string
	}{
		{"plain", smtptest.Options{}, "smtp://127.0.0.1:%s?starttls=none", false, false, ""},
		{"opportunistic without STARTTLS", smtptest.Options{}, "smtp://127.0.0.1:%s?starttls=opportunistic", false, false, ""},
		{"STARTTLS required", smtptest.Options{TLS: true}, "smtp://127.0.0.1:%s", true, true, ""},
		{"STARTTLS opportunistic", smtptest.Options{TLS: true}, "smtp://127.0.0.1:%s?starttls=opportunistic", true, true, ""},
		{"STARTTLS with AUTH PLAIN", smtptest.Options{TLS: true, User: "kiosk", Pass: testPassword},
			"smtp://" + userinfo + "127.0.0.1:%s?starttls=required", true, true, "kiosk"},
		{"STARTTLS with explicit auth=plain", smtptest.Options{TLS: true, User: "kiosk", Pass: testPassword},
			"smtp://" + userinfo + "localhost:%s?auth=plain", true, true, "kiosk"},
		{"implicit TLS with AUTH", smtptest.Options{Implicit: true, User: "kiosk", Pass: testPassword},
			"smtps://" + userinfo + "127.0.0.1:%s", true, true, "kiosk"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t, "127.0.0.1:0", tc.server)
			cfg := SMTPConfig{URL: strings.Replace(tc.url, "%s", srv.Port(), 1), HELO: "kiosk-test"}
			if tc.trust {
				cfg.TLSConfig = trusting(t)
			}
			tr, err := NewSMTP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			m := codeMail("jane.bloggs@nhs.net", time.Now())
			m.ID = 42
			if err := tr.Deliver(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			got := srv.WaitMessages(t, 1, 5*time.Second)[0]
			if got.TLS != tc.wantTLS || got.User != tc.wantUser {
				t.Errorf("session TLS %v user %q, want %v %q", got.TLS, got.User, tc.wantTLS, tc.wantUser)
			}
			checkReceived(t, got, m)
		})
	}
}

// checkReceived compares what the server got with the mail sent.
func checkReceived(t *testing.T, got smtptest.Message, m domain.Mail) {
	t.Helper()
	if got.From != "smartcard.servicecentre@nhs.net" || len(got.To) != 1 || got.To[0] != m.To {
		t.Errorf("envelope from %q to %q", got.From, got.To)
	}
	h := got.Header
	for name, want := range map[string]string{
		"To":             "<" + m.To + ">",
		"From":           `"Smartcard Service Centre" <smartcard.servicecentre@nhs.net>`,
		"Subject":        m.Subject,
		"Auto-Submitted": "auto-generated",
		"User-Agent":     userAgent,
	} {
		if v := decodeHeader(t, h.Get(name)); v != want {
			t.Errorf("%s: %q, want %q", name, v, want)
		}
	}
	if id := h.Get("Message-Id"); !strings.HasPrefix(id, fmt.Sprintf("<outbox-%d.", m.ID)) || !strings.HasSuffix(id, "@nhs.net>") {
		t.Errorf("Message-ID %q", id)
	}
	if _, err := h.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || !strings.Contains(ct, "UTF-8") {
		t.Errorf("Content-Type %q", ct)
	}
	if got.Body != m.Body {
		t.Errorf("body:\n%q\nwant\n%q", got.Body, m.Body)
	}
}

// TestSMTPFailures: each failure is an error that names the relay, is
// retryable or permanent as it should be, and never shows the password or
// the full recipient address.
func TestSMTPFailures(t *testing.T) {
	userinfo := "kiosk:" + escapedPassword + "@"
	rejected := &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	busy := &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
	for _, tc := range []struct {
		name      string
		server    *smtptest.Options // nil: nothing listens
		url       string
		trust     bool
		to        string
		permanent bool
		msg       string
		noAuth    bool // the password must not have reached the server
		// serverName, if set, is the name the certificate must match.
		serverName string
	}{
		{name: "server down", url: "smtp://" + userinfo + "127.0.0.1:%s", trust: true, msg: "connection refused"},
		{name: "STARTTLS required but not offered", server: &smtptest.Options{},
			url: "smtp://127.0.0.1:%s", msg: "STARTTLS", noAuth: true},
		{name: "untrusted certificate", server: &smtptest.Options{TLS: true, User: "kiosk", Pass: testPassword},
			url: "smtp://" + userinfo + "127.0.0.1:%s", msg: "certificate", noAuth: true},
		{name: "certificate for another name", server: &smtptest.Options{TLS: true},
			url: "smtp://127.0.0.1:%s", trust: true, serverName: "relay.example.org", msg: "certificate"},
		{name: "wrong password", server: &smtptest.Options{TLS: true, User: "kiosk", Pass: "other"},
			url: "smtp://" + userinfo + "127.0.0.1:%s", trust: true, msg: "535"},
		{name: "no AUTH without TLS", server: &smtptest.Options{User: "kiosk", Pass: testPassword},
			url: "smtp://" + userinfo + "127.0.0.1:%s?starttls=opportunistic", msg: "auth", noAuth: true},
		{name: "no password in clear text even if offered", server: &smtptest.Options{User: "kiosk", Pass: testPassword, InsecureAuth: true},
			url: "smtp://" + userinfo + "127.0.0.1:%s?starttls=opportunistic", msg: "only over TLS", noAuth: true},
		{name: "recipient rejected", server: &smtptest.Options{TLS: true, RejectRcpt: rejected},
			url: "smtp://127.0.0.1:%s", trust: true, permanent: true, msg: "550"},
		{name: "recipient deferred", server: &smtptest.Options{TLS: true, RejectRcpt: busy},
			url: "smtp://127.0.0.1:%s", trust: true, msg: "451"},
		{name: "invalid recipient", server: &smtptest.Options{TLS: true},
			url: "smtp://127.0.0.1:%s", trust: true, to: "jane.bloggs@@nhs.net", permanent: true, msg: "not a valid address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var srv *smtptest.Server
			port := freePort(t)
			if tc.server != nil {
				srv = smtptest.Start(t, "127.0.0.1:0", *tc.server)
				port = srv.Port()
			}
			cfg := SMTPConfig{URL: strings.Replace(tc.url, "%s", port, 1), Timeout: 5 * time.Second}
			if tc.trust {
				cfg.TLSConfig = trusting(t)
				cfg.TLSConfig.ServerName = tc.serverName
			}
			tr, err := NewSMTP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			to := tc.to
			if to == "" {
				to = "jane.bloggs@nhs.net"
			}
			err = tr.Deliver(t.Context(), codeMail(to, time.Now()))
			if err == nil {
				t.Fatal("delivered")
			}
			msg := err.Error()
			t.Logf("error: %s", msg)
			if !strings.Contains(strings.ToLower(msg), strings.ToLower(tc.msg)) {
				t.Errorf("error %q does not mention %q", msg, tc.msg)
			}
			if IsPermanent(err) != tc.permanent {
				t.Errorf("permanent = %v, want %v (%v)", IsPermanent(err), tc.permanent, err)
			}
			for _, secret := range []string{testPassword, escapedPassword, to} {
				if strings.Contains(msg, secret) {
					t.Errorf("error %q contains %q", msg, secret)
				}
			}
			if srv != nil {
				if n := len(srv.Messages()); n != 0 {
					t.Errorf("server accepted %d messages", n)
				}
				tries := srv.AuthTries()
				if tc.noAuth && tries != 0 {
					t.Errorf("the password was sent (%d AUTH attempts)", tries)
				}
			}
		})
	}
}

// freePort is a loopback port nothing listens on (for now).
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	return p
}

// TestSMTPTimeout: a relay that accepts the connection and then says
// nothing cannot hold a delivery past its deadline.
func TestSMTPTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	_, port, _ := net.SplitHostPort(l.Addr().String())
	for _, tc := range []struct {
		name    string
		timeout time.Duration // transport's
		ctx     time.Duration // caller's deadline; 0: none
	}{
		{"transport timeout", 600 * time.Millisecond, 0},
		{"caller deadline", time.Minute, 600 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := NewSMTP(SMTPConfig{URL: "smtp://127.0.0.1:" + port, Timeout: tc.timeout})
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			if tc.ctx > 0 {
				var cancel func()
				ctx, cancel = context.WithTimeout(ctx, tc.ctx)
				defer cancel()
			}
			start := time.Now()
			err = tr.Deliver(ctx, codeMail("jane.bloggs@nhs.net", time.Now()))
			took := time.Since(start)
			if err == nil {
				t.Fatal("delivered to a silent server")
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("error %v is not a timeout", err)
			}
			if took > 900*time.Millisecond {
				t.Errorf("took %v, want at most the 600ms budget (plus slack)", took)
			}
		})
	}
}
