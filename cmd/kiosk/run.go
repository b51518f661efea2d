package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/charmbracelet/x/term"
	"golang.org/x/sync/errgroup"

	"github.com/smartcard-service-centre/kiosk/cardio/pivcard"
	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/mail"
	"github.com/smartcard-service-centre/kiosk/tui"
	tuidemo "github.com/smartcard-service-centre/kiosk/tui/demo"
)

var errNoMailRelay = errors.New("no mail relay: set --smtp-url (or --mail-dir to write the emails as .eml files for another program to send)")

// cmdRun is the self-service kiosk itself: the default command.
func cmdRun(ctx context.Context, e *runEnv, args []string) error {
	if _, err := e.parse(args, nil); err != nil {
		return err
	}
	if e.cfg.Readers == "pcsc" && e.cfg.SMTPURL == "" && e.cfg.MailDir == "" {
		// Real readers and nowhere to send codes: nobody could unlock.
		return errNoMailRelay
	}
	st, err := e.openStation(ctx, "the kiosk", nil)
	if err != nil {
		return err
	}
	defer st.Close()
	log, keys, store, cardReaders, tray, passcodes := st.log, st.keys, st.store, st.readers, st.tray, st.passcodes

	transport, mailbox, err := e.mailTransport()
	if err != nil {
		return err
	}
	sender, err := mail.NewSender(mail.SenderConfig{Outbox: store, Transport: transport, Opener: keys, Logger: log.With("part", "mail"),
		Audit: store, Terminal: e.cfg.Terminal})
	if err != nil {
		return err
	}
	// Card writes are recorded write-ahead, with a spool for when the
	// store is away; what the last run left is recovered before the first
	// visit.
	journal, _, err := e.journal(store, log.With("part", "cardwrite"), sender.Notify)
	if err != nil {
		return err
	}
	rec, err := recoverWrites(ctx, journal)
	logRecovery(log, rec, err)
	svc := selfservice.New(selfservice.Config{
		Store: store, Keys: keys, CA: st.ca, Notify: sender.Notify,
		Log: log.With("part", "selfservice"), Passcodes: passcodes,
		Emails: domain.EmailPolicy{Domains: e.cfg.EmailDomains}, Terminal: e.cfg.Terminal,
		Journal: journal,
	})
	opts := tui.Options{
		Service: svc, Readers: cardReaders,
		IdleTimeout: e.cfg.IdleTimeout, AllowExit: e.cfg.AllowExit, Log: log.With("part", "tui"),
	}
	// The real kiosk runs bare; the demo wraps it in its card tray and
	// on-screen inbox.
	runUI := func(ctx context.Context) error { return tui.Run(ctx, opts) }
	if tray != nil {
		d := tuidemo.Options{Tray: tray, Mailbox: mailbox, Log: log.With("part", "demo")}
		runUI = func(ctx context.Context) error { return tuidemo.Run(ctx, opts, d) }
	}
	log.Info("kiosk starting", "readers", e.cfg.Readers, "mail", transport, "version", version)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return sender.Run(gctx) })
	g.Go(func() error {
		journal.Watch(gctx, spoolReplayEvery)
		return nil
	})
	g.Go(func() error {
		// The UI ending (Ctrl+C with --allow-exit) ends the sender too.
		defer cancel()
		return runUI(gctx)
	})
	return errStopped(log, "kiosk", g.Wait())
}

// assignment says which reader serves which role: the simulated readers
// by their names with --readers sim (whatever a setting made for real
// readers says), else by --holder-reader and --operator-reader.
func (e *runEnv) assignment() pivcard.Assignment {
	if e.cfg.Readers == "sim" {
		return pivcard.Assignment{Holder: simHolderReader, Operator: simOperatorReader}
	}
	return pivcard.Assignment{Holder: e.cfg.HolderReader, Operator: e.cfg.OperatorReader}
}

// terminal reports whether the kiosk can take over the screen.
func (e *runEnv) terminal() bool {
	if e.isTerminal != nil {
		return e.isTerminal()
	}
	return term.IsTerminal(os.Stdin.Fd()) && term.IsTerminal(os.Stdout.Fd())
}

// mailTransport chooses where mail goes: an SMTP relay if one is set;
// otherwise the on-screen mailbox for the demo's simulated readers, or
// .eml files in the mail directory.
func (e *runEnv) mailTransport() (mail.Transport, tuidemo.Mailbox, error) {
	switch {
	case e.cfg.SMTPURL != "":
		t, err := mail.NewSMTP(mail.SMTPConfig{URL: e.cfg.SMTPURL, From: e.cfg.MailFrom})
		if err != nil {
			return nil, nil, fmt.Errorf("mail relay (--smtp-url): %w", err)
		}
		return t, nil, nil
	case e.cfg.Readers == "sim":
		b, err := mail.NewMailbox(mail.MailboxConfig{From: e.cfg.MailFrom})
		if err != nil {
			return nil, nil, err
		}
		return b, newScreenMailbox(b), nil
	case e.cfg.MailDir == "":
		return nil, nil, errNoMailRelay
	default:
		t, err := mail.NewFile(mail.FileConfig{Dir: e.cfg.MailDir, From: e.cfg.MailFrom})
		if err != nil {
			return nil, nil, fmt.Errorf("mail directory (--mail-dir): %w", err)
		}
		return t, nil, nil
	}
}

// screenMailbox shows the demo's mailbox in the UI.
type screenMailbox struct {
	box     *mail.Mailbox
	updates chan struct{}
}

func newScreenMailbox(b *mail.Mailbox) *screenMailbox {
	m := &screenMailbox{box: b, updates: make(chan struct{}, 1)}
	ch, _ := b.Subscribe() // for the life of the process
	go func() {
		for range ch {
			select {
			case m.updates <- struct{}{}:
			default:
			}
		}
	}()
	return m
}

func (m *screenMailbox) Recent(ctx context.Context) ([]domain.Mail, error) {
	msgs := m.box.Messages()
	out := make([]domain.Mail, len(msgs))
	for i, msg := range msgs {
		out[i] = domain.Mail{ID: msg.ID, To: msg.To, Subject: msg.Subject, Body: msg.Body, CreatedAt: msg.Date, SentAt: msg.Date}
	}
	return out, nil
}

func (m *screenMailbox) Updates() <-chan struct{} { return m.updates }
