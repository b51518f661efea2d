package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	kiosk "github.com/smartcard-service-centre/kiosk"
	"github.com/smartcard-service-centre/kiosk/cardio/ca"
	"github.com/smartcard-service-centre/kiosk/cardio/democard"
	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/demo"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
	"github.com/smartcard-service-centre/kiosk/storage/postgres"
	"github.com/smartcard-service-centre/kiosk/storage/sqlite"
)

// connectTimeout bounds how long a command waits for the database, so an
// unreachable server gives an error rather than a hang.
const connectTimeout = 10 * time.Second

// parse parses a command's flags and validates the settings.
func (e *runEnv) parse(args []string, extra func(fs *flag.FlagSet)) ([]string, error) {
	fs := e.newFlagSet(e.commandName)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errUsage
	}
	if err := e.cfg.Validate(); err != nil {
		return nil, err
	}
	return fs.Args(), nil
}

// logger opens the log file; the terminal is never written to by slog.
func (e *runEnv) logger() (*slog.Logger, func(), error) {
	if e.cfg.LogFile == "" || e.cfg.LogFile == "-" {
		return slog.New(slog.DiscardHandler), func() {}, nil
	}
	if err := os.MkdirAll(filepath.Dir(e.cfg.LogFile), 0o700); err != nil {
		return nil, nil, fmt.Errorf("open log file: %w", err)
	}
	f, err := os.OpenFile(e.cfg.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open log file: %w", err)
	}
	l := slog.New(slog.NewJSONHandler(f, nil)).With("terminal", e.cfg.Terminal, "command", e.commandName)
	return l, func() { f.Close() }, nil
}

// openStore opens PostgreSQL when a URL is set, else the embedded store.
func (e *runEnv) openStore(ctx context.Context) (domain.Store, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if e.cfg.DatabaseURL != "" {
		s, err := postgres.Open(ctx, e.cfg.DatabaseURL)
		if err != nil {
			return nil, err
		}
		if err := s.CheckSchema(ctx); err != nil {
			s.Close()
			return nil, err
		}
		return s, nil
	}
	s, err := sqlite.Open(ctx, e.cfg.DBPath)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func cmdMigrate(ctx context.Context, e *runEnv, args []string) error {
	if _, err := e.parse(args, nil); err != nil {
		return err
	}
	log, closeLog, err := e.logger()
	if err != nil {
		return err
	}
	defer closeLog()
	if e.cfg.DatabaseURL == "" {
		// Opening the embedded store migrates it.
		s, err := sqlite.Open(ctx, e.cfg.DBPath)
		if err != nil {
			return err
		}
		defer s.Close()
		fmt.Fprintf(e.stdout, "embedded store %s is up to date\n", e.cfg.DBPath)
		return nil
	}
	openCtx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	pg, err := postgres.Open(openCtx, e.cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pg.Close()
	applied, err := pg.Migrate(ctx)
	if err != nil {
		log.Error("migrate", "err", err)
		return err
	}
	log.Info("migrate", "applied", applied)
	if len(applied) == 0 {
		fmt.Fprintln(e.stdout, "database schema is up to date; nothing to apply")
		return nil
	}
	fmt.Fprintf(e.stdout, "applied %d migration(s): %s\n", len(applied), strings.Join(applied, ", "))
	return nil
}

func cmdSeed(ctx context.Context, e *runEnv, args []string) error {
	var withDemo bool
	if _, err := e.parse(args, func(fs *flag.FlagSet) {
		fs.BoolVar(&withDemo, "demo", false, "load the demo personas (the only data set there is)")
	}); err != nil {
		return err
	}
	if !withDemo {
		return errors.New("nothing to seed: add --demo to load the demo personas")
	}
	keys, err := secret.LoadKEK(e.cfg.KEKFile)
	if err != nil {
		return err
	}
	personas, err := demo.Load(kiosk.DemoData())
	if err != nil {
		return err
	}
	log, closeLog, err := e.logger()
	if err != nil {
		return err
	}
	defer closeLog()
	s, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	// Each new persona gets a software card, personalised with the demo
	// CA's certificates and the secrets the store seals for it.
	auth, generated, err := democard.OpenCA(e.cfg.caDir(), time.Now())
	if err != nil {
		return err
	}
	if generated {
		log.Info("seed: generated a demo certificate authority", "dir", e.cfg.caDir())
	}
	maker := &democard.Maker{CA: ca.ForDomain(auth), Dir: e.cfg.cardsDir()}
	seeder := demo.Seeder{Store: s, Keys: keys, Clock: domain.SystemClock{}, Argon2: secret.DefaultArgon2, IssueCard: maker.Issue}
	rep, err := seeder.Seed(ctx, personas)
	if err != nil {
		maker.Discard()
		log.Error("seed", "err", err)
		return err
	}
	if err := maker.Commit(); err != nil {
		log.Error("seed: card files", "err", err)
		return fmt.Errorf("the store now holds the demo personas but their card files could not be saved: %w", err)
	}
	log.Info("seed", "added", len(rep.Added), "present", len(rep.Present), "cards", e.cfg.cardsDir())
	fmt.Fprintf(e.stdout, "demo personas: %d added, %d already present\n", len(rep.Added), len(rep.Present))
	if generated {
		fmt.Fprintf(e.stdout, "demo certificate authority: created in %s\n", e.cfg.caDir())
	}
	if len(rep.Added) > 0 {
		fmt.Fprintf(e.stdout, "demo cards: %d written to %s\n", len(rep.Added), e.cfg.cardsDir())
	}
	return nil
}

func cmdKeygen(ctx context.Context, e *runEnv, args []string) error {
	var ifMissing bool
	if _, err := e.parse(args, func(fs *flag.FlagSet) {
		fs.BoolVar(&ifMissing, "if-missing", false, "do nothing when the file already exists")
	}); err != nil {
		return err
	}
	if _, err := os.Stat(e.cfg.KEKFile); err == nil {
		if ifMissing {
			return nil
		}
		return fmt.Errorf("%s already exists; a new key would make every sealed card secret unreadable", e.cfg.KEKFile)
	}
	if err := secret.WriteNewKEK(e.cfg.KEKFile, nil); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote a new key-encryption key to %s (keep a backup somewhere safe)\n", e.cfg.KEKFile)
	return nil
}

func cmdUsers(ctx context.Context, e *runEnv, args []string) error {
	rest, err := e.parse(args, nil)
	if err != nil {
		return err
	}
	s, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	var users []domain.User
	if q := strings.Join(rest, " "); strings.TrimSpace(q) == "" {
		users, err = s.ListUsers(ctx, 1000)
	} else {
		users, err = s.SearchUsers(ctx, q, 100)
	}
	if err != nil {
		return err
	}
	if len(users) == 0 {
		fmt.Fprintln(e.stdout, "no users found")
		return nil
	}
	now := time.Now()
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER ID\tNAME\tEMAIL\tCARD\tSTATUS\tCERTIFICATE EXPIRY\tSELF-SERVICE")
	for _, u := range users {
		reg := "not registered"
		if r, err := s.GetRegistration(ctx, u.ID); err == nil {
			reg = "registered"
			if r.LockedOut() {
				reg = "locked out"
			}
		} else if !errors.Is(err, domain.ErrNotFound) {
			return err
		}
		cards, err := s.ListSmartcards(ctx, u.ID)
		if err != nil {
			return err
		}
		name := domain.CleanText(u.DisplayName())
		email := domain.MaskEmail(domain.CleanText(u.Email))
		if len(cards) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t-\t%s\n", u.ID, name, email, reg)
		}
		for _, c := range cards {
			status := "Active"
			switch {
			case !c.Active():
				status = "Cancelled (" + domain.CleanText(c.CancelReason) + ")"
			case c.Expired(now):
				status = "Expired"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, name, email, c.Serial, status, c.CertExpiry.Format("2-Jan-2006"), reg)
		}
	}
	return tw.Flush()
}

func cmdVersion(ctx context.Context, e *runEnv, args []string) error {
	if err := e.newFlagSet(e.commandName).Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	fmt.Fprintf(e.stdout, "kiosk %s\n", v)
	return nil
}
