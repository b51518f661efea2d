package selfservice_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio/pivcard"
	"github.com/smartcard-service-centre/kiosk/cardio/simreader"
	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/storage/postgres"
	"github.com/smartcard-service-centre/kiosk/storage/postgres/pgtest"
	"github.com/smartcard-service-centre/kiosk/storage/storetest"
)

// The load benchmark's settings, from the environment: make bench runs a
// short smoke (loadSmokeKiosks for loadSmokeSeconds), make bench-full
// (KIOSK_BENCH_FULL=1) the issue's 50 kiosks for 60 s; either may be
// overridden.
const (
	benchFullEnv   = "KIOSK_BENCH_FULL"
	loadKiosksEnv  = "KIOSK_BENCH_LOAD_KIOSKS"
	loadSecondsEnv = "KIOSK_BENCH_LOAD_SECONDS"

	loadSmokeKiosks, loadSmokeSeconds = 4, 3
	loadFullKiosks, loadFullSeconds   = 50, 60
)

// The subjects of the code mails, which the holder reads.
const (
	unlockCodeSubject       = "Smartcard Unlock Code"
	registrationCodeSubject = "Smartcard Unlock Service Registration Code"
)

// loadWrongEvery: every loadWrongEvery-th visit of a kiosk answers wrong
// once before answering right, so the failed-attempt counter goes up and
// must come back to 0.
const loadWrongEvery = 4

// loadClockStep is how far a kiosk's clock moves on after each visit:
// with one holder per kiosk, at most three codes fall in any day (the
// default code policy), and the certificates (two years) outlast
// thousands of visits.
const loadClockStep = 9 * time.Hour

// The steps of a load visit, as timed; stepWrong only in the visits that
// answer wrong first.
const (
	loadIdentify  = iota // open the card, Identify (card look-up, genuine check, holder, registration)
	loadQuestions        // StartUnlock
	loadWrong            // AnswerQuestions with a wrong answer: argon2id, the failed attempt and its audit row
	loadAnswers          // AnswerQuestions right: argon2id, the count reset, code, mail and audit rows
	loadCode             // EnterUnlockCode
	loadUnlock           // CompleteUnlock (intent, card write, outcome with audit row and mail) and close
	nLoadSteps
)

var loadStepNames = [nLoadSteps]string{"identify", "questions", "wrong", "answers", "code", "unlock"}

// loadSettings reads how many kiosks run for how long.
func loadSettings(b *testing.B) (kiosks int, run time.Duration) {
	kiosks, secs := loadSmokeKiosks, loadSmokeSeconds
	if os.Getenv(benchFullEnv) != "" {
		kiosks, secs = loadFullKiosks, loadFullSeconds
	}
	for _, v := range []struct {
		env string
		to  *int
	}{{loadKiosksEnv, &kiosks}, {loadSecondsEnv, &secs}} {
		if s := os.Getenv(v.env); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				b.Fatalf("%s=%q: want a whole number, at least 1", v.env, s)
			}
			*v.to = n
		}
	}
	return kiosks, time.Duration(secs) * time.Second
}

// loadStore is a kiosk's own store as its service sees it: it times each
// card look-up (GetSmartcard, by serial) and keeps the mail its
// transactions committed, so the holder can read their code without a
// query the real kiosk would not make.
type loadStore struct {
	domain.Store
	mu      sync.Mutex
	lookups []time.Duration
	mails   []domain.Mail
}

func (s *loadStore) GetSmartcard(ctx context.Context, serial domain.CardSerial) (domain.Smartcard, error) {
	start := time.Now()
	c, err := s.Store.GetSmartcard(ctx, serial)
	d := time.Since(start)
	s.mu.Lock()
	s.lookups = append(s.lookups, d)
	s.mu.Unlock()
	return c, err
}

func (s *loadStore) InTx(ctx context.Context, fn func(q domain.Queries) error) error {
	var sent []domain.Mail
	err := s.Store.InTx(ctx, func(q domain.Queries) error {
		sent = sent[:0] // a retried transaction starts again
		return fn(mailTap{Queries: q, sent: &sent})
	})
	if err == nil && len(sent) > 0 {
		s.mu.Lock()
		s.mails = append(s.mails, sent...)
		s.mu.Unlock()
	}
	return err
}

// code opens the newest mail with subject that its transactions
// committed, as the holder reads it, and returns the code in it.
func (s *loadStore) code(keys *secret.Keys, subject string) (string, error) {
	s.mu.Lock()
	mails := slices.Clone(s.mails)
	s.mu.Unlock()
	for _, m := range slices.Backward(mails) {
		if m.Subject != subject {
			continue
		}
		m, err := keys.OpenMail(m)
		if err != nil {
			return "", err
		}
		if c := benchCodeLine.FindStringSubmatch(m.Body); c != nil {
			return c[1], nil
		}
	}
	return "", fmt.Errorf("no %q mail was sent", subject)
}

// forget drops the mail kept so far.
func (s *loadStore) forget() {
	s.mu.Lock()
	s.mails = nil
	s.mu.Unlock()
}

// mailTap passes a transaction's queries through, keeping the mail it
// enqueues.
type mailTap struct {
	domain.Queries
	sent *[]domain.Mail
}

func (t mailTap) EnqueueMail(ctx context.Context, m domain.Mail) (domain.Mail, error) {
	m, err := t.Queries.EnqueueMail(ctx, m)
	if err == nil {
		*t.sent = append(*t.sent, m)
	}
	return m, err
}

// loadKiosk is one simulated kiosk: its own store (its own pgx pool), its
// own service and clock, and its holder's software card in its reader.
type loadKiosk struct {
	name    string
	store   *loadStore
	keys    *secret.Keys
	svc     *selfservice.Service
	clock   *benchClock
	tray    *simreader.Tray
	readers *pivcard.Readers
	holder  benchHolder

	steps          [nLoadSteps][]time.Duration
	whole          []time.Duration // each visit's machine time, all its steps
	visits, wrongs int
	err            error // the first failure; the kiosk stops there
}

// run serves visits back to back until the deadline passes (the visit
// under way then is finished).
func (k *loadKiosk) run(ctx context.Context, deadline time.Time) {
	for time.Now().Before(deadline) {
		wrong := k.visits%loadWrongEvery == loadWrongEvery-1
		steps, err := k.visit(ctx, benchPasscodes[k.visits%len(benchPasscodes)], wrong)
		if err != nil {
			k.err = fmt.Errorf("%s, visit %d: %w", k.name, k.visits+1, err)
			return
		}
		var whole time.Duration
		for i, d := range steps {
			if i != loadWrong || wrong {
				k.steps[i] = append(k.steps[i], d)
			}
			whole += d
		}
		k.whole = append(k.whole, whole)
		k.visits++
		if wrong {
			k.wrongs++
		}
		k.clock.advance(loadClockStep)
	}
}

// visit runs one whole unlock visit of the kiosk's holder, who has
// blocked their card first (not timed); with wrong, they answer wrong
// once, then right.
func (k *loadKiosk) visit(ctx context.Context, newPIN string, wrong bool) (steps [nLoadSteps]time.Duration, err error) {
	k.store.forget()
	rig := benchRig{readers: k.readers}
	if err := rig.block(ctx); err != nil {
		return steps, fmt.Errorf("block the card: %w", err)
	}
	t := time.Now()
	lap := func(step int) {
		now := time.Now()
		steps[step] = now.Sub(t)
		t = now
	}
	card, err := k.readers.Open(ctx, domain.ReaderHolder)
	if err != nil {
		return steps, err
	}
	defer card.Close()
	sess, err := k.svc.Identify(ctx, card)
	if err != nil {
		return steps, fmt.Errorf("identify: %w", err)
	}
	if h := k.svc.Holder(sess); !h.Blocked || !h.Registered || h.LockedOut {
		return steps, fmt.Errorf("holder %+v: want a blocked card, registered and not locked out", h)
	}
	lap(loadIdentify)
	qs, err := k.svc.StartUnlock(ctx, sess)
	if err != nil {
		return steps, fmt.Errorf("start unlock: %w", err)
	}
	lap(loadQuestions)
	given := make([]string, len(qs))
	for i, q := range qs {
		given[i] = benchAnswers[q.ID]
	}
	if wrong {
		bad := slices.Clone(given)
		bad[len(bad)-1] += " (wrong)"
		_, err := k.svc.AnswerQuestions(ctx, sess, bad)
		// Exactly this failure counted: the counter was 0 before.
		var ae *selfservice.AnswerError
		if !errors.As(err, &ae) || ae.AttemptsLeft != selfservice.MaxFailedAttempts-1 {
			return steps, fmt.Errorf("wrong answers: %v, want %d attempts left", err, selfservice.MaxFailedAttempts-1)
		}
		lap(loadWrong)
	}
	if _, err := k.svc.AnswerQuestions(ctx, sess, given); err != nil {
		return steps, fmt.Errorf("answer: %w", err)
	}
	lap(loadAnswers)
	code, err := k.store.code(k.keys, unlockCodeSubject) // the holder reads their email: not timed
	if err != nil {
		return steps, err
	}
	t = time.Now()
	if err := k.svc.EnterUnlockCode(ctx, sess, code); err != nil {
		return steps, fmt.Errorf("enter code: %w", err)
	}
	lap(loadCode)
	if err := k.svc.CompleteUnlock(ctx, sess, card, newPIN, newPIN); err != nil {
		return steps, fmt.Errorf("complete unlock: %w", err)
	}
	if err := card.Close(); err != nil {
		return steps, err
	}
	lap(loadUnlock)
	return steps, nil
}

// BenchmarkLoad runs many simulated kiosks at once against one PostgreSQL
// database, each serving whole self-service unlock visits back to back:
// card opened → identified (card look-up by serial, 9E genuine check,
// holder, registration) → 2–4 questions → answers checked with argon2id
// at secret.DefaultArgon2 (one computation: the drawn set's hash) → code
// stored and mailed → code entered → unlock written ahead (intent, RESET
// RETRY COUNTER and VERIFY on the card, outcome with its audit row and
// notification). Every kiosk has its
// own store (its own pgx pool, as a real kiosk has), its own service and
// clock, and its own holder with a software PIV card behind the real card
// adapter (in-process reader); the holder blocks the card before each
// visit and reads the emailed code, both untimed. Every fourth visit
// answers wrong once, then right. The database (a throwaway one on
// KIOSK_TEST_DATABASE_URL) holds $KIOSK_BENCH_USERS users besides the
// kiosks' holders (default 10,000; make bench-full: 1,000,000; loaded
// with COPY), each with a card and three in five with a registration.
// make bench runs 4 kiosks for 3 s, make bench-full (KIOSK_BENCH_FULL=1)
// 50 kiosks for 60 s; KIOSK_BENCH_LOAD_KIOSKS and KIOSK_BENCH_LOAD_SECONDS
// override.
//
// All kiosks run in this one process, which is not how they run in
// production: argon2id computations are bounded process-wide
// (domain/secret's slot count, GOMAXPROCS: 2 on a 2-core machine), so
// every kiosk's answers queue for the same two slots and the same two
// cores, which PostgreSQL shares too. The answer steps' times and the
// visits per second are this machine's ceiling for the whole fleet, not
// one kiosk's experience, and every step waits for the crowded CPU.
//
// Reports visits/s (visits finished ÷ wall time); p50 and p99 of each
// step (wrong: the wrong answers, in the visits that gave them) and of a
// whole visit's machine time; the card look-up's p50 and p99 twice:
// lookup-* timed inside the kiosks (GetSmartcard, so it includes waiting
// for this process's crowded CPU) and probe-lookup-* by a probe process
// of its own that looks up a random card by serial every 20 ms through
// its own pool while the kiosks run, as a kiosk with a CPU of its own
// would; PostgreSQL transactions per visit (pg_stat_database, every
// statement outside a transaction counted as one, the probe's left out;
// it includes each new connection preparing each statement once, which
// in a short run is a few per visit: BenchmarkStepTransactions has the
// steady counts);
// and two checks that must be 0, or the benchmark fails: errors (kiosks
// whose visit failed; a kiosk stops at its first) and drift (holders
// whose failed-attempt counter is not back to 0 or who are locked out
// after the run; audit rows of answers, codes, unlocks and card checks
// that do not match what the visits did; a broken audit chain). ns/op is
// the fleet's time per visit, 1 ÷ visits/s. Each run is one load run
// (b.N is not used).
func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	nKiosks, runFor := loadSettings(b)
	nUsers := storetest.BenchUsers(b)
	setup, dbURL, keys, authority := openBenchPostgres(ctx, b)
	took := pgtest.FillPopulation(ctx, b, dbURL, nUsers)
	b.Logf("loaded %d users with cards and registrations in %s", nUsers, took.Round(time.Millisecond))
	answers, err := hashBenchAnswers() // once: the holders share the hashes
	if err != nil {
		b.Fatal(err)
	}
	kiosks := make([]*loadKiosk, nKiosks)
	for i := range kiosks {
		// The holders come after the population: their own IDs and serials.
		p := storetest.NewBenchPerson(nUsers + i).User
		h := benchHolder{ID: p.ID, Serial: storetest.NewBenchPerson(nUsers + i).Card.Serial,
			Given: p.GivenName, Family: p.FamilyName, Email: p.Email, Sets: answers}
		card, err := issueCard(ctx, setup, keys, authority, h)
		if err != nil {
			setup.Close()
			b.Fatal(err)
		}
		k := &loadKiosk{name: fmt.Sprintf("kiosk-%02d", i+1), keys: keys, clock: &benchClock{}, holder: h,
			tray: simreader.New(benchReader)}
		defer k.tray.Close()
		if err := k.tray.Insert(benchReader, card); err != nil {
			b.Fatal(err)
		}
		k.readers = pivcard.NewReaders(k.tray, pivcard.Assignment{Holder: benchReader})
		kiosks[i] = k
	}
	setup.Close()

	stats, err := openBenchXactCounter(ctx, b, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer stats.close()
	before, err := stats.settled(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, k := range kiosks {
		st, err := postgres.Open(ctx, dbURL, postgres.WithAuditChain(keys))
		if err != nil {
			b.Fatal(err)
		}
		k.store = &loadStore{Store: st}
		defer k.store.Close()
		k.svc = selfservice.New(selfservice.Config{Store: k.store, Keys: keys, CA: authority, Clock: k.clock,
			Argon2: secret.DefaultArgon2, Terminal: k.name})
	}

	b.ResetTimer()
	start := time.Now()
	deadline := start.Add(runFor)
	probe, err := startLoadProbe(dbURL, nUsers, nKiosks, runFor)
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, k := range kiosks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k.run(ctx, deadline)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	probed, err := probe.wait()
	if err != nil {
		b.Fatal(err)
	}

	var (
		steps          [nLoadSteps][]time.Duration
		whole, lookups []time.Duration
		visits, wrongs int
		failed         []error
	)
	for _, k := range kiosks {
		for i := range steps {
			steps[i] = append(steps[i], k.steps[i]...)
		}
		whole = append(whole, k.whole...)
		lookups = append(lookups, k.store.lookups...)
		visits += k.visits
		wrongs += k.wrongs
		if k.err != nil {
			failed = append(failed, k.err)
		}
	}

	drift := loadDrift(ctx, b, dbURL, keys, kiosks, visits, wrongs)
	for _, k := range kiosks {
		k.store.Close()
	}
	after, err := stats.settled(ctx)
	if err != nil {
		b.Fatal(err)
	}

	b.ReportMetric(float64(nKiosks), "kiosks")
	b.ReportMetric(float64(nUsers), "users")
	b.ReportMetric(float64(len(failed)), "errors")
	b.ReportMetric(float64(drift), "drift")
	if visits > 0 {
		b.ReportMetric(float64(visits)/elapsed.Seconds(), "visits/s")
		b.ReportMetric(float64(elapsed.Nanoseconds())/float64(visits), "ns/op")
		// The probe's look-ups are one transaction each, not the kiosks'.
		b.ReportMetric(float64(after-before-int64(probed.Lookups))/float64(visits), "xacts/visit")
		b.ReportMetric(benchMS(benchPercentile(whole, 50)), "visit-p50-ms")
		b.ReportMetric(benchMS(benchPercentile(whole, 99)), "visit-p99-ms")
		b.ReportMetric(benchMS(benchPercentile(lookups, 50)), "lookup-p50-ms")
		b.ReportMetric(benchMS(benchPercentile(lookups, 99)), "lookup-p99-ms")
		b.ReportMetric(probed.P50MS, "probe-lookup-p50-ms")
		b.ReportMetric(probed.P99MS, "probe-lookup-p99-ms")
		for i, s := range steps {
			if len(s) > 0 {
				b.ReportMetric(benchMS(benchPercentile(s, 50)), loadStepNames[i]+"-p50-ms")
				b.ReportMetric(benchMS(benchPercentile(s, 99)), loadStepNames[i]+"-p99-ms")
			}
		}
	}
	b.Logf("%d kiosks, %d users: %d visits (%d answered wrong once) in %s", nKiosks, nUsers, visits, wrongs, elapsed.Round(time.Millisecond))
	for _, err := range failed {
		b.Error(err)
	}
	if visits == 0 {
		b.Error("no visit finished")
	}
}

// loadDrift checks what the run left in the store against what the
// visits did, over a store of its own, and returns how many things
// differ (each logged): a holder whose failed-attempt counter is not 0
// or who is locked out; audit rows of answers, codes and unlocks that do
// not match the visits; a broken audit chain.
func loadDrift(ctx context.Context, b *testing.B, dbURL string, keys *secret.Keys, kiosks []*loadKiosk, visits, wrongs int) int {
	st, err := postgres.Open(ctx, dbURL, postgres.WithAuditChain(keys))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	drift := 0
	for _, k := range kiosks {
		r, err := st.GetRegistration(ctx, k.holder.ID)
		if err != nil {
			b.Fatal(err)
		}
		if r.FailedAttempts != 0 || r.LockedOut() {
			drift++
			b.Logf("drift: %s's holder has %d failed attempts, locked out %v; want 0, not locked out", k.name, r.FailedAttempts, r.LockedOut())
		}
	}
	count := func(action domain.AuditAction) (ok, failed int) {
		ev, err := st.ListAudit(ctx, domain.AuditFilter{Action: action})
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range ev {
			if e.Outcome == domain.OutcomeSuccess {
				ok++
			} else {
				failed++
			}
		}
		return ok, failed
	}
	for _, c := range []struct {
		action     domain.AuditAction
		ok, failed int
	}{
		{domain.AuditQuestionsAnswered, visits, wrongs},
		{domain.AuditCodeIssued, visits, 0},
		{domain.AuditCodeEntered, visits, 0},
		{domain.AuditSelfUnlock, visits, 0},
		{domain.AuditCardChecked, visits, 0},
	} {
		// A visit that failed part-way may have written some: counted as
		// errors already, so only whole runs are compared.
		if failedKiosks(kiosks) > 0 {
			break
		}
		if ok, failed := count(c.action); ok != c.ok || failed != c.failed {
			drift++
			b.Logf("drift: %s audited %d successes and %d failures; the visits made %d and %d", c.action, ok, failed, c.ok, c.failed)
		}
	}
	rep, err := domain.VerifyAudit(ctx, st, keys)
	if err != nil || !rep.OK() || rep.Rows == 0 {
		drift++
		b.Logf("drift: audit chain of %d rows: %v %+v", rep.Rows, err, rep.Breaks)
	}
	return drift
}

func failedKiosks(kiosks []*loadKiosk) int {
	n := 0
	for _, k := range kiosks {
		if k.err != nil {
			n++
		}
	}
	return n
}

// The load probe is a process of its own (this test binary again,
// running TestLoadProbeChild) that looks cards up by serial through a
// store of its own while the kiosks run: what a kiosk whose own CPU is
// free (as a real kiosk's is) would wait for the database, without this
// process's argon2id queue and garbage collections in the way.

const loadProbeEnv = "KIOSK_BENCH_LOAD_PROBE"

const loadProbeMarker = "LOAD-PROBE "

// loadProbeEvery paces the probe's look-ups: light load of its own.
const loadProbeEvery = 20 * time.Millisecond

// loadProbeResult is what the probe reports.
type loadProbeResult struct {
	Lookups int     `json:"lookups"`
	P50MS   float64 `json:"p50_ms"`
	P99MS   float64 `json:"p99_ms"`
}

type loadProbe struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

// startLoadProbe starts the probe for runFor on the database at dbURL,
// whose serials are those of people 0..users+kiosks-1 of the benchmark
// population.
func startLoadProbe(dbURL string, users, kiosks int, runFor time.Duration) (*loadProbe, error) {
	p := &loadProbe{cmd: exec.Command(os.Args[0], "-test.run=^TestLoadProbeChild$", "-test.bench=^$", "-test.count=1")}
	p.cmd.Env = append(os.Environ(), loadProbeEnv+"="+fmt.Sprintf("%d,%d,%d", users+kiosks, runFor.Milliseconds(), loadProbeEvery.Milliseconds()),
		loadProbeEnv+"_URL="+dbURL)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the load probe: %w", err)
	}
	return p, nil
}

// wait waits for the probe and reads its report.
func (p *loadProbe) wait() (loadProbeResult, error) {
	var r loadProbeResult
	if err := p.cmd.Wait(); err != nil {
		return r, fmt.Errorf("load probe: %w\n%s", err, p.out.Bytes())
	}
	sc := bufio.NewScanner(bytes.NewReader(p.out.Bytes()))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), loadProbeMarker); ok {
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				return r, fmt.Errorf("load probe: %w", err)
			}
			if r.Lookups == 0 {
				return r, fmt.Errorf("load probe made no look-up\n%s", p.out.Bytes())
			}
			return r, nil
		}
	}
	return r, fmt.Errorf("load probe reported nothing\n%s", p.out.Bytes())
}

// TestLoadProbeChild is BenchmarkLoad's probe process; run on its own it
// does nothing.
func TestLoadProbeChild(t *testing.T) {
	spec := os.Getenv(loadProbeEnv)
	if spec == "" {
		return
	}
	var people, runMS, everyMS int
	if _, err := fmt.Sscanf(spec, "%d,%d,%d", &people, &runMS, &everyMS); err != nil {
		t.Fatalf("%s=%q: %v", loadProbeEnv, spec, err)
	}
	ctx := t.Context()
	st, err := postgres.Open(ctx, os.Getenv(loadProbeEnv+"_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := mrand.New(mrand.NewPCG(uint64(people), uint64(runMS)))
	var took []time.Duration
	tick := time.NewTicker(time.Duration(everyMS) * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(time.Duration(runMS) * time.Millisecond); time.Now().Before(end); <-tick.C {
		serial := storetest.NewBenchPerson(r.IntN(people)).Card.Serial
		start := time.Now()
		if _, err := st.GetSmartcard(ctx, serial); err != nil {
			t.Fatalf("look up %s: %v", serial, err)
		}
		took = append(took, time.Since(start))
	}
	out, _ := json.Marshal(loadProbeResult{Lookups: len(took),
		P50MS: benchMS(benchPercentile(took, 50)), P99MS: benchMS(benchPercentile(took, 99))})
	fmt.Printf("%s%s\n", loadProbeMarker, out)
}
