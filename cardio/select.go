package cardio

import (
	"fmt"
	"strings"
)

// Reader positions used when no name is configured: the card holder's
// (kiosk) reader is the first one, the operator's own reader the second.
const (
	HolderReaderIndex   = 0
	OperatorReaderIndex = 1
)

// SelectReader picks a reader for a role. With match set, the reader whose
// name equals match, or else the only one containing it (case-insensitive),
// is chosen; index is then ignored. Without match, names[index] is chosen.
// Errors wrap ErrNoReader and list the readers present, so the person
// configuring the terminal sees what to type.
func SelectReader(names []string, match string, index int) (string, error) {
	if len(names) == 0 {
		return "", fmt.Errorf("%w: no card reader is connected", ErrNoReader)
	}
	if match != "" {
		for _, n := range names {
			if n == match {
				return n, nil
			}
		}
		var found []string
		want := strings.ToLower(match)
		for _, n := range names {
			if strings.Contains(strings.ToLower(n), want) {
				found = append(found, n)
			}
		}
		switch len(found) {
		case 1:
			return found[0], nil
		case 0:
			return "", fmt.Errorf("%w: no reader name contains %q (connected: %s)", ErrNoReader, match, quoteAll(names))
		default:
			return "", fmt.Errorf("%w: %q matches %d readers (%s); use a longer part of the name", ErrNoReader, match, len(found), quoteAll(found))
		}
	}
	if index < 0 {
		return "", fmt.Errorf("%w: invalid reader position %d", ErrNoReader, index)
	}
	if index >= len(names) {
		return "", fmt.Errorf("%w: reader #%d wanted but only %d connected (%s)", ErrNoReader, index+1, len(names), quoteAll(names))
	}
	return names[index], nil
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
