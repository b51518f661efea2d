package selfservice_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smartcard-service-centre/kiosk/cardio/ca"
	"github.com/smartcard-service-centre/kiosk/cardio/pivcard"
	"github.com/smartcard-service-centre/kiosk/cardio/sim"
	"github.com/smartcard-service-centre/kiosk/cardio/simreader"
	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/internal/procmem"
	"github.com/smartcard-service-centre/kiosk/storage/postgres"
	"github.com/smartcard-service-centre/kiosk/storage/postgres/pgtest"
	"github.com/smartcard-service-centre/kiosk/storage/sqlite"
)

// The unlock visit benchmarks drive the real self-service service as the
// kiosk wires it: the production argon2id parameters (secret.DefaultArgon2),
// the software PIV card (cardio/sim) behind the real card adapter
// (cardio/pivcard) in an in-process reader (no pcscd), and a real store.
// The machine part of a visit is timed: from opening the card to the
// unlock's records committed, without the time a person takes to read the
// emailed code (that read is done outside the clock).

const (
	benchReader = "Bench Reader"
	benchUser   = domain.UserID("555001799894")
	benchSerial = domain.CardSerial("4082A001132F2817")
	benchPIN    = "7Gw#p2"
)

var benchAnswers = map[domain.QuestionID]string{1: "Smith", 2: "Edinburgh", 3: "Rex", 4: "St Marys"}

// benchPasscodes are the new passcodes the visits set in turn (any that
// pass the default policy).
var benchPasscodes = []string{"Kx9!a7", "Qm4#b2", "Zr8$c5"}

// benchClock is the real clock moved on by a settable offset: each visit
// is a day after the one before, so the code policy (three codes a day)
// never refuses one, and the time inside a visit still passes.
type benchClock struct {
	mu sync.Mutex
	d  time.Duration
}

func (c *benchClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().UTC().Add(c.d)
}

func (c *benchClock) advance(d time.Duration) {
	c.mu.Lock()
	c.d += d
	c.mu.Unlock()
}

// benchRig is one kiosk: a service over a store, and a software card in
// its one reader.
type benchRig struct {
	// pause and resume, if set, stop the benchmark's clock around what is
	// not the kiosk's time (blocking the card, reading the mail).
	pause, resume func()

	store   domain.Store
	keys    *secret.Keys
	svc     *selfservice.Service
	clock   *benchClock
	tray    *simreader.Tray
	readers *pivcard.Readers
}

func newBenchRig(store domain.Store, keys *secret.Keys, authority domain.CertificateAuthority, card *sim.Card) (*benchRig, error) {
	r := &benchRig{store: store, keys: keys, clock: &benchClock{}, tray: simreader.New(benchReader)}
	if err := r.tray.Insert(benchReader, card); err != nil {
		return nil, err
	}
	r.readers = pivcard.NewReaders(r.tray, pivcard.Assignment{Holder: benchReader})
	r.svc = selfservice.New(selfservice.Config{Store: store, Keys: keys, CA: authority, Clock: r.clock,
		Argon2: secret.DefaultArgon2, Terminal: "bench"})
	return r, nil
}

// issueBenchCard personalises a factory-fresh software card through the
// card adapter (keys generated on the card, certified by authority) and
// stores its holder as the service issues them: user, card record, sealed
// PUK and management key, and a registration whose four answers are
// hashed with the production argon2id parameters.
func issueBenchCard(ctx context.Context, store domain.Store, keys *secret.Keys, authority domain.CertificateAuthority) (*sim.Card, error) {
	hashed, err := hashBenchAnswers()
	if err != nil {
		return nil, err
	}
	return issueCard(ctx, store, keys, authority, benchHolder{ID: benchUser, Serial: benchSerial,
		Given: "Test", Family: "Person", Email: "test.person@nhs.net", Sets: hashed})
}

// hashBenchAnswers hashes benchAnswers as a registration does (answer
// sets) with the production argon2id parameters.
func hashBenchAnswers() ([]domain.AnswerSet, error) {
	return secret.HashAnswerSets(secret.DefaultArgon2, benchAnswers, nil)
}

// benchHolder is a card holder issueCard stores: Sets are hashed
// already (benchmarks with many holders hash them once).
type benchHolder struct {
	ID                   domain.UserID
	Serial               domain.CardSerial
	Given, Family, Email string
	Sets                 []domain.AnswerSet
}

// issueCard personalises a factory-fresh software card for h (passcode
// benchPIN) and stores h as the service issues a holder: user, card
// record, sealed secrets and registration, in one transaction.
func issueCard(ctx context.Context, store domain.Store, keys *secret.Keys, authority domain.CertificateAuthority, h benchHolder) (*sim.Card, error) {
	now := time.Now().UTC().Truncate(time.Second)
	notAfter := now.AddDate(2, 0, 0)
	s := sim.New()
	tray := simreader.New(benchReader)
	defer tray.Close()
	if err := tray.Insert(benchReader, s); err != nil {
		return nil, err
	}
	conn, err := tray.Connect(ctx, benchReader)
	if err != nil {
		return nil, err
	}
	card := pivcard.New(conn)
	defer card.Close()
	puk, err := secret.NewPUK(rand.Reader)
	if err != nil {
		return nil, err
	}
	mk, err := secret.NewManagementKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	certs := map[domain.KeySlot][]byte{}
	err = card.Personalise(ctx, domain.PersonaliseRequest{
		Serial: h.Serial, CHUIDExpiry: notAfter, Current: pivcard.FactoryKeys(),
		New: domain.CardKeys{MgmtAlg: "AES256", MgmtKey: mk, PUK: puk},
		Certify: func(slot domain.KeySlot, pub crypto.PublicKey) ([]byte, error) {
			der, err := authority.Issue(pub, h.ID, h.Serial, slot, now, notAfter)
			certs[slot] = der
			return der, err
		},
	})
	if err != nil {
		return nil, fmt.Errorf("personalise: %w", err)
	}
	if err := card.ChangePasscode(ctx, pivcard.FactoryPasscode, benchPIN); err != nil {
		return nil, fmt.Errorf("set passcode: %w", err)
	}
	reg := domain.Registration{UserID: h.ID, Email: h.Email, RegisteredAt: now, Sets: h.Sets}
	sealed, err := keys.SealCard(h.Serial, puk, "AES256", mk, now)
	if err != nil {
		return nil, err
	}
	err = store.InTx(ctx, func(q domain.Queries) error {
		u := domain.User{ID: h.ID, Title: "Mr", GivenName: h.Given, FamilyName: h.Family, Email: h.Email, CreatedAt: now}
		if err := q.PutUser(ctx, u); err != nil {
			return err
		}
		rec := domain.Smartcard{Serial: h.Serial, UserID: h.ID, Type: "PIV", IssuedAt: now, CertExpiry: notAfter,
			CardAuthCert: certs[domain.KeyCardAuth], PIVAuthCert: certs[domain.KeyPIVAuth]}
		if err := q.PutSmartcard(ctx, rec); err != nil {
			return err
		}
		if err := q.PutCardSecrets(ctx, sealed); err != nil {
			return err
		}
		return q.PutRegistration(ctx, reg)
	})
	if err != nil {
		return nil, fmt.Errorf("store the holder: %w", err)
	}
	return s, nil
}

// The steps of a visit, as timed.
const (
	stepIdentify  = iota // open the card, read it, look it up, genuine check, holder and registration
	stepQuestions        // StartUnlock: registration fresh from the store, the draw stored
	stepAnswers          // AnswerQuestions: one argon2id (the drawn set's), the code stored and mailed
	stepCode             // EnterUnlockCode
	stepUnlock           // CompleteUnlock (intent, card write, outcome and mail) and close
	nSteps
)

var benchStepNames = [nSteps]string{"identify", "questions", "answers", "code", "unlock"}

var benchCodeLine = regexp.MustCompile(`(?m)^\s*(\d{6})\s*$`)

// visit runs one unlock visit of the card in the reader, blocking the
// card first as a forgetful holder does (outside the clock). It returns
// each step's time and how many questions were asked.
func (r *benchRig) visit(ctx context.Context, newPIN string) (steps [nSteps]time.Duration, questions int, err error) {
	r.stopClock()
	if err := r.block(ctx); err != nil {
		return steps, 0, fmt.Errorf("block the card: %w", err)
	}
	r.startClock()
	t := time.Now()
	lap := func(step int) {
		now := time.Now()
		steps[step] = now.Sub(t)
		t = now
	}
	card, err := r.readers.Open(ctx, domain.ReaderHolder)
	if err != nil {
		return steps, 0, err
	}
	defer card.Close()
	sess, err := r.svc.Identify(ctx, card)
	if err != nil {
		return steps, 0, fmt.Errorf("identify: %w", err)
	}
	if !r.svc.Holder(sess).Blocked {
		return steps, 0, fmt.Errorf("the card is not blocked")
	}
	lap(stepIdentify)
	qs, err := r.svc.StartUnlock(ctx, sess)
	if err != nil {
		return steps, 0, fmt.Errorf("start unlock: %w", err)
	}
	lap(stepQuestions)
	given := make([]string, len(qs))
	for i, q := range qs {
		given[i] = benchAnswers[q.ID]
	}
	if _, err := r.svc.AnswerQuestions(ctx, sess, given); err != nil {
		return steps, 0, fmt.Errorf("answer: %w", err)
	}
	lap(stepAnswers)
	r.stopClock()
	code, err := r.lastCode(ctx) // the holder reads their email: not timed
	if err != nil {
		return steps, 0, err
	}
	r.startClock()
	t = time.Now()
	if err := r.svc.EnterUnlockCode(ctx, sess, code); err != nil {
		return steps, 0, fmt.Errorf("enter code: %w", err)
	}
	lap(stepCode)
	if err := r.svc.CompleteUnlock(ctx, sess, card, newPIN, newPIN); err != nil {
		return steps, 0, fmt.Errorf("complete unlock: %w", err)
	}
	if err := card.Close(); err != nil {
		return steps, 0, err
	}
	lap(stepUnlock)
	// The next visit is a day later.
	r.clock.advance(25 * time.Hour)
	return steps, len(qs), nil
}

func (r *benchRig) stopClock() {
	if r.pause != nil {
		r.pause()
	}
}

func (r *benchRig) startClock() {
	if r.resume != nil {
		r.resume()
	}
}

// block spends the card's passcode tries with a wrong passcode.
func (r *benchRig) block(ctx context.Context) error {
	card, err := r.readers.Open(ctx, domain.ReaderHolder)
	if err != nil {
		return err
	}
	defer card.Close()
	for range domain.PasscodeTries {
		if err := card.VerifyPasscode(ctx, "0000"); err == nil {
			return fmt.Errorf("a wrong passcode was accepted")
		}
	}
	return nil
}

// lastCode opens the newest unlock code mail in the outbox, as the mail
// sender does.
func (r *benchRig) lastCode(ctx context.Context) (string, error) {
	mails, err := r.store.ListMail(ctx, 5)
	if err != nil {
		return "", err
	}
	for _, m := range mails {
		m, err := r.keys.OpenMail(m)
		if err != nil {
			return "", err
		}
		if m.Subject == "Smartcard Unlock Code" {
			if c := benchCodeLine.FindStringSubmatch(m.Body); c != nil {
				return c[1], nil
			}
		}
	}
	return "", fmt.Errorf("no unlock code in the outbox")
}

// openBenchPostgres makes a throwaway PostgreSQL database with the keys
// and CA of a benchmark, and returns the store over it, migrated (the
// caller closes it), with the database's URL.
func openBenchPostgres(ctx context.Context, b *testing.B) (*postgres.Store, string, *secret.Keys, domain.CertificateAuthority) {
	b.Helper()
	dbURL := pgtest.NewDatabase(b)
	keys := newBenchKeys(b)
	authority := newBenchCA(b)
	st, err := postgres.Open(ctx, dbURL, postgres.WithAuditChain(keys))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.Migrate(ctx); err != nil {
		st.Close()
		b.Fatal(err)
	}
	return st, dbURL, keys, authority
}

// benchHolderOnPostgres stores the benchmark's card holder in a
// throwaway PostgreSQL database over a pool it closes before returning,
// so that the transactions stats counts from then on are the caller's
// alone; stats is closed when the benchmark ends.
func benchHolderOnPostgres(ctx context.Context, b *testing.B) (dbURL string, keys *secret.Keys, authority domain.CertificateAuthority, card *sim.Card, stats *benchXactCounter) {
	b.Helper()
	setup, dbURL, keys, authority := openBenchPostgres(ctx, b)
	card, err := issueBenchCard(ctx, setup, keys, authority)
	setup.Close()
	if err != nil {
		b.Fatal(err)
	}
	if stats, err = openBenchXactCounter(ctx, b, dbURL); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stats.close)
	return dbURL, keys, authority, card, stats
}

func newBenchKeys(tb testing.TB) *secret.Keys {
	tb.Helper()
	kek := make([]byte, secret.KEKSize)
	if _, err := rand.Read(kek); err != nil {
		tb.Fatal(err)
	}
	keys, err := secret.NewKeys(kek)
	if err != nil {
		tb.Fatal(err)
	}
	return keys
}

func newBenchCA(tb testing.TB) domain.CertificateAuthority {
	tb.Helper()
	a, err := ca.Generate(tb.TempDir(), time.Now().AddDate(-1, 0, 0))
	if err != nil {
		tb.Fatal(err)
	}
	return ca.ForDomain(a)
}

// runBenchVisits runs b's loop of visits on rig and reports the visit's
// percentiles and each step's mean; it returns the number of visits.
func runBenchVisits(b *testing.B, rig *benchRig) int {
	ctx := context.Background()
	rig.pause, rig.resume = b.StopTimer, b.StartTimer
	var total []time.Duration
	var sums [nSteps]time.Duration
	questions := 0
	for b.Loop() {
		steps, n, err := rig.visit(ctx, benchPasscodes[len(total)%len(benchPasscodes)])
		if err != nil {
			b.Fatal(err)
		}
		var d time.Duration
		for i, s := range steps {
			d += s
			sums[i] += s
		}
		total = append(total, d)
		questions += n
	}
	n := len(total)
	b.ReportMetric(benchMS(benchPercentile(total, 50)), "p50-ms")
	b.ReportMetric(benchMS(benchPercentile(total, 95)), "p95-ms")
	for i, s := range sums {
		b.ReportMetric(benchMS(s/time.Duration(n)), benchStepNames[i]+"-ms")
	}
	b.ReportMetric(float64(questions)/float64(n), "questions/visit")
	return n
}

func benchMS(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// benchPercentile is the nearest-rank percentile p of ds.
func benchPercentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (p*len(s)+99)/100 - 1
	return s[max(0, min(i, len(s)-1))]
}

// BenchmarkUnlockVisit times the machine part of a whole self-service
// unlock visit through the real domain/selfservice service: card opened →
// identified and proved genuine (9E challenge) → 2–4 questions drawn →
// answers checked with argon2id at secret.DefaultArgon2 (19 MiB, 2
// passes; one computation, the drawn set's hash, as the holder
// registered through the service) → code stored and mailed → code entered → unlock written ahead
// (intent, RESET RETRY COUNTER and VERIFY on the card, outcome with its
// audit row and notification) → card closed. The card is the software
// PIV card behind the real adapter in an in-process reader (no pcscd);
// the store is SQLite (a file in a temporary directory) or PostgreSQL (a
// throwaway database on KIOSK_TEST_DATABASE_URL). The card is blocked
// before each visit and the emailed code read from the outbox, both
// outside the clock. Reports p50/p95 over the run's visits, the mean of
// each step, the questions asked (random, 2–4) and, on PostgreSQL, the transactions per visit (pg_stat_database, every
// statement outside a transaction counted as one).
func BenchmarkUnlockVisit(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		ctx := context.Background()
		keys := newBenchKeys(b)
		st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "kiosk.db"), sqlite.WithAuditChain(keys))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		authority := newBenchCA(b)
		card, err := issueBenchCard(ctx, st, keys, authority)
		if err != nil {
			b.Fatal(err)
		}
		rig, err := newBenchRig(st, keys, authority, card)
		if err != nil {
			b.Fatal(err)
		}
		defer rig.tray.Close()
		runBenchVisits(b, rig)
	})
	b.Run("postgres", func(b *testing.B) {
		ctx := context.Background()
		dbURL, keys, authority, card, stats := benchHolderOnPostgres(ctx, b)
		before, err := stats.settled(ctx)
		if err != nil {
			b.Fatal(err)
		}
		st, err := postgres.Open(ctx, dbURL, postgres.WithAuditChain(keys))
		if err != nil {
			b.Fatal(err)
		}
		rig, err := newBenchRig(st, keys, authority, card)
		if err != nil {
			b.Fatal(err)
		}
		defer rig.tray.Close()
		visits := runBenchVisits(b, rig)
		st.Close()
		after, err := stats.settled(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if visits > 0 {
			b.ReportMetric(float64(after-before)/float64(visits), "xacts/visit")
		}
	})
}

// benchXactCounter reads a database's committed and rolled-back transactions
// from pg_stat_database, over a connection to the server's maintenance
// database (so its own queries are not counted).
type benchXactCounter struct {
	conn *pgx.Conn
	db   string
}

func openBenchXactCounter(ctx context.Context, tb testing.TB, dbURL string) (*benchXactCounter, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, pgtest.AdminURL(tb))
	if err != nil {
		return nil, err
	}
	return &benchXactCounter{conn: conn, db: strings.TrimPrefix(u.Path, "/")}, nil
}

func (x *benchXactCounter) close() { x.conn.Close(context.Background()) }

// settled waits until no session is connected to the database (a
// backend's counts reach the statistics at the latest when it exits) and
// the count has stopped changing, and returns it.
func (x *benchXactCounter) settled(ctx context.Context) (int64, error) {
	deadline := time.Now().Add(15 * time.Second)
	last := int64(-1)
	for time.Now().Before(deadline) {
		var sessions int
		if err := x.conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1`, x.db).Scan(&sessions); err != nil {
			return 0, err
		}
		var n int64
		if err := x.conn.QueryRow(ctx, `SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1`, x.db).Scan(&n); err != nil {
			return 0, err
		}
		if sessions == 0 && n == last {
			return n, nil
		}
		last = n
		time.Sleep(100 * time.Millisecond)
	}
	return 0, fmt.Errorf("the transaction count of %s did not settle", x.db)
}

// The memory benchmark runs each visit in a child process (this test
// binary again, running TestUnlockVisitMemoryChild), so that the figures
// are one process's: idle, peak and after one visit.

const benchVisitChildEnv = "KIOSK_BENCH_VISIT_CHILD"

// benchChildVisits is how many visits one child serves: each asks 2–4
// questions at random, and the peak is the costliest visit's.
const benchChildVisits = 3

// benchVisitMemory is what the child reports, in kB as /proc gives them.
type benchVisitMemory struct {
	IdleKB    int64 `json:"idle_kb"`
	PeakKB    int64 `json:"peak_kb"`
	AfterKB   int64 `json:"after_kb"`
	Questions int   `json:"questions"`
}

const benchVisitChildMarker = "VISIT-MEMORY "

// BenchmarkUnlockVisitMemory measures the resident memory of a process
// serving unlock visits: a child process (this test binary, re-run)
// opens the SQLite store, the CA, the card file (software card in an
// in-process reader) and the service as the kiosk does, then reads
// VmRSS (idle-MB), resets the peak mark (/proc/self/clear_refs 5), serves
// three visits one after another as BenchmarkUnlockVisit does (argon2id
// at secret.DefaultArgon2, one computation per check of the answers),
// and reads VmHWM (peak-MB, the
// peak during the visits) and VmRSS (after-MB, right after the last,
// with no forced GC). The child has the test framework but no terminal
// UI: see BenchmarkStartToFirstFrame for the kiosk binary's own idle
// figure. One child per iteration (peak-MB is the highest of the run's
// children, the others their median); its wall time is ns/op.
func BenchmarkUnlockVisitMemory(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	kek := filepath.Join(dir, "kek")
	if err := secret.WriteNewKEK(kek, rand.Reader); err != nil {
		b.Fatal(err)
	}
	keys, err := secret.LoadKEK(kek)
	if err != nil {
		b.Fatal(err)
	}
	a, err := ca.Generate(filepath.Join(dir, "ca"), time.Now().AddDate(-1, 0, 0))
	if err != nil {
		b.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "kiosk.db"), sqlite.WithAuditChain(keys))
	if err != nil {
		b.Fatal(err)
	}
	card, err := issueBenchCard(ctx, st, keys, ca.ForDomain(a))
	st.Close()
	if err != nil {
		b.Fatal(err)
	}
	if err := card.Save(filepath.Join(dir, "card")); err != nil {
		b.Fatal(err)
	}
	var peaks, idles, afters []float64
	i, questions := 0, 0
	for b.Loop() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestUnlockVisitMemoryChild$", "-test.bench=^$", "-test.count=1")
		// Each visit is a day after the one before (the store keeps the
		// codes sent).
		cmd.Env = append(os.Environ(), benchVisitChildEnv+"="+dir, benchVisitChildEnv+"_DAY="+strconv.Itoa(i*benchChildVisits))
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("visit child: %v\n%s", err, out)
		}
		m, err := parseBenchVisitChild(out)
		if err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		peaks = append(peaks, float64(m.PeakKB)/1024)
		idles = append(idles, float64(m.IdleKB)/1024)
		afters = append(afters, float64(m.AfterKB)/1024)
		questions += m.Questions
		i++
	}
	b.ReportMetric(slices.Max(peaks), "peak-MB")
	b.ReportMetric(procmem.Median(idles), "idle-MB")
	b.ReportMetric(procmem.Median(afters), "after-MB")
	b.ReportMetric(float64(questions)/float64(i*benchChildVisits), "questions/visit")
}

func parseBenchVisitChild(out []byte) (benchVisitMemory, error) {
	var m benchVisitMemory
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), benchVisitChildMarker); ok {
			return m, json.Unmarshal([]byte(line), &m)
		}
	}
	return m, fmt.Errorf("the visit child reported nothing")
}

// TestUnlockVisitMemoryChild is BenchmarkUnlockVisitMemory's child
// process; run on its own it does nothing.
func TestUnlockVisitMemoryChild(t *testing.T) {
	dir := os.Getenv(benchVisitChildEnv)
	if dir == "" {
		return
	}
	ctx := context.Background()
	keys, err := secret.LoadKEK(filepath.Join(dir, "kek"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := ca.Load(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "kiosk.db"), sqlite.WithAuditChain(keys))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	card, err := sim.Load(filepath.Join(dir, "card"))
	if err != nil {
		t.Fatal(err)
	}
	rig, err := newBenchRig(st, keys, ca.ForDomain(a), card)
	if err != nil {
		t.Fatal(err)
	}
	defer rig.tray.Close()
	day, _ := strconv.Atoi(os.Getenv(benchVisitChildEnv + "_DAY"))
	rig.clock.advance(time.Duration(day) * 25 * time.Hour)

	var m benchVisitMemory
	if m.IdleKB, err = procmem.StatusKB(0, "VmRSS"); err != nil {
		t.Fatal(err)
	}
	// Reset the peak mark: the peak is the visit's.
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("reset the peak resident set: %v", err)
	}
	for v := range benchChildVisits { // each a day after the one before
		_, n, err := rig.visit(ctx, benchPasscodes[(day+v)%len(benchPasscodes)])
		if err != nil {
			t.Fatal(err)
		}
		m.Questions += n
	}
	if m.PeakKB, err = procmem.StatusKB(0, "VmHWM"); err != nil {
		t.Fatal(err)
	}
	if m.AfterKB, err = procmem.StatusKB(0, "VmRSS"); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(m)
	fmt.Printf("%s%s\n", benchVisitChildMarker, out)
}
