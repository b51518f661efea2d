package operator

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/smartcard-service-centre/kiosk/domain"
	opsvc "github.com/smartcard-service-centre/kiosk/domain/operator"
	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/components"
)

// cancelScreen is Cancel Smartcard: a reason (lost, stolen, damaged,
// other) and, for other, the operator's words.
type cancelScreen struct {
	s       *session
	d       opsvc.HolderDetails
	reasons components.Menu
	text    components.Field
	onText  bool // the cursor is in the text field
	busy    bool
}

func newCancel(s *session, d opsvc.HolderDetails) (common.Screen, tea.Cmd) {
	var items []components.MenuItem
	for _, r := range domain.CancelReasons {
		desc := "The card holder's Smartcard was " + strings.ToLower(string(r)) + "."
		if r == domain.CancelOther {
			desc = "Another reason: describe it below."
		}
		items = append(items, components.MenuItem{Title: string(r), Desc: desc})
	}
	return &cancelScreen{s: s, d: d, reasons: components.NewMenu(s.c.Keys, items...),
		text: components.NewField("Details (needed for Other)", false, domain.MaxCancelText)}, nil
}

func (c *cancelScreen) Init() tea.Cmd { return nil }

func (c *cancelScreen) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	s := c.s
	switch msg := msg.(type) {
	case doneMsg:
		c.busy = false
		if msg.ok && msg.err != nil && explain(msg.err).Title == "Reason needed" {
			c.text.Feedback, c.text.Bad = explain(msg.err).What, true
			c.onText = true
			return c, c.text.Focus()
		}
		return finished(s, msg, func(d opsvc.HolderDetails) string {
			return "Smartcard " + string(c.d.Selected) + " cancelled (" + string(domain.CancelReasons[c.reasons.Cursor]) + ")."
		})
	case tea.KeyPressMsg:
		if c.busy {
			return c, nil
		}
		switch {
		case key.Matches(msg, s.c.Keys.Back):
			return newServices(s, c.d)
		case c.onText && key.Matches(msg, s.c.Keys.Prev):
			c.onText = false
			c.text.Blur()
			return c, nil
		case c.onText && key.Matches(msg, s.c.Keys.Enter):
			return c, c.submit()
		case c.onText:
			var cmd tea.Cmd
			c.text, cmd = c.text.Update(msg)
			return c, cmd
		case msg.String() == "tab":
			c.onText = true
			return c, c.text.Focus()
		}
		var chosen int
		c.reasons, chosen = c.reasons.Update(msg)
		if chosen >= 0 {
			c.onText = true
			return c, c.text.Focus()
		}
	case tea.PasteMsg:
		if c.onText && !c.busy {
			var cmd tea.Cmd
			c.text, cmd = c.text.Update(msg)
			return c, cmd
		}
	}
	return c, nil
}

func (c *cancelScreen) submit() tea.Cmd {
	reason := domain.CancelReasons[c.reasons.Cursor]
	if reason == domain.CancelOther && strings.TrimSpace(c.text.Value()) == "" {
		c.text.Feedback, c.text.Bad = "Describe why the Smartcard is cancelled.", true
		return nil
	}
	c.busy = true
	svc, sess, text := c.s.svc, c.s.sess, c.text.Value()
	return runService(c.s, false, func(ctx context.Context) error { return svc.CancelSmartcard(ctx, sess, reason, text) })
}

func (c *cancelScreen) View() common.Frame {
	th, w := c.s.c.Theme, c.s.c.ContentWidth()
	var doc common.Doc
	doc.Add(para(th.Text, w, "Cancel Smartcard "+string(c.d.Selected)+" of "+domain.CleanText(c.d.Name)+". Once cancelled it is refused everywhere, the kiosk included, and cannot be used again."))
	doc.Gap()
	doc.Add(para(th.Strong, w, "Reason"))
	if c.onText {
		// The reason chosen stays marked while the details are typed.
		doc.Add(para(th.Text, w, "▶ "+string(domain.CancelReasons[c.reasons.Cursor])))
		doc.Gap()
		doc.Focus(c.text.View(th, w))
		doc.Gap()
		doc.Add(components.Button(th, "Cancel Smartcard", !c.busy))
	} else {
		c.reasons.View(&doc, th, w)
	}
	return doc.Frame("Cancel Smartcard")
}

func (c *cancelScreen) Help() []key.Binding {
	k := c.s.c.Keys
	if c.onText {
		return []key.Binding{common.WithHelp(k.Enter, "cancel the Smartcard"), common.WithHelp(k.Prev, "reason"), common.WithHelp(k.Back, "back")}
	}
	return []key.Binding{k.Up, common.WithHelp(k.Enter, "choose reason"), common.WithHelp(k.Back, "back")}
}

// auditMsg is a page of the audit trail.
type auditMsg struct {
	page opsvc.AuditPage
	err  error
}

// auditScreen is View audit trail: the holder's and the card's events,
// newest first, a page at a time.
type auditScreen struct {
	s      *session
	d      opsvc.HolderDetails
	page   opsvc.AuditPage
	before []int64 // the "before" of each page shown so far; the last is this page's
	busy   bool
}

func newAudit(s *session, d opsvc.HolderDetails) (common.Screen, tea.Cmd) {
	a := &auditScreen{s: s, d: d, before: []int64{0}}
	return a, a.load()
}

func (a *auditScreen) load() tea.Cmd {
	a.busy = true
	svc, sess, before := a.s.svc, a.s.sess, a.before[len(a.before)-1]
	return a.s.v.Do(func(ctx context.Context) tea.Msg {
		p, err := svc.AuditTrail(ctx, sess, before)
		return auditMsg{p, err}
	})
}

func (a *auditScreen) Init() tea.Cmd { return nil }

func (a *auditScreen) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	k := a.s.c.Keys
	switch msg := msg.(type) {
	case auditMsg:
		a.busy = false
		if msg.err != nil {
			logOutcome(a.s.c, "audit trail", msg.err)
			return newMessage(a.s, explain(msg.err), func() (common.Screen, tea.Cmd) { return newServices(a.s, a.d) }), nil
		}
		a.page = msg.page
	case tea.KeyPressMsg:
		if key.Matches(msg, k.Back) {
			// Also while a page is being read: it only reads, and the
			// screens behind ignore its late answer.
			return newServices(a.s, a.d)
		}
		if a.busy {
			return a, nil
		}
		switch {
		case key.Matches(msg, k.NextPage) && a.page.Next != 0:
			a.before = append(a.before, a.page.Next)
			return a, a.load()
		case key.Matches(msg, k.PrevPage) && len(a.before) > 1:
			a.before = a.before[:len(a.before)-1]
			return a, a.load()
		}
	}
	return a, nil
}

// AuditLine is one event as the audit trail lists it.
func AuditLine(e domain.AuditEvent) string {
	by := ""
	if e.ActorID != "" {
		by = " by " + e.ActorID.String()
	}
	if e.Role != "" {
		by += " (" + e.Role + ")"
	}
	card := ""
	if e.CardSerial != "" {
		card = " card " + string(e.CardSerial)
	}
	line := fmt.Sprintf("%s  %s %s%s%s at %s", e.At.Local().Format("2-Jan-2006 15:04"), e.Action, e.Outcome, card, by, e.Terminal)
	if e.Detail != "" {
		line += ": " + e.Detail
	}
	return domain.CleanText(line)
}

func (a *auditScreen) View() common.Frame {
	th, w := a.s.c.Theme, a.s.c.Width
	var doc common.Doc
	doc.Add(para(th.Text, min(w, 78), "Events of "+domain.CleanText(a.d.Name)+" ("+a.d.UserID.String()+") and of Smartcard "+string(a.d.Selected)+", newest first."))
	doc.Gap()
	if a.busy && len(a.page.Events) == 0 {
		doc.Add(para(th.Muted, w, "Reading the audit trail…"))
	}
	if !a.busy && len(a.page.Events) == 0 {
		doc.Add(para(th.Muted, w, "No events."))
	}
	for _, e := range a.page.Events {
		doc.Add(ansi.Truncate(AuditLine(e), w, "…"))
	}
	doc.Gap()
	doc.Add(th.Muted.Render(fmt.Sprintf("Page %d", len(a.before))))
	return doc.Frame("View audit trail")
}

func (a *auditScreen) Help() []key.Binding {
	k := a.s.c.Keys
	var keys []key.Binding
	if a.page.Next != 0 {
		keys = append(keys, k.NextPage)
	}
	if len(a.before) > 1 {
		keys = append(keys, k.PrevPage)
	}
	return append(keys, common.WithHelp(k.Back, "back"))
}

// foundMsg is FindUsers' result.
type foundMsg struct {
	users []opsvc.UserSummary
	err   error
}

// openedMsg is OpenUser's result.
type openedMsg struct {
	d   opsvc.HolderDetails
	err error
}

// searchScreen finds a card holder by 12-digit user ID (with or without
// spaces) or by name (seed 002), then opens one of those found.
type searchScreen struct {
	s       *session
	field   components.Field
	results components.Menu
	users   []opsvc.UserSummary
	inList  bool
	problem string
	busy    bool
	// call is the search (or opening) under way, timedOut what a try of
	// it that does not answer in time gives; retry tries it again while
	// the store is away (both only read, and audit what they read).
	// leaving: Esc was pressed with a try in flight, which is waited for.
	call     func(context.Context) tea.Msg
	timedOut tea.Msg
	retry    common.Retrier
	leaving  bool
}

// run makes call the search's call under way and runs it.
func (x *searchScreen) run(call func(context.Context) tea.Msg, timedOut tea.Msg) tea.Cmd {
	x.busy, x.call, x.timedOut = true, call, timedOut
	return x.s.v.Do(call)
}

// away takes a result's error: the store away means try again later.
func (x *searchScreen) away(what string, err error) (tea.Cmd, bool) {
	if !common.IsUnavailable(err) {
		x.retry.Done()
		return nil, false
	}
	logOutcome(x.s.c, what, err)
	return x.retry.Wait(x.s.c, err), true
}

func newSearch(s *session) (common.Screen, tea.Cmd) {
	x := &searchScreen{s: s, field: components.NewField("User ID or name", false, 64), results: components.NewMenu(s.c.Keys)}
	return x, x.field.Focus()
}

func (x *searchScreen) Init() tea.Cmd { return nil }

func (x *searchScreen) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	s, k := x.s, x.s.c.Keys
	if x.retry.Due(msg) {
		return x, x.retry.Try(s.v, x.call, x.timedOut)
	}
	switch msg.(type) {
	case foundMsg, openedMsg:
		if x.leaving {
			// Given up: the search stays typed, to change or send again.
			x.leaving, x.busy = false, false
			return x, nil
		}
	}
	switch msg := msg.(type) {
	case foundMsg:
		if wait, ok := x.away("search users", msg.err); ok {
			return x, wait
		}
		x.busy = false
		if msg.err != nil {
			logOutcome(s.c, "search users", msg.err)
			x.problem = explain(msg.err).What
			return x, nil
		}
		x.users = msg.users
		var items []components.MenuItem
		for _, u := range msg.users {
			items = append(items, components.MenuItem{Title: domain.CleanText(u.Name), Desc: u.UserID.String()})
		}
		x.results = components.NewMenu(k, items...)
		x.problem = ""
		if len(items) == 0 {
			x.problem = "No users found."
			return x, nil
		}
		x.inList = true
		x.field.Blur()
		return x, nil
	case openedMsg:
		if wait, ok := x.away("open user", msg.err); ok {
			return x, wait
		}
		x.busy = false
		if msg.err != nil {
			logOutcome(s.c, "open user", msg.err)
			ex := explain(msg.err)
			x.problem = strings.TrimSpace(ex.What + " " + ex.Next)
			return x, nil
		}
		return newDetails(s, msg.d, ""), nil
	case tea.KeyPressMsg:
		if (x.retry.Waiting() || x.leaving) && key.Matches(msg, k.Back) {
			// Stop trying; the search stays typed.
			if x.retry.Stop() {
				x.leaving = true
			} else {
				x.busy = false
			}
			return x, nil
		}
		if x.busy {
			return x, nil
		}
		switch {
		case key.Matches(msg, k.Back) && x.inList:
			x.inList = false
			return x, x.field.Focus()
		case key.Matches(msg, k.Back):
			x.busy = true
			return x, backToDashboard(s)
		case x.inList:
			var chosen int
			x.results, chosen = x.results.Update(msg)
			if chosen < 0 {
				return x, nil
			}
			svc, sess, id := s.svc, s.sess, x.users[chosen].UserID
			return x, x.run(func(ctx context.Context) tea.Msg {
				d, err := svc.OpenUser(ctx, sess, id)
				return openedMsg{d, err}
			}, openedMsg{err: common.TryTimedOut()})
		case key.Matches(msg, k.Enter):
			q := strings.TrimSpace(x.field.Value())
			if q == "" {
				x.field.Feedback, x.field.Bad = "Type a 12-digit user ID or part of a name.", true
				return x, nil
			}
			if id, err := domain.ParseUserID(q); err == nil {
				q = string(id)
			}
			svc, sess := s.svc, s.sess
			return x, x.run(func(ctx context.Context) tea.Msg {
				us, err := svc.FindUsers(ctx, sess, q)
				return foundMsg{us, err}
			}, foundMsg{err: common.TryTimedOut()})
		}
	}
	if x.inList || x.busy {
		return x, nil
	}
	var cmd tea.Cmd
	x.field, cmd = x.field.Update(msg)
	return x, cmd
}

func (x *searchScreen) View() common.Frame {
	th, w := x.s.c.Theme, x.s.c.ContentWidth()
	var doc common.Doc
	doc.Add(para(th.Text, w, "Type the 12-digit number on the front of the user's Smartcard, or their name, and press "+capital(x.s.c.Keys.Enter)+"."))
	doc.Gap()
	if x.retry.Waiting() || x.leaving {
		// Above the search, which stays as typed.
		ex := unavailableAuto
		doc.Add(th.Notice.Width(w).Render(th.Strong.Render(ex.Title+": "+ex.What) + "\n" + ex.Next))
		doc.Gap()
	}
	if x.inList {
		doc.Add(x.field.View(th, w))
	} else {
		doc.Focus(x.field.View(th, w))
	}
	if x.problem != "" {
		doc.Gap()
		doc.Add(para(th.Error, w, x.problem))
	}
	if len(x.users) > 0 {
		doc.Gap()
		doc.Add(para(th.Strong, w, fmt.Sprintf("%d found", len(x.users))))
		x.results.View(&doc, th, w)
	}
	return doc.Frame("Search for a user")
}

func (x *searchScreen) Help() []key.Binding {
	k := x.s.c.Keys
	if x.retry.Waiting() {
		return []key.Binding{common.WithHelp(k.Back, "stop waiting")}
	}
	if x.inList {
		return []key.Binding{k.Up, common.WithHelp(k.Enter, "open"), common.WithHelp(k.Back, "search again")}
	}
	return []key.Binding{common.WithHelp(k.Enter, "search"), common.WithHelp(k.Back, "dashboard")}
}
