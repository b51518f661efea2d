package main

import (
	"bytes"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/storage/postgres"
)

func TestDefaultDataDir(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr bool
	}{
		{"XDG_DATA_HOME", map[string]string{"XDG_DATA_HOME": "/srv/xdg", "HOME": "/home/kiosk"}, "/srv/xdg/smartcard-kiosk", false},
		{"home", map[string]string{"HOME": "/home/kiosk"}, "/home/kiosk/.local/share/smartcard-kiosk", false},
		// The XDG rules say a relative path is invalid and to be ignored.
		{"relative XDG_DATA_HOME ignored", map[string]string{"XDG_DATA_HOME": "relative/dir", "HOME": "/home/kiosk"}, "/home/kiosk/.local/share/smartcard-kiosk", false},
		// Never a shared directory such as /tmp: an error instead.
		{"no home", map[string]string{}, "", true},
		{"relative home", map[string]string{"HOME": "home/kiosk"}, "", true},
		{"no home, relative XDG_DATA_HOME", map[string]string{"XDG_DATA_HOME": "relative/dir"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := defaultDataDir(func(k string) string { return tt.env[k] })
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Fatalf("defaultDataDir() = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "--data-dir") {
				t.Errorf("error %q does not say how to fix it", err)
			}
		})
	}
}

// helpFlags returns the flags a help text lists, in order, each with the
// line that names it, and the help itself.
func helpFlags(t *testing.T, args ...string) (names []string, lines map[string]string, help string) {
	t.Helper()
	_, help, code := runKiosk(t, map[string]string{"HOME": "/home/kiosk"}, args...)
	if code != 0 {
		t.Fatalf("kiosk %s: exit %d\n%s", strings.Join(args, " "), code, help)
	}
	lines = map[string]string{}
	for _, l := range strings.Split(help, "\n") {
		if rest, ok := strings.CutPrefix(l, "  --"); ok {
			name := strings.Fields(rest)[0]
			names = append(names, name)
			lines[name] = l
		}
	}
	return names, lines, help
}

// Each command lists exactly the flags it uses, every setting with its
// environment twin.
func TestCommandHelp(t *testing.T) {
	store := []string{"data-dir", "database-url", "db", "db-connect-timeout", "db-max-conns"}
	kiosk := slices.Concat(store, []string{"kek-file", "log-file", "terminal", "ca-dir", "cards-dir",
		"passcode-charset", "email-domains", "readers", "holder-reader", "operator-reader",
		"smtp-url", "mail-from", "mail-dir", "idle-timeout", "allow-exit"})
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"seed", "--help"}, slices.Concat([]string{"demo"}, store, []string{"kek-file", "log-file", "terminal", "ca-dir", "cards-dir"})},
		{[]string{"migrate", "--help"}, slices.Concat(store, []string{"app-role", "log-file", "terminal"})},
		{[]string{"audit", "--help"}, slices.Concat(store, []string{"kek-file"})},
		{[]string{"keygen", "-h"}, []string{"if-missing", "data-dir", "kek-file"}},
		{[]string{"users", "--help"}, store},
		{[]string{"cards", "--help"}, slices.Concat(store, []string{"holder-reader", "operator-reader"})},
		{[]string{"version", "--help"}, nil},
		{[]string{"run", "--help"}, kiosk},
		{[]string{"operator", "--help"}, slices.Concat(store, []string{"kek-file", "log-file", "terminal", "ca-dir", "cards-dir",
			"passcode-charset", "readers", "holder-reader", "operator-reader", "idle-lock", "allow-exit"})},
		{[]string{"--help"}, kiosk}, // the top level is the kiosk itself
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, lines, help := helpFlags(t, tt.args...)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("help lists %v, want %v:\n%s", got, tt.want, help)
			}
			for _, name := range got {
				if s, ok := lookupSetting(name); ok && !strings.Contains(lines[name], "(env "+s.env+")") {
					t.Errorf("--%s is not shown with its variable %s: %q", name, s.env, lines[name])
				}
			}
		})
	}
}

// kiosk seed --help, as the issue puts it: no kiosk-only flag.
func TestSeedHelpShowsOnlySeedingFlags(t *testing.T) {
	_, _, help := helpFlags(t, "seed", "--help")
	for _, kioskOnly := range []string{"--allow-exit", "--idle-timeout", "--holder-reader", "--operator-reader",
		"--readers", "--smtp-url", "--mail-from", "--mail-dir", "--passcode-charset", "--email-domains"} {
		if strings.Contains(help, kioskOnly) {
			t.Errorf("seed --help mentions %s:\n%s", kioskOnly, help)
		}
	}
}

// parseAs parses args for the named command with only the given
// environment.
func parseAs(t *testing.T, name string, env map[string]string, args ...string) (Config, []string, string, error) {
	t.Helper()
	c, ok := lookupCommand(name)
	if !ok {
		t.Fatalf("no command %s", name)
	}
	var stderr bytes.Buffer
	e := &runEnv{cmd: c, stdout: &stderr, stderr: &stderr, getenv: func(k string) string { return env[k] }}
	rest, err := e.parse(args, nil)
	return e.cfg, rest, stderr.String(), err
}

// Defaults, then the environment, then flags; each value typed once.
func TestConfigPrecedence(t *testing.T) {
	home := map[string]string{"HOME": "/home/kiosk"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{"HOME": "/home/kiosk"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(Config) any
		want  any
	}{
		{"idle default", home, nil, func(c Config) any { return c.IdleTimeout }, 120 * time.Second},
		{"idle env", with("KIOSK_IDLE_TIMEOUT", "75s"), nil, func(c Config) any { return c.IdleTimeout }, 75 * time.Second},
		{"idle flag wins", with("KIOSK_IDLE_TIMEOUT", "75s"), []string{"--idle-timeout", "2m"}, func(c Config) any { return c.IdleTimeout }, 2 * time.Minute},
		{"empty env is unset", with("KIOSK_IDLE_TIMEOUT", ""), nil, func(c Config) any { return c.IdleTimeout }, 120 * time.Second},
		{"allow-exit default", home, nil, func(c Config) any { return c.AllowExit }, false},
		{"allow-exit env", with("KIOSK_ALLOW_EXIT", "true"), nil, func(c Config) any { return c.AllowExit }, true},
		{"allow-exit switch", home, []string{"--allow-exit"}, func(c Config) any { return c.AllowExit }, true},
		{"allow-exit flag wins", with("KIOSK_ALLOW_EXIT", "true"), []string{"-allow-exit=false"}, func(c Config) any { return c.AllowExit }, false},
		{"charset default", home, nil, func(c Config) any { return c.PasscodeCharset }, domain.CharsetPrintable},
		{"charset env", with("KIOSK_PASSCODE_CHARSET", "numeric"), nil, func(c Config) any { return c.PasscodeCharset }, domain.CharsetNumeric},
		{"charset flag wins", with("KIOSK_PASSCODE_CHARSET", "numeric"), []string{"--passcode-charset", "alphanumeric"}, func(c Config) any { return c.PasscodeCharset }, domain.CharsetAlphanumeric},
		{"domains default", home, nil, func(c Config) any { return c.EmailDomains }, []string{"nhs.net", "nhs.uk", "gov.uk", "mod.uk"}},
		{"domains env", with("KIOSK_EMAIL_DOMAINS", " NHS.net., example.org ,"), nil, func(c Config) any { return c.EmailDomains }, []string{"nhs.net", "example.org"}},
		{"domains flag wins", with("KIOSK_EMAIL_DOMAINS", "nhs.net"), []string{"--email-domains=gov.uk"}, func(c Config) any { return c.EmailDomains }, []string{"gov.uk"}},
		{"readers env", with("KIOSK_READERS", "sim"), nil, func(c Config) any { return c.Readers }, "sim"},
		{"readers flag wins", with("KIOSK_READERS", "sim"), []string{"--readers", "pcsc"}, func(c Config) any { return c.Readers }, "pcsc"},
		{"database url env", with("KIOSK_DATABASE_URL", "postgres://k@db/k"), nil, func(c Config) any { return c.DatabaseURL }, "postgres://k@db/k"},
		{"database url flag wins", with("KIOSK_DATABASE_URL", "postgres://k@db/k"), []string{"--database-url", "postgresql://k@db2/k"}, func(c Config) any { return c.DatabaseURL }, "postgresql://k@db2/k"},
		{"terminal env", with("KIOSK_TERMINAL", "booth-3"), nil, func(c Config) any { return c.Terminal }, "booth-3"},
		{"terminal flag wins", with("KIOSK_TERMINAL", "booth-3"), []string{"--terminal", "booth-4"}, func(c Config) any { return c.Terminal }, "booth-4"},
		{"mail env", with("KIOSK_SMTP_URL", "smtp://relay", "KIOSK_MAIL_FROM", "a@nhs.net", "KIOSK_MAIL_DIR", "/m"), nil,
			func(c Config) any { return []string{c.SMTPURL, c.MailFrom, c.MailDir} }, []string{"smtp://relay", "a@nhs.net", "/m"}},
		{"db settings default", home, nil, func(c Config) any { return []any{c.DBConnectTimeout, c.DBMaxConns} },
			[]any{postgres.DefaultConnectTimeout, postgres.DefaultMaxConns}},
		{"db settings env", with("KIOSK_DB_CONNECT_TIMEOUT", "4s", "KIOSK_DB_MAX_CONNS", "8"), nil,
			func(c Config) any { return []any{c.DBConnectTimeout, c.DBMaxConns} }, []any{4 * time.Second, 8}},
		{"db settings flags win", with("KIOSK_DB_CONNECT_TIMEOUT", "4s", "KIOSK_DB_MAX_CONNS", "8"),
			[]string{"--db-connect-timeout", "1500ms", "--db-max-conns=2"},
			func(c Config) any { return []any{c.DBConnectTimeout, c.DBMaxConns} }, []any{1500 * time.Millisecond, 2}},
		{"readers by name", with("KIOSK_HOLDER_READER", "Front", "KIOSK_OPERATOR_READER", "Desk"), []string{"--operator-reader", "Back"},
			func(c Config) any { return []string{c.HolderReader, c.OperatorReader} }, []string{"Front", "Back"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, _, err := parseAs(t, "run", tt.env, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.check(cfg); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// One data directory holds every file by default, whichever store is
// used; each file's own setting still wins.
func TestDataDirPaths(t *testing.T) {
	paths := func(c Config) []string { return []string{c.DBPath, c.KEKFile, c.LogFile, c.CADir, c.CardsDir} }
	in := func(dir string) []string {
		return []string{filepath.Join(dir, "kiosk.db"), filepath.Join(dir, "kek"), filepath.Join(dir, "kiosk.log"), filepath.Join(dir, "ca"), filepath.Join(dir, "cards")}
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"XDG default", map[string]string{"HOME": "/home/k"}, nil, in("/home/k/.local/share/smartcard-kiosk")},
		{"XDG_DATA_HOME", map[string]string{"HOME": "/home/k", "XDG_DATA_HOME": "/xdg"}, nil, in("/xdg/smartcard-kiosk")},
		{"env", map[string]string{"KIOSK_DATA_DIR": "/d"}, nil, in("/d")},
		{"flag wins", map[string]string{"KIOSK_DATA_DIR": "/d"}, []string{"--data-dir", "/f"}, in("/f")},
		{"with PostgreSQL too", map[string]string{"KIOSK_DATA_DIR": "/d", "KIOSK_DATABASE_URL": "postgres://k@db/k"}, nil, in("/d")},
		{"each file's own setting", map[string]string{"KIOSK_DATA_DIR": "/d", "KIOSK_DB": "/s/k.db", "KIOSK_CA_DIR": "/ca"},
			[]string{"--kek-file", "/etc/kek", "--log-file", "-", "--cards-dir", "/c"},
			[]string{"/s/k.db", "/etc/kek", "-", "/ca", "/c"}},
		{"no home but every file set", map[string]string{},
			[]string{"--db", "/a", "--kek-file", "/b", "--log-file", "/c", "--ca-dir", "/d", "--cards-dir", "/e"},
			[]string{"/a", "/b", "/c", "/d", "/e"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, _, err := parseAs(t, "run", tt.env, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if got := paths(cfg); !slices.Equal(got, tt.want) {
				t.Fatalf("paths %v, want %v", got, tt.want)
			}
		})
	}
	// A file whose default is needed, and no home: a clear error, never /tmp.
	_, _, _, err := parseAs(t, "keygen", map[string]string{})
	if err == nil || !strings.Contains(err.Error(), "no data directory") {
		t.Fatalf("keygen without a home: %v", err)
	}
	// A command that needs no file needs no home.
	if _, _, _, err := parseAs(t, "version", map[string]string{}); err != nil {
		t.Fatalf("version without a home: %v", err)
	}
}

// A bad value is one line naming the flag or the variable it came from,
// whichever command reads it.
func TestBadValues(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"idle flag", nil, []string{"--idle-timeout", "2s"}, "--idle-timeout must be a duration of at least 60s"},
		{"idle flag not a duration", nil, []string{"--idle-timeout=soon"}, `--idle-timeout must be a duration of at least 60s, e.g. 120s (got "soon")`},
		{"idle env", map[string]string{"KIOSK_IDLE_TIMEOUT": "2s"}, nil, "KIOSK_IDLE_TIMEOUT must be a duration"},
		{"allow-exit env", map[string]string{"KIOSK_ALLOW_EXIT": "yes please"}, nil, `KIOSK_ALLOW_EXIT must be true or false (got "yes please")`},
		{"allow-exit flag", nil, []string{"--allow-exit=maybe"}, `--allow-exit must be true or false (got "maybe")`},
		{"readers flag before the command", nil, []string{"--readers", "usb", "run"}, `--readers must be pcsc or sim (got "usb")`},
		{"readers env", map[string]string{"KIOSK_READERS": "usb"}, nil, "KIOSK_READERS must be pcsc or sim"},
		{"charset flag", nil, []string{"--passcode-charset", "emoji"}, `--passcode-charset is not valid: passcode charset "emoji"`},
		{"charset env", map[string]string{"KIOSK_PASSCODE_CHARSET": "emoji"}, nil, "KIOSK_PASSCODE_CHARSET is not valid"},
		{"domains flag", nil, []string{"--email-domains", " , ."}, "--email-domains must name at least one approved email domain"},
		{"database url flag", nil, []string{"migrate", "--database-url", "mysql://k:hunter2@db/k"}, `--database-url must be a database URL like postgres://USER@HOST:PORT/DB (got "mysql://k:xxxxx@db/k")`},
		{"database url env", map[string]string{"KIOSK_DATABASE_URL": "db.example"}, []string{"users"}, "KIOSK_DATABASE_URL must be a database URL"},
		{"connect timeout flag", nil, []string{"users", "--db-connect-timeout", "0s"}, `--db-connect-timeout must be a duration from 500ms to 1m0s, e.g. 2.5s (got "0s")`},
		{"connect timeout env", map[string]string{"KIOSK_DB_CONNECT_TIMEOUT": "soon"}, []string{"migrate"}, "KIOSK_DB_CONNECT_TIMEOUT must be a duration"},
		{"max conns flag", nil, []string{"users", "--db-max-conns", "0"}, `--db-max-conns must be a number from 1 to 100 (got "0")`},
		{"max conns env", map[string]string{"KIOSK_DB_MAX_CONNS": "many"}, []string{"audit", "verify"}, "KIOSK_DB_MAX_CONNS must be a number"},
		{"a bad flag over a good variable", map[string]string{"KIOSK_READERS": "sim"}, []string{"--readers", "usb"}, "--readers must be pcsc or sim"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"HOME": t.TempDir()}
			for k, v := range tt.env {
				env[k] = v
			}
			_, stderr, code := runKiosk(t, env, tt.args...)
			oneLine(t, stderr, code, tt.want)
			if strings.Contains(stderr, "hunter2") {
				t.Errorf("password echoed: %q", stderr)
			}
		})
	}
}

// A command takes only its own flags, before or after its name; a
// variable it does not read is ignored.
func TestFlagsOfOtherCommands(t *testing.T) {
	env := map[string]string{"HOME": t.TempDir(), "KIOSK_IDLE_TIMEOUT": "not read by keygen"}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"seed", "--demo", "--allow-exit"}, "kiosk seed: unknown flag --allow-exit (run 'kiosk seed --help' for its flags)"},
		{[]string{"--holder-reader", "Front", "seed"}, "kiosk seed: unknown flag --holder-reader"},
		{[]string{"--bogus"}, "kiosk: unknown flag --bogus (run 'kiosk help' for the flags)"},
		{[]string{"keygen", "--kek-file"}, "kiosk keygen: --kek-file needs a value"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, stderr, code := runKiosk(t, env, tt.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			oneLine(t, stderr, code, tt.want)
		})
	}
	// Flags before the command's name still reach it.
	dir := t.TempDir()
	if _, stderr, code := runKiosk(t, env, "--data-dir", dir, "keygen"); code != 0 {
		t.Fatalf("keygen: %s", stderr)
	}
	cfg, rest, _, err := parseAs(t, "users", env, "--db", "/x.db", "Test", "Person")
	if err != nil || cfg.DBPath != "/x.db" || !slices.Equal(rest, []string{"Test", "Person"}) {
		t.Fatalf("users: %v %v %v", cfg.DBPath, rest, err)
	}
}

// Every setting is read by some command, and every command reading a file
// in the data directory also takes --data-dir.
func TestSettingsTable(t *testing.T) {
	used := map[string]bool{}
	for _, c := range commands {
		names := map[string]bool{}
		for _, s := range c.settings {
			if names[s.name] {
				t.Errorf("%s lists --%s twice", c.name, s.name)
			}
			names[s.name], used[s.name] = true, true
			if s.inDataDir != "" && !slices.ContainsFunc(c.settings, func(s setting) bool { return s.name == "data-dir" }) {
				t.Errorf("%s reads --%s but not --data-dir", c.name, s.name)
			}
		}
	}
	for _, s := range settings {
		if !used[s.name] {
			t.Errorf("no command reads --%s", s.name)
		}
		if want := "KIOSK_" + strings.ToUpper(strings.ReplaceAll(s.name, "-", "_")); s.env != want {
			t.Errorf("--%s has variable %s, want %s", s.name, s.env, want)
		}
	}
}
