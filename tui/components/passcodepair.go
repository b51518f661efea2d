package components

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/tui/common"
	"github.com/smartcard-service-centre/kiosk/tui/theme"
)

// PasscodeFields is a column of masked passcode fields: optionally the
// current passcode, then the new one twice. The new one is checked
// against the policy as it is typed, and the confirmation against it.
type PasscodeFields struct {
	fields  []Field
	current bool // fields[0] is the current passcode
	focus   int
	policy  domain.PasscodePolicy
	c       *common.Common
}

// cardPasscodeLimit bounds the current passcode: a PIV card's PIN is at
// most 8 characters, whatever the policy for new ones says.
const cardPasscodeLimit = 8

// NewPasscodeFields returns the fields, the first focused, checked against
// the service's passcode policy. With current, the first field asks for
// the passcode the card has now.
func NewPasscodeFields(c *common.Common, current bool) (PasscodeFields, tea.Cmd) {
	return NewPasscodeFieldsFor(c, c.Service.PasscodePolicy(), current)
}

// NewPasscodeFieldsFor is NewPasscodeFields checked against policy: the
// operator terminal's, whose service is not the kiosk's.
func NewPasscodeFieldsFor(c *common.Common, policy domain.PasscodePolicy, current bool) (PasscodeFields, tea.Cmd) {
	p := PasscodeFields{policy: policy, c: c, current: current}
	if current {
		p.fields = append(p.fields, NewField("Current Passcode", true, cardPasscodeLimit))
	}
	// The new passcode stops at the policy's maximum (the screen says it
	// before anything is typed), so no one types a ninth character and
	// learns only afterwards that it was too many.
	p.fields = append(p.fields,
		NewField("New Passcode", true, policy.MaxLen),
		NewField("Confirm Passcode", true, policy.MaxLen))
	return p, p.fields[0].Focus()
}

func (p PasscodeFields) newIdx() int {
	if p.current {
		return 1
	}
	return 0
}

// Current is the current passcode typed ("" without that field).
func (p PasscodeFields) Current() string {
	if !p.current {
		return ""
	}
	return p.fields[0].Value()
}

// New is the new passcode typed.
func (p PasscodeFields) New() string { return p.fields[p.newIdx()].Value() }

// Confirm is the confirmation typed.
func (p PasscodeFields) Confirm() string { return p.fields[p.newIdx()+1].Value() }

// Ready reports whether the fields are filled in and pass the policy, so
// submitting is worth it (the domain checks again).
func (p PasscodeFields) Ready() bool {
	if p.current && p.Current() == "" {
		return false
	}
	return p.policy.CheckConfirm(p.New(), p.Confirm()) == nil
}

// Reset wipes every field and focuses the first.
func (p *PasscodeFields) Reset() tea.Cmd {
	for i := range p.fields {
		p.fields[i].Reset()
	}
	return p.setFocus(0)
}

// ResetCurrent wipes the current passcode (it was wrong) and focuses it.
func (p *PasscodeFields) ResetCurrent(feedback string) tea.Cmd {
	if !p.current {
		return nil
	}
	p.fields[0].Reset()
	p.fields[0].Feedback, p.fields[0].Bad = feedback, feedback != ""
	return p.setFocus(0)
}

// ResetNew wipes the new passcode and its confirmation and focuses the
// first, with feedback saying why.
func (p *PasscodeFields) ResetNew(feedback string) tea.Cmd {
	i := p.newIdx()
	p.fields[i].Reset()
	p.fields[i+1].Reset()
	p.fields[i].Feedback, p.fields[i].Bad = feedback, feedback != ""
	return p.setFocus(i)
}

func (p *PasscodeFields) setFocus(i int) tea.Cmd {
	i = max(0, min(i, len(p.fields)-1))
	p.fields[p.focus].Blur()
	p.focus = i
	return p.fields[i].Focus()
}

// Update handles moving between fields and typing; submitted is true when
// Enter was pressed on the last field.
func (p PasscodeFields) Update(msg tea.Msg) (PasscodeFields, tea.Cmd, bool) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(k, p.c.Keys.Enter):
			if p.focus == len(p.fields)-1 {
				return p, nil, true
			}
			return p, p.setFocus(p.focus + 1), false
		case key.Matches(k, p.c.Keys.Next):
			return p, p.setFocus(p.focus + 1), false
		case key.Matches(k, p.c.Keys.Prev):
			return p, p.setFocus(p.focus - 1), false
		}
	}
	var cmd tea.Cmd
	before := p.fields[p.focus].Value()
	p.fields[p.focus], cmd = p.fields[p.focus].Update(msg)
	if p.fields[p.focus].Value() != before {
		p.check()
	}
	return p, cmd, false
}

// check gives live feedback: the policy on the new passcode, a match on
// the confirmation. Nothing is said about a field not yet typed in, nor
// about the confirmation while the new passcode is refused: a green
// "match" beside a passcode that cannot be used would say the opposite.
func (p *PasscodeFields) check() {
	if p.current && p.fields[0].Value() != "" {
		p.fields[0].Feedback, p.fields[0].Bad = "", false
	}
	n, c := &p.fields[p.newIdx()], &p.fields[p.newIdx()+1]
	policyErr := p.policy.Check(n.Value())
	switch {
	case n.Value() == "":
		n.Feedback, n.Bad = "", false
	case policyErr != nil:
		n.Feedback, n.Bad = p.c.Explain(policyErr).What, true
	default:
		n.Feedback, n.Bad = "Meets the passcode rules", false
	}
	switch {
	case c.Value() == "", policyErr != nil:
		c.Feedback, c.Bad = "", false
	case c.Value() != n.Value():
		c.Feedback, c.Bad = "The two passcodes do not match.", true
	default:
		c.Feedback, c.Bad = "The passcodes match", false
	}
}

// View adds the fields to d, marking the focused one.
func (p PasscodeFields) View(d *common.Doc, th *theme.Theme, width int) {
	for i, f := range p.fields {
		if i == p.focus {
			d.Focus(f.View(th, width))
		} else {
			d.Add(f.View(th, width))
		}
	}
}
