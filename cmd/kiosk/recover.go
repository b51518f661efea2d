package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/cardwrite"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
	"github.com/smartcard-service-centre/kiosk/storage/spool"
)

// spoolReplayEvery is how often a running kiosk tries to write what it
// spooled while the store was away (it also does before each visit).
const spoolReplayEvery = 30 * time.Second

// spoolDir is where a kiosk keeps card-write outcomes the store could
// not take: spool/ in the data directory, whichever store is used.
func (e *runEnv) spoolDir() (string, error) {
	if e.cfg.DataDir == "" {
		return "", errors.New("no data directory for the spool of card changes (set --data-dir or KIOSK_DATA_DIR)")
	}
	return filepath.Join(e.cfg.DataDir, "spool"), nil
}

// journal opens the spool and returns the card-write journal over store.
func (e *runEnv) journal(store domain.Store, log *slog.Logger, notify func()) (*cardwrite.Journal, *spool.Dir, error) {
	dir, err := e.spoolDir()
	if err != nil {
		return nil, nil, err
	}
	sp, err := spool.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	j := cardwrite.New(cardwrite.Config{Store: store, Spool: sp, Log: log, Notify: notify, Terminal: e.cfg.Terminal})
	return j, sp, nil
}

// recovery is what recoverWrites did and found.
type recovery struct {
	recorded int                       // spooled outcomes written to the store
	waiting  []domain.CardWriteOutcome // still in the spool
	open     []domain.CardWriteIntent  // intents without an outcome
}

// recoverWrites writes the spooled outcomes to the store and lists what
// is still waiting or open. An open intent is settled from the card when
// the card is next inserted at a kiosk; it is listed for staff to see.
func recoverWrites(ctx context.Context, j *cardwrite.Journal) (recovery, error) {
	var r recovery
	var errs [3]error
	r.recorded, errs[0] = j.Replay(ctx)
	r.waiting, errs[1] = j.Pending()
	r.open, errs[2] = j.Open(ctx, "")
	return r, errors.Join(errs[:]...)
}

// logRecovery puts recoverWrites' findings in the log at start-up.
func logRecovery(log *slog.Logger, r recovery, err error) {
	if err != nil {
		// The kiosk still starts: the journal keeps trying, and no visit
		// is served before the spool is written.
		log.Error("card changes kept on this kiosk could not be written yet", "err", err)
	}
	log.Info("card write recovery", "recorded", r.recorded, "waiting", len(r.waiting), "open", len(r.open))
	for _, w := range r.open {
		log.Warn("card write still open: it is settled when the card is next inserted", "intent", w.ID, "op", w.Op,
			"serial", w.Serial, "holder", w.SubjectID, "terminal", w.Terminal, "started", w.StartedAt)
	}
}

// cmdRecover writes what the kiosk spooled while the store was away and
// lists the card changes still open. The kiosk also does this at
// start-up and then every so often.
func cmdRecover(ctx context.Context, e *runEnv, args []string) error {
	if _, err := e.parse(args, nil); err != nil {
		return err
	}
	log, closeLog, err := e.logger()
	if err != nil {
		return err
	}
	defer closeLog()
	// Writing outcomes appends audit rows, which takes the KEK's chain key.
	keys, err := secret.LoadKEK(e.cfg.KEKFile)
	if err != nil {
		return err
	}
	store, err := e.openStore(ctx, keys, log)
	if err != nil {
		return err
	}
	defer store.Close()
	j, sp, err := e.journal(store, log, nil)
	if err != nil {
		return err
	}
	r, err := recoverWrites(ctx, j)
	logRecovery(log, r, err)
	printRecovery(e.stdout, sp.Path(), r)
	if err != nil {
		return fmt.Errorf("recover card changes: %w", err)
	}
	return nil
}

// printRecovery reports to the person who ran kiosk recover.
func printRecovery(w io.Writer, dir string, r recovery) {
	fmt.Fprintf(w, "spool %s: %d card change(s) recorded, %d still waiting for the database\n", dir, r.recorded, len(r.waiting))
	if len(r.open) == 0 {
		fmt.Fprintln(w, "no card changes are open")
		return
	}
	fmt.Fprintf(w, "%d card change(s) open, each settled from the card when it is next inserted at a kiosk:\n", len(r.open))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED\tCARD\tCHANGE\tHOLDER\tTERMINAL\tINTENT")
	for _, o := range r.open {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", o.StartedAt.Format(time.RFC3339), domain.CleanText(string(o.Serial)),
			domain.CleanText(string(o.Op)), domain.CleanText(o.SubjectID.String()), domain.CleanText(o.Terminal), domain.CleanText(o.ID))
	}
	tw.Flush()
}
