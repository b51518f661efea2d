package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// Config is what the kiosk is told: defaults in code, then the environment,
// then flags, then Validate.
type Config struct {
	DatabaseURL     string // PostgreSQL; empty means the embedded store
	DBPath          string // embedded store file
	KEKFile         string
	LogFile         string
	Terminal        string
	PasscodeCharset string
	EmailDomains    string // comma-separated
	CADir           string // service CA; empty: ca/ beside the embedded store
	CardsDir        string // demo card files; empty: cards/ beside the embedded store
	HolderReader    string // part of the card holder's reader name; empty: the first reader
	OperatorReader  string // part of the operator's reader name; empty: the second reader

	// The kiosk itself.
	Readers     string // "pcsc" or "sim" (the demo's simulated readers)
	SMTPURL     string // mail relay; empty: the on-screen mailbox (sim) or MailDir
	MailFrom    string
	MailDir     string // .eml files when there is no relay
	IdleTimeout string // e.g. "120s"
	AllowExit   string // "true": Ctrl+C quits (development only)
}

// dataDir is where the embedded store, the demo KEK and the log live.
func dataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "smartcard-kiosk")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "smartcard-kiosk")
	}
	return filepath.Join(os.TempDir(), "smartcard-kiosk")
}

func defaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		DBPath:          filepath.Join(dataDir(), "kiosk.db"),
		KEKFile:         filepath.Join(dataDir(), "kek"),
		LogFile:         filepath.Join(dataDir(), "kiosk.log"),
		Terminal:        host,
		PasscodeCharset: "printable",
		EmailDomains:    strings.Join(domain.DefaultApprovedDomains, ","),
		Readers:         "pcsc",
		IdleTimeout:     "120s",
		AllowExit:       "false",
	}
}

// setting is one flag with its environment twin.
type setting struct {
	flag, env, usage string
	field            func(*Config) *string
	boolean          bool // a switch: --allow-exit means --allow-exit=true
}

var settings = []setting{
	{"database-url", "KIOSK_DATABASE_URL", "PostgreSQL URL, e.g. postgres://kiosk@db.example/kiosk; empty uses the embedded store", func(c *Config) *string { return &c.DatabaseURL }, false},
	{"db", "KIOSK_DB", "embedded store file, used when no database URL is set", func(c *Config) *string { return &c.DBPath }, false},
	{"kek-file", "KIOSK_KEK_FILE", "file holding the key-encryption key for card secrets (64 hex digits, mode 0600)", func(c *Config) *string { return &c.KEKFile }, false},
	{"log-file", "KIOSK_LOG_FILE", "log file (the screen belongs to the kiosk)", func(c *Config) *string { return &c.LogFile }, false},
	{"terminal", "KIOSK_TERMINAL", "this terminal's name in the audit log", func(c *Config) *string { return &c.Terminal }, false},
	{"passcode-charset", "KIOSK_PASSCODE_CHARSET", "characters a new passcode may use: numeric, alphanumeric or printable", func(c *Config) *string { return &c.PasscodeCharset }, false},
	{"email-domains", "KIOSK_EMAIL_DOMAINS", "approved email domains, comma-separated (subdomains included)", func(c *Config) *string { return &c.EmailDomains }, false},
	{"ca-dir", "KIOSK_CA_DIR", "directory of the service certificate authority (root.crt, issuer.crt, issuer.key); empty means ca/ beside the embedded store file (seed --demo creates it there)", func(c *Config) *string { return &c.CADir }, false},
	{"cards-dir", "KIOSK_CARDS_DIR", "directory of the demo's software card files (SERIAL.card); empty means cards/ beside the embedded store file", func(c *Config) *string { return &c.CardsDir }, false},
	{"holder-reader", "KIOSK_HOLDER_READER", "part of the name of the card holder's reader; empty means the first reader", func(c *Config) *string { return &c.HolderReader }, false},
	{"operator-reader", "KIOSK_OPERATOR_READER", "part of the name of the operator's own reader; empty means the second reader", func(c *Config) *string { return &c.OperatorReader }, false},
	{"readers", "KIOSK_READERS", "card readers: pcsc (real readers through pcscd) or sim (the demo's simulated readers with a tray of the demo cards)", func(c *Config) *string { return &c.Readers }, false},
	{"smtp-url", "KIOSK_SMTP_URL", "mail relay, e.g. smtp://user:pass@relay.example:587?starttls=required or smtps://…; empty means the on-screen mailbox with --readers sim, else .eml files in --mail-dir", func(c *Config) *string { return &c.SMTPURL }, false},
	{"mail-from", "KIOSK_MAIL_FROM", "sender of the kiosk's emails (default Smartcard Service Centre <smartcard.servicecentre@nhs.net>)", func(c *Config) *string { return &c.MailFrom }, false},
	{"mail-dir", "KIOSK_MAIL_DIR", "directory to write emails to as .eml files, for kiosks whose mail another program sends (used when --smtp-url is empty)", func(c *Config) *string { return &c.MailDir }, false},
	{"idle-timeout", "KIOSK_IDLE_TIMEOUT", "return an untouched screen to the start after this long, wiping what was typed", func(c *Config) *string { return &c.IdleTimeout }, false},
	{"allow-exit", "KIOSK_ALLOW_EXIT", "let Ctrl+C quit the kiosk (development and demos only; the public must not leave it)", func(c *Config) *string { return &c.AllowExit }, true},
}

// boolValue is a string setting that behaves as a boolean flag.
type boolValue struct{ p *string }

func (b boolValue) String() string {
	if b.p == nil {
		return "false"
	}
	return *b.p
}
func (b boolValue) Set(v string) error {
	x, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("want true or false, got %q", v)
	}
	*b.p = strconv.FormatBool(x)
	return nil
}
func (b boolValue) IsBoolFlag() bool { return true }

// besideStore is dir named name next to the embedded store file, so that a
// demo set up with KIOSK_DB keeps all its files in one place.
func (c Config) besideStore(name string) string {
	if c.DBPath == "" {
		return filepath.Join(dataDir(), name)
	}
	return filepath.Join(filepath.Dir(c.DBPath), name)
}

func (c Config) caDir() string {
	if c.CADir != "" {
		return c.CADir
	}
	return c.besideStore("ca")
}

func (c Config) idleTimeout() time.Duration {
	d, _ := time.ParseDuration(c.IdleTimeout)
	return d
}

func (c Config) allowExit() bool {
	b, _ := strconv.ParseBool(c.AllowExit)
	return b
}

func (c Config) cardsDir() string {
	if c.CardsDir != "" {
		return c.CardsDir
	}
	return c.besideStore("cards")
}

// fromEnv overlays the environment on cfg.
func (c *Config) fromEnv(getenv func(string) string) {
	for _, s := range settings {
		if v, ok := lookup(getenv, s.env); ok {
			*s.field(c) = v
		}
	}
}

func lookup(getenv func(string) string, key string) (string, bool) {
	v := getenv(key)
	return v, v != ""
}

// register adds every setting to fs, defaulting to what cfg already holds.
func (c *Config) register(fs *flag.FlagSet) {
	for _, s := range settings {
		p := s.field(c)
		if s.boolean {
			fs.Var(boolValue{p}, s.flag, fmt.Sprintf("%s (env %s)", s.usage, s.env))
			continue
		}
		fs.StringVar(p, s.flag, *p, fmt.Sprintf("%s (env %s)", s.usage, s.env))
	}
}

// Validate checks the settings without touching the outside world.
func (c Config) Validate() error {
	var errs []error
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" && u.Query().Get("host") == "" {
			errs = append(errs, fmt.Errorf("database URL must look like postgres://USER@HOST:PORT/DB (got %q)", redact(c.DatabaseURL)))
		}
	} else if c.DBPath == "" {
		errs = append(errs, errors.New("no store: set --database-url or --db"))
	}
	if _, err := domain.ParseCharset(c.PasscodeCharset); err != nil {
		errs = append(errs, err)
	}
	if len(c.emailDomains()) == 0 {
		errs = append(errs, errors.New("no approved email domains: set --email-domains"))
	}
	if c.Readers != "pcsc" && c.Readers != "sim" {
		errs = append(errs, fmt.Errorf("--readers must be pcsc or sim (got %q)", c.Readers))
	}
	if d, err := time.ParseDuration(c.IdleTimeout); err != nil || d < 10*time.Second {
		errs = append(errs, fmt.Errorf("--idle-timeout must be a duration of at least 10s, e.g. 120s (got %q)", c.IdleTimeout))
	}
	if _, err := strconv.ParseBool(c.AllowExit); err != nil {
		errs = append(errs, fmt.Errorf("KIOSK_ALLOW_EXIT must be true or false (got %q)", c.AllowExit))
	}
	return errors.Join(errs...)
}

func (c Config) emailDomains() []string {
	var out []string
	for _, d := range strings.Split(c.EmailDomains, ",") {
		if d = strings.ToLower(strings.Trim(strings.TrimSpace(d), ".")); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// redact hides a password in a database URL before it is printed.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.LastIndexByte(raw, '@'); i > 0 {
			return "…@" + raw[i+1:]
		}
		return raw
	}
	return u.Redacted()
}
