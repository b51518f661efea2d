package selfservice_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio/pivcard"
	"github.com/smartcard-service-centre/kiosk/cardio/simreader"
	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/storage/postgres"
)

// swapStore is the store as the service sees it, whose database
// connection a benchmark replaces between steps: each step then runs on a
// pool of its own, closed after it, so that PostgreSQL's count of the
// database's transactions can be read for that step alone.
type swapStore struct{ domain.Store }

// xactStep is one step of a workflow, run against the service.
type xactStep struct {
	name string
	run  func(ctx context.Context) error
}

// BenchmarkStepTransactions counts the PostgreSQL transactions of each
// step of the card holder's workflows, as BenchmarkUnlockVisit counts a
// whole visit's (pg_stat_database's commits and rollbacks for the
// database; every statement outside a transaction counts as one, reads
// included): each step runs on a store opened for it alone and closed
// after it, and the count is read once the server has recorded it; what
// opening and closing a store costs by itself is taken off. Three
// workflows through the real service on a software card (argon2id at
// secret.DefaultArgon2): an unlock (identify, questions, answers right,
// code, unlock); an unlock with one wrong set of answers and one wrong
// code first; and a registration (identify, sign-in, start with four
// answers and an address, confirm with the code). The holder reads the
// emailed codes from the mail the service's transactions committed, with
// no query of their own. One pass per run (b.N is not used); the counts
// do not vary between runs.
func BenchmarkStepTransactions(b *testing.B) {
	ctx := context.Background()
	dbURL, keys, authority, card, stats := benchHolderOnPostgres(ctx, b)

	sw := &swapStore{}
	store := &loadStore{Store: sw} // keeps the mail, for the codes
	clock := &benchClock{}
	svc := selfservice.New(selfservice.Config{Store: store, Keys: keys, CA: authority, Clock: clock,
		Argon2: secret.DefaultArgon2, Terminal: "bench"})
	tray := simreader.New(benchReader)
	defer tray.Close()
	if err := tray.Insert(benchReader, card); err != nil {
		b.Fatal(err)
	}
	readers := pivcard.NewReaders(tray, pivcard.Assignment{Holder: benchReader})

	// Each step's pool is new, and pgx would prepare each statement the
	// first time it runs on a connection (one more transaction each, which
	// a kiosk's long-lived connections pay once): these pools send every
	// statement unprepared, in one round trip.
	stepURL, err := url.Parse(dbURL)
	if err != nil {
		b.Fatal(err)
	}
	v := stepURL.Query()
	v.Set("default_query_exec_mode", "exec")
	stepURL.RawQuery = v.Encode()

	// count runs step on a store of its own and returns its transactions.
	count := func(step func(ctx context.Context) error) (int64, error) {
		before, err := stats.settled(ctx)
		if err != nil {
			return 0, err
		}
		st, err := postgres.Open(ctx, stepURL.String(), postgres.WithAuditChain(keys))
		if err != nil {
			return 0, err
		}
		sw.Store = st
		serr := step(ctx)
		st.Close()
		after, err := stats.settled(ctx)
		if err != nil {
			return 0, err
		}
		return after - before, serr
	}
	overhead, err := count(func(context.Context) error { return nil })
	if err != nil {
		b.Fatal(err)
	}

	var (
		sess  *selfservice.Session
		cardc domain.Card
	)
	open := func(ctx context.Context) (err error) {
		if cardc != nil {
			cardc.Close()
		}
		cardc, err = readers.Open(ctx, domain.ReaderHolder)
		if err != nil {
			return err
		}
		sess, err = svc.Identify(ctx, cardc)
		return err
	}
	questions := func(ctx context.Context) error {
		_, err := svc.StartUnlock(ctx, sess)
		return err
	}
	answer := func(right bool) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			var given []string
			for _, q := range sess.Questions() {
				a := benchAnswers[q.ID]
				if !right {
					a = "wrong"
				}
				given = append(given, a)
			}
			_, err := svc.AnswerQuestions(ctx, sess, given)
			if !right {
				if errors.Is(err, domain.ErrWrongAnswer) {
					return nil
				}
				return fmt.Errorf("wrong answers: %v", err)
			}
			return err
		}
	}
	code := func(ctx context.Context) error {
		c, err := store.code(keys, unlockCodeSubject)
		if err != nil {
			return err
		}
		return svc.EnterUnlockCode(ctx, sess, c)
	}
	wrongCode := func(ctx context.Context) error {
		c, err := store.code(keys, unlockCodeSubject)
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(c)
		if err != nil {
			return err
		}
		if err := svc.EnterUnlockCode(ctx, sess, fmt.Sprintf("%06d", (n+1)%1_000_000)); !errors.Is(err, domain.ErrCodeInvalid) {
			return fmt.Errorf("wrong code: %v", err)
		}
		return nil
	}
	unlock := func(ctx context.Context) error {
		if err := svc.CompleteUnlock(ctx, sess, cardc, benchPasscodes[0], benchPasscodes[0]); err != nil {
			return err
		}
		return cardc.Close()
	}
	block := func(ctx context.Context) error {
		return (&benchRig{readers: readers}).block(ctx)
	}
	signIn := func(ctx context.Context) error { return svc.SignIn(ctx, sess, cardc, benchPasscodes[0]) }
	register := func(ctx context.Context) error {
		_, err := svc.StartRegistration(ctx, sess, []selfservice.QuestionAnswer{
			{Question: 5, Answer: "Lagos"}, {Question: 6, Answer: "Fiat"}, {Question: 12, Answer: "Ward clerk"}, {Question: 3, Answer: "Biscuit"},
		}, "test.person@nhs.net")
		return err
	}
	confirm := func(ctx context.Context) error {
		c, err := store.code(keys, registrationCodeSubject)
		if err != nil {
			return err
		}
		return svc.ConfirmRegistration(ctx, sess, c)
	}

	flows := []struct {
		name  string
		steps []xactStep
	}{
		{"unlock", []xactStep{{"identify", open}, {"questions", questions}, {"answers", answer(true)},
			{"code", code}, {"unlock", unlock}}},
		{"unlock-wrong-first", []xactStep{{"identify", open}, {"questions", questions}, {"wrong-answers", answer(false)},
			{"answers", answer(true)}, {"wrong-code", wrongCode}, {"code", code}, {"unlock", unlock}}},
		{"registration", []xactStep{{"identify", open}, {"sign-in", signIn}, {"start", register}, {"confirm", confirm}}},
	}
	for _, f := range flows {
		store.forget()
		if f.name != "registration" {
			if err := block(ctx); err != nil {
				b.Fatal(err)
			}
		}
		var total int64
		for _, st := range f.steps {
			n, err := count(st.run)
			if err != nil {
				b.Fatalf("%s, %s: %v", f.name, st.name, err)
			}
			n -= overhead
			total += n
			b.ReportMetric(float64(n), f.name+"-"+st.name+"-xacts")
		}
		b.ReportMetric(float64(total), f.name+"-xacts")
		clock.advance(25 * time.Hour) // the code policy counts codes per day
	}
	b.ReportMetric(float64(overhead), "open-close-xacts")
}
