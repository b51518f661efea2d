package tui_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/charmbracelet/x/vt"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/internal/sstest"
	"github.com/smartcard-service-centre/kiosk/storage/sqlite"
	"github.com/smartcard-service-centre/kiosk/tui"
	"github.com/smartcard-service-centre/kiosk/tui/demo"
	"github.com/smartcard-service-centre/kiosk/tui/tuitest"
)

// cheapArgon2 keeps answer hashing fast in tests; hashes carry their
// parameters, so verification uses the same.
var cheapArgon2 = secret.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

var start = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// testPerson is seed 004's example: a locked card, registered.
func testPerson() sstest.Holder {
	return sstest.Holder{
		ID: "555001799894", Title: "Mr", Given: "Test", Family: "Person",
		Serial: "4082A001132F2817", PIN: "1357", PUK: "24680135", Blocked: true,
		CertExpiry: start.Add(330 * day),
		Email:      "test.person@nhs.net",
		Answers:    map[domain.QuestionID]string{1: "Smith", 2: "Edinburgh", 3: "Rex", 4: "St Marys"},
	}
}

// fixture is the real self-service workflow over the real embedded store,
// with the fake cards, reader and CA of sstest.
type fixture struct {
	t       *testing.T
	path    string // the store's database file
	store   *sqlite.Store
	hooks   *hookStore // the store as the service sees it
	keys    *secret.Keys
	ca      domain.CertificateAuthority
	clock   *sstest.Clock
	readers *sstest.Readers
	svc     *selfservice.Service
	notify  chan struct{}
}

// newFixture returns the fixture, its service configured by configure.
func newFixture(t *testing.T, configure ...func(*selfservice.Config)) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kiosk.db")
	kek := make([]byte, secret.KEKSize)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	keys, err := secret.NewKeys(kek)
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(t.Context(), path, sqlite.WithAuditChain(keys))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	fx := &fixture{t: t, path: path, store: store, hooks: &hookStore{Store: store}, keys: keys, ca: sstest.NewCA(t),
		clock: sstest.NewClock(start), readers: sstest.NewReaders(), notify: make(chan struct{}, 1)}
	cfg := selfservice.Config{
		Store: fx.hooks, Keys: keys, CA: fx.ca, Clock: fx.clock, Argon2: cheapArgon2,
		Notify: func() {
			select {
			case fx.notify <- struct{}{}:
			default:
			}
		},
	}
	for _, f := range configure {
		f(&cfg)
	}
	fx.svc = selfservice.New(cfg)
	return fx
}

// hookStore is the store as the service sees it, where a test can make
// reading a registration fail (or find none).
type hookStore struct {
	domain.Store
	getReg atomic.Pointer[error]
}

func (h *hookStore) GetRegistration(ctx context.Context, id domain.UserID) (domain.Registration, error) {
	if err := h.getReg.Load(); err != nil {
		return domain.Registration{}, *err
	}
	return h.Store.GetRegistration(ctx, id)
}

// failRegistrationReads makes the service's reads of a registration fail
// with err from now on.
func (fx *fixture) failRegistrationReads(err error) { fx.hooks.getReg.Store(&err) }

// add enrols h, as of the fixture's clock, and returns their card.
func (fx *fixture) add(h sstest.Holder) *sstest.Card {
	fx.t.Helper()
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
	return card
}

// latestCode reads the newest emailed code with the subject from the
// outbox, as the card holder would from their inbox.
func (fx *fixture) latestCode(subject string) string {
	fx.t.Helper()
	mails, err := fx.openMail(fx.t.Context(), 20)
	if err != nil {
		fx.t.Fatal(err)
	}
	for _, m := range mails {
		if m.Subject == subject {
			if code := regexp.MustCompile(`(?m)^\d{6}$`).FindString(m.Body); code != "" {
				return code
			}
		}
	}
	fx.t.Fatalf("no %q email in the outbox", subject)
	return ""
}

// testMailbox is the demo mailbox over the store's outbox.
type testMailbox struct{ fx *fixture }

func (m testMailbox) Recent(ctx context.Context) ([]domain.Mail, error) {
	return m.fx.openMail(ctx, 5)
}

// openMail lists the newest n mails in the outbox, their sealed bodies
// opened as the sender opens them before delivery.
func (fx *fixture) openMail(ctx context.Context, n int) ([]domain.Mail, error) {
	mails, err := fx.store.ListMail(ctx, n)
	if err != nil {
		return nil, err
	}
	for i, m := range mails {
		if mails[i], err = fx.keys.OpenMail(m); err != nil {
			return nil, err
		}
	}
	return mails, nil
}

func (m testMailbox) Updates() <-chan struct{} { return m.fx.notify }

// testTray is a demo tray over the fake reader.
type testTray struct {
	mu     sync.Mutex
	fx     *fixture
	labels []string
	cards  []*sstest.Card
	in     int // index inserted, -1 none
	// hold, if set, holds a toggle of card i until hold[i] is closed, as
	// a slow tray would.
	hold  map[int]chan struct{}
	moved []int // the cards toggled, in order
}

// moves returns the cards toggled so far, in order.
func (tr *testTray) moves() []int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]int(nil), tr.moved...)
}

func (tr *testTray) Cards() []demo.TrayCard {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := make([]demo.TrayCard, len(tr.cards))
	for i := range tr.cards {
		out[i] = demo.TrayCard{Label: tr.labels[i]}
		if i == tr.in {
			out[i].In = domain.ReaderHolder
		}
	}
	return out
}

// Toggle moves cards in and out of the kiosk's one reader, the card
// holder's.
func (tr *testTray) Toggle(i int, _ domain.ReaderRole) error {
	if h := tr.hold[i]; h != nil {
		<-h
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.moved = append(tr.moved, i)
	if i < 0 || i >= len(tr.cards) {
		return fmt.Errorf("no card %d", i)
	}
	// Out first, so the kiosk sees the card leave before another arrives.
	if tr.in >= 0 {
		tr.fx.readers.Insert(nil)
	}
	if tr.in == i {
		tr.in = -1
		return nil
	}
	tr.fx.readers.Insert(tr.cards[i])
	tr.in = i
	return nil
}

// kiosk is the real program under test and a terminal emulator that
// reads what it draws, so tests check the screen a person would see.
type kiosk struct {
	t    *testing.T
	fx   *fixture
	tm   *teatest.TestModel // nil when started with run
	send func(tea.Msg)      // a key (or message) to the program
	out  io.Reader          // what the program draws
	emu  *vt.Emulator
	raw  bytes.Buffer
	log  bytes.Buffer
	logw *syncWriter
	// last is the screen as of the last output read.
	last string
	// done has what tui.Run returned (started with run); closed is
	// closed once the store was closed after it.
	done   chan error
	closed chan struct{}
}

// logText is what the kiosk has logged so far.
func (k *kiosk) logText() string {
	k.logw.mu.Lock()
	defer k.logw.mu.Unlock()
	return k.log.String()
}

func (fx *fixture) start(width, height int, opts ...func(*tui.Options)) *kiosk {
	fx.t.Helper()
	return fx.startWrapped(width, height, nil, opts...)
}

// startDemo starts the kiosk inside the demo, as --readers sim runs it.
func (fx *fixture) startDemo(width, height int, d demo.Options, opts ...func(*tui.Options)) *kiosk {
	fx.t.Helper()
	return fx.startWrapped(width, height, func(ctx context.Context, kiosk *tui.Model) tea.Model {
		d.Context = ctx
		return demo.New(kiosk, d)
	}, opts...)
}

// startWrapped starts the kiosk inside the model wrap builds (nil: none).
func (fx *fixture) startWrapped(width, height int, wrap tui.Wrap, opts ...func(*tui.Options)) *kiosk {
	t := fx.t
	t.Helper()
	k, o := fx.newKiosk(t.Context(), width, height, opts...)
	popts := append(tui.ProgramOptions(o),
		tea.WithColorProfile(colorprofile.Ascii),
		tea.WithEnvironment([]string{"TERM=xterm-256color"}))
	var m tea.Model = tui.New(o)
	if wrap != nil {
		m = wrap(o.Context, m.(*tui.Model))
	}
	k.tm = teatest.NewTestModel(t, m, teatest.WithInitialTermSize(width, height), teatest.WithProgramOptions(popts...))
	k.send, k.out = k.tm.Send, k.tm.Output()
	t.Cleanup(func() {
		_ = k.tm.Quit()
		k.tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
		if t.Failed() {
			t.Logf("kiosk log:\n%s", k.logText())
		}
	})
	return k
}

func (fx *fixture) newKiosk(ctx context.Context, width, height int, opts ...func(*tui.Options)) (*kiosk, tui.Options) {
	t := fx.t
	t.Helper()
	k := &kiosk{t: t, fx: fx, emu: vt.NewEmulator(width, height)}
	k.logw = &syncWriter{w: &k.log}
	// The emulator answers terminal queries through a pipe that must be
	// read, or its writes block.
	go func() { _, _ = io.Copy(io.Discard, k.emu) }()
	o := tui.Options{
		Service: fx.svc, Readers: fx.readers, Now: fx.clock.Now, Context: ctx,
		Log: slog.New(slog.NewTextHandler(k.logw, nil)),
	}
	for _, f := range opts {
		f(&o)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	return k, o
}

// run starts the kiosk with tui.Run until ctx ends, as the kiosk command
// does: keys go in as the bytes a terminal sends, and once Run returns
// the store is closed, as the command closes it.
func (fx *fixture) run(ctx context.Context, width, height int, opts ...func(*tui.Options)) *kiosk {
	fx.t.Helper()
	return fx.runWith(ctx, width, height, tui.Run, opts...)
}

// runFunc runs the kiosk program: tui.Run, or demo.Run with the demo's
// options.
type runFunc func(ctx context.Context, o tui.Options, extra ...tea.ProgramOption) error

// runWith is run, the program run by run.
func (fx *fixture) runWith(ctx context.Context, width, height int, run runFunc, opts ...func(*tui.Options)) *kiosk {
	t := fx.t
	t.Helper()
	k, o := fx.newKiosk(ctx, width, height, opts...)
	in, keys, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	k.out = out
	k.send = func(msg tea.Msg) {
		if _, err := keys.Write(keyBytes(msg.(tea.KeyPressMsg))); err != nil {
			t.Errorf("type into the kiosk: %v", err)
		}
	}
	k.done, k.closed = make(chan error, 1), make(chan struct{})
	go func() {
		// Hidden behind a plain reader: bubbletea's cancelable reader for
		// files races its own Close when the program is killed.
		err := run(ctx, o, tea.WithInput(struct{ io.Reader }{in}), tea.WithOutput(out), tea.WithWindowSize(width, height),
			tea.WithoutSignals(), tea.WithColorProfile(colorprofile.Ascii),
			tea.WithEnvironment([]string{"TERM=xterm-256color"}))
		fx.store.Close()
		close(k.closed)
		k.done <- err
	}()
	t.Cleanup(func() {
		keys.Close()
		in.Close()
		if t.Failed() {
			t.Logf("kiosk log:\n%s", k.logText())
		}
	})
	return k
}

// keyBytes is what a terminal sends for a key.
func keyBytes(k tea.KeyPressMsg) []byte {
	switch {
	case k.Text != "":
		return []byte(k.Text)
	case k.Code == tea.KeyEnter:
		return []byte("\r")
	case k.Code == tea.KeyTab:
		return []byte("\t")
	case k.Code == tea.KeyBackspace:
		return []byte{0x7f}
	case k.Mod == tea.ModCtrl && k.Code >= 'a' && k.Code <= 'z':
		return []byte{byte(k.Code-'a') + 1}
	case k.Mod == 0 && k.Code >= tea.KeyF1 && k.Code <= tea.KeyF4:
		return []byte{0x1b, 'O', byte('P' + k.Code - tea.KeyF1)}
	}
	panic(fmt.Sprintf("no bytes for key %s", k))
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

func (s *syncBuffer) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Read(p)
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// screen returns the text on the terminal now.
func (k *kiosk) screen() string {
	b, err := io.ReadAll(k.out)
	if err != nil {
		k.t.Fatal(err)
	}
	if len(b) == 0 && k.last != "" {
		return k.last // nothing new drawn
	}
	k.raw.Write(b)
	// A terminal's line discipline turns LF into CR LF (onlcr), and the
	// renderer counts on it when its output is not a terminal.
	_, _ = k.emu.Write(bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")))
	k.last = k.emu.String()
	return k.last
}

const waitLimit = 15 * time.Second

// waitFor waits until the screen shows every text.
func (k *kiosk) waitFor(texts ...string) string {
	k.t.Helper()
	return k.waitUntil(fmt.Sprintf("screen to show %q", texts), func(s string) bool {
		for _, x := range texts {
			if !strings.Contains(flat(s), x) {
				return false
			}
		}
		return true
	})
}

// waitGone waits until the screen no longer shows text.
func (k *kiosk) waitGone(text string) string {
	k.t.Helper()
	return k.waitUntil(fmt.Sprintf("screen to stop showing %q", text), func(s string) bool {
		return !strings.Contains(flat(s), text)
	})
}

// eventually waits until ok holds.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(15 * time.Millisecond)
	}
}

// await waits for ch to close.
func await(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitLimit):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// settle waits until the kiosk has handled everything sent so far: it
// makes the terminal a line taller and waits for the repaint, whose help
// bar then sits on the new last line.
func (k *kiosk) settle() string {
	k.t.Helper()
	k.resize(k.emu.Width(), k.emu.Height()+1)
	return k.waitUntil("a repaint after a resize", func(s string) bool {
		lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
		return len(lines) == k.emu.Height() && strings.TrimSpace(lines[len(lines)-1]) != ""
	})
}

func (k *kiosk) waitUntil(what string, ok func(string) bool) string {
	k.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		s := k.screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("timed out waiting for %s; the screen shows:\n%s", what, s)
		}
		time.Sleep(15 * time.Millisecond)
	}
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

// typeText types s as keys.
func (k *kiosk) typeText(s string) {
	for _, r := range s {
		k.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

// press presses named keys: enter, esc, tab, space, backspace, up, down,
// ctrl+X, f1…f12.
func (k *kiosk) press(names ...string) {
	for _, n := range names {
		k.send(tuitest.Key(n))
	}
}

// pressStart chooses Smartcard Unlock on the holder's menu and presses
// Start.
func (k *kiosk) pressStart() {
	k.t.Helper()
	k.waitFor("What would you like to do?")
	k.press("enter")
	k.waitFor("Start")
	k.press("enter")
}

// typeVisibleAnswer starts an unlock with card and types text into the
// first answer, revealed (answers are masked), so a test can watch it go.
func (k *kiosk) typeVisibleAnswer(fx *fixture, card *sstest.Card, text string) {
	k.t.Helper()
	fx.readers.Insert(card)
	k.pressStart()
	k.waitFor("To confirm your identity")
	k.typeText(text)
	k.press("ctrl+t")
	k.waitFor(text)
}

// answer types the answers to the questions on screen, in the order
// shown, and submits them.
func (k *kiosk) answer(answers map[domain.QuestionID]string, wrong bool) {
	k.t.Helper()
	s := flat(k.waitFor("To confirm your identity"))
	type shown struct {
		at     int
		answer string
	}
	var qs []shown
	for id, a := range answers {
		text, _ := domain.QuestionText(id)
		if i := strings.Index(s, text); i >= 0 {
			if wrong {
				a = "wrong " + a
			}
			qs = append(qs, shown{i, a})
		}
	}
	if len(qs) < 2 || len(qs) > 4 {
		k.t.Fatalf("want 2–4 of the registered questions on screen, found %d:\n%s", len(qs), s)
	}
	sort.Slice(qs, func(i, j int) bool { return qs[i].at < qs[j].at })
	for _, q := range qs {
		k.typeText(q.answer)
		k.press("enter")
	}
}
