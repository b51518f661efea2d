package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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

// connectTimeout bounds how long a command waits for the embedded store,
// so a locked file gives an error rather than a hang.
const connectTimeout = 10 * time.Second

// openBudget bounds how long a command waits to open its store and check
// it. For PostgreSQL it allows each host of the URL its connect timeout
// (a hung primary must not use up the wait before its standby is tried),
// then a statement's wait.
func (e *runEnv) openBudget() time.Duration {
	if e.cfg.DatabaseURL == "" {
		return connectTimeout
	}
	return postgres.OpenBudget(e.cfg.DatabaseURL, e.cfg.DBConnectTimeout)
}

// pgOptions are the store's connection settings from the configuration.
func (e *runEnv) pgOptions() []postgres.Option {
	return []postgres.Option{postgres.WithConnectTimeout(e.cfg.DBConnectTimeout), postgres.WithMaxConns(e.cfg.DBMaxConns)}
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
	l := slog.New(slog.NewJSONHandler(f, nil)).With("terminal", e.cfg.Terminal, "command", e.cmd.name)
	return l, func() { f.Close() }, nil
}

// openStore opens PostgreSQL when a URL is set, else the embedded store.
// A command that writes the audit trail passes the keys that chain it, and
// they are checked against the database first (a wrong key-encryption key
// refuses to start rather than fail at a card holder's last step); a
// read-only command passes nil. log, if set, gets a line for each audit
// row the store commits: the terminal's record of what it wrote.
func (e *runEnv) openStore(ctx context.Context, keys *secret.Keys, log *slog.Logger) (domain.Store, error) {
	ctx, cancel := context.WithTimeout(ctx, e.openBudget())
	defer cancel()
	var s domain.Store
	if e.cfg.DatabaseURL != "" {
		opts := e.pgOptions()
		if keys != nil {
			opts = append(opts, postgres.WithAuditChain(keys))
		}
		if log != nil {
			opts = append(opts, postgres.WithLogger(log))
		}
		pg, err := postgres.Open(ctx, e.cfg.DatabaseURL, opts...)
		if err != nil {
			return nil, err
		}
		if err := pg.CheckSchema(ctx); err != nil {
			pg.Close()
			return nil, err
		}
		s = pg
	} else {
		var opts []sqlite.Option
		if keys != nil {
			opts = append(opts, sqlite.WithAuditChain(keys))
		}
		if log != nil {
			opts = append(opts, sqlite.WithLogger(log))
		}
		lite, err := sqlite.Open(ctx, e.cfg.DBPath, opts...)
		if err != nil {
			return nil, err
		}
		s = lite
	}
	if keys != nil {
		if err := domain.CheckKEK(ctx, s, keys.Fingerprint(), keys); err != nil {
			s.Close()
			return nil, err
		}
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
	openCtx, cancel := context.WithTimeout(ctx, e.openBudget())
	defer cancel()
	pg, err := postgres.Open(openCtx, e.cfg.DatabaseURL, e.pgOptions()...)
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
	} else {
		fmt.Fprintf(e.stdout, "applied %d migration(s): %s\n", len(applied), strings.Join(applied, ", "))
	}
	// Roles granted before get the new tables' rights too.
	regranted, err := pg.Regrant(ctx)
	if err != nil {
		log.Error("grant", "err", err)
		return err
	}
	for _, r := range regranted {
		if r != e.cfg.AppRole {
			fmt.Fprintf(e.stdout, "role %s may use the kiosk's tables (no DDL; the audit trail is append-only)\n", r)
		}
	}
	if e.cfg.AppRole == "" {
		if len(regranted) == 0 {
			fmt.Fprintln(e.stdout, "no --app-role given: grant the kiosk's own login role its rights with kiosk migrate --app-role ROLE, and never run the kiosk as the schema owner")
		}
		return nil
	}
	if err := pg.GrantApp(ctx, e.cfg.AppRole); err != nil {
		log.Error("grant", "role", e.cfg.AppRole, "err", err)
		return err
	}
	log.Info("grant", "role", e.cfg.AppRole)
	fmt.Fprintf(e.stdout, "role %s may use the kiosk's tables (no DDL; the audit trail is append-only)\n", e.cfg.AppRole)
	return nil
}

// cmdAudit runs an audit subcommand; verify is the only one.
func cmdAudit(ctx context.Context, e *runEnv, args []string) error {
	rest, err := e.parse(args, nil)
	if err != nil {
		return err
	}
	if len(rest) != 1 || rest[0] != "verify" {
		return errors.New("usage: kiosk audit verify")
	}
	keys, err := secret.LoadKEK(e.cfg.KEKFile)
	if err != nil {
		return err
	}
	s, err := e.openStore(ctx, nil, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	rep, err := domain.VerifyAudit(ctx, s, keys)
	if err != nil && !errors.Is(err, domain.ErrAuditChainBroken) {
		return err
	}
	printAuditReport(e.stdout, rep)
	return err
}

// printAuditReport says what was checked, where the chain breaks and the
// last row whose link holds (to compare with a terminal's own record of
// its last row: a cut tail leaves no broken link).
func printAuditReport(w io.Writer, rep domain.AuditReport) {
	fmt.Fprintf(w, "%d audit rows read", rep.Rows)
	if rep.Unchained > 0 {
		fmt.Fprintf(w, " (%d from before the chain began, not verifiable)", rep.Unchained)
	}
	fmt.Fprintln(w)
	for _, b := range rep.Breaks {
		e := b.Event
		fmt.Fprintf(w, "BROKEN at row %d (%s %s %s, terminal %s): %s\n", e.ID, e.At.Format(time.RFC3339),
			domain.CleanText(string(e.Action)), domain.CleanText(string(e.Outcome)), domain.CleanText(e.Terminal), b.Why)
	}
	if rep.Last.ID != 0 {
		fmt.Fprintf(w, "last verified row: %d at %s (MAC %x…)\n", rep.Last.ID, rep.Last.At.Format(time.RFC3339), rep.Last.MAC[:8])
	}
	if rep.OK() {
		fmt.Fprintln(w, "the audit trail is intact")
	}
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
	s, err := e.openStore(ctx, keys, log)
	if err != nil {
		return err
	}
	defer s.Close()
	// Each new persona gets a software card, personalised with the demo
	// CA's certificates and the secrets the store seals for it.
	auth, generated, err := democard.OpenCA(e.cfg.CADir, time.Now())
	if err != nil {
		return err
	}
	if generated {
		log.Info("seed: generated a demo certificate authority", "dir", e.cfg.CADir)
	}
	maker := &democard.Maker{CA: ca.ForDomain(auth), Dir: e.cfg.CardsDir}
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
	log.Info("seed", "added", len(rep.Added), "present", len(rep.Present), "cards", e.cfg.CardsDir)
	fmt.Fprintf(e.stdout, "demo personas: %d added, %d already present\n", len(rep.Added), len(rep.Present))
	if generated {
		fmt.Fprintf(e.stdout, "demo certificate authority: created in %s\n", e.cfg.CADir)
	}
	if len(rep.Added) > 0 {
		fmt.Fprintf(e.stdout, "demo cards: %d written to %s\n", len(rep.Added), e.cfg.CardsDir)
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
	s, err := e.openStore(ctx, nil, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	// One query for the users with their cards and registrations, never
	// one more per user.
	var users []domain.UserMatch
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
	for _, m := range users {
		u := m.User
		reg := "not registered"
		if r := m.Registration; r != nil {
			reg = "registered"
			if r.LockedOut() {
				reg = "locked out"
			}
		}
		name := domain.CleanText(u.DisplayName())
		email := domain.MaskEmail(domain.CleanText(u.Email))
		if len(m.Cards) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t-\t%s\n", u.ID, name, email, reg)
		}
		for _, c := range m.Cards {
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
	if _, err := e.parse(args, nil); err != nil {
		return err
	}
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	fmt.Fprintf(e.stdout, "kiosk %s\n", v)
	return nil
}
