package main

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/smartcard-service-centre/kiosk/domain"
	opsvc "github.com/smartcard-service-centre/kiosk/domain/operator"
	tuidemo "github.com/smartcard-service-centre/kiosk/tui/demo"
	"github.com/smartcard-service-centre/kiosk/tui/operator"
)

// cmdOperator is the Registration Authority's operator terminal: the
// operator's own card in one reader, the card holder's in the other.
func cmdOperator(ctx context.Context, e *runEnv, args []string) error {
	if _, err := e.parse(args, nil); err != nil {
		return err
	}
	st, err := e.openStation(ctx, "the operator terminal", func(t *demoTray, store domain.Store) error {
		return t.checkLogInCerts(ctx, store, e.cfg.DataDir)
	})
	if err != nil {
		return err
	}
	defer st.Close()
	log, keys, store, cardReaders, tray, passcodes := st.log, st.keys, st.store, st.readers, st.tray, st.passcodes

	// Card writes are recorded write-ahead with the terminal's spool, as
	// at the kiosk; what the last run left is recovered first.
	journal, _, err := e.journal(store, log.With("part", "cardwrite"), nil)
	if err != nil {
		return err
	}
	rec, err := recoverWrites(ctx, journal)
	logRecovery(log, rec, err)
	svc := opsvc.New(opsvc.Config{
		Store: store, Keys: keys, CA: st.ca, Log: log.With("part", "operator"),
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
	return errStopped(log, "operator terminal", g.Wait())
}
