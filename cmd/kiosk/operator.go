package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sync/errgroup"

	"github.com/smartcard-service-centre/kiosk/cardio"
	"github.com/smartcard-service-centre/kiosk/cardio/ca"
	"github.com/smartcard-service-centre/kiosk/cardio/pcsc"
	"github.com/smartcard-service-centre/kiosk/cardio/pivcard"
	"github.com/smartcard-service-centre/kiosk/domain"
	opsvc "github.com/smartcard-service-centre/kiosk/domain/operator"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
	tuidemo "github.com/smartcard-service-centre/kiosk/tui/demo"
	"github.com/smartcard-service-centre/kiosk/tui/operator"
)

// cmdOperator is the Registration Authority's operator terminal: the
// operator's own card in one reader, the card holder's in the other.
func cmdOperator(ctx context.Context, e *runEnv, args []string) error {
	if _, err := e.parse(args, nil); err != nil {
		return err
	}
	if !e.terminal() {
		return errors.New("the operator terminal needs a terminal to draw on (run it in a console, not with output redirected)")
	}
	if !e.cfg.AllowExit {
		// As the kiosk: until the UI takes the terminal, Ctrl+C, Ctrl+\
		// and Ctrl+Z would be signals; the terminal must not stop.
		signal.Ignore(os.Interrupt, syscall.SIGQUIT, syscall.SIGTSTP)
	}
	log, closeLog, err := e.logger()
	if err != nil {
		return err
	}
	defer closeLog()
	keys, err := secret.LoadKEK(e.cfg.KEKFile)
	if err != nil {
		return err
	}
	authority, err := ca.Load(e.cfg.CADir)
	if err != nil {
		return fmt.Errorf("load the service certificate authority (--ca-dir): %w", err)
	}
	store, err := e.openStore(ctx, keys, log)
	if err != nil {
		return err
	}
	defer store.Close()

	var (
		readers cardio.Readers
		tray    *demoTray // --readers sim only
	)
	switch e.cfg.Readers {
	case "sim":
		t, err := newDemoTray(ctx, store, e.cfg.CardsDir)
		if err != nil {
			return err
		}
		defer t.Close()
		if err := t.checkLogInCerts(ctx, store, e.cfg.DataDir); err != nil {
			return err
		}
		readers, tray = t.tray, t
	default:
		p := pcsc.New(log)
		defer p.Close()
		readers = p
	}
	cardReaders := pivcard.NewReaders(readers, e.assignment())

	passcodes := domain.DefaultPasscodePolicy()
	passcodes.Charset = e.cfg.PasscodeCharset
	// Card writes are recorded write-ahead with the terminal's spool, as
	// at the kiosk; what the last run left is recovered first.
	journal, _, err := e.journal(store, log.With("part", "cardwrite"), nil)
	if err != nil {
		return err
	}
	rec, err := recoverWrites(ctx, journal)
	logRecovery(log, rec, err)
	svc := opsvc.New(opsvc.Config{
		Store: store, Keys: keys, CA: ca.ForDomain(authority), Log: log.With("part", "operator"),
		Passcodes: passcodes, IdleLock: e.cfg.IdleLock, Terminal: e.cfg.Terminal, Journal: journal,
	})
	opts := operator.Options{Service: svc, Readers: cardReaders, AllowExit: e.cfg.AllowExit, Log: log.With("part", "tui")}
	// The real terminal runs bare; the demo wraps it in its card tray,
	// whose keys reach both readers.
	runUI := func(ctx context.Context) error { return operator.Run(ctx, opts, nil) }
	if tray != nil {
		d := tuidemo.Options{Tray: tray, Log: log.With("part", "demo")}
		runUI = func(ctx context.Context) error { return tuidemo.RunOperator(ctx, opts, d) }
	}
	log.Info("operator terminal starting", "readers", e.cfg.Readers, "version", version)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		journal.Watch(gctx, spoolReplayEvery)
		return nil
	})
	g.Go(func() error {
		defer cancel()
		return runUI(gctx)
	})
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("operator terminal stopped", "err", err)
		return err
	}
	return nil
}
