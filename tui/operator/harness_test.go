package operator_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/charmbracelet/x/vt"

	"github.com/smartcard-service-centre/kiosk/domain"
	opsvc "github.com/smartcard-service-centre/kiosk/domain/operator"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
	"github.com/smartcard-service-centre/kiosk/internal/sstest"
	"github.com/smartcard-service-centre/kiosk/storage/sqlite"
	"github.com/smartcard-service-centre/kiosk/tui/operator"
	"github.com/smartcard-service-centre/kiosk/tui/tuitest"
)

var start = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

var cheapArgon2 = secret.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// person is a demo persona: a user, their card and positions.
type person struct {
	h         sstest.Holder
	positions []domain.Position
}

func pos(role, org string, codes ...domain.ActivityCode) domain.Position {
	return domain.Position{OrgCode: org, OrgName: "Oxford University Hospitals", RoleName: role, ActivityCodes: codes}
}

var (
	sponsor = pos("Sponsor Access Role", "RTH", domain.ActivityBasicUserRole, domain.ActivitySponsor)
	lsa     = pos("Local Smartcard Administrator", "A82647", domain.ActivityBasicUserRole, domain.ActivityLocalSCA)
	raa     = pos("Systems Support Access Role", "RTH", domain.ActivityBasicUserRole, domain.ActivityRAAIDChecker)
	clerk   = pos("Clerical Access Role", "A82647", domain.ActivityBasicUserRole)
)

// The walkthrough's people (README, demo personas).
func helen() person {
	return person{sstest.Holder{ID: "555000000087", Title: "Mrs", Given: "Helen", Family: "Carter", Serial: "4082A00100000087", PIN: "5093", PUK: "11111111"}, []domain.Position{sponsor}}
}
func raj() person {
	return person{sstest.Holder{ID: "555000000095", Title: "Mr", Given: "Raj", Family: "Mehta", Serial: "4082A00100000095", PIN: "6417", PUK: "22222222"}, []domain.Position{lsa}}
}
func nia() person {
	return person{sstest.Holder{ID: "555000000109", Title: "Ms", Given: "Nia", Family: "Roberts", Serial: "4082A00100000109", PIN: "2947", PUK: "33333333"}, []domain.Position{raa}}
}
func peter() person {
	return person{sstest.Holder{ID: "555000000117", Title: "Dr", Given: "Peter", Family: "Walsh", Serial: "4082A00100000117", PIN: "8315", PUK: "44444444"}, []domain.Position{sponsor, raa}}
}
func testPerson() person {
	return person{sstest.Holder{ID: "555001799894", Title: "Mr", Given: "Test", Family: "Person", Serial: "4082A001132F2817", PIN: "1357", PUK: "24680135",
		Blocked: true, Email: "test.person@nhs.net"}, []domain.Position{clerk}}
}
func daniel() person {
	return person{sstest.Holder{ID: "555000000061", Title: "Mr", Given: "Daniel", Family: "Reid", Serial: "4082A00100000061", PIN: "3819", PUK: "55555555",
		CertExpiry: start.Add(-10 * day)}, []domain.Position{clerk}}
}

type fixture struct {
	t       *testing.T
	store   *sqlite.Store
	keys    *secret.Keys
	ca      domain.CertificateAuthority
	clock   *sstest.Clock
	readers *sstest.Readers
	svc     *opsvc.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	kek := make([]byte, secret.KEKSize)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	keys, err := secret.NewKeys(kek)
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "kiosk.db"), sqlite.WithAuditChain(keys))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	fx := &fixture{t: t, store: store, keys: keys, ca: sstest.NewCA(t), clock: sstest.NewClock(start), readers: sstest.NewReaders()}
	fx.svc = opsvc.New(opsvc.Config{Store: store, Keys: keys, CA: fx.ca, Clock: fx.clock, Terminal: "RA-desk-1", AuditPageSize: 3})
	return fx
}

// add enrols p and returns their card.
func (fx *fixture) add(p person) *sstest.Card {
	fx.t.Helper()
	h := p.h
	h.Now = fx.clock.Now()
	h.HashAnswers = func(a map[domain.QuestionID]string) ([]domain.AnswerSet, error) {
		return secret.HashAnswerSets(cheapArgon2, a, nil)
	}
	h.Seal = func(serial domain.CardSerial, puk, mgmt []byte) (domain.CardSecrets, error) {
		return fx.keys.SealCard(serial, puk, "AES256", mgmt, h.Now)
	}
	card, err := sstest.Enrol(fx.t.Context(), fx.store, fx.ca, h)
	if err != nil {
		fx.t.Fatal(err)
	}
	for _, ps := range p.positions {
		ps.UserID = h.ID
		if _, err := fx.store.AddPosition(fx.t.Context(), ps); err != nil {
			fx.t.Fatal(err)
		}
	}
	return card
}

// terminal is the real program under test and a terminal emulator that
// reads what it draws.
type terminal struct {
	t    *testing.T
	tm   *teatest.TestModel
	emu  *vt.Emulator
	last string
	log  *syncBuffer
}

func (fx *fixture) start(opts ...func(*operator.Options)) *terminal {
	t := fx.t
	t.Helper()
	const width, height = 120, 50
	term := &terminal{t: t, emu: vt.NewEmulator(width, height), log: &syncBuffer{}}
	go func() { _, _ = io.Copy(io.Discard, term.emu) }()
	o := operator.Options{Service: fx.svc, Readers: fx.readers, Now: fx.clock.Now, Context: t.Context(),
		Log: slog.New(slog.NewTextHandler(term.log, nil))}
	for _, f := range opts {
		f(&o)
	}
	popts := append(operator.ProgramOptions(o), tea.WithColorProfile(colorprofile.Ascii),
		tea.WithEnvironment([]string{"TERM=xterm-256color"}))
	term.tm = teatest.NewTestModel(t, operator.New(o), teatest.WithInitialTermSize(width, height), teatest.WithProgramOptions(popts...))
	t.Cleanup(func() {
		_ = term.tm.Quit()
		term.tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
		if t.Failed() {
			t.Logf("log:\n%s", term.log.String())
		}
	})
	return term
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (k *terminal) screen() string {
	b, err := io.ReadAll(k.tm.Output())
	if err != nil {
		k.t.Fatal(err)
	}
	if len(b) == 0 && k.last != "" {
		return k.last
	}
	_, _ = k.emu.Write(bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")))
	k.last = k.emu.String()
	return k.last
}

const waitLimit = 15 * time.Second

func (k *terminal) waitUntil(what string, ok func(string) bool) string {
	k.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		s := k.screen()
		if ok(flat(s)) {
			return s
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("timed out waiting for %s; the screen shows:\n%s", what, s)
		}
		time.Sleep(15 * time.Millisecond)
	}
}

func (k *terminal) waitFor(texts ...string) string {
	k.t.Helper()
	return k.waitUntil(fmt.Sprintf("screen to show %q", texts), func(s string) bool {
		for _, x := range texts {
			if !strings.Contains(s, x) {
				return false
			}
		}
		return true
	})
}

func (k *terminal) waitGone(text string) string {
	k.t.Helper()
	return k.waitUntil(fmt.Sprintf("screen to stop showing %q", text), func(s string) bool { return !strings.Contains(s, text) })
}

// flat joins wrapped lines so texts can be found across line breaks.
func flat(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		b.WriteString(strings.Trim(line, " │┃┏┓┗┛╭╮╰╯━─▌"))
		b.WriteByte(' ')
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func (k *terminal) typeText(s string) {
	for _, r := range s {
		k.tm.Send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func (k *terminal) press(names ...string) {
	for _, n := range names {
		k.tm.Send(tuitest.Key(n))
	}
}

// logIn puts the operator's card in and types the passcode.
func (k *terminal) logIn(fx *fixture, card *sstest.Card, pin string) {
	k.t.Helper()
	fx.readers.InsertOperator(card)
	k.waitFor("Enter your Smartcard passcode")
	k.typeText(pin)
	k.press("enter")
}

// manage opens Manage Smartcard and puts the holder's card in.
func (k *terminal) manage(fx *fixture, card *sstest.Card, name string) {
	k.t.Helper()
	k.waitFor("Dashboard", "Manage Smartcard")
	k.press("enter")
	k.waitFor(operator.InsertHolderText)
	fx.readers.Insert(card)
	k.waitFor(name+": ", operator.CheckPersonText, "Smartcard Details")
}

// audited reports whether the store holds an audit row of action with
// outcome.
func (fx *fixture) audited(action domain.AuditAction, outcome domain.AuditOutcome) bool {
	evs, err := fx.store.ListAudit(context.Background(), domain.AuditFilter{Action: action})
	if err != nil {
		fx.t.Fatal(err)
	}
	for _, e := range evs {
		if e.Outcome == outcome {
			return true
		}
	}
	return false
}
