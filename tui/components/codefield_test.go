package components

import (
	"testing"

	tea "charm.land/bubbletea/v2"
)

func TestCodeFieldTakesOnlyDigits(t *testing.T) {
	c := NewCodeField("Code", 6)
	for _, r := range "12a-3 4" {
		c, _ = c.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	if got := c.Value(); got != "1234" {
		t.Fatalf("typed 12a-3 4, field holds %q", got)
	}
	c, _ = c.Update(tea.PasteMsg{Content: "56 78\x1b[31m9"})
	if got := c.Value(); got != "123456" || !c.Complete() {
		t.Fatalf("after paste the field holds %q (complete %v), want 123456", got, c.Complete())
	}
	c, _ = c.Update(tea.KeyPressMsg{Code: tea.KeyBackspace})
	if got := c.Value(); got != "12345" {
		t.Fatalf("after backspace the field holds %q", got)
	}
	c.Reset()
	if c.Value() != "" {
		t.Fatal("reset left digits")
	}
}

func TestFieldPasteDropsControlCharacters(t *testing.T) {
	f := NewField("Answer", false, 64)
	f.Focus()
	f, _ = f.Update(tea.PasteMsg{Content: "St\x1b]0;x\x07 Marys\n"})
	if got := f.Value(); got != "St]0;x Marys" {
		t.Fatalf("pasted answer = %q", got)
	}
}
