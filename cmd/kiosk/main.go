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
	run                 func(ctx context.Context, env *runEnv, args []string) error
}

// runEnv is what a command gets: settings and where to write.
type runEnv struct {
	cfg         Config
	stdout      io.Writer
	stderr      io.Writer
	newFlagSet  func(name string) *flag.FlagSet
	getenv      func(string) string
	commandName string
	// isTerminal, if set, replaces the check that stdin and stdout are a
	// terminal (tests).
	isTerminal func() bool
}

var commands []command

func init() {
	commands = []command{
		{"run", "", "run the self-service kiosk (the default when no command is given)", cmdRun},
		{"migrate", "", "bring the PostgreSQL schema up to date (the embedded store migrates itself)", cmdMigrate},
		{"seed", "--demo", "load the demo personas into the store (safe to run again)", cmdSeed},
		{"keygen", "[--if-missing]", "create the key-encryption key file for card secrets", cmdKeygen},
		{"users", "[QUERY]", "find users by 12-digit ID or name and show their cards", cmdUsers},
		{"cards", "", "list the card readers and the cards in them (run this first at a booth)", cmdCards},
		{"version", "", "print the version", cmdVersion},
	}
}

// errUsage means the command line was wrong; usage has been printed.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg := defaultConfig()
	cfg.fromEnv(getenv)
	env := &runEnv{stdout: stdout, stderr: stderr, getenv: getenv}

	top := flag.NewFlagSet("kiosk", flag.ContinueOnError)
	top.SetOutput(stderr)
	cfg.register(top)
	top.Usage = func() { usage(top, stderr) }
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	rest := top.Args()
	if len(rest) == 0 {
		rest = []string{"run"}
	}
	name := rest[0]
	if name == "help" {
		usage(top, stdout)
		return 0
	}
	for _, c := range commands {
		if c.name != name {
			continue
		}
		env.cfg = cfg
		env.commandName = c.name
		env.newFlagSet = func(n string) *flag.FlagSet {
			fs := flag.NewFlagSet("kiosk "+n, flag.ContinueOnError)
			fs.SetOutput(stderr)
			env.cfg.register(fs)
			fs.Usage = func() {
				fmt.Fprintf(stderr, "Usage: kiosk %s [flags] %s\n\n%s.\n\nFlags:\n", c.name, c.args, capitalise(c.summary))
				fs.PrintDefaults()
			}
			return fs
		}
		err := c.run(ctx, env, rest[1:])
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
	fmt.Fprintf(stderr, "kiosk: unknown command %q (run 'kiosk help' for the list)\n", name)
	return 2
}

func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprint(w, `Smartcard Service Centre: unlock, register, change passcode and renew
certificates on identity smartcards.

Usage: kiosk [flags] COMMAND [command flags]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %-14s %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprint(w, `
Every flag can also be set by the environment variable in brackets; a flag
wins over its variable. Run 'kiosk COMMAND --help' for a command's flags.

Flags:
`)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
