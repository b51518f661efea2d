package operator

import (
	"context"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/components"
)

// dashboard is the landing page (seed 000 Fig 5).
type dashboard struct {
	s       *session
	menu    components.Menu
	actions []func() (common.Screen, tea.Cmd)
	banner  string
}

// closedMsg: the card holder in hand was put away.
type closedMsg struct{}

// backToDashboard puts the card holder away, then shows the dashboard.
func backToDashboard(s *session) tea.Cmd {
	svc, sess := s.svc, s.sess
	return s.v.Do(func(context.Context) tea.Msg {
		svc.CloseHolder(sess)
		return closedMsg{}
	})
}

func newDashboard(s *session, banner string) (common.Screen, tea.Cmd) {
	d := &dashboard{s: s, banner: banner}
	add := func(title, desc string, f func() (common.Screen, tea.Cmd)) {
		d.menu.Items = append(d.menu.Items, components.MenuItem{Title: title, Desc: desc})
		d.actions = append(d.actions, f)
	}
	d.menu = components.NewMenu(s.c.Keys)
	add("Manage Smartcard", "Service the Smartcard of the card holder in front of you: you will be asked to insert it into the second reader.",
		func() (common.Screen, tea.Cmd) { return newInsertHolder(s, nil) })
	add("Search for a user", "Find a card holder by their 12-digit user ID or by name.",
		func() (common.Screen, tea.Cmd) { return newSearch(s) })
	if len(s.op.Roles) > 1 {
		add("Change role", "Choose another of your roles for this session.",
			func() (common.Screen, tea.Cmd) { return newRoles(s, true) })
	}
	return d, nil
}

func (d *dashboard) Init() tea.Cmd { return nil }

func (d *dashboard) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	var chosen int
	d.menu, chosen = d.menu.Update(msg)
	if chosen < 0 {
		return d, nil
	}
	return d.actions[chosen]()
}

func (d *dashboard) View() common.Frame {
	th, w := d.s.c.Theme, d.s.c.ContentWidth()
	var doc common.Doc
	if d.banner != "" {
		doc.Add(th.Notice.Width(w).Render(th.Success.Render(d.banner)))
		doc.Gap()
	}
	doc.Add(para(th.Text, w, "You are logged on as "+d.s.op.Name+", "+d.s.op.Role.String()+" ("+d.s.op.Role.OrgName+")."))
	doc.Gap()
	d.menu.View(&doc, th, w)
	return doc.Frame("Dashboard")
}

func (d *dashboard) Help() []key.Binding {
	return []key.Binding{d.s.c.Keys.Up, common.WithHelp(d.s.c.Keys.Enter, "choose")}
}
