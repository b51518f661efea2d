package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/storage/postgres/pgtest"
	"github.com/smartcard-service-centre/kiosk/storage/storetest"
)

// Failover (issue 13): a primary and a synchronous standby of the test's
// own, the kiosk's store on both through one multi-host URL with
// target_session_attrs=read-write, and a load like a busy kiosk's
// (look-ups, attempt counters, audit rows, mail) while the primary fails
// and the standby is promoted.

// replicated is the two servers and the store on both.
type replicated struct {
	primary, standby *pgtest.Cluster
	url              string // both hosts, primary first
	store            *Store
	user             domain.UserID
}

// failoverUser has a registration, for the attempt counter.
const failoverUser domain.UserID = "555013000001"

func newReplicated(tb testing.TB) *replicated {
	tb.Helper()
	ctx := context.Background()
	primary := pgtest.NewTCPCluster(tb)
	primary.Exec("CREATE DATABASE kiosk")
	s, err := Open(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/kiosk?sslmode=disable", primary.Port), WithAuditChain(storetest.Chain))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := s.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	u := domain.User{ID: failoverUser, GivenName: "Fail", FamilyName: "Over", Email: "fail.over@nhs.net", CreatedAt: time.Now().UTC()}
	reg := domain.Registration{UserID: u.ID, Email: u.Email, RegisteredAt: time.Now().UTC()}
	for q := 1; q <= 4; q++ {
		reg.Answers = append(reg.Answers, domain.Answer{Question: domain.QuestionID(q), Hash: fmt.Sprintf("$argon2id$v=19$m=65536,t=1,p=4$salt%d$hash%d", q, q)})
	}
	if err := s.PutUser(ctx, u); err != nil {
		tb.Fatal(err)
	}
	if err := s.PutRegistration(ctx, reg); err != nil {
		tb.Fatal(err)
	}
	s.Close()
	standby := primary.NewStandby(tb)
	// Synchronous: a commit is acknowledged once the standby has it, so
	// promoting the standby loses no acknowledged write.
	primary.Exec(`ALTER SYSTEM SET synchronous_standby_names = '*'`, `SELECT pg_reload_conf()`)
	primary.WaitStandby(true)
	r := &replicated{primary: primary, standby: standby, user: u.ID,
		url: fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/kiosk?sslmode=disable&target_session_attrs=read-write",
			primary.Port, standby.Port)}
	if r.store, err = Open(ctx, r.url, WithAuditChain(storetest.Chain)); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.store.Close() })
	return r
}

// load calls the store like a busy kiosk: every 20 ms per worker, in
// turn, a look-up, a failed attempt counted, an audit row and a mail;
// it remembers which writes were acknowledged and when.
type load struct {
	s    *Store
	user domain.UserID
	stop chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	writes   []time.Time // when each acknowledged write returned
	failed   int         // calls that returned an error
	audits   []string    // details of acknowledged audit rows
	mails    []string    // subjects of acknowledged mail
	counted  int         // acknowledged failed attempts
	attempts int         // failed attempts tried
	errs     []string    // a few of the errors, for the log
	calls    []call
}

// call is one call's end and how long it took.
type call struct {
	end  time.Time
	took time.Duration
}

func startLoad(s *Store, user domain.UserID, workers int) *load {
	l := &load{s: s, user: user, stop: make(chan struct{})}
	for w := range workers {
		l.wg.Go(func() { l.worker(w) })
	}
	return l
}

func (l *load) worker(w int) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		// A bound for the test only: the store's own deadlines end each
		// call long before.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		start := time.Now()
		tag := fmt.Sprintf("w%d-%d", w, i)
		var err error
		write := true
		switch i % 4 {
		case 0:
			write = false
			_, err = l.s.GetUser(ctx, l.user)
		case 1:
			l.mu.Lock()
			l.attempts++
			l.mu.Unlock()
			_, err = l.s.RecordFailedAttempt(ctx, l.user, 1<<30, time.Now())
			if err == nil {
				l.mu.Lock()
				l.counted++
				l.mu.Unlock()
			}
		case 2:
			_, err = l.s.AppendAudit(ctx, domain.AuditEvent{Action: domain.AuditCodeIssued, Outcome: domain.OutcomeSuccess,
				SubjectID: l.user, Terminal: "kiosk-failover", Detail: tag})
			if err == nil {
				l.mu.Lock()
				l.audits = append(l.audits, tag)
				l.mu.Unlock()
			}
		case 3:
			_, err = l.s.EnqueueMail(ctx, domain.Mail{To: "fail.over@nhs.net", Subject: "failover " + tag, Body: "-", CreatedAt: time.Now()})
			if err == nil {
				l.mu.Lock()
				l.mails = append(l.mails, "failover "+tag)
				l.mu.Unlock()
			}
		}
		cancel()
		l.mu.Lock()
		l.calls = append(l.calls, call{time.Now(), time.Since(start)})
		switch {
		case err != nil:
			l.failed++
			if len(l.errs) < 5 {
				l.errs = append(l.errs, err.Error())
			}
		case write:
			l.writes = append(l.writes, time.Now())
		}
		l.mu.Unlock()
	}
}

func (l *load) halt() {
	close(l.stop)
	l.wg.Wait()
}

// firstWrite is when the first write acknowledged after t returned.
func (l *load) firstWrite(t time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.writes {
		if !w.Before(t) {
			return w, true
		}
	}
	return time.Time{}, false
}

// waitWrite waits up to limit for a write acknowledged after t.
func (l *load) waitWrite(t time.Time, limit time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if w, ok := l.firstWrite(t); ok {
			return w, true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return l.firstWrite(t)
}

func (l *load) failures() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed
}

// slowest is the longest call that ended after t.
func (l *load) slowest(t time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var d time.Duration
	for _, c := range l.calls {
		if c.end.After(t) {
			d = max(d, c.took)
		}
	}
	return d
}

// failoverResult is what one failover cost.
type failoverResult struct {
	firstWrite  time.Duration // from the standby's promotion to the first write acknowledged after it
	sinceFailed time.Duration // from the primary's failure to that write
	slowest     time.Duration // the longest call that ended after the failure
	failed      int           // calls that failed from the failure on
	acked       int           // writes acknowledged in all
	lost        int           // acknowledged audit rows, mail and attempt counts missing on the new primary
}

// settle runs the load on the new primary briefly, stops it and checks
// what the new primary holds against what was acknowledged.
func (r *replicated) settle(tb testing.TB, l *load, failedAt, promoted time.Time, failedBefore int) failoverResult {
	tb.Helper()
	first, ok := l.waitWrite(promoted, 20*time.Second)
	time.Sleep(300 * time.Millisecond)
	l.halt()
	if !ok {
		tb.Fatalf("no write succeeded within 20 s of the promotion; errors: %s", strings.Join(l.errs, "; "))
	}
	res := failoverResult{firstWrite: first.Sub(promoted), sinceFailed: first.Sub(failedAt),
		slowest: l.slowest(failedAt), failed: l.failed - failedBefore}
	ctx := context.Background()
	s := r.store
	audit, err := s.ListAudit(ctx, domain.AuditFilter{SubjectID: r.user})
	if err != nil {
		tb.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range audit {
		seen[e.Detail]++
	}
	for _, d := range l.audits {
		switch seen[d] {
		case 0:
			res.lost++
		case 1:
		default:
			tb.Errorf("audit row %s written %d times", d, seen[d])
		}
	}
	mail, err := s.ListMail(ctx, 1_000_000)
	if err != nil {
		tb.Fatal(err)
	}
	sent := map[string]int{}
	for _, m := range mail {
		sent[m.Subject]++
	}
	for _, subj := range l.mails {
		switch sent[subj] {
		case 0:
			res.lost++
		case 1:
		default:
			tb.Errorf("mail %q queued %d times", subj, sent[subj])
		}
	}
	reg, err := s.GetRegistration(ctx, r.user)
	if err != nil {
		tb.Fatal(err)
	}
	// Attempts whose answer was lost may have counted; acknowledged
	// ones must have.
	if reg.FailedAttempts < l.counted {
		res.lost += l.counted - reg.FailedAttempts
	}
	if reg.FailedAttempts > l.attempts {
		tb.Errorf("%d failed attempts counted, but only %d were tried", reg.FailedAttempts, l.attempts)
	}
	if _, err := domain.VerifyAudit(ctx, s, storetest.Chain); err != nil {
		tb.Errorf("audit trail on the promoted standby: %v", err)
	}
	res.acked = len(l.audits) + len(l.mails) + l.counted
	return res
}

// warmUp runs the load on the healthy primary until it has written.
func warmUp(tb testing.TB, l *load) {
	tb.Helper()
	if _, ok := l.waitWrite(time.Time{}, 10*time.Second); !ok {
		tb.Fatalf("no write succeeded on the healthy primary: %s", strings.Join(l.errs, "; "))
	}
	time.Sleep(500 * time.Millisecond)
}

// crashFailover: the primary crashes (pg_ctl stop -m immediate) and the
// standby is promoted at once.
func crashFailover(tb testing.TB) failoverResult {
	r := newReplicated(tb)
	l := startLoad(r.store, r.user, 2)
	warmUp(tb, l)
	failed := l.failures()
	crashed := time.Now()
	r.primary.Crash()
	r.standby.Promote()
	return r.settle(tb, l, crashed, time.Now(), failed)
}

// hangFailover: the primary's processes are stopped (SIGSTOP: a frozen
// host, a network split): connections stay open and nothing answers.
// The standby is promoted once the kiosk's calls in flight have given
// up (StatementTimeout), as a failover manager would decide later still
// (Patroni waits its 30 s TTL by default). The primary stays frozen.
func hangFailover(tb testing.TB, during func(r *replicated)) failoverResult {
	r := newReplicated(tb)
	l := startLoad(r.store, r.user, 2)
	warmUp(tb, l)
	failed := l.failures()
	frozen := time.Now()
	r.primary.Freeze()
	time.Sleep(StatementTimeout + 500*time.Millisecond)
	r.standby.Promote()
	promoted := time.Now()
	if during != nil {
		during(r)
	}
	return r.settle(tb, l, frozen, promoted, failed)
}

// TestFailoverPrimaryCrashed: writes succeed again within 1 s of the
// standby's promotion, and with synchronous replication no acknowledged
// audit row, mail or attempt count is missing on it; no row is written
// twice and the audit chain holds.
func TestFailoverPrimaryCrashed(t *testing.T) {
	res := crashFailover(t)
	t.Logf("crash: first write %v after promotion (%v after the crash); slowest call %v; %d failed calls; %d acknowledged writes, %d lost",
		res.firstWrite, res.sinceFailed, res.slowest, res.failed, res.acked, res.lost)
	if res.firstWrite > time.Second {
		t.Errorf("first write %v after the promotion, want within 1 s", res.firstWrite)
	}
	if res.lost != 0 {
		t.Errorf("%d acknowledged writes missing on the promoted standby", res.lost)
	}
}

// TestFailoverPrimaryHung: with the primary frozen, writes reach the
// promoted standby within the connect timeout plus 1 s, losing nothing
// acknowledged; a new store (as kiosk users opens one) opens on the
// multi-host URL and answers within its budget, though its first host
// never answers.
func TestFailoverPrimaryHung(t *testing.T) {
	res := hangFailover(t, func(r *replicated) {
		budget := OpenBudget(r.url, 0)
		ctx, cancel := context.WithTimeout(context.Background(), budget)
		defer cancel()
		start := time.Now()
		s, err := Open(ctx, r.url)
		if err != nil {
			t.Fatalf("open during the hang: %v", err)
		}
		defer s.Close()
		users, err := s.ListUsers(ctx, 10)
		if err != nil || len(users) != 1 || users[0].User.ID != r.user {
			t.Fatalf("list users during the hang: %v, %v", users, err)
		}
		t.Logf("open and list users during the hang: %v (budget %v)", time.Since(start), budget)
	})
	t.Logf("hang: first write %v after promotion (%v after the hang); slowest call %v; %d failed calls; %d acknowledged writes, %d lost",
		res.firstWrite, res.sinceFailed, res.slowest, res.failed, res.acked, res.lost)
	if limit := DefaultConnectTimeout + time.Second; res.firstWrite > limit {
		t.Errorf("first write %v after the promotion, want within %v (connect timeout + 1 s)", res.firstWrite, limit)
	}
	if res.lost != 0 {
		t.Errorf("%d acknowledged writes missing on the promoted standby", res.lost)
	}
}

// BenchmarkFailover measures both failovers once per run, under the
// tests' load (2 workers, a call every 20 ms each): time to the first
// acknowledged write after a crash with the standby promoted at once,
// and after the promotion (for the hang, promoted 5.5 s in); the slowest
// call from the failure on; calls that failed; acknowledged writes and
// how many of them the promoted standby lacks (synchronous replication).
func BenchmarkFailover(b *testing.B) {
	for b.Loop() {
		crash := crashFailover(b)
		hang := hangFailover(b, nil)
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		b.ReportMetric(ms(crash.sinceFailed), "crash-first-write-ms")
		b.ReportMetric(ms(crash.firstWrite), "crash-promoted-first-write-ms")
		b.ReportMetric(ms(crash.slowest), "crash-slowest-call-ms")
		b.ReportMetric(float64(crash.failed), "crash-failed-calls")
		b.ReportMetric(float64(crash.acked), "crash-acked-writes")
		b.ReportMetric(float64(crash.lost), "crash-lost-writes")
		b.ReportMetric(ms(hang.firstWrite), "hang-promoted-first-write-ms")
		b.ReportMetric(ms(hang.slowest), "hang-slowest-call-ms")
		b.ReportMetric(float64(hang.failed), "hang-failed-calls")
		b.ReportMetric(float64(hang.acked), "hang-acked-writes")
		b.ReportMetric(float64(hang.lost), "hang-lost-writes")
	}
}
