// Package theme holds every colour and style the kiosk draws with, in one
// place, so screens never pick colours of their own.
package theme

import (
	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// NHS identity colours; the focus yellow with black text is the NHS
// service manual's focus style, which people who use NHS services know.
var (
	nhsBlue      = lipgloss.Color("#005EB8")
	nhsDarkBlue  = lipgloss.Color("#003087")
	nhsLightBlue = lipgloss.Color("#41B6E6")
	nhsYellow    = lipgloss.Color("#FFB81C")
	nhsWhite     = lipgloss.Color("#FFFFFF")
	nhsBlack     = lipgloss.Color("#212B32")
	nhsRed       = lipgloss.Color("#D5281B")
	nhsRedDark   = lipgloss.Color("#FF7B6E")
	nhsGreen     = lipgloss.Color("#007F3B")
	nhsGreenDark = lipgloss.Color("#78BE20")
	nhsGrey      = lipgloss.Color("#4C6272")
	nhsGreyDark  = lipgloss.Color("#AEB7BD")
	nhsPaleGrey  = lipgloss.Color("#D8DDE0")
)

// Theme is the set of styles for one terminal background.
type Theme struct {
	IsDark bool

	Header      lipgloss.Style // the blue title bar
	HeaderRight lipgloss.Style
	Title       lipgloss.Style // a screen's heading
	Text        lipgloss.Style
	Muted       lipgloss.Style
	Strong      lipgloss.Style
	Label       lipgloss.Style
	Accent      lipgloss.Style

	Error   lipgloss.Style
	Success lipgloss.Style
	Warning lipgloss.Style // the inset warning box (disciplinary notice, lock-out rule)

	Field        lipgloss.Style // an input box
	FieldFocused lipgloss.Style
	FieldError   lipgloss.Style
	// DigitBox is one box of a code field: always three lines high, as
	// a row of one-line boxes would not read as boxes.
	DigitBox        lipgloss.Style
	DigitBoxFocused lipgloss.Style
	Button          lipgloss.Style
	ButtonActive    lipgloss.Style

	MenuItem       lipgloss.Style
	MenuItemActive lipgloss.Style

	StatusBar lipgloss.Style
	Countdown lipgloss.Style
	Notice    lipgloss.Style // the "what happened" box of a failure
	Panel     lipgloss.Style // demo panels (card tray, mailbox)
	PanelHead lipgloss.Style

	Help  help.Styles
	Input textinput.Styles
}

// Compact returns a copy of t for short terminals (80×24): input boxes
// lose their top and bottom edges, one line each instead of three.
func (t *Theme) Compact() *Theme {
	c := *t
	for _, st := range []*lipgloss.Style{&c.Field, &c.FieldFocused, &c.FieldError} {
		*st = st.BorderTop(false).BorderBottom(false)
	}
	return &c
}

// New builds the theme for a dark or light terminal background.
func New(isDark bool) *Theme {
	ld := lipgloss.LightDark(isDark)
	accent := ld(nhsBlue, nhsLightBlue)
	muted := ld(nhsGrey, nhsGreyDark)
	errc := ld(nhsRed, nhsRedDark)
	okc := ld(nhsGreen, nhsGreenDark)
	border := ld(nhsGrey, nhsGreyDark)

	t := &Theme{IsDark: isDark}
	t.Header = lipgloss.NewStyle().Background(nhsBlue).Foreground(nhsWhite).Bold(true).Padding(0, 1)
	t.HeaderRight = lipgloss.NewStyle().Background(nhsBlue).Foreground(nhsWhite).Padding(0, 1)
	t.Title = lipgloss.NewStyle().Foreground(accent).Bold(true)
	t.Text = lipgloss.NewStyle()
	t.Muted = lipgloss.NewStyle().Foreground(muted)
	t.Strong = lipgloss.NewStyle().Bold(true)
	t.Label = lipgloss.NewStyle().Bold(true)
	t.Accent = lipgloss.NewStyle().Foreground(accent)

	t.Error = lipgloss.NewStyle().Foreground(errc).Bold(true)
	t.Success = lipgloss.NewStyle().Foreground(okc).Bold(true)
	t.Warning = lipgloss.NewStyle().
		Border(lipgloss.ThickBorder(), false, false, false, true).
		BorderForeground(nhsYellow).PaddingLeft(1)

	box := lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(border).Padding(0, 1)
	t.Field = box
	t.FieldFocused = box.Border(lipgloss.ThickBorder()).BorderForeground(nhsYellow)
	t.FieldError = box.Border(lipgloss.ThickBorder()).BorderForeground(errc)
	t.DigitBox, t.DigitBoxFocused = t.Field, t.FieldFocused
	t.Button = lipgloss.NewStyle().Padding(0, 2).Background(ld(nhsPaleGrey, nhsGrey)).Foreground(ld(nhsBlack, nhsWhite))
	t.ButtonActive = lipgloss.NewStyle().Padding(0, 2).Background(nhsYellow).Foreground(nhsBlack).Bold(true)

	t.MenuItem = lipgloss.NewStyle().PaddingLeft(2)
	t.MenuItemActive = lipgloss.NewStyle().PaddingLeft(1).
		Border(lipgloss.ThickBorder(), false, false, false, true).BorderForeground(nhsYellow).Bold(true)

	t.StatusBar = lipgloss.NewStyle().Foreground(muted)
	t.Countdown = lipgloss.NewStyle().Background(nhsYellow).Foreground(nhsBlack).Bold(true).Padding(0, 1)
	t.Notice = lipgloss.NewStyle().Border(lipgloss.ThickBorder(), false, false, false, true).
		BorderForeground(errc).PaddingLeft(1)
	t.Panel = lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(ld(nhsDarkBlue, nhsLightBlue)).Padding(0, 1)
	t.PanelHead = lipgloss.NewStyle().Foreground(accent).Bold(true)

	t.Help = help.DefaultStyles(isDark)
	t.Help.ShortKey = t.Help.ShortKey.Bold(true)

	t.Input = textinput.DefaultStyles(isDark)
	// A steady cursor: a blinking one redraws the screen twice a second for
	// nothing and distracts on a walk-up terminal.
	t.Input.Cursor.Blink = false
	t.Input.Cursor.Shape = tea.CursorBar
	t.Input.Focused.Placeholder = t.Muted
	t.Input.Blurred.Placeholder = t.Muted
	return t
}
