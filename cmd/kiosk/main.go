// Command kiosk is the Smartcard Service Centre: the self-service kiosk and
// the operator terminal for identity smartcards, and the tools to run them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	// SIGINT is for the command-line tools; the kiosk ignores it unless
	// --allow-exit (see cmdRun). A closed terminal (SIGHUP) stops anything.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one subcommand.
type command struct {
	name, args, summary string
	settings            []setting // what it reads: its flags and their environment twins
	run                 func(ctx context.Context, env *runEnv, args []string) error
}

// runEnv is what a command gets: where to write and the environment;
// parse fills cfg.
type runEnv struct {
	cmd    *command
	cfg    Config
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// isTerminal, if set, replaces the check that stdin and stdout are a
	// terminal (tests).
	isTerminal func() bool
}

// commands are the subcommands, each with the settings it reads.
var commands = []command{
	{"run", "", "run the self-service kiosk (the default when no command is given)", use(
		"data-dir", "database-url", "db", "db-connect-timeout", "db-max-conns", "kek-file", "log-file", "terminal", "ca-dir", "cards-dir",
		"passcode-charset", "email-domains", "readers", "holder-reader", "operator-reader",
		"smtp-url", "mail-from", "mail-dir", "idle-timeout", "allow-exit"), cmdRun},
	{"operator", "", "run the operator terminal for Registration Authority staff (their own card in one reader, the card holder's in the other)", use(
		"data-dir", "database-url", "db", "db-connect-timeout", "db-max-conns", "kek-file", "log-file", "terminal", "ca-dir", "cards-dir",
		"passcode-charset", "readers", "holder-reader", "operator-reader", "idle-lock", "allow-exit"), cmdOperator},
	{"migrate", "", "bring the PostgreSQL schema up to date and grant the kiosk's role its rights (the embedded store migrates itself)", use(
		"data-dir", "database-url", "db", "db-connect-timeout", "db-max-conns", "app-role", "log-file", "terminal"), cmdMigrate},
	{"seed", "--demo", "load the demo personas into the store (safe to run again)", use(
		"data-dir", "database-url", "db", "db-connect-timeout", "db-max-conns", "kek-file", "log-file", "terminal", "ca-dir", "cards-dir"), cmdSeed},
	{"keygen", "[--if-missing]", "create the key-encryption key file for card secrets", use(
		"data-dir", "kek-file"), cmdKeygen},
	{"import", "FILE.csv", "import users, their positions and cards from the organisation's directory (all or nothing; importing the same file again changes nothing)", use(
		"data-dir", "database-url", "db", "db-connect-timeout", "db-max-conns", "kek-file", "log-file", "terminal", "activity-codes"), cmdImport},
	{"users", "[QUERY]", "find users by 12-digit ID or name and show their cards", use(
		"data-dir", "database-url", "db", "db-connect-timeout", "db-max-conns"), cmdUsers},
	{"cards", "", "list the card readers and the cards in them (run this first at a booth)", use(
		"data-dir", "database-url", "db", "db-connect-timeout", "db-max-conns", "holder-reader", "operator-reader"), cmdCards},
	{"audit", "verify", "check that no row of the audit trail was changed, inserted or deleted", use(
		"data-dir", "database-url", "db", "db-connect-timeout", "db-max-conns", "kek-file"), cmdAudit},
	{"recover", "", "write the card changes this kiosk kept while the database was away, and list those still open (the kiosk also does this at start-up)", use(
		"data-dir", "database-url", "db", "db-connect-timeout", "db-max-conns", "kek-file", "log-file", "terminal"), cmdRecover},
	{"version", "", "print the version", nil, cmdVersion},
}

func lookupCommand(name string) (*command, bool) {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i], true
		}
	}
	return nil, false
}

// errUsage means the command line was wrong; usage has been printed.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	name, args, err := splitCommand(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(stderr, getenv)
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "kiosk: %s (run 'kiosk help' for the flags)\n", flagError(err))
		return 2
	case name == "help":
		usage(stdout, getenv)
		return 0
	}
	c, ok := lookupCommand(name)
	if !ok {
		fmt.Fprintf(stderr, "kiosk: unknown command %q (run 'kiosk help' for the list)\n", name)
		return 2
	}
	err = c.run(ctx, &runEnv{cmd: c, stdout: stdout, stderr: stderr, getenv: getenv}, args)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	// One line whatever the layers below wrote, so a log scraper or a person sees one error.
	fmt.Fprintf(stderr, "kiosk %s: %s\n", c.name, strings.Join(strings.Fields(err.Error()), " "))
	return 1
}

// splitCommand finds the command in args ("run" when there is none) and
// returns it with the arguments it gets. Flags may come before the command
// name (kiosk --database-url … migrate): they go to the command, which
// accepts only its own.
func splitCommand(args []string) (name string, rest []string, err error) {
	// Any setting's name is accepted here, with any value: this pass only
	// tells flag values from the command name.
	scan := flag.NewFlagSet("kiosk", flag.ContinueOnError)
	scan.SetOutput(io.Discard)
	scan.Usage = func() {}
	var scratch Config
	for _, s := range settings {
		if isSwitch(s.bind(&scratch)) {
			scan.BoolFunc(s.name, "", func(string) error { return nil })
		} else {
			scan.Func(s.name, "", func(string) error { return nil })
		}
	}
	if err := scan.Parse(args); err != nil {
		return "", nil, err
	}
	lead := args[:len(args)-scan.NArg()]
	if n := len(lead); n > 0 && lead[n-1] == "--" {
		lead = lead[:n-1]
	}
	name, after := "run", scan.Args()
	if len(after) > 0 {
		name, after = after[0], after[1:]
	}
	return name, append(slices.Clip(lead), after...), nil
}

func usage(w io.Writer, getenv func(string) string) {
	fmt.Fprint(w, `Smartcard Service Centre: unlock, register, change passcode and renew
certificates on identity smartcards.

Usage: kiosk [COMMAND] [flags]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %-15s %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprint(w, `
With no command, kiosk runs the self-service kiosk. Each command takes only
the flags it uses: run 'kiosk COMMAND --help' for them. Every setting can
also be set by the environment variable beside it; a flag wins over its
variable, and an empty variable counts as unset.

Flags of the kiosk itself (kiosk run):
`)
	run, _ := lookupCommand("run")
	defaults, _ := defaultConfig(getenv)
	printFlags(w, flag.NewFlagSet("", flag.ContinueOnError), run.settings, &defaults)
}

// usage prints the command's help: fs holds its flags, defaults the
// settings' values before the environment and flags.
func (c *command) usage(w io.Writer, fs *flag.FlagSet, defaults *Config) {
	line := "Usage: kiosk " + c.name
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		line += " [flags]"
	}
	if c.args != "" {
		line += " " + c.args
	}
	fmt.Fprintf(w, "%s\n\n%s.\n", line, capitalise(c.summary))
	if hasFlags {
		fmt.Fprint(w, "\nFlags (each setting's environment variable is beside it; a flag wins over its variable):\n")
		printFlags(w, fs, c.settings, defaults)
	}
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
