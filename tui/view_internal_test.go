package tui

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	if err := (Options{}).Validate(); err == nil || !strings.Contains(err.Error(), "no card readers") {
		t.Fatalf("Validate of empty options = %v", err)
	}
}
