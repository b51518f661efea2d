package selfservice_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/cardwrite"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/internal/sstest"
	"github.com/smartcard-service-centre/kiosk/storage/postgres"
	"github.com/smartcard-service-centre/kiosk/storage/postgres/pgtest"
	"github.com/smartcard-service-centre/kiosk/storage/spool"
)

const unlockedSubject = "Your Smartcard has been unlocked"

// kiosk is the service as the kiosk command wires it: a journal with a
// spool in the data directory. Each call is a kiosk (re)started on store.
func (f *fixture) kiosk(t *testing.T, store domain.Store, spoolDir string) (*selfservice.Service, *cardwrite.Journal, *spool.Dir) {
	t.Helper()
	sp, err := spool.Open(spoolDir)
	noErr(t, err)
	j := cardwrite.New(cardwrite.Config{Store: store, Spool: sp, Clock: f.clock, Terminal: "test"})
	svc := selfservice.New(selfservice.Config{Store: store, Keys: f.keys, CA: f.ca, Clock: f.clock, Argon2: cheap,
		Terminal: "test", Journal: j})
	return svc, j, sp
}

// toNewPasscode takes a visit of card to the new-passcode step.
func toNewPasscode(t *testing.T, svc *selfservice.Service, f *fixture, card domain.Card) *selfservice.Session {
	t.Helper()
	sess, err := svc.Identify(t.Context(), card)
	noErr(t, err)
	_, err = svc.StartUnlock(t.Context(), sess)
	noErr(t, err)
	_, err = svc.AnswerQuestions(t.Context(), sess, answerAll(sess, true))
	noErr(t, err)
	noErr(t, svc.EnterUnlockCode(t.Context(), sess, f.lastCode(t, "Smartcard Unlock Code")))
	return sess
}

// records counts what the store holds of a card's writes: audit rows by
// action and outcome, and notifications of an unlock.
type records struct {
	audit map[string]int // "self_unlock success" → rows
	mails int
	open  int // unsettled intents of the card
}

func (f *fixture) records(t *testing.T, store domain.Store, serial domain.CardSerial) records {
	t.Helper()
	ctx := t.Context()
	ev, err := store.ListAudit(ctx, domain.AuditFilter{CardSerial: serial})
	noErr(t, err)
	r := records{audit: map[string]int{}}
	for _, e := range ev {
		if e.Action == domain.AuditSelfUnlock || e.Action == domain.AuditSelfRenew || e.Action == domain.AuditChangePasscode {
			r.audit[string(e.Action)+" "+string(e.Outcome)]++
		}
	}
	mails, err := store.ListMail(ctx, 1000)
	noErr(t, err)
	for _, m := range mails {
		if m.Subject == unlockedSubject {
			r.mails++
		}
	}
	open, err := store.OpenCardWrites(ctx, serial)
	noErr(t, err)
	r.open = len(open)
	return r
}

func (r records) want(t *testing.T, when string, audit map[string]int, mails int) {
	t.Helper()
	if len(r.audit) != len(audit) || r.mails != mails || r.open != 0 {
		t.Fatalf("%s: audit rows %v, %d notifications, %d open intents; want %v, %d, none", when, r.audit, r.mails, r.open, audit, mails)
	}
	for k, n := range audit {
		if r.audit[k] != n {
			t.Fatalf("%s: audit rows %v, want %v", when, r.audit, audit)
		}
	}
}

// The reproduction, automated: at "Reset Smartcard Passcode" the
// card is paused, the holder confirms, PostgreSQL stops, the card
// resumes. The card is unlocked and the kiosk says the record is delayed;
// once the database is back, the next visit is served only after the
// audit row and the notification are in, exactly once however often the
// spool is replayed.
func TestUnlockRecordedOnceAfterTheDatabaseReturns(t *testing.T) {
	pg := pgtest.NewCluster(t)
	f := newFixture(t)
	ctx := t.Context()
	store, err := postgres.Open(ctx, pg.URL, postgres.WithAuditChain(f.keys))
	noErr(t, err)
	t.Cleanup(func() { store.Close() })
	_, err = store.Migrate(ctx)
	noErr(t, err)
	f.store = store
	svc, journal, sp := f.kiosk(t, store, filepath.Join(t.TempDir(), "spool"))
	card := f.enrol(t, sstest.Holder{Blocked: true, Answers: answers})
	sess := toNewPasscode(t, svc, f, card)

	paused, resume := make(chan struct{}), make(chan struct{})
	card.Hook = func(op string) {
		if op == "Unlock" {
			close(paused) // kill -STOP the card: the intent is already in the store
			<-resume
		}
	}
	done := make(chan error, 1)
	go func() { done <- svc.CompleteUnlock(ctx, sess, card, "Kx9!a", "Kx9!a") }()
	<-paused
	pg.Stop()
	close(resume)
	err = <-done
	if !errors.Is(err, domain.ErrRecordDelayed) {
		t.Fatalf("unlock with the database gone: %v, want ErrRecordDelayed", err)
	}
	if !card.PINIs("Kx9!a") || sess.Step() != selfservice.StepUnlocked {
		t.Fatalf("card or session not unlocked (step %v)", sess.Step())
	}
	kept, err := sp.List()
	noErr(t, err)
	if len(kept) != 1 || kept[0].Outcome != domain.OutcomeSuccess || len(kept[0].Mails) != 1 {
		t.Fatalf("spool holds %+v, want the unlock with its notification", kept)
	}
	// While the database is away, no visit is served.
	if _, err := svc.Identify(ctx, card); err == nil {
		t.Fatal("a visit was served before the spooled record was written")
	}

	pg.Start()
	if _, err := svc.Identify(ctx, card); err != nil {
		t.Fatalf("first visit after the database returned: %v", err)
	}
	wantRows := map[string]int{"self_unlock success": 1}
	f.records(t, store, card.Serial).want(t, "after the next visit began", wantRows, 1)
	if left, err := sp.List(); err != nil || len(left) != 0 {
		t.Fatalf("spool after the replay: %v, %v", left, err)
	}

	// Replayed again: the periodic replay, kiosk recover, and a copy left
	// by a crash between the commit and clearing the spool.
	if n, err := journal.Replay(ctx); n != 0 || err != nil {
		t.Fatalf("second replay wrote %d: %v", n, err)
	}
	noErr(t, sp.Put(kept[0]))
	if n, err := journal.Replay(ctx); n != 1 || err != nil {
		t.Fatalf("replay of a copy: %d, %v", n, err)
	}
	f.records(t, store, card.Serial).want(t, "after replaying twice more", wantRows, 1)
}

// killedKiosk is a card in a kiosk that dies (here: its goroutine ends)
// at op, before or after the card does it: nothing after that runs.
type killedKiosk struct {
	*sstest.Card
	op     string
	before bool
}

func (k killedKiosk) die(op string) {
	if op == k.op {
		runtime.Goexit()
	}
}

func (k killedKiosk) Unlock(ctx context.Context, puk []byte, pin string) error {
	if k.before {
		k.die("Unlock")
	}
	err := k.Card.Unlock(ctx, puk, pin)
	k.die("Unlock")
	return err
}

func (k killedKiosk) Personalise(ctx context.Context, req domain.PersonaliseRequest) error {
	if k.before {
		k.die("Personalise")
	}
	err := k.Card.Personalise(ctx, req)
	k.die("Personalise")
	return err
}

// An intent the kiosk left without an outcome (killed mid-write) is
// settled from the card's real state when the card is next inserted, in
// another kiosk process: the audit row, and for an unlock the holder's
// notification, once.
func TestIntentLeftOpenIsSettledFromTheCard(t *testing.T) {
	tests := []struct {
		name    string
		op      string
		before  bool // killed before the card was written
		rows    map[string]int
		mails   int
		visit   error // what the next visit meets
		blocked bool  // the card after the kill
	}{
		{"unlock written", "Unlock", false, map[string]int{"self_unlock success": 1}, 1, nil, false},
		{"unlock not written", "Unlock", true, map[string]int{"self_unlock failure": 1}, 0, nil, true},
		{"renewal not written", "Personalise", true, map[string]int{"self_renew failure": 1}, 0, nil, false},
		{"renewal written", "Personalise", false, map[string]int{"self_renew failure": 1}, 0, domain.ErrCardNeedsRepair, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := t.Context()
			spoolDir := filepath.Join(t.TempDir(), "spool")
			dying, _, _ := f.kiosk(t, f.store, spoolDir)
			h := sstest.Holder{Answers: answers, Blocked: tt.op == "Unlock", CertExpiry: time.Now().AddDate(0, 0, 40)}
			card := f.enrol(t, h)
			k := killedKiosk{Card: card, op: tt.op, before: tt.before}
			var sess *selfservice.Session
			if tt.op == "Unlock" {
				sess = toNewPasscode(t, dying, f, k)
			} else {
				var err error
				sess, err = dying.Identify(ctx, k)
				noErr(t, err)
				noErr(t, dying.SignIn(ctx, sess, k, "2580"))
			}
			killed := make(chan struct{})
			go func() {
				defer close(killed)
				if tt.op == "Unlock" {
					dying.CompleteUnlock(ctx, sess, k, "Kx9!a", "Kx9!a")
				} else {
					dying.Renew(ctx, sess, k)
				}
				t.Error("the workflow went on after the kiosk died")
			}()
			<-killed
			open, err := f.store.OpenCardWrites(ctx, card.Serial)
			if err != nil || len(open) != 1 {
				t.Fatalf("open intents after the kill: %v, %v; want one", open, err)
			}
			if st, _ := card.Status(ctx); st.Blocked != tt.blocked {
				t.Fatalf("card blocked %v after the kill, want %v", st.Blocked, tt.blocked)
			}

			// The kiosk restarts; the holder inserts the card.
			next, _, _ := f.kiosk(t, f.store, spoolDir)
			if _, err := next.Identify(ctx, card); !errors.Is(err, tt.visit) {
				t.Fatalf("visit after the kill: %v, want %v", err, tt.visit)
			}
			f.records(t, f.store, card.Serial).want(t, "after the visit", tt.rows, tt.mails)
			// Once settled, it is not settled again.
			next.Identify(ctx, card)
			f.records(t, f.store, card.Serial).want(t, "after a second visit", tt.rows, tt.mails)
			w, err := f.store.GetCardWrite(ctx, open[0].ID)
			noErr(t, err)
			if !w.Settled() || !strings.Contains(w.Detail, "settled from the card when it was next inserted") {
				t.Fatalf("intent after the visit: %+v", w)
			}
			// A renewal that got as far as new keys leaves the card
			// marked for an operator's repair.
			rec, err := f.store.GetSmartcard(ctx, card.Serial)
			noErr(t, err)
			if want := tt.visit != nil; rec.NeedsRepair != want {
				t.Fatalf("card marked for repair: %v, want %v", rec.NeedsRepair, want)
			}
		})
	}
}

// outage is a store that can be cut off, as an unreachable database:
// transactions fail while it is down.
type outage struct {
	domain.Store
	down atomic.Bool
}

var errUnreachable = fmt.Errorf("%w: dial tcp 192.0.2.7:5432: connect: connection refused", domain.ErrStoreUnavailable)

func (o *outage) InTx(ctx context.Context, fn func(q domain.Queries) error) error {
	if o.down.Load() {
		return errUnreachable
	}
	return o.Store.InTx(ctx, fn)
}

// The spooled outcome is private (0600, in a 0700 directory) and holds no
// secret: not the PUK, the new passcode, the unlock code, the management
// key nor the key-encryption key.
func TestSpoolHoldsNoSecret(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t)
	kek := make([]byte, secret.KEKSize)
	rand.Read(kek)
	keys, err := secret.NewKeys(kek)
	noErr(t, err)
	f.keys = keys // the cards' secrets are sealed under this key
	cut := &outage{Store: f.store}
	dir := filepath.Join(t.TempDir(), "spool")
	svc, _, _ := f.kiosk(t, cut, dir)
	card := f.enrol(t, sstest.Holder{Blocked: true, Answers: answers})
	sess, err := svc.Identify(ctx, card)
	noErr(t, err)
	_, err = svc.StartUnlock(ctx, sess)
	noErr(t, err)
	_, err = svc.AnswerQuestions(ctx, sess, answerAll(sess, true))
	noErr(t, err)
	code := f.lastCode(t, "Smartcard Unlock Code")
	noErr(t, svc.EnterUnlockCode(ctx, sess, code))
	card.Hook = func(op string) {
		if op == "Unlock" {
			cut.down.Store(true)
		}
	}
	const newPIN = "Kx9!a"
	if err := svc.CompleteUnlock(ctx, sess, card, newPIN, newPIN); !errors.Is(err, domain.ErrRecordDelayed) {
		t.Fatalf("unlock with the store cut off: %v", err)
	}
	sealed, err := f.store.GetCardSecrets(ctx, card.Serial)
	noErr(t, err)
	puk, mgmt, err := keys.OpenCard(sealed)
	noErr(t, err)

	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("spool directory: %v, %v; want mode 700", fi, err)
	}
	var files []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	})
	if len(files) != 1 {
		t.Fatalf("spool files %v, want one", files)
	}
	fi, err := os.Stat(files[0])
	noErr(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("spool file mode %o, want 600", fi.Mode().Perm())
	}
	b, err := os.ReadFile(files[0])
	noErr(t, err)
	content := string(b)
	if !strings.Contains(content, string(card.Serial)) || !strings.Contains(content, unlockedSubject) {
		t.Fatalf("the spool file does not hold the unlock:\n%s", content)
	}
	secrets := map[string][]byte{"PUK": puk, "new passcode": []byte(newPIN), "unlock code": []byte(code),
		"management key": mgmt, "key-encryption key": kek, "sealed PUK": sealed.SealedPUK}
	for name, s := range secrets {
		for _, form := range []string{string(s), hex.EncodeToString(s), strings.ToUpper(hex.EncodeToString(s)),
			base64.StdEncoding.EncodeToString(s), base64.RawURLEncoding.EncodeToString(s)} {
			if strings.Contains(content, form) {
				t.Errorf("the spool file holds the %s (%q)", name, form)
			}
		}
	}
}

// A renewal whose record could not be written is kept with its new
// certificate: once it is replayed, the card proves genuine again.
func TestRenewalRecordedAfterTheStoreReturns(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t)
	cut := &outage{Store: f.store}
	svc, _, sp := f.kiosk(t, cut, filepath.Join(t.TempDir(), "spool"))
	card := f.enrol(t, sstest.Holder{CertExpiry: time.Now().AddDate(0, 0, 40)})
	sess, err := svc.Identify(ctx, card)
	noErr(t, err)
	noErr(t, svc.SignIn(ctx, sess, card, "2580"))
	card.Hook = func(op string) {
		if op == "Personalise" {
			cut.down.Store(true)
		}
	}
	if err := svc.Renew(ctx, sess, card); !errors.Is(err, domain.ErrRecordDelayed) {
		t.Fatalf("renewal with the store cut off: %v", err)
	}
	if h := svc.Holder(sess); h.CertExpiry.Before(time.Now().AddDate(1, 11, 0)) {
		t.Fatalf("the visit does not show the renewed certificates: %v", h.CertExpiry)
	}
	if rec := f.smartcard(t, card.Serial); rec.RenewalsSinceOperator != 0 {
		t.Fatalf("recorded while the store was cut off: %+v", rec)
	}
	cut.down.Store(false)
	if _, err := svc.Identify(ctx, card); err != nil {
		t.Fatalf("visit after the store returned: %v", err)
	}
	if rec := f.smartcard(t, card.Serial); rec.RenewalsSinceOperator != 1 || rec.CertExpiry.Before(time.Now().AddDate(1, 11, 0)) {
		t.Fatalf("record after the replay: %+v", rec)
	}
	f.records(t, f.store, card.Serial).want(t, "after the replay", map[string]int{"self_renew success": 1}, 0)
	if kept, err := sp.List(); err != nil || len(kept) != 0 {
		t.Fatalf("spool after the replay: %v, %v", kept, err)
	}
}

// TestPasscodeChangeRecordedAfterTheStoreReturns: a new passcode is a card
// write like the others: with the store cut off after the card took it,
// the holder keeps the new passcode and its record follows from the spool.
func TestPasscodeChangeRecordedAfterTheStoreReturns(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t)
	cut := &outage{Store: f.store}
	svc, _, sp := f.kiosk(t, cut, filepath.Join(t.TempDir(), "spool"))
	card := f.enrol(t, sstest.Holder{})
	sess, err := svc.Identify(ctx, card)
	noErr(t, err)
	noErr(t, svc.SignIn(ctx, sess, card, "2580"))
	card.Hook = func(op string) {
		if op == "ChangePasscode" {
			cut.down.Store(true)
		}
	}
	noErr(t, svc.ChangePasscode(ctx, sess, card, "2580", "4826", "4826"))
	if !card.PINIs("4826") {
		t.Fatal("the card does not have the new passcode")
	}
	if kept, err := sp.List(); err != nil || len(kept) != 1 {
		t.Fatalf("spool while the store was cut off: %v, %v; want the change", kept, err)
	}
	cut.down.Store(false)
	if _, err := svc.Identify(ctx, card); err != nil {
		t.Fatalf("visit after the store returned: %v", err)
	}
	f.records(t, f.store, card.Serial).want(t, "after the replay", map[string]int{"change_passcode success": 1}, 0)
}
