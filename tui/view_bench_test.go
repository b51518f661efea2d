package tui_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/charmbracelet/x/vt"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/internal/sstest"
	"github.com/smartcard-service-centre/kiosk/storage/sqlite"
	"github.com/smartcard-service-centre/kiosk/tui"
	"github.com/smartcard-service-centre/kiosk/tui/tuitest"
)

// benchScreen is one of the kiosk's main screens and how to reach it from
// the start, with the card holder's card (blocked, registered) or an
// unblocked one for My Profile.
type benchScreen struct {
	name    string
	blocked bool
	drive   func(d *viewDriver)
}

var benchScreens = []benchScreen{
	{"welcome", true, func(d *viewDriver) { d.waitFor("Insert your Smartcard") }},
	{"home", true, func(d *viewDriver) { d.insert(); d.waitFor("What would you like to do?") }},
	{"unlock-intro", true, func(d *viewDriver) {
		d.insert()
		d.waitFor("What would you like to do?")
		d.press("enter")
		d.waitFor("Start")
	}},
	{"questions", true, func(d *viewDriver) { d.toQuestions() }},
	{"code", true, func(d *viewDriver) { d.toCode() }},
	{"new-passcode", true, func(d *viewDriver) { d.toNewPasscode() }},
	{"unlocked", true, func(d *viewDriver) {
		d.toNewPasscode()
		d.typeText("Kx9!a7")
		d.press("enter")
		d.typeText("Kx9!a7")
		d.press("enter")
		d.waitFor("Your Smartcard has been successfully unlocked.")
	}},
	{"profile", false, func(d *viewDriver) {
		d.insert()
		d.waitFor("What would you like to do?")
		d.press("down", "enter")
		d.waitFor("Enter your current Smartcard passcode")
		d.typeText("1357")
		d.press("enter")
		d.waitFor("My Profile", "Smartcard serial")
	}},
}

var benchSizes = []struct{ w, h int }{{80, 24}, {160, 48}}

// BenchmarkView times the kiosk model's View() (the whole frame as a
// styled string, before the renderer diffs it onto the terminal) on each
// main screen at 80×24 and 160×48. Each screen is reached by driving the
// real program (tui.New over the real self-service service and SQLite
// store, test cards from internal/sstest, cheap argon2id) from the start
// with the keys a person types; the program is then stopped, its final
// model resized with a WindowSizeMsg, and View() called in the loop.
func BenchmarkView(b *testing.B) {
	for _, sc := range benchScreens {
		m := driveToScreen(b, sc)
		for _, size := range benchSizes {
			m.Update(tea.WindowSizeMsg{Width: size.w, Height: size.h})
			if v := m.View(); v.Content == "" {
				b.Fatalf("%s at %d×%d: empty view", sc.name, size.w, size.h)
			}
			b.Run(fmt.Sprintf("%s/%dx%d", sc.name, size.w, size.h), func(b *testing.B) {
				for b.Loop() {
					_ = m.View()
				}
			})
		}
	}
}

// viewDriver runs the kiosk program at a size where every screen fits
// and reads what it draws through a terminal emulator.
type viewDriver struct {
	tb      testing.TB
	tm      *teatest.TestModel
	emu     *vt.Emulator
	readers *sstest.Readers
	card    *sstest.Card
	store   *sqlite.Store
	keys    *secret.Keys
	answers map[domain.QuestionID]string
}

const driveW, driveH = 100, 40

func driveToScreen(b *testing.B, sc benchScreen) tea.Model {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kek := make([]byte, secret.KEKSize)
	if _, err := rand.Read(kek); err != nil {
		b.Fatal(err)
	}
	keys, err := secret.NewKeys(kek)
	if err != nil {
		b.Fatal(err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "kiosk.db"), sqlite.WithAuditChain(keys))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	authority := sstest.NewCA(b)
	cheap := secret.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	svc := selfservice.New(selfservice.Config{Store: store, Keys: keys, CA: authority, Argon2: cheap, Terminal: "bench"})
	h := sstest.Holder{
		ID: "555001799894", Title: "Mr", Given: "Test", Family: "Person",
		Serial: "4082A001132F2817", PIN: "1357", PUK: "24680135", Blocked: sc.blocked,
		Email:   "test.person@nhs.net",
		Answers: map[domain.QuestionID]string{1: "Smith", 2: "Edinburgh", 3: "Rex", 4: "St Marys"},
		HashAnswers: func(a map[domain.QuestionID]string) ([]domain.AnswerSet, error) {
			return secret.HashAnswerSets(cheap, a, nil)
		},
		Seal: func(serial domain.CardSerial, puk, mgmt []byte) (domain.CardSecrets, error) {
			return keys.SealCard(serial, puk, "AES256", mgmt, time.Now())
		},
	}
	card, err := sstest.Enrol(ctx, store, authority, h)
	if err != nil {
		b.Fatal(err)
	}
	d := &viewDriver{tb: b, emu: vt.NewEmulator(driveW, driveH), readers: sstest.NewReaders(), card: card,
		store: store, keys: keys, answers: h.Answers}
	go func() { _, _ = io.Copy(io.Discard, d.emu) }()
	o := tui.Options{Service: svc, Readers: d.readers, Context: ctx}
	d.tm = teatest.NewTestModel(b, tui.New(o), teatest.WithInitialTermSize(driveW, driveH),
		teatest.WithProgramOptions(tui.ProgramOptions(o)...))
	sc.drive(d)
	if err := d.tm.Quit(); err != nil {
		b.Fatal(err)
	}
	return d.tm.FinalModel(b, teatest.WithFinalTimeout(10*time.Second))
}

func (d *viewDriver) insert() { d.readers.Insert(d.card) }

func (d *viewDriver) typeText(s string) {
	for _, r := range s {
		d.tm.Send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func (d *viewDriver) press(names ...string) {
	for _, n := range names {
		d.tm.Send(tuitest.Key(n))
	}
}

// screen is the text on the emulated terminal, wrapped lines joined.
func (d *viewDriver) screen() string {
	b, err := io.ReadAll(d.tm.Output())
	if err != nil {
		d.tb.Fatal(err)
	}
	_, _ = d.emu.Write(bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")))
	var s strings.Builder
	for _, line := range strings.Split(d.emu.String(), "\n") {
		s.WriteString(strings.Trim(line, " │┃┏┓┗┛╭╮╰╯━─▌"))
		s.WriteByte(' ')
	}
	return strings.Join(strings.Fields(s.String()), " ")
}

func (d *viewDriver) waitFor(texts ...string) string {
	d.tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := d.screen()
		all := true
		for _, t := range texts {
			all = all && strings.Contains(s, t)
		}
		if all {
			return s
		}
		if time.Now().After(deadline) {
			d.tb.Fatalf("the screen never showed %q; it shows:\n%s", texts, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (d *viewDriver) toQuestions() {
	d.insert()
	d.waitFor("What would you like to do?")
	d.press("enter")
	d.waitFor("Start")
	d.press("enter")
	d.waitFor("To confirm your identity")
}

// toCode answers the questions on screen, in the order shown.
func (d *viewDriver) toCode() {
	d.toQuestions()
	s := d.waitFor("To confirm your identity")
	type shown struct {
		at     int
		answer string
	}
	var qs []shown
	for id, a := range d.answers {
		text, _ := domain.QuestionText(id)
		if i := strings.Index(s, text); i >= 0 {
			qs = append(qs, shown{i, a})
		}
	}
	sort.Slice(qs, func(i, j int) bool { return qs[i].at < qs[j].at })
	for _, q := range qs {
		d.typeText(q.answer)
		d.press("enter")
	}
	d.waitFor("a Smartcard Unlock Code to your registered email address")
}

var benchCodeLine = regexp.MustCompile(`(?m)^\d{6}$`)

func (d *viewDriver) toNewPasscode() {
	d.toCode()
	mails, err := d.store.ListMail(context.Background(), 5)
	if err != nil {
		d.tb.Fatal(err)
	}
	code := ""
	for _, m := range mails {
		if m, err = d.keys.OpenMail(m); err == nil && m.Subject == "Smartcard Unlock Code" {
			code = benchCodeLine.FindString(m.Body)
			break
		}
	}
	if code == "" {
		d.tb.Fatal("no unlock code in the outbox")
	}
	d.typeText(code)
	d.press("enter")
	d.waitFor("Reset Smartcard Passcode")
}
