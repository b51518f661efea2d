package operator

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	opsvc "github.com/smartcard-service-centre/kiosk/domain/operator"
	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/components"
)

// detailsMsg asks the root to show the card holder's details (from the
// domain, fresh), with a banner.
type detailsMsg struct {
	d      opsvc.HolderDetails
	ok     bool
	banner string
}

// toDetails reads the holder's details and shows them.
func toDetails(s *session, banner string) tea.Cmd {
	svc, sess := s.svc, s.sess
	return s.v.Do(func(context.Context) tea.Msg {
		d, ok := svc.Holder(sess)
		return detailsMsg{d: d, ok: ok, banner: banner}
	})
}

// insertHolderScreen asks for the card holder's card in the second
// reader and identifies it. then, if set, is where an identified card
// goes (after a search: back to the service); else the User Details.
type insertHolderScreen struct {
	s       *session
	then    func(opsvc.HolderDetails) (common.Screen, tea.Cmd)
	problem string
	busy    bool
	check   recheck
}

func newInsertHolder(s *session, then func(opsvc.HolderDetails) (common.Screen, tea.Cmd)) (common.Screen, tea.Cmd) {
	h := &insertHolderScreen{s: s, then: then}
	if s.holderIn {
		h.busy = true
		return h, s.identify()
	}
	return h, nil
}

func (h *insertHolderScreen) Init() tea.Cmd { return nil }

func (h *insertHolderScreen) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	s := h.s
	if cmd, ok := h.check.due(s, msg); ok {
		return h, cmd
	}
	switch msg := msg.(type) {
	case holderInMsg:
		if !h.busy {
			h.busy, h.problem = true, ""
			return h, s.identify()
		}
	case holderOutMsg:
		h.problem = ""
		if h.check.retry.Waiting() && !h.check.retry.Stop() {
			h.busy = false // nothing in flight: ask for the card again
		}
	case identifiedMsg:
		cmd := s.adopt(msg.card, msg.err == nil)
		if h.check.leaving {
			h.check.leaving = false
			return h, tea.Batch(cmd, h.back())
		}
		if wait, ok := h.check.away(s, msg); ok {
			return h, tea.Batch(cmd, wait)
		}
		h.busy = false
		if msg.err != nil {
			logOutcome(s.c, "identify card holder", msg.err)
			ex := explain(msg.err)
			h.problem = strings.TrimSpace(ex.What + " " + ex.Next)
			return h, cmd
		}
		if h.then != nil {
			next, c2 := h.then(msg.d)
			return next, tea.Batch(cmd, c2)
		}
		return newDetails(s, msg.d, ""), cmd
	case tea.KeyPressMsg:
		switch {
		case !key.Matches(msg, s.c.Keys.Back):
		case h.check.waiting():
			if h.check.back() {
				return h, h.back()
			}
		case !h.busy:
			return h, h.back()
		}
	}
	return h, nil
}

// back leaves for where the screen came from.
func (h *insertHolderScreen) back() tea.Cmd {
	h.busy = true
	if h.then != nil {
		return toDetails(h.s, "")
	}
	return backToDashboard(h.s)
}

func (h *insertHolderScreen) View() common.Frame {
	if h.check.waiting() {
		return unavailableView(h.s.c)
	}
	th, w := h.s.c.Theme, h.s.c.ContentWidth()
	var d common.Doc
	if h.problem != "" {
		d.Add(th.Notice.Width(w).Render(th.Error.Render(h.problem)))
		d.Gap()
	}
	if h.busy {
		d.Focus(para(th.Text, w, "Reading the card holder's Smartcard. Please leave it in the second reader."))
	} else {
		d.Focus(para(th.Title, w, InsertHolderText+"."))
		d.Gap()
		d.Add(para(th.Muted, w, "Keep your own Smartcard in your reader: removing it logs you out."))
	}
	return d.Frame("Manage Smartcard")
}

func (h *insertHolderScreen) Help() []key.Binding {
	return []key.Binding{common.Hint("insert card", "second reader"), h.s.c.Keys.Back}
}

// selectedMsg is SelectCard's result.
type selectedMsg struct {
	d   opsvc.HolderDetails
	err error
}

// detailsScreen is the User Details page with its photo and the
// Smartcard Details table (seed 000 Figs 6, 7 and 10).
type detailsScreen struct {
	s       *session
	d       opsvc.HolderDetails
	photo   components.Photo
	cursor  int
	banner  string
	problem string
	busy    bool
	check   recheck
}

func newDetails(s *session, d opsvc.HolderDetails, banner string) *detailsScreen {
	x := &detailsScreen{s: s, d: d, photo: components.NewPhoto(d.Photo), banner: banner}
	for i, c := range d.Cards {
		if c.Serial == d.Selected {
			x.cursor = i
		}
	}
	return x
}

func (x *detailsScreen) Init() tea.Cmd { return nil }

func (x *detailsScreen) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	s := x.s
	if cmd, ok := x.check.due(s, msg); ok {
		return x, cmd
	}
	switch msg := msg.(type) {
	case holderInMsg:
		if !x.busy {
			x.busy, x.problem = true, ""
			return x, s.identify()
		}
	case holderOutMsg:
		x.d.CardIn = false
		if x.check.retry.Waiting() && !x.check.retry.Stop() {
			x.busy = false
		}
	case identifiedMsg:
		cmd := s.adopt(msg.card, msg.err == nil)
		if x.check.leaving {
			x.check.leaving = false
			return x, tea.Batch(cmd, backToDashboard(s))
		}
		if wait, ok := x.check.away(s, msg); ok {
			return x, tea.Batch(cmd, wait)
		}
		x.busy = false
		if msg.err != nil {
			logOutcome(s.c, "identify card holder", msg.err)
			ex := explain(msg.err)
			x.problem = strings.TrimSpace(ex.What + " " + ex.Next)
			return x, cmd
		}
		return newDetails(s, msg.d, ""), cmd
	case selectedMsg:
		x.busy = false
		if msg.err != nil {
			x.problem = explain(msg.err).What
			return x, nil
		}
		x.d = msg.d
		return newServices(s, msg.d)
	case tea.KeyPressMsg:
		if x.check.waiting() && key.Matches(msg, s.c.Keys.Back) {
			if x.check.back() {
				return x, backToDashboard(s)
			}
			return x, nil
		}
		if x.busy {
			return x, nil
		}
		switch {
		case key.Matches(msg, s.c.Keys.Back):
			x.busy = true
			return x, backToDashboard(s)
		case key.Matches(msg, s.c.Keys.Up):
			x.cursor = max(0, x.cursor-1)
		case key.Matches(msg, s.c.Keys.Down):
			x.cursor = min(len(x.d.Cards)-1, x.cursor+1)
		case key.Matches(msg, s.c.Keys.Enter):
			if len(x.d.Cards) == 0 {
				x.problem = "This user has no Smartcard."
				return x, nil
			}
			x.busy, x.problem, x.banner = true, "", ""
			svc, sess, serial := s.svc, s.sess, x.d.Cards[x.cursor].Serial
			return x, s.v.Do(func(ctx context.Context) tea.Msg {
				d, err := svc.SelectCard(ctx, sess, serial)
				return selectedMsg{d, err}
			})
		}
	}
	return x, nil
}

// cardRow is a row of the Smartcard Details table.
func cardRow(c opsvc.CardDetails) []string {
	cancelled := "Active"
	if !c.Active() {
		cancelled = c.CancelledAt.Format(opsvc.DateLayout)
	}
	expiry := c.CertExpiry.Format(opsvc.DateLayout)
	switch {
	case c.NeedsRepair:
		expiry += " (needs repair)"
	case c.Expired:
		expiry += " (expired)"
	}
	return []string{string(c.Serial), c.Type, c.IssuedAt.Format(opsvc.DateLayout), expiry, cancelled}
}

// CardTableHeader is seed 000 Fig 7's heading row.
var CardTableHeader = []string{"Serial Number", "Type", "Issuance date", "Certificate expiry", "Cancellation date"}

func (x *detailsScreen) View() common.Frame {
	if x.check.waiting() {
		return unavailableView(x.s.c)
	}
	th, w := x.s.c.Theme, x.s.c.Width
	var doc common.Doc
	if x.banner != "" {
		doc.Add(th.Notice.Width(min(w, 78)).Render(th.Success.Render(x.banner)))
		doc.Gap()
	}
	if x.problem != "" {
		doc.Add(th.Notice.Width(min(w, 78)).Render(th.Error.Render(x.problem)))
		doc.Gap()
	}
	var info []string
	info = append(info, th.Strong.Render("User Details"),
		"Name:     "+domain.CleanText(x.d.Name),
		"User ID:  "+x.d.UserID.String())
	for i, p := range x.d.Positions {
		label := "          "
		if i == 0 {
			label = "Position: "
		}
		info = append(info, label+domain.CleanText(p.String()+" ("+p.OrgName+")"))
	}
	if x.d.Registered {
		reg := "Self-service: registered"
		if x.d.LockedOut {
			reg += ", locked out"
		} else if x.d.FailedAttempts > 0 {
			reg += fmt.Sprintf(", %d failed attempts", x.d.FailedAttempts)
		}
		info = append(info, reg)
	}
	left := lipgloss.NewStyle().Width(min(44, w)).Render(strings.Join(info, "\n"))
	pic := x.photo.View(components.PhotoOptions{Mode: *x.s.photo, Width: 28, Height: 16})
	if w >= 76 {
		doc.Add(lipgloss.JoinHorizontal(lipgloss.Top, left, "  ", pic))
	} else {
		doc.Add(left, pic)
	}
	doc.Add(th.Warning.Width(min(w, 78)).Render(CheckPersonText))
	doc.Gap()
	doc.Add(th.Strong.Render("Smartcard Details"))
	rows := [][]string{CardTableHeader}
	for _, c := range x.d.Cards {
		rows = append(rows, cardRow(c))
	}
	widths := make([]int, len(CardTableHeader))
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], lipgloss.Width(cell))
		}
	}
	line := func(r []string) string {
		var b strings.Builder
		for i, cell := range r {
			b.WriteString(cell + strings.Repeat(" ", widths[i]-lipgloss.Width(cell)+2))
		}
		return strings.TrimRight(b.String(), " ")
	}
	doc.Add("  " + th.Muted.Render(line(rows[0])))
	if len(x.d.Cards) == 0 {
		doc.Add("  This user has no Smartcard.")
	}
	for i, r := range rows[1:] {
		l := line(r)
		if i == x.cursor {
			doc.Focus(th.Strong.Render("▶ " + l))
		} else {
			doc.Add("  " + l)
		}
	}
	doc.Gap()
	doc.Add(para(th.Text, min(w, 78), x.readerLine()))
	return doc.Frame(domain.CleanText(x.d.Name) + ": " + x.d.UserID.String())
}

// readerLine says what is in the second reader.
func (x *detailsScreen) readerLine() string {
	if !x.d.CardIn {
		if x.d.Selected == "" {
			return "No Smartcard of this user is active and in date."
		}
		return "Smartcard " + string(x.d.Selected) + " is selected. It is not in the second reader: services that change the card will ask for it."
	}
	st := "in the second reader"
	switch {
	case !x.d.Genuine:
		st += " (not proved genuine: Repair only)"
	case x.d.Blocked:
		st += " (locked)"
	default:
		st += fmt.Sprintf(" (not locked, %s left)", tries(x.d.TriesLeft))
	}
	return "Smartcard " + string(x.d.Selected) + " is " + st + "."
}

func (x *detailsScreen) Help() []key.Binding {
	k := x.s.c.Keys
	if x.check.waiting() {
		return []key.Binding{common.WithHelp(k.Back, "dashboard")}
	}
	return []key.Binding{common.WithHelp(k.Up, "select card"), common.WithHelp(k.Enter, "service"), common.WithHelp(k.Back, "dashboard")}
}

// checksMsg is what Check says of each service of the role.
type checksMsg struct{ errs []error }

// servicesScreen is the Service menu (seed 000 Fig 8): the services the
// session role allows, each with why it cannot be done now, if not.
type servicesScreen struct {
	s     *session
	d     opsvc.HolderDetails
	svcs  []domain.Service
	errs  []error
	menu  components.Menu
	ready bool
}

func newServices(s *session, d opsvc.HolderDetails) (common.Screen, tea.Cmd) {
	x := &servicesScreen{s: s, d: d, svcs: s.op.Role.Services}
	x.refresh()
	svc, sess, list := s.svc, s.sess, x.svcs
	return x, s.v.Do(func(context.Context) tea.Msg {
		errs := make([]error, len(list))
		for i, v := range list {
			errs[i] = svc.Check(sess, v)
		}
		return checksMsg{errs}
	})
}

// ServiceText says what each service does.
var ServiceText = map[domain.Service]string{
	domain.ServiceUnlock:          "The card holder sets a new passcode on their locked Smartcard.",
	domain.ServiceRepair:          "New certificates and keys for a Smartcard whose certificates have expired, that is at full capacity, or that needs repair; the card holder sets a passcode.",
	domain.ServiceAssistedRenewal: "Renew the certificates of a Smartcard in the 90 days before they expire.",
	domain.ServiceCancel:          "Cancel the Smartcard (lost, stolen, damaged or another reason): it is refused everywhere from then on.",
	domain.ServiceClearLockOut:    "Let the card holder use Smartcard Unlock at the kiosk again after 3 failed attempts.",
	domain.ServiceAuditTrail:      "The card holder's and this Smartcard's events, newest first.",
}

func (x *servicesScreen) refresh() {
	cur := x.menu.Cursor
	var items []components.MenuItem
	for i, v := range x.svcs {
		desc := ServiceText[v]
		if x.errs != nil && x.errs[i] != nil && !errors.Is(x.errs[i], opsvc.ErrNoHolderCard) {
			desc = "Not available now: " + explain(x.errs[i]).What
		}
		items = append(items, components.MenuItem{Title: string(v), Desc: desc})
	}
	x.menu = components.NewMenu(x.s.c.Keys, items...)
	x.menu.Cursor = min(cur, max(0, len(items)-1))
}

func (x *servicesScreen) Init() tea.Cmd { return nil }

func (x *servicesScreen) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	s := x.s
	switch msg := msg.(type) {
	case checksMsg:
		x.errs, x.ready = msg.errs, true
		x.refresh()
		return x, nil
	case tea.KeyPressMsg:
		if key.Matches(msg, s.c.Keys.Back) {
			return x, toDetails(s, "")
		}
		if !x.ready {
			return x, nil
		}
	}
	var chosen int
	x.menu, chosen = x.menu.Update(msg)
	if chosen < 0 {
		return x, nil
	}
	v, err := x.svcs[chosen], x.errs[chosen]
	back := func() (common.Screen, tea.Cmd) { return newServices(s, x.d) }
	switch {
	case errors.Is(err, opsvc.ErrNoHolderCard):
		// Found by a search: the selected card is asked for now.
		return newInsertHolder(s, func(d opsvc.HolderDetails) (common.Screen, tea.Cmd) { return newServices(s, d) })
	case err != nil:
		return newMessage(s, explain(err), back), nil
	}
	return startService(s, x.d, v)
}

func (x *servicesScreen) View() common.Frame {
	th, w := x.s.c.Theme, x.s.c.ContentWidth()
	var doc common.Doc
	doc.Add(para(th.Text, w, "Smartcard "+string(x.d.Selected)+" of "+domain.CleanText(x.d.Name)+". Choose a service, then press "+capital(x.s.c.Keys.Enter)+" to continue."))
	doc.Gap()
	if len(x.svcs) == 0 {
		doc.Add(para(th.Error, w, opsvc.NotPermittedText))
	}
	x.menu.View(&doc, th, w)
	return doc.Frame("Service")
}

func (x *servicesScreen) Help() []key.Binding {
	k := x.s.c.Keys
	return []key.Binding{k.Up, common.WithHelp(k.Enter, "continue"), common.WithHelp(k.Back, "user details")}
}
