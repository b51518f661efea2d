package screens

import (
	"context"
	"errors"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/selfservice"
	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/components"
)

type signedInMsg struct {
	holder selfservice.Holder
	err    error
}

// SignIn opens My Profile: the card itself checks the passcode.
type SignIn struct {
	c     *common.Common
	v     *common.Visit
	field components.Field
	busy  bool
}

// NewSignIn returns the passcode prompt for My Profile.
func NewSignIn(c *common.Common, v *common.Visit) (common.Screen, tea.Cmd) {
	f := components.NewField("Smartcard passcode", true, 16)
	cmd := f.Focus()
	return &SignIn{c: c, v: v, field: f}, cmd
}

func (s *SignIn) Init() tea.Cmd { return nil }

func (s *SignIn) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case signedInMsg:
		s.busy = false
		var pe *domain.PasscodeError
		switch {
		case msg.err == nil:
			s.v.Holder, s.v.SignedIn = msg.holder, true
			return NewProfile(s.c, s.v, "")
		case errors.Is(msg.err, domain.ErrCardBlocked):
			s.v.Holder.Blocked = true
			return lockedNotice(s.c, s.v), nil
		case errors.As(msg.err, &pe):
			s.field.Reset()
			ex := s.c.Explain(msg.err)
			s.field.Feedback, s.field.Bad = ex.What+" "+ex.Next, true
			return s, s.field.Focus()
		}
		logFault(s.c, "sign in", msg.err)
		if s.v.Ended {
			return ended(s.c, msg.err), nil
		}
		return NewNotice(s.c, msg.err, "back to the menu", backHome(s.c, s.v)), nil
	case tea.KeyPressMsg:
		if s.busy {
			return s, nil
		}
		switch {
		case key.Matches(msg, s.c.Keys.Back):
			return NewHome(s.c, s.v)
		case key.Matches(msg, s.c.Keys.Enter):
			if s.field.Value() == "" {
				return s, nil
			}
			s.busy = true
			pin := s.field.Value()
			s.field.Reset()
			svc, sess, card := s.c.Service, s.v.Session, s.v.Card
			return s, s.v.Do(func(ctx context.Context) tea.Msg {
				if err := svc.SignIn(ctx, sess, card, pin); err != nil {
					return signedInMsg{err: err}
				}
				return signedInMsg{holder: svc.Holder(sess)}
			})
		}
	}
	if s.busy {
		return s, nil
	}
	var cmd tea.Cmd
	before := s.field.Value()
	s.field, cmd = s.field.Update(msg)
	if s.field.Bad && s.field.Value() != before {
		s.field.Feedback, s.field.Bad = "", false
	}
	return s, cmd
}

func (s *SignIn) View() common.Frame {
	th, w := s.c.Theme, s.c.ContentWidth()
	var d common.Doc
	d.Add(para(th.Text, w, "Enter your current Smartcard passcode so that your Smartcard can confirm it belongs to you."))
	d.Gap()
	d.Focus(s.field.View(th, w))
	d.Gap()
	d.Add(components.Button(th, "Continue", s.field.Value() != "" && !s.busy))
	return d.Frame("My Profile")
}

func (s *SignIn) Help() []key.Binding {
	return []key.Binding{common.WithHelp(s.c.Keys.Enter, "continue"), s.c.Keys.Back}
}

// Profile shows the holder's details and what they can do.
type Profile struct {
	c      *common.Common
	v      *common.Visit
	menu   components.Menu
	banner string // a success to report, e.g. after registration
}

// NewProfile returns My Profile, with an optional success banner.
func NewProfile(c *common.Common, v *common.Visit, banner string) (common.Screen, tea.Cmd) {
	reg := "Register for Smartcard Unlock"
	regDesc := "Set 4 security questions and your email address, so you can unlock your own Smartcard."
	if v.Holder.Registered {
		reg = "Register again for Smartcard Unlock"
		regDesc = "Choose new security questions or a new email address."
	}
	menu := components.NewMenu(c.Keys,
		components.MenuItem{Title: reg, Desc: regDesc},
		components.MenuItem{Title: "Change passcode", Desc: "Set a new passcode for your Smartcard."},
		components.MenuItem{Title: "Renew certificates", Desc: "Renew your Smartcard's certificates when they are due."},
	)
	if v.Holder.RenewalDue && !v.Holder.CertsExpired {
		menu.Cursor = 2 // renewal is what is due: Enter does it
	}
	return &Profile{c: c, v: v, banner: banner, menu: menu}, nil
}

func (s *Profile) Init() tea.Cmd { return nil }

func (s *Profile) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, s.c.Keys.Back) {
		return NewHome(s.c, s.v)
	}
	var chosen int
	s.menu, chosen = s.menu.Update(msg)
	switch chosen {
	case 0:
		return NewRegisterIntro(s.c, s.v)
	case 1:
		return NewChangePasscode(s.c, s.v)
	case 2:
		return NewRenew(s.c, s.v)
	}
	return s, nil
}

func (s *Profile) View() common.Frame {
	th, w := s.c.Theme, s.c.ContentWidth()
	h := s.v.Holder
	var d common.Doc
	if s.banner != "" {
		d.Add(th.Success.Width(w).Render("✓ " + s.banner))
		d.Gap()
	}
	reg := "Not registered"
	switch {
	case h.Registered && h.LockedOut:
		reg = "Registered, but locked out after 3 failed attempts (visit the IT booth)"
	case h.Registered:
		reg = "Registered (" + clean(h.MaskedEmail) + ")"
	}
	renewal := "Not due yet"
	if h.RenewalDue {
		renewal = "Due now"
		if h.CertsExpired {
			renewal = common.CertsExpiredRenewal
		}
	}
	expiry := [2]string{"Certificates expire", date(h.CertExpiry)}
	if h.CertsExpired {
		expiry = [2]string{"Certificates expired", "on " + date(h.CertExpiry)}
	}
	rows := [][2]string{
		{"Name", clean(h.Name)},
		{"User ID", h.UserID.String()},
		{"Smartcard serial", string(h.Serial)},
		expiry,
		{"Smartcard Unlock", reg},
		{"Renewal", renewal},
	}
	labelW := 21
	for _, r := range rows {
		d.Add(lipgloss.JoinHorizontal(lipgloss.Top,
			th.Label.Width(labelW).Render(r[0]),
			th.Text.Width(max(10, w-labelW)).Render(clean(r[1]))))
	}
	d.Gap()
	s.menu.View(&d, th, w)
	return d.Frame("My Profile")
}

func (s *Profile) Help() []key.Binding {
	return []key.Binding{s.c.Keys.Up, common.WithHelp(s.c.Keys.Enter, "choose"), common.WithHelp(s.c.Keys.Back, "back to the menu")}
}
