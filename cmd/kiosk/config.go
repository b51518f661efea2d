package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

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
	}
}

// setting is one flag with its environment twin.
type setting struct {
	flag, env, usage string
	field            func(*Config) *string
}

var settings = []setting{
	{"database-url", "KIOSK_DATABASE_URL", "PostgreSQL URL, e.g. postgres://kiosk@db.example/kiosk; empty uses the embedded store", func(c *Config) *string { return &c.DatabaseURL }},
	{"db", "KIOSK_DB", "embedded store file, used when no database URL is set", func(c *Config) *string { return &c.DBPath }},
	{"kek-file", "KIOSK_KEK_FILE", "file holding the key-encryption key for card secrets (64 hex digits, mode 0600)", func(c *Config) *string { return &c.KEKFile }},
	{"log-file", "KIOSK_LOG_FILE", "log file (the screen belongs to the kiosk)", func(c *Config) *string { return &c.LogFile }},
	{"terminal", "KIOSK_TERMINAL", "this terminal's name in the audit log", func(c *Config) *string { return &c.Terminal }},
	{"passcode-charset", "KIOSK_PASSCODE_CHARSET", "characters a new passcode may use: numeric, alphanumeric or printable", func(c *Config) *string { return &c.PasscodeCharset }},
	{"email-domains", "KIOSK_EMAIL_DOMAINS", "approved email domains, comma-separated (subdomains included)", func(c *Config) *string { return &c.EmailDomains }},
	{"ca-dir", "KIOSK_CA_DIR", "directory of the service certificate authority (root.crt, issuer.crt, issuer.key); empty means ca/ beside the embedded store file (seed --demo creates it there)", func(c *Config) *string { return &c.CADir }},
	{"cards-dir", "KIOSK_CARDS_DIR", "directory of the demo's software card files (SERIAL.card); empty means cards/ beside the embedded store file", func(c *Config) *string { return &c.CardsDir }},
	{"holder-reader", "KIOSK_HOLDER_READER", "part of the name of the card holder's reader; empty means the first reader", func(c *Config) *string { return &c.HolderReader }},
	{"operator-reader", "KIOSK_OPERATOR_READER", "part of the name of the operator's own reader; empty means the second reader", func(c *Config) *string { return &c.OperatorReader }},
}

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
