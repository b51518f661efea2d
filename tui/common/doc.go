package common

import (
	"strings"

	"charm.land/lipgloss/v2"
)

// Doc builds a screen body block by block, remembering on which line the
// focused block starts so the root can keep it in view on small screens.
type Doc struct {
	blocks []string
	lines  int
	focus  int
	end    int
	set    bool
}

// Add appends blocks, each starting on a new line; empty blocks are skipped.
func (d *Doc) Add(blocks ...string) {
	for _, b := range blocks {
		if b == "" {
			continue
		}
		d.blocks = append(d.blocks, b)
		d.lines += lipgloss.Height(b)
	}
}

// Gap adds an empty line.
func (d *Doc) Gap() {
	d.blocks = append(d.blocks, "")
	d.lines++
}

// Focus adds blocks and marks the first as the one to keep in view.
func (d *Doc) Focus(blocks ...string) {
	if d.set {
		d.Add(blocks...)
		return
	}
	d.focus, d.set = d.lines, true
	d.Add(blocks...)
	d.end = d.lines
}

// Frame returns the body with the given title.
func (d *Doc) Frame(title string) Frame {
	f := Frame{Title: title, Body: strings.Join(d.blocks, "\n"), Focus: -1}
	if d.set {
		f.Focus, f.FocusEnd = d.focus, d.end
	}
	return f
}
