package tui_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// Pastes pass the same gate as keys: one answering "are you still there?"
// does not also type, and none reaches a screen that is not shown.
func TestPasteGate(t *testing.T) {
	t.Parallel()
	t.Run("idle warning and too small", func(t *testing.T) {
		t.Parallel()
		fx := newFixture(t)
		card := fx.add(testPerson())
		k := fx.start(100, 40)
		fx.readers.Insert(card)
		k.pressStart()
		k.waitFor("To confirm your identity")
		k.press("ctrl+t")
		k.typeText("Abc")
		k.waitFor("Abc")
		fx.clock.Advance(95 * time.Second)
		k.waitFor("Are you still there?")
		k.send(tea.PasteMsg{Content: "PASTED"})
		k.waitGone("Are you still there?")
		k.resize(50, 15)
		k.waitFor("too small")
		k.send(tea.PasteMsg{Content: "HIDDEN"})
		k.resize(100, 40)
		k.send(tea.PasteMsg{Content: "Def"})
		s := k.waitFor("Def")
		if !strings.Contains(s, "AbcDef") {
			t.Fatalf("a paste the holder could not see was typed:\n%s", s)
		}
	})
}

// Security answers are masked as they are typed; ctrl+t shows the one
// being typed until pressed again or the cursor moves on.
func TestAnswersAreMasked(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	p := unblocked()
	card := fx.add(p)
	k := fx.start(100, 44)
	signIn(t, k, card, p.PIN)
	k.press("enter")
	k.waitFor("You are already registered.")
	k.press("enter")
	k.waitFor("Chosen: 0 of 4")
	k.press("space", "down", "space", "down", "space", "down", "space", "enter")
	k.waitFor("Answer your security questions")
	k.typeText("Maple Street")
	s := k.waitFor("••••••••••••", "ctrl+t show/hide answer")
	if strings.Contains(s, "Maple Street") {
		t.Fatalf("answer drawn as typed:\n%s", s)
	}
	k.press("ctrl+t")
	k.waitFor("Maple Street")
	k.press("ctrl+t")
	k.waitGone("Maple Street")
	k.press("ctrl+t")
	k.waitFor("Maple Street")
	k.press("tab")
	k.waitGone("Maple Street")
}

// Wide and combining characters keep the input box on one line, showing
// the end being typed; bidirectional controls are not taken at all.
func TestInputWidthAndBidiControls(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	card := fx.add(testPerson())
	k := fx.start(100, 40)
	fx.readers.Insert(card)
	k.pressStart()
	k.waitFor("To confirm your identity")
	k.press("ctrl+t")
	k.typeText(strings.Repeat("東", 25) + "e\u0301❤️🇬🇧xyz")
	s := k.waitFor("xyz")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if !strings.Contains(l, "┏") {
			continue
		}
		if i+2 >= len(lines) || !strings.Contains(lines[i+2], "┗") {
			t.Fatalf("the input box takes more than one line:\n%s", s)
		}
		if !strings.Contains(lines[i+1], "東") || !strings.Contains(lines[i+1], "❤️🇬🇧xyz") {
			t.Fatalf("the input box does not show the end typed:\n%s", s)
		}
	}

	k.press("tab", "ctrl+t")
	k.typeText("a\u202eb")
	k.send(tea.PasteMsg{Content: "c\u2067d\u200fe\u2069"})
	k.waitFor("abcde")
	for _, bidi := range []string{"\u202e", "\u2067", "\u200f", "\u2069"} {
		if bytes.Contains(k.raw.Bytes(), []byte(bidi)) {
			t.Fatalf("bidirectional control %q reached the terminal", bidi)
		}
	}
}
