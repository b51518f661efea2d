package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	opsvc "github.com/smartcard-service-centre/kiosk/domain/operator"
	"github.com/smartcard-service-centre/kiosk/storage/postgres"
	"github.com/smartcard-service-centre/kiosk/storage/postgres/connstr"
	"github.com/smartcard-service-centre/kiosk/tui"
)

// Config is what a command is told, parsed once into typed values: defaults
// in code, then the environment, then flags. Each value is checked as it
// is parsed, so a bad one is reported by the name it came in by.
type Config struct {
	DataDir         string // the kiosk's files; the paths below default inside it
	DatabaseURL     string // PostgreSQL; empty means the embedded store
	DBPath          string // embedded store file
	KEKFile         string
	LogFile         string // "-" discards the log
	Terminal        string
	PasscodeCharset domain.Charset
	EmailDomains    []string
	CADir           string // service CA
	CardsDir        string // demo card files
	HolderReader    string // part of the card holder's reader name; empty: the first reader
	OperatorReader  string // part of the operator's reader name; empty: the second reader

	AppRole string // PostgreSQL login role the kiosk runs as (migrate grants to it)

	// PostgreSQL connections: the wait for each host of the URL before
	// the next is tried, and the pool's size (the URL's connect_timeout
	// and pool_max_conns win).
	DBConnectTimeout time.Duration
	DBMaxConns       int

	// The kiosk itself.
	Readers     string // "pcsc" or "sim" (the demo's simulated readers)
	SMTPURL     string // mail relay; empty: the on-screen mailbox (sim) or MailDir
	MailFrom    string
	MailDir     string // .eml files when there is no relay
	IdleTimeout time.Duration
	AllowExit   bool // Ctrl+C quits (development only)

	// The operator terminal: an idle session locks after this long.
	IdleLock time.Duration

	// Import: activity codes accepted besides the service's own.
	ActivityCodes []domain.ActivityCode
}

// appDir names the kiosk's directory under the XDG data home.
const appDir = "smartcard-kiosk"

// minIdleLock keeps an operator's screen up long enough to be read and
// answered; the kiosk's own minimum is tui.MinIdleTimeout.
const minIdleLock = 10 * time.Second

// defaultDataDir is the kiosk's data directory by the XDG Base Directory
// rules: $XDG_DATA_HOME/smartcard-kiosk, else
// $HOME/.local/share/smartcard-kiosk. A relative XDG_DATA_HOME is ignored,
// as the rules say. With no usable home it fails rather than fall back to
// a shared directory such as /tmp, where another user could read or plant
// the kiosk's key and store.
func defaultDataDir(getenv func(string) string) (string, error) {
	if d := getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, appDir), nil
	}
	home := getenv("HOME")
	if !filepath.IsAbs(home) {
		return "", errors.New("no data directory: HOME is not an absolute path and XDG_DATA_HOME is not set to one (set --data-dir or KIOSK_DATA_DIR)")
	}
	return filepath.Join(home, ".local", "share", appDir), nil
}

// defaultConfig is the configuration before the environment and flags. The
// data directory is empty, with the reason, when it has no default.
func defaultConfig(getenv func(string) string) (Config, error) {
	host, _ := os.Hostname()
	dir, err := defaultDataDir(getenv)
	return Config{
		DataDir:          dir,
		Terminal:         host,
		PasscodeCharset:  domain.CharsetPrintable,
		EmailDomains:     domain.DefaultApprovedDomains,
		Readers:          "pcsc",
		IdleTimeout:      120 * time.Second,
		IdleLock:         opsvc.DefaultIdleLock,
		DBConnectTimeout: postgres.DefaultConnectTimeout,
		DBMaxConns:       postgres.DefaultMaxConns,
	}, err
}

// setting is one flag with its environment twin.
type setting struct {
	name, env string
	arg       string // the value's kind in the help (FILE, URL, …); empty for a switch
	usage     string
	// bind points a flag.Value at the setting's typed field: the one place
	// its values are parsed and checked.
	bind func(*Config) flag.Value
	// inDataDir is the path's default inside the data directory; an empty
	// value means that default.
	inDataDir string
}

// settings are every setting any command reads, in the order the help
// shows them.
var settings = []setting{
	{name: "data-dir", env: "KIOSK_DATA_DIR", arg: "DIR",
		usage: "directory of the kiosk's files, whichever store is used: the embedded store, key-encryption key, log, ca/ and cards/ default inside it; by the XDG rules $XDG_DATA_HOME/smartcard-kiosk, else ~/.local/share/smartcard-kiosk",
		bind:  func(c *Config) flag.Value { return text(&c.DataDir) }},
	{name: "database-url", env: "KIOSK_DATABASE_URL", arg: "URL",
		usage: "PostgreSQL URL, e.g. postgres://kiosk@db.example/kiosk; empty uses the embedded store",
		bind:  func(c *Config) flag.Value { return postgresURL(&c.DatabaseURL) }},
	{name: "db", env: "KIOSK_DB", arg: "FILE", inDataDir: "kiosk.db",
		usage: "embedded store file, used when no database URL is set",
		bind:  func(c *Config) flag.Value { return text(&c.DBPath) }},
	{name: "db-connect-timeout", env: "KIOSK_DB_CONNECT_TIMEOUT", arg: "DURATION",
		usage: "PostgreSQL: how long to wait for each host of the database URL before trying the next (a primary and its standbys; a hung host never answers); the URL's connect_timeout wins",
		bind: func(c *Config) flag.Value {
			return durationIn(&c.DBConnectTimeout, 500*time.Millisecond, time.Minute, "2.5s")
		}},
	{name: "db-max-conns", env: "KIOSK_DB_MAX_CONNS", arg: "N",
		usage: "PostgreSQL: connections this terminal may hold at once; the server's max_connections must exceed the sum over all terminals; the URL's pool_max_conns wins",
		bind:  func(c *Config) flag.Value { return count(&c.DBMaxConns, 1, 100) }},
	{name: "kek-file", env: "KIOSK_KEK_FILE", arg: "FILE", inDataDir: "kek",
		usage: "file holding the key-encryption key for card secrets (64 hex digits, mode 0600)",
		bind:  func(c *Config) flag.Value { return text(&c.KEKFile) }},
	{name: "log-file", env: "KIOSK_LOG_FILE", arg: "FILE", inDataDir: "kiosk.log",
		usage: "log file (the screen belongs to the kiosk); - discards the log",
		bind:  func(c *Config) flag.Value { return text(&c.LogFile) }},
	{name: "app-role", env: "KIOSK_APP_ROLE", arg: "ROLE",
		usage: "PostgreSQL login role the kiosk runs as, given only what it needs (no DDL; the audit trail append-only); migrate as the schema owner, run the kiosk as this role",
		bind:  func(c *Config) flag.Value { return text(&c.AppRole) }},
	{name: "terminal", env: "KIOSK_TERMINAL", arg: "NAME",
		usage: "this terminal's name in the audit log and the log file",
		bind:  func(c *Config) flag.Value { return text(&c.Terminal) }},
	{name: "ca-dir", env: "KIOSK_CA_DIR", arg: "DIR", inDataDir: "ca",
		usage: "directory of the service certificate authority (root.crt, issuer.crt, issuer.key); seed --demo creates a demo one there when it has none",
		bind:  func(c *Config) flag.Value { return text(&c.CADir) }},
	{name: "cards-dir", env: "KIOSK_CARDS_DIR", arg: "DIR", inDataDir: "cards",
		usage: "directory of the demo's software card files (SERIAL.card)",
		bind:  func(c *Config) flag.Value { return text(&c.CardsDir) }},
	{name: "passcode-charset", env: "KIOSK_PASSCODE_CHARSET", arg: "SET",
		usage: "characters a new passcode may use: numeric, alphanumeric or printable",
		bind:  func(c *Config) flag.Value { return charset(&c.PasscodeCharset) }},
	{name: "email-domains", env: "KIOSK_EMAIL_DOMAINS", arg: "LIST",
		usage: "approved email domains, comma-separated (subdomains included)",
		bind:  func(c *Config) flag.Value { return domains(&c.EmailDomains) }},
	{name: "readers", env: "KIOSK_READERS", arg: "KIND",
		usage: "card readers: pcsc (real readers through pcscd) or sim (the demo's simulated readers with a tray of the demo cards)",
		bind:  func(c *Config) flag.Value { return oneOf(&c.Readers, "pcsc", "sim") }},
	{name: "holder-reader", env: "KIOSK_HOLDER_READER", arg: "NAME",
		usage: "part of the name of the card holder's reader; empty means the first reader",
		bind:  func(c *Config) flag.Value { return text(&c.HolderReader) }},
	{name: "operator-reader", env: "KIOSK_OPERATOR_READER", arg: "NAME",
		usage: "part of the name of the operator's own reader; empty means the second reader",
		bind:  func(c *Config) flag.Value { return text(&c.OperatorReader) }},
	{name: "smtp-url", env: "KIOSK_SMTP_URL", arg: "URL",
		usage: "mail relay, e.g. smtp://user:pass@relay.example:587?starttls=required or smtps://…; empty means the on-screen mailbox with --readers sim, else .eml files in --mail-dir",
		bind:  func(c *Config) flag.Value { return text(&c.SMTPURL) }},
	{name: "mail-from", env: "KIOSK_MAIL_FROM", arg: "ADDRESS",
		usage: "sender of the kiosk's emails (default Smartcard Service Centre <smartcard.servicecentre@nhs.net>)",
		bind:  func(c *Config) flag.Value { return text(&c.MailFrom) }},
	{name: "mail-dir", env: "KIOSK_MAIL_DIR", arg: "DIR",
		usage: "directory to write emails to as .eml files, for kiosks whose mail another program sends (used when --smtp-url is empty)",
		bind:  func(c *Config) flag.Value { return text(&c.MailDir) }},
	{name: "idle-timeout", env: "KIOSK_IDLE_TIMEOUT", arg: "DURATION",
		usage: "return an untouched screen to the start after this long, wiping what was typed",
		bind:  func(c *Config) flag.Value { return duration(&c.IdleTimeout, tui.MinIdleTimeout) }},
	{name: "idle-lock", env: "KIOSK_IDLE_LOCK", arg: "DURATION",
		usage: "operator terminal: lock a session left idle this long, asking for the operator's passcode again",
		bind:  func(c *Config) flag.Value { return duration(&c.IdleLock, minIdleLock) }},
	{name: "activity-codes", env: "KIOSK_ACTIVITY_CODES", arg: "LIST",
		usage: "import: RBAC activity codes a directory file may give besides the service's own (B0001, B0263, B0267, B1300), comma-separated",
		bind:  func(c *Config) flag.Value { return activityCodes(&c.ActivityCodes) }},
	{name: "allow-exit", env: "KIOSK_ALLOW_EXIT",
		usage: "let Ctrl+C quit the kiosk (development and demos only; the public must not leave it)",
		bind:  func(c *Config) flag.Value { return boolean(&c.AllowExit) }},
}

// use returns the named settings; a name that is not one is a bug.
func use(names ...string) []setting {
	out := make([]setting, 0, len(names))
	for _, n := range names {
		s, ok := lookupSetting(n)
		if !ok {
			panic("kiosk: no setting " + n)
		}
		out = append(out, s)
	}
	return out
}

func lookupSetting(name string) (setting, bool) {
	for _, s := range settings {
		if s.name == name {
			return s, true
		}
	}
	return setting{}, false
}

// value is a flag.Value that parses into a typed field.
type value[T any] struct {
	p      *T
	parse  func(string) (T, error)
	format func(T) string
}

func (v value[T]) String() string {
	if v.p == nil {
		return ""
	}
	return v.format(*v.p)
}

func (v value[T]) Set(s string) error {
	x, err := v.parse(s)
	if err != nil {
		return err
	}
	*v.p = x
	return nil
}

// switchValue is a boolean: --allow-exit alone means --allow-exit=true.
type switchValue struct{ value[bool] }

func (switchValue) IsBoolFlag() bool { return true }

func isSwitch(v flag.Value) bool {
	b, ok := v.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// Parse errors below are phrased to follow the setting's name, so that the
// reader learns which flag or variable to fix: "--readers must be …".

func text(p *string) flag.Value {
	return value[string]{p, func(s string) (string, error) { return s, nil }, same}
}

func same(s string) string { return s }

func boolean(p *bool) flag.Value {
	return switchValue{value[bool]{p, func(s string) (bool, error) {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return false, fmt.Errorf("must be true or false (got %q)", s)
		}
		return b, nil
	}, strconv.FormatBool}}
}

func duration(p *time.Duration, minimum time.Duration) flag.Value {
	return value[time.Duration]{p, func(s string) (time.Duration, error) {
		d, err := time.ParseDuration(s)
		if err != nil || d < minimum {
			return 0, fmt.Errorf("must be a duration of at least %ss, e.g. 120s (got %q)", strconv.FormatFloat(minimum.Seconds(), 'f', -1, 64), s)
		}
		return d, nil
	}, time.Duration.String}
}

// durationIn reads a duration from lo to hi; example shows one.
func durationIn(p *time.Duration, lo, hi time.Duration, example string) flag.Value {
	return value[time.Duration]{p, func(s string) (time.Duration, error) {
		d, err := time.ParseDuration(s)
		if err != nil || d < lo || d > hi {
			return 0, fmt.Errorf("must be a duration from %v to %v, e.g. %s (got %q)", lo, hi, example, s)
		}
		return d, nil
	}, time.Duration.String}
}

// count reads a whole number from lo to hi.
func count(p *int, lo, hi int) flag.Value {
	return value[int]{p, func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("must be a number from %d to %d (got %q)", lo, hi, s)
		}
		return n, nil
	}, strconv.Itoa}
}

func oneOf(p *string, choices ...string) flag.Value {
	return value[string]{p, func(s string) (string, error) {
		for _, c := range choices {
			if s == c {
				return s, nil
			}
		}
		return "", fmt.Errorf("must be %s (got %q)", orList(choices), s)
	}, same}
}

func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

func charset(p *domain.Charset) flag.Value {
	return value[domain.Charset]{p, func(s string) (domain.Charset, error) {
		c, err := domain.ParseCharset(s)
		if err != nil {
			return 0, fmt.Errorf("is not valid: %w", err)
		}
		return c, nil
	}, domain.Charset.String}
}

// domains reads a comma-separated list of email domains, normalised as
// the email policy compares them.
func domains(p *[]string) flag.Value {
	return value[[]string]{p, func(s string) ([]string, error) {
		var out []string
		for _, d := range strings.Split(s, ",") {
			if d = strings.ToLower(strings.Trim(strings.TrimSpace(d), ".")); d != "" {
				out = append(out, d)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("must name at least one approved email domain (got %q)", s)
		}
		return out, nil
	}, func(ds []string) string { return strings.Join(ds, ",") }}
}

// postgresURL checks the shape of a database URL; the server is asked
// only when a command connects. The password never appears in an error.
func postgresURL(p *string) flag.Value {
	return value[string]{p, func(s string) (string, error) {
		if s == "" {
			return "", nil
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" && u.Query().Get("host") == "" {
			return "", fmt.Errorf("must be a database URL like postgres://USER@HOST:PORT/DB (got %q)", connstr.Redact(s))
		}
		return s, nil
	}, same}
}

// parse reads a command's configuration: defaults, then the environment,
// then args; extra adds the command's own switches. It returns the
// arguments after the flags. A bad value is one error naming its flag or
// variable; a malformed command line (an unknown flag) is reported here,
// with a pointer to the help, as errUsage.
func (e *runEnv) parse(args []string, extra func(fs *flag.FlagSet)) ([]string, error) {
	cfg, noDataDir := defaultConfig(e.getenv)
	fs := flag.NewFlagSet("kiosk "+e.cmd.name, flag.ContinueOnError)
	// Errors and help are printed below, so that each is printed one way.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if extra != nil {
		extra(fs)
	}
	defaults := cfg // for the help
	var badValue error
	for _, s := range e.cmd.settings {
		v := s.bind(&cfg)
		set := func(x string) error {
			if err := v.Set(x); err != nil {
				badValue = fmt.Errorf("--%s %w", s.name, err)
				return err
			}
			return nil
		}
		if isSwitch(v) {
			fs.BoolFunc(s.name, s.usage, set)
		} else {
			fs.Func(s.name, s.usage, set)
		}
	}
	// An empty variable counts as unset, so a wrapper script can clear one.
	for _, s := range e.cmd.settings {
		if x := e.getenv(s.env); x != "" {
			if err := s.bind(&cfg).Set(x); err != nil {
				return nil, fmt.Errorf("%s %w", s.env, err)
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		switch {
		case errors.Is(err, flag.ErrHelp):
			e.cmd.usage(e.stderr, fs, &defaults)
			return nil, err
		case badValue != nil:
			return nil, badValue
		}
		fmt.Fprintf(e.stderr, "kiosk %s: %s (run 'kiosk %[1]s --help' for its flags)\n", e.cmd.name, flagError(err))
		return nil, errUsage
	}
	for _, s := range e.cmd.settings {
		if v := s.bind(&cfg); s.inDataDir != "" && v.String() == "" {
			if cfg.DataDir == "" {
				return nil, noDataDir
			}
			if err := v.Set(filepath.Join(cfg.DataDir, s.inDataDir)); err != nil {
				return nil, err
			}
		}
	}
	e.cfg = cfg
	return fs.Args(), nil
}

// flagError rewords the flag package's usual complaints with flags spelt
// as the help spells them.
func flagError(err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return "unknown flag --" + strings.TrimPrefix(name, "-")
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return "--" + strings.TrimPrefix(name, "-") + " needs a value"
	}
	return msg
}

// printFlags writes the help for a command's flags: its own switches (in
// fs), then its settings with their environment twins and their defaults
// (in defaults).
func printFlags(w io.Writer, fs *flag.FlagSet, settings []setting, defaults *Config) {
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := lookupSetting(f.Name); !ok {
			fmt.Fprintf(w, "  --%s\n    \t%s\n", f.Name, f.Usage)
		}
	})
	for _, s := range settings {
		head := "--" + s.name
		if s.arg != "" {
			head += " " + s.arg
		}
		fmt.Fprintf(w, "  %s  (env %s)\n    \t%s", head, s.env, s.usage)
		switch def := s.bind(defaults).String(); {
		case s.inDataDir != "":
			fmt.Fprintf(w, " (default %s in the data directory)", s.inDataDir)
		case def != "" && def != "false":
			fmt.Fprintf(w, " (default %q)", def)
		}
		fmt.Fprintln(w)
	}
}
