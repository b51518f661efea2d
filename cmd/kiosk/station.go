package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/smartcard-service-centre/kiosk/cardio"
	"github.com/smartcard-service-centre/kiosk/cardio/ca"
	"github.com/smartcard-service-centre/kiosk/cardio/pcsc"
	"github.com/smartcard-service-centre/kiosk/cardio/pivcard"
	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
)

// station is what both full-screen programs, the kiosk and the operator
// terminal, stand on: the log, the keys, the service CA, the store, the
// card readers (real, or the demo's tray) and the passcode policy.
type station struct {
	log       *slog.Logger
	keys      *secret.Keys
	ca        domain.CertificateAuthority
	store     domain.Store
	readers   *pivcard.Readers
	tray      *demoTray // --readers sim only
	passcodes domain.PasscodePolicy
	closers   []func()
}

// Close releases what openStation opened, last first.
func (s *station) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// openStation takes the terminal for what (e.g. "the kiosk") and opens
// everything it stands on. checkTray, if set, vets the demo's tray before
// it is used.
func (e *runEnv) openStation(ctx context.Context, what string, checkTray func(*demoTray, domain.Store) error) (_ *station, err error) {
	if !e.terminal() {
		return nil, fmt.Errorf("%s needs a terminal to draw on (run it in a console, not with output redirected)", what)
	}
	if !e.cfg.AllowExit {
		// Until the UI puts the terminal in raw mode (and while it starts:
		// the store may take seconds to answer), Ctrl+C, Ctrl+\ and Ctrl+Z
		// would be signals: nobody at the terminal may stop or suspend it.
		signal.Ignore(os.Interrupt, syscall.SIGQUIT, syscall.SIGTSTP)
	}
	s := &station{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	log, closeLog, err := e.logger()
	if err != nil {
		return nil, err
	}
	s.log, s.closers = log, append(s.closers, closeLog)
	if s.keys, err = secret.LoadKEK(e.cfg.KEKFile); err != nil {
		return nil, err
	}
	authority, err := ca.Load(e.cfg.CADir)
	if err != nil {
		return nil, fmt.Errorf("load the service certificate authority (--ca-dir): %w", err)
	}
	s.ca = ca.ForDomain(authority)
	if s.store, err = e.openStore(ctx, s.keys, log); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() { s.store.Close() })

	var readers cardio.Readers
	switch e.cfg.Readers {
	case "sim":
		t, err := newDemoTray(ctx, s.store, e.cfg.CardsDir)
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, func() { t.Close() })
		if checkTray != nil {
			if err := checkTray(t, s.store); err != nil {
				return nil, err
			}
		}
		readers, s.tray = t.tray, t
	default:
		p := pcsc.New(log)
		s.closers = append(s.closers, func() { p.Close() })
		readers = p
	}
	s.readers = pivcard.NewReaders(readers, e.assignment())
	s.passcodes = domain.DefaultPasscodePolicy()
	s.passcodes.Charset = e.cfg.PasscodeCharset
	return s, nil
}

// errStopped reports how a full-screen program ended: nil for a normal
// end (the UI quit, or the context ended), else the error, logged.
func errStopped(log *slog.Logger, what string, err error) error {
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error(what+" stopped", "err", err)
		return err
	}
	return nil
}
