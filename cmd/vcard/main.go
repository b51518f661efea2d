// Command vcard serves a software PIV card (cardio/sim) to the vsmartcard
// virtual reader driver (vpcd) in pcscd, so that PC/SC applications — this
// kiosk, yubico-piv-tool, OpenSC — see it as a card in a reader.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio/sim"
	"github.com/smartcard-service-centre/kiosk/cardio/vpcd"
)

const usage = `vcard serves a software PIV smartcard to pcscd's virtual reader (vpcd).

While vcard runs, the card is "inserted" in the virtual reader; stopping
vcard (Ctrl+C or SIGTERM) removes it. The reader must exist first: install
the Debian package vsmartcard-vpcd and restart pcscd. Its readers are
"Virtual PCD 00 00" (port 35963) and "Virtual PCD 00 01" (port 35964).
vpcd accepts cards from the network: never install it on a production kiosk.

Usage:
  vcard [--addr HOST:PORT] [--card FILE | --save FILE] [--verbose]

Examples:
  vcard                          a new factory card (PIN 123456, PUK 12345678,
                                 default management key), forgotten on exit
  vcard --save alice.card        a new factory card, saved to alice.card
  vcard --card alice.card        the card saved in alice.card; changes made
                                 by PC/SC applications are written back to it
  vcard --addr 127.0.0.1:35964   use the second reader, "Virtual PCD 00 01"

Options:
`

type config struct {
	addr    string
	card    string
	save    string
	verbose bool
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("vcard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", vpcd.DefaultAddr, "where vpcd listens, as `HOST:PORT`; 35963 is reader \"Virtual PCD 00 00\", 35964 is \"... 00 01\"")
	fs.StringVar(&cfg.card, "card", "", "serve the card saved in `FILE`; changes are written back to it")
	fs.StringVar(&cfg.save, "save", "", "serve a new factory card and save it (and its changes) to `FILE`, which must not exist")
	fs.BoolVar(&cfg.verbose, "verbose", false, "log every command (header and status word only, never PINs)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q (see vcard --help)", fs.Arg(0))
	}
	if cfg.card != "" && cfg.save != "" {
		return cfg, errors.New("use either --card (an existing card) or --save (a new card), not both")
	}
	if cfg.addr == "" {
		return cfg, errors.New("--addr must not be empty")
	}
	return cfg, nil
}

// openCard returns the card to serve, set up to persist as configured.
func openCard(cfg config) (*sim.Card, error) {
	switch {
	case cfg.card != "":
		if _, err := os.Stat(cfg.card); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("card file %s does not exist (create one with --save %s)", cfg.card, cfg.card)
		}
		c, err := sim.Load(cfg.card) // its errors already say "load card"
		if err != nil {
			return nil, err
		}
		c.SetAutoSave(cfg.card)
		return c, nil
	case cfg.save != "":
		if _, err := os.Stat(cfg.save); err == nil {
			return nil, fmt.Errorf("%s already exists: serve it with --card %s, or choose a new file", cfg.save, cfg.save)
		}
		c := sim.New()
		if err := c.Save(cfg.save); err != nil {
			return nil, fmt.Errorf("save new card: %w", err)
		}
		c.SetAutoSave(cfg.save)
		return c, nil
	}
	return sim.New(), nil
}

// maxBackoff caps the wait between connection attempts.
const maxBackoff = 5 * time.Second

// serve keeps card inserted in vpcd at addr until ctx ends: it connects
// (retrying with backoff while vpcd is not up) and reconnects when pcscd
// drops the connection, e.g. on restart.
func serve(ctx context.Context, addr string, card vpcd.Card, log *slog.Logger) error {
	failures := 0
	for {
		conn, err := vpcd.Dial(ctx, addr)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if failures == 0 {
				log.Warn("vpcd not reachable; is pcscd running with vsmartcard-vpcd? retrying", "addr", addr, "err", err)
			} else {
				log.Debug("vpcd still not reachable", "addr", addr, "err", err)
			}
			wait := vpcd.Backoff(failures, maxBackoff)
			failures++
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			continue
		}
		failures = 0
		log.Info("card inserted into vpcd", "addr", addr)
		err = vpcd.Serve(ctx, conn, card, log)
		switch {
		case ctx.Err() != nil:
			log.Info("card removed from vpcd", "addr", addr)
			return nil
		case err != nil:
			log.Warn("connection to vpcd lost; reconnecting", "err", err)
		default:
			log.Warn("vpcd closed the connection (pcscd stopped?); reconnecting")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(vpcd.Backoff(0, maxBackoff)):
		}
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "vcard:", err)
		return 2
	}
	level := slog.LevelInfo
	if cfg.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	card, err := openCard(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "vcard:", err)
		return 1
	}
	if err := serve(ctx, cfg.addr, card, log); err != nil {
		fmt.Fprintln(stderr, "vcard:", err)
		return 1
	}
	return 0
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}
