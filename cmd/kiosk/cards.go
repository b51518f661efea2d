package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio"
	"github.com/smartcard-service-centre/kiosk/cardio/pcsc"
	"github.com/smartcard-service-centre/kiosk/cardio/pivcard"
	"github.com/smartcard-service-centre/kiosk/domain"
)

// cardsTimeout bounds the whole listing: a hung reader or service gives an
// error, not a technician staring at a silent terminal.
const cardsTimeout = 30 * time.Second

// cmdCards lists the PC/SC readers, the role each serves and the card in
// each: what a booth technician runs first.
func cmdCards(ctx context.Context, e *runEnv, args []string) error {
	if _, err := e.parse(args, nil); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cardsTimeout)
	defer cancel()
	readers := pcsc.New(nil)
	defer readers.Close()
	names, err := readers.List(ctx)
	switch {
	case errors.Is(err, cardio.ErrNoService):
		return errors.New("no PC/SC service: pcscd is not running (install the Debian package pcscd and start it: systemctl start pcscd.socket)")
	case err != nil:
		return err
	case len(names) == 0:
		return errors.New("no card reader is connected (plug one in; pcscd lists what it sees in its log)")
	}

	assign := pivcard.Assignment{Holder: e.cfg.HolderReader, Operator: e.cfg.OperatorReader}
	roles, roleErrs := assign.Resolve(names)
	holders, notes, closeStore := e.holderLookup(ctx)
	defer closeStore()

	now := time.Now()
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "READER\tROLE\tCARD\tHOLDER\tPASSCODE\tCERTIFICATE EXPIRY")
	for _, name := range names {
		role := "-"
		for _, r := range pivcard.Roles {
			if roles[r] == name {
				role = string(r)
			}
		}
		row := describeCard(ctx, readers, name, holders, now)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", domain.CleanText(name), role, row.card, row.holder, row.passcode, row.expiry)
		for _, p := range row.problems {
			notes = append(notes, fmt.Sprintf("%s: %s", domain.CleanText(name), p))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range pivcard.Roles {
		if err := roleErrs[r]; err != nil {
			notes = append(notes, fmt.Sprintf("no %s reader: %v", r, err))
		}
	}
	for _, n := range notes {
		fmt.Fprintln(e.stdout, "note:", strings.Join(strings.Fields(n), " "))
	}
	return nil
}

type cardRow struct {
	card, holder, passcode, expiry string
	problems                       []string
}

func describeCard(ctx context.Context, readers cardio.Readers, name string, holders func(domain.CardSerial) string, now time.Time) cardRow {
	row := cardRow{card: "-", holder: "-", passcode: "-", expiry: "-"}
	conn, err := readers.Connect(ctx, name)
	if errors.Is(err, cardio.ErrNoCard) {
		row.card = "(no card)"
		return row
	}
	if err != nil {
		row.card = "(unreadable)"
		row.problems = append(row.problems, err.Error())
		return row
	}
	card := pivcard.New(conn)
	defer card.Close()
	in, err := card.Inspect(ctx)
	if err != nil {
		row.card = "(unreadable)"
		row.problems = append(row.problems, err.Error())
		return row
	}
	row.problems = in.Problems
	if in.Serial != "" {
		row.card = string(in.Serial)
		row.holder = holders(in.Serial)
		for _, m := range in.Missing {
			row.problems = append(row.problems, "the card has no "+m)
		}
	} else {
		// Factory-fresh or another service's card: what it lacks is
		// expected, so one word says it all.
		row.holder = "not a service card (no CHUID)"
	}
	switch {
	case in.Blocked:
		row.passcode = "blocked"
	case in.TriesLeft == 1:
		row.passcode = "1 try left"
	default:
		row.passcode = fmt.Sprintf("%d tries left", in.TriesLeft)
	}
	if exp := in.CertExpiry(); !exp.IsZero() {
		row.expiry = exp.Format("2-Jan-2006")
		if !now.Before(exp) {
			row.expiry += " (expired)"
		}
	}
	return row
}

// holderLookup returns a function naming a card's holder from the store,
// and notes on why names are missing. The listing works without a store:
// a technician may check the readers before the database is set up, and
// the embedded store is never created just to look names up.
func (e *runEnv) holderLookup(ctx context.Context) (lookup func(domain.CardSerial) string, notes []string, closeStore func()) {
	unknown := func(domain.CardSerial) string { return "?" }
	if e.cfg.DatabaseURL == "" {
		if _, err := os.Stat(e.cfg.DBPath); err != nil {
			return unknown, []string{fmt.Sprintf("holder names not shown: no store at %s", e.cfg.DBPath)}, func() {}
		}
	}
	s, err := e.openStore(ctx, nil, nil)
	if err != nil {
		return unknown, []string{fmt.Sprintf("holder names not shown: %v", err)}, func() {}
	}
	return func(serial domain.CardSerial) string {
		c, err := s.GetSmartcard(ctx, serial)
		if errors.Is(err, domain.ErrNotFound) {
			return "not known to the service"
		}
		if err != nil {
			return "? (" + err.Error() + ")"
		}
		u, err := s.GetUser(ctx, c.UserID)
		if err != nil {
			return c.UserID.String()
		}
		name := fmt.Sprintf("%s (%s)", domain.CleanText(u.DisplayName()), u.ID)
		if !c.Active() {
			name += ", card cancelled"
		}
		return name
	}, nil, func() { s.Close() }
}
