package operator

import (
	"context"
	"errors"
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	opsvc "github.com/smartcard-service-centre/kiosk/domain/operator"
	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/components"
)

// doneMsg is a service's result, with the holder's details after it.
type doneMsg struct {
	d   opsvc.HolderDetails
	ok  bool
	err error
}

// runService runs f for the holder in hand; card: f changes the card.
func runService(s *session, card bool, f func(ctx context.Context) error) tea.Cmd {
	svc, sess := s.svc, s.sess
	do := s.v.Do
	if card {
		do = s.v.DoCard
	}
	return do(func(ctx context.Context) tea.Msg {
		err := f(ctx)
		d, ok := svc.Holder(sess)
		return doneMsg{d: d, ok: ok, err: err}
	})
}

// finished is the screen after a service: the User Details with success
// in a banner, or what went wrong.
func finished(s *session, msg doneMsg, success func(opsvc.HolderDetails) string) (common.Screen, tea.Cmd) {
	toUser := func() (common.Screen, tea.Cmd) { return newDetails(s, msg.d, ""), nil }
	if !msg.ok {
		logOutcome(s.c, "service", msg.err)
		return newMessage(s, explain(msg.err), func() (common.Screen, tea.Cmd) { return newDashboard(s, "") }), nil
	}
	switch err := msg.err; {
	case err == nil:
		return newDetails(s, msg.d, success(msg.d)), nil
	case errors.Is(err, domain.ErrRecordDelayed), errors.Is(err, domain.ErrNotRecorded):
		logOutcome(s.c, "record service", err)
		ex := explain(err)
		return newDetails(s, msg.d, success(msg.d)+" "+ex.What+" "+ex.Next), nil
	case errors.Is(err, domain.ErrCardNeedsRepair):
		logOutcome(s.c, "service", err)
		return newMessage(s, explain(err), toUser), nil
	case errors.Is(err, domain.ErrCardRemoved), errors.Is(err, domain.ErrNoCard):
		logOutcome(s.c, "service", err)
		return newMessage(s, common.Explanation{Title: "Smartcard removed", What: ChangedMaybeText, Next: ReinsertToCheckText}, toUser), nil
	}
	logOutcome(s.c, "service", msg.err)
	return newMessage(s, explain(msg.err), toUser), nil
}

// expiryOf is the selected card's certificate expiry in d.
func expiryOf(d opsvc.HolderDetails) string {
	for _, c := range d.Cards {
		if c.Serial == d.Selected {
			return c.CertExpiry.Format("2 January 2006")
		}
	}
	return "unknown"
}

// UnlockedBanner is seed 000 Fig 10's message.
func UnlockedBanner(serial domain.CardSerial) string {
	return "Success: Smartcard " + string(serial) + " unlocked."
}

// startService opens the screen of service v for the holder in hand.
func startService(s *session, d opsvc.HolderDetails, v domain.Service) (common.Screen, tea.Cmd) {
	svc, sess := s.svc, s.sess
	switch v {
	case domain.ServiceUnlock, domain.ServiceRepair:
		return &handOverScreen{s: s, d: d, service: v}, nil
	case domain.ServiceAssistedRenewal:
		return &confirmScreen{s: s, d: d, title: string(v), card: true, button: "Renew",
			text: "Renew the certificates on Smartcard " + string(d.Selected) + " of " + domain.CleanText(d.Name) + "? The card gets new keys and certificates valid for 2 years; its passcode does not change. Keep it in the second reader until this is done.",
			run:  func(ctx context.Context) error { return svc.RenewCard(ctx, sess) },
			success: func(d opsvc.HolderDetails) string {
				return "Success: Smartcard " + string(d.Selected) + " renewed: its certificates are valid until " + expiryOf(d) + "."
			}}, nil
	case domain.ServiceClearLockOut:
		return &confirmScreen{s: s, d: d, title: string(v), button: "Clear lock-out",
			text: fmt.Sprintf("Clear the self-service lock-out of %s (%d failed attempts)? They will be able to use Smartcard Unlock at the kiosk again.", domain.CleanText(d.Name), d.FailedAttempts),
			run:  func(ctx context.Context) error { return svc.ClearLockOut(ctx, sess) },
			success: func(d opsvc.HolderDetails) string {
				return "Success: self-service lock-out cleared for " + domain.CleanText(d.Name) + "."
			}}, nil
	case domain.ServiceCancel:
		return newCancel(s, d)
	case domain.ServiceAuditTrail:
		return newAudit(s, d)
	}
	return newMessage(s, explain(opsvc.ErrOutOfTurn), func() (common.Screen, tea.Cmd) { return newServices(s, d) }), nil
}

// handOverScreen asks the operator to hand the keyboard to the card
// holder, who alone may choose the passcode (seeds 000 and 001).
type handOverScreen struct {
	s       *session
	d       opsvc.HolderDetails
	service domain.Service
}

func (h *handOverScreen) Init() tea.Cmd { return nil }

func (h *handOverScreen) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(k, h.s.c.Keys.Enter):
			return newHolderPasscode(h.s, h.d, h.service)
		case key.Matches(k, h.s.c.Keys.Back):
			return newServices(h.s, h.d)
		}
	}
	return h, nil
}

func (h *handOverScreen) View() common.Frame {
	th, w := h.s.c.Theme, h.s.c.ContentWidth()
	var doc common.Doc
	doc.Add(para(th.Title, w, HandOverText))
	doc.Gap()
	doc.Add(para(th.Text, w, domain.CleanText(h.d.Name)+" will now set the new passcode for Smartcard "+string(h.d.Selected)+"."))
	doc.Gap()
	doc.Add(para(th.Warning, w, OnlyHolderText))
	doc.Gap()
	doc.Focus(components.Button(th, "Continue", true))
	return doc.Frame(string(h.service))
}

func (h *handOverScreen) Help() []key.Binding {
	return []key.Binding{common.WithHelp(h.s.c.Keys.Enter, "continue"), h.s.c.Keys.Back}
}

// holderPasscodeScreen is where the card holder types their new passcode
// twice (seed 000 Fig 9), for Unlock or Repair.
type holderPasscodeScreen struct {
	s       *session
	d       opsvc.HolderDetails
	service domain.Service
	fields  components.PasscodeFields
	busy    bool
}

func newHolderPasscode(s *session, d opsvc.HolderDetails, v domain.Service) (common.Screen, tea.Cmd) {
	f, cmd := components.NewPasscodeFieldsFor(s.c, s.svc.PasscodePolicy(), false)
	return &holderPasscodeScreen{s: s, d: d, service: v, fields: f}, cmd
}

func (p *holderPasscodeScreen) Init() tea.Cmd { return nil }

func (p *holderPasscodeScreen) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	s := p.s
	switch msg := msg.(type) {
	case doneMsg:
		p.busy = false
		if errors.Is(msg.err, domain.ErrPasscodePolicy) {
			return p, p.fields.ResetNew(explain(msg.err).What)
		}
		if p.service == domain.ServiceRepair {
			return finished(s, msg, func(d opsvc.HolderDetails) string {
				return "Success: Smartcard " + string(d.Selected) + " repaired: its new certificates are valid until " + expiryOf(d) + "."
			})
		}
		return finished(s, msg, func(d opsvc.HolderDetails) string { return UnlockedBanner(d.Selected) })
	case holderOutMsg:
		if !p.busy {
			// Nothing reached the card: wipe what was typed.
			p.fields.Reset()
			return newMessage(s, common.Explanation{Title: "Smartcard removed", What: HolderRemovedText, Next: "Insert it again and choose the service again."},
				func() (common.Screen, tea.Cmd) {
					d := p.d
					d.CardIn = false
					return newDetails(s, d, ""), nil
				}), nil
		}
		return p, nil
	case tea.KeyPressMsg:
		if p.busy {
			return p, nil
		}
		if key.Matches(msg, s.c.Keys.Back) {
			p.fields.Reset()
			return newServices(s, p.d)
		}
	}
	if p.busy {
		return p, nil
	}
	fields, cmd, submitted := p.fields.Update(msg)
	p.fields = fields
	if !submitted || !p.fields.Ready() {
		return p, cmd
	}
	p.busy = true
	svc, sess, pin, confirm, repair := s.svc, s.sess, p.fields.New(), p.fields.Confirm(), p.service == domain.ServiceRepair
	return p, runService(s, true, func(ctx context.Context) error {
		if repair {
			return svc.RepairCard(ctx, sess, pin, confirm)
		}
		return svc.UnlockCard(ctx, sess, pin, confirm)
	})
}

func (p *holderPasscodeScreen) View() common.Frame {
	th, w := p.s.c.Theme, p.s.c.ContentWidth()
	var doc common.Doc
	doc.Add(para(th.Text, w, domain.CleanText(p.d.Name)+", please enter your new passcode in the two spaces below and then press Confirm."))
	doc.Gap()
	doc.Add(para(th.Text, w, p.s.svc.PasscodePolicy().Describe()))
	doc.Gap()
	p.fields.View(&doc, th, w)
	doc.Gap()
	doc.Add(components.Button(th, "Confirm", p.fields.Ready() && !p.busy))
	return doc.Frame(string(p.service) + ": set the passcode")
}

func (p *holderPasscodeScreen) Help() []key.Binding {
	k := p.s.c.Keys
	return []key.Binding{k.Next, common.WithHelp(k.Enter, "confirm"), common.WithHelp(k.Back, "cancel")}
}

// confirmScreen asks the operator to confirm a service and runs it.
type confirmScreen struct {
	s       *session
	d       opsvc.HolderDetails
	title   string
	text    string
	button  string
	card    bool // changes the card
	run     func(ctx context.Context) error
	success func(opsvc.HolderDetails) string
	busy    bool
}

func (c *confirmScreen) Init() tea.Cmd { return nil }

func (c *confirmScreen) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case doneMsg:
		c.busy = false
		return finished(c.s, msg, c.success)
	case tea.KeyPressMsg:
		if c.busy {
			return c, nil
		}
		switch {
		case key.Matches(msg, c.s.c.Keys.Enter):
			c.busy = true
			return c, runService(c.s, c.card, c.run)
		case key.Matches(msg, c.s.c.Keys.Back):
			return newServices(c.s, c.d)
		}
	}
	return c, nil
}

func (c *confirmScreen) View() common.Frame {
	th, w := c.s.c.Theme, c.s.c.ContentWidth()
	var doc common.Doc
	doc.Add(para(th.Text, w, c.text))
	doc.Gap()
	doc.Focus(components.Button(th, c.button, !c.busy))
	return doc.Frame(c.title)
}

func (c *confirmScreen) Help() []key.Binding {
	return []key.Binding{common.WithHelp(c.s.c.Keys.Enter, c.button), c.s.c.Keys.Back}
}
