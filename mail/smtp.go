package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// DefaultSMTPTimeout bounds one SMTP delivery when SMTPConfig sets none.
const DefaultSMTPTimeout = 30 * time.Second

// StartTLS says whether an smtp:// connection is upgraded with STARTTLS.
type StartTLS string

const (
	// StartTLSRequired refuses to send unless the server offers STARTTLS
	// and the handshake (with certificate verification) succeeds.
	StartTLSRequired StartTLS = "required"
	// StartTLSOpportunistic upgrades when the server offers it and sends
	// in clear text otherwise. A password is still never sent in clear.
	StartTLSOpportunistic StartTLS = "opportunistic"
	// StartTLSNone never upgrades (a relay on the same host or network).
	StartTLSNone StartTLS = "none"
)

// Auth is the SMTP AUTH mechanism used when the URL has a user name.
type Auth string

const (
	// AuthAuto picks the strongest mechanism the server offers; PLAIN and
	// LOGIN are only chosen on an encrypted connection.
	AuthAuto  Auth = "auto"
	AuthPlain Auth = "plain"
	AuthLogin Auth = "login"
)

// SMTPConfig configures the SMTP transport.
type SMTPConfig struct {
	// URL names the relay:
	//
	//	smtp://[USER[:PASSWORD]@]HOST[:PORT][?starttls=required|opportunistic|none][&auth=auto|plain|login][&timeout=30s]
	//	smtps://[USER[:PASSWORD]@]HOST[:PORT][?auth=…][&timeout=…]
	//
	// smtp:// defaults to port 587 and starttls=required; smtps:// is
	// implicit TLS (port 465 by default). Special characters in the user
	// name or password must be percent-encoded.
	URL string
	// From is the sender address; empty means DefaultFrom.
	From string
	// Timeout bounds a delivery (the URL's timeout parameter wins); zero
	// means DefaultSMTPTimeout. A shorter deadline on the context wins.
	Timeout time.Duration
	// TLSConfig, if set, is used for TLS (e.g. RootCAs for a private CA);
	// its ServerName defaults to the URL's host. Nil uses the system's
	// roots. Certificates are always verified.
	TLSConfig *tls.Config
	// HELO is the name sent in EHLO; empty means the host name.
	HELO string
}

// SMTP delivers mail through an SMTP relay, one connection per mail.
type SMTP struct {
	host     string
	port     int
	implicit bool // smtps://
	starttls StartTLS
	user     string
	password string
	auth     Auth
	from     string
	timeout  time.Duration
	tls      *tls.Config
	helo     string
	redacted string // the URL without its password, for messages
}

var _ Transport = (*SMTP)(nil)

// NewSMTP parses cfg. Its errors never contain the password.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	t, err := parseSMTPURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	if t.from, err = parseFrom(cfg.From); err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	switch {
	case t.timeout != 0:
	case cfg.Timeout < 0:
		return nil, errors.New("smtp: timeout must not be negative")
	case cfg.Timeout > 0:
		t.timeout = cfg.Timeout
	default:
		t.timeout = DefaultSMTPTimeout
	}
	if cfg.TLSConfig != nil {
		t.tls = cfg.TLSConfig.Clone()
	} else {
		t.tls = &tls.Config{}
	}
	if t.tls.ServerName == "" {
		t.tls.ServerName = t.host
	}
	t.tls.MinVersion = max(t.tls.MinVersion, tls.VersionTLS12)
	t.helo = cfg.HELO
	return t, nil
}

// String is the relay's URL without the password.
func (t *SMTP) String() string { return t.redacted }

// errBadURL says what is wrong without quoting the URL: url.Parse's own
// errors repeat the input, password included.
var errBadURL = errors.New("invalid URL (percent-encode special characters in the user name and password)")

func parseSMTPURL(raw string) (*SMTP, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, errors.New("no URL given")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errBadURL
	}
	t := &SMTP{host: u.Hostname(), starttls: StartTLSRequired}
	t.redacted = u.Redacted()
	switch u.Scheme {
	case "smtp":
		t.port = 587
	case "smtps":
		t.port, t.implicit = 465, true
	default:
		return nil, fmt.Errorf("%s: scheme must be smtp or smtps", t.redacted)
	}
	if t.host == "" {
		return nil, fmt.Errorf("%s: no host", t.redacted)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%s: invalid port %q", t.redacted, p)
		}
		t.port = n
	}
	if u.Path != "" && u.Path != "/" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("%s: unexpected path", t.redacted)
	}
	if u.User != nil {
		t.user = u.User.Username()
		t.password, _ = u.User.Password()
		t.auth = AuthAuto
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid query", t.redacted)
	}
	for k, v := range q {
		if len(v) != 1 {
			return nil, fmt.Errorf("%s: %s given %d times", t.redacted, k, len(v))
		}
		val := strings.ToLower(v[0])
		switch k {
		case "starttls":
			if t.implicit {
				return nil, fmt.Errorf("%s: starttls applies to smtp:// only (smtps:// is always TLS)", t.redacted)
			}
			switch s := StartTLS(val); s {
			case StartTLSRequired, StartTLSOpportunistic, StartTLSNone:
				t.starttls = s
			default:
				return nil, fmt.Errorf("%s: starttls must be required, opportunistic or none", t.redacted)
			}
		case "auth":
			if t.user == "" {
				return nil, fmt.Errorf("%s: auth needs a user name in the URL", t.redacted)
			}
			switch a := Auth(val); a {
			case AuthAuto, AuthPlain, AuthLogin:
				t.auth = a
			default:
				return nil, fmt.Errorf("%s: auth must be auto, plain or login", t.redacted)
			}
		case "timeout":
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("%s: timeout must be a positive duration such as 30s", t.redacted)
			}
			t.timeout = d
		default:
			return nil, fmt.Errorf("%s: unknown parameter %q", t.redacted, k)
		}
	}
	// Credentials never travel in clear text: refused now rather than at
	// the first mail, when a card holder is waiting for a code.
	if t.user != "" && t.starttls == StartTLSNone {
		return nil, fmt.Errorf("%s: a user name and password need TLS: use starttls=required or smtps://", t.redacted)
	}
	return t, nil
}

// Deliver sends m in one SMTP session. A recipient the relay refuses for
// good (5xx) is a Permanent error; anything else may be retried.
func (t *SMTP) Deliver(ctx context.Context, m domain.Mail) error {
	msg, err := newMessage(m, t.from, time.Now())
	if err != nil {
		return err
	}
	budget := t.timeout
	if dl, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(dl))
	}
	if budget <= 0 {
		return fmt.Errorf("smtp %s: %w", t.redacted, context.DeadlineExceeded)
	}
	c, err := t.client(budget)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", t.redacted, t.redact(err, m.To))
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		if errors.Is(err, gomail.ErrNoSupportedAuthDiscovered) {
			err = fmt.Errorf("%w (PLAIN and LOGIN are used only over TLS: set starttls=required or use smtps://)", err)
		}
		err = t.redact(err, m.To)
		var se *gomail.SendError
		if errors.As(err, &se) && !se.IsTemp() && (se.Reason == gomail.ErrSMTPRcptTo || se.Reason == gomail.ErrGetRcpts) {
			err = Permanent(err)
		}
		return fmt.Errorf("smtp %s: %w", t.redacted, err)
	}
	return nil
}

// client makes a go-mail client for one delivery. go-mail applies its
// timeout to three stages in turn (connect; greeting, TLS and AUTH; the
// transfer), so each gets a third of the budget.
func (t *SMTP) client(budget time.Duration) (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithTimeout(max(budget/3, time.Millisecond)),
		gomail.WithTLSConfig(t.tls),
	}
	if t.implicit {
		opts = append(opts, gomail.WithSSL())
	} else {
		switch t.starttls {
		case StartTLSRequired:
			opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
		case StartTLSOpportunistic:
			opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
		default:
			opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
		}
	}
	// After WithSSL, which would otherwise pick the port.
	opts = append(opts, gomail.WithPort(t.port))
	if t.helo != "" {
		opts = append(opts, gomail.WithHELO(t.helo))
	}
	if t.user != "" {
		mech := gomail.SMTPAuthAutoDiscover
		switch t.auth {
		case AuthPlain:
			mech = gomail.SMTPAuthPlain
		case AuthLogin:
			mech = gomail.SMTPAuthLogin
		}
		opts = append(opts, gomail.WithSMTPAuth(mech), gomail.WithUsername(t.user), gomail.WithPassword(t.password))
	}
	return gomail.NewClient(t.host, opts...)
}

// redact removes the password (as typed and as percent-encoded) and the
// recipient's full address from an error's text, keeping the error chain
// for errors.As.
func (t *SMTP) redact(err error, to string) error {
	msg := err.Error()
	if t.password != "" {
		for _, p := range []string{t.password, url.QueryEscape(t.password), url.PathEscape(t.password)} {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	if to != "" {
		msg = strings.ReplaceAll(msg, to, domain.MaskEmail(to))
	}
	return &redactedError{msg: msg, err: err}
}

// redactedError shows a cleaned message but keeps the cause.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
