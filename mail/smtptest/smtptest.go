// Package smtptest is a real SMTP server on loopback (emersion/go-smtp) for
// tests: it records every message it accepts, can offer STARTTLS or speak
// implicit TLS with a self-signed certificate, can require AUTH PLAIN and
// can reject recipients.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one message as the server got it.
type Message struct {
	From   string   // envelope
	To     []string // envelope
	User   string   // authenticated as, if any
	TLS    bool
	Data   []byte
	Header mail.Header
	Body   string // text body, decoded, with LF line ends (see DecodeBody)
}

// Options shape the server. The zero value is a plain server without TLS
// or AUTH that accepts every message.
type Options struct {
	TLS      bool   // offer STARTTLS (or, with Implicit, speak TLS at once)
	Implicit bool   // smtps: TLS from the first byte
	User     string // require AUTH PLAIN with User/Pass
	Pass     string
	// InsecureAuth offers AUTH without TLS, as a careless relay would.
	InsecureAuth bool
	// RejectRcpt answers RCPT TO with this SMTP error, if set.
	RejectRcpt *smtp.SMTPError
}

// Server is a running test SMTP server.
type Server struct {
	opts Options
	srv  *smtp.Server
	addr string

	mu        sync.Mutex
	msgs      []Message
	arrived   chan struct{} // closed and replaced when a message arrives
	authTries int           // times a client sent credentials
}

var (
	certOnce sync.Once
	theCert  tls.Certificate
	thePool  *x509.CertPool
)

// Cert returns a self-signed certificate for 127.0.0.1 and localhost, the
// one the server presents, and a pool that trusts it: the test's trust,
// never the system's. It is made once per process.
func Cert(tb testing.TB) (tls.Certificate, *x509.CertPool) {
	tb.Helper()
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "test smtp"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
			DNSNames:              []string{"localhost"},
			IsCA:                  true,
			BasicConstraintsValid: true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			panic(err)
		}
		pool := x509.NewCertPool()
		pool.AddCert(leaf)
		theCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
		thePool = pool
	})
	return theCert, thePool
}

// Start listens on addr ("127.0.0.1:0" for any port) and serves until the
// test ends.
func Start(tb testing.TB, addr string, opts Options) *Server {
	tb.Helper()
	ts := &Server{opts: opts, arrived: make(chan struct{})}
	s := smtp.NewServer(ts)
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.ErrorLog = log.New(io.Discard, "", 0)
	s.AllowInsecureAuth = opts.InsecureAuth
	var tlsCfg *tls.Config
	if opts.TLS || opts.Implicit {
		cert, _ := Cert(tb)
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}}
		s.TLSConfig = tlsCfg
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	if opts.Implicit {
		l = tls.NewListener(l, tlsCfg)
	}
	ts.srv, ts.addr = s, l.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(l)
	}()
	tb.Cleanup(func() {
		ts.Close()
		// Close can run before Serve has registered the listener.
		_ = l.Close()
		<-done
	})
	return ts
}

// Close stops the server and drops its connections. It is safe to call
// more than once; the test's cleanup calls it too.
func (ts *Server) Close() { _ = ts.srv.Close() }

// Addr is the host:port the server listens on.
func (ts *Server) Addr() string { return ts.addr }

// Port is the port the server listens on.
func (ts *Server) Port() string {
	_, p, _ := net.SplitHostPort(ts.addr)
	return p
}

// Messages returns a copy of the messages received so far.
func (ts *Server) Messages() []Message {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]Message(nil), ts.msgs...)
}

// AuthTries is how many times a client has sent credentials, right or
// wrong.
func (ts *Server) AuthTries() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.authTries
}

// WaitMessages waits until the server has received at least n messages
// and returns them all; it fails the test if that takes longer than
// timeout.
func (ts *Server) WaitMessages(tb testing.TB, n int, timeout time.Duration) []Message {
	tb.Helper()
	deadline := time.After(timeout)
	for {
		ts.mu.Lock()
		got, arrived := append([]Message(nil), ts.msgs...), ts.arrived
		ts.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-arrived:
		case <-deadline:
			tb.Fatalf("server received %d messages within %v, want %d", len(ts.Messages()), timeout, n)
		}
	}
}

// DecodeBody returns a message's text body with LF line ends, undoing a
// quoted-printable transfer encoding.
func DecodeBody(m *mail.Message) (string, error) {
	var r io.Reader = m.Body
	switch strings.ToLower(m.Header.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "", "7bit", "8bit":
	default:
		return "", fmt.Errorf("unexpected transfer encoding %q", m.Header.Get("Content-Transfer-Encoding"))
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n"), nil
}

// NewSession implements smtp.Backend.
func (ts *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &session{ts: ts, tls: isTLS, conn: c}, nil
}

type session struct {
	ts   *Server
	conn *smtp.Conn
	tls  bool
	user string
	msg  Message
}

var errAuthFailed = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}

func (s *session) AuthMechanisms() []string {
	if s.ts.opts.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		s.ts.mu.Lock()
		s.ts.authTries++
		s.ts.mu.Unlock()
		if user != s.ts.opts.User || pass != s.ts.opts.Pass {
			return errAuthFailed
		}
		s.user = user
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.ts.opts.User != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	_, s.tls = s.conn.TLSConnectionState() // after STARTTLS
	s.msg = Message{From: from, User: s.user, TLS: s.tls}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.ts.opts.RejectRcpt != nil {
		return s.ts.opts.RejectRcpt
	}
	s.msg.To = append(s.msg.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.Data = b
	m, err := mail.ReadMessage(strings.NewReader(string(b)))
	if err != nil {
		return errors.New("unparseable message")
	}
	s.msg.Header = m.Header
	body, err := DecodeBody(m)
	if err != nil {
		return err
	}
	s.msg.Body = body
	s.ts.mu.Lock()
	s.ts.msgs = append(s.ts.msgs, s.msg)
	close(s.ts.arrived)
	s.ts.arrived = make(chan struct{})
	s.ts.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.msg = Message{} }
func (s *session) Logout() error { return nil }
