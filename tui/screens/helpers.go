package screens

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/tui/common"
)

// para wraps text to width in style.
func para(st lipgloss.Style, width int, text string) string {
	return st.Width(width).Render(text)
}

// steps draws a numbered list with hanging indents.
func steps(st lipgloss.Style, width int, items ...string) string {
	out := make([]string, len(items))
	for i, it := range items {
		num := string(rune('1'+i)) + ". "
		body := st.Width(max(10, width-3)).Render(it)
		lines := strings.Split(body, "\n")
		for j := range lines {
			if j == 0 {
				lines[j] = num + lines[j]
			} else {
				lines[j] = "   " + lines[j]
			}
		}
		out[i] = strings.Join(lines, "\n")
	}
	return strings.Join(out, "\n")
}

// keyName names b's key in copy as the help bar does ("ctrl+r"), so the
// words follow the key map.
func keyName(b key.Binding) string { return b.Help().Key }

// keyCap is keyName capitalised, for a key named by its keycap in a
// sentence ("press Enter").
func keyCap(b key.Binding) string {
	name := keyName(b)
	r, size := utf8.DecodeRuneInString(name)
	return string(unicode.ToUpper(r)) + name[size:]
}

// date formats a date the way the seeds write them: 2 January 2006.
func date(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.Format("2 January 2006")
}

// clean makes text from the domain safe to draw, whatever the domain
// already did: escape sequences in a name must never reach the terminal.
func clean(s string) string { return domain.CleanText(s) }

// logFault logs outcomes that mean the service is failing, with detail
// the screen does not show.
func logFault(c *common.Common, what string, err error) {
	if common.IsServiceFault(err) {
		c.Log.Error(what, "err", err)
	} else if err != nil {
		c.Log.Info(what, "outcome", err)
	}
}

// abandonedMsg says the session has left its workflow; the screen that
// asked goes on to next.
type abandonedMsg struct{ next Next }

// abandon leaves the session's workflow part-way (Back, or a failure that
// sends the holder to a menu) and then goes to next, so the session is
// ready for whatever the holder chooses there. It runs through Do like
// every domain call, and the screen waits (busy) so that no later call
// can reach the session first.
func abandon(c *common.Common, v *common.Visit, next Next) tea.Cmd {
	svc, sess := c.Service, v.Session
	return v.Do(func(context.Context) tea.Msg {
		svc.Abandon(sess)
		return abandonedMsg{next}
	})
}

// notice is a Next that explains err, Enter going on to next.
func notice(c *common.Common, err error, action string, next Next) Next {
	return func() (common.Screen, tea.Cmd) { return NewNotice(c, err, action, next), nil }
}

// ended is the screen after a call that left the session ended (or had a
// fatal outcome): the outcome in words, and no way on but removing the
// card, since every step of this session would now be refused.
func ended(c *common.Common, err error) *Notice {
	return NewMessage(c, c.Ended(err), "", nil)
}

// lockedNotice explains the holder's locked card: Enter goes on to
// Smartcard Unlock when the holder can use it; otherwise the only way on
// is the IT booth, and nothing here is offered that cannot work.
func lockedNotice(c *common.Common, v *common.Visit) *Notice {
	ex, canUnlock := c.Locked(v.Holder)
	if !canUnlock {
		return NewMessage(c, ex, "", nil)
	}
	return NewMessage(c, ex, "go to Smartcard Unlock", func() (common.Screen, tea.Cmd) {
		return NewUnlockIntro(c, v)
	})
}

// interrupted is the screen after a change to the card (unlock, change
// passcode, renew) failed because the card left the reader: the change
// may have been made. The start screen repeats it once the removal is
// reported, which replaces this screen at once.
func interrupted(c *common.Common, v *common.Visit) *Notice {
	ex := common.CardRemovedWhileChanging
	v.RemovedNote = ex.What + " " + ex.Next
	return NewMessage(c, ex, "", nil)
}

// awayNote draws the note of a screen whose call met the store away and
// is not repeated by itself (see common.AwayNote); again is the key that
// sends it again.
func awayNote(c *common.Common, again key.Binding) string {
	th, w := c.Theme, c.ContentWidth()
	st := th.Error
	if !c.StoreDown {
		st = th.Success
	}
	return th.Notice.Width(w).Render(st.Render(c.AwayNote(keyCap(again))))
}
