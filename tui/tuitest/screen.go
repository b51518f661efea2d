package tuitest

import (
	"regexp"
	"strings"
)

var focusedField = regexp.MustCompile(`┃[^┃]*┃`)

// FocusedQuestion is the question (a key of texts) whose field has the
// cursor on screen: the one just above the field drawn with the thick
// border (┃ on both sides); "" if none is.
func FocusedQuestion(screen string, texts map[string]string) string {
	lines := strings.Split(screen, "\n")
	for i, l := range lines {
		if !focusedField.MatchString(l) {
			continue
		}
		for j := i - 1; j >= max(0, i-3); j-- { // the nearest first
			for text := range texts {
				if strings.Contains(lines[j], text) {
					return text
				}
			}
		}
	}
	return ""
}
