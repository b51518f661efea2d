// Package connstr handles PostgreSQL connection strings. It is its own
// package, with no dependencies, so that the store, its test helper
// (pgtest, which the store's own tests import) and the command line can
// all share the one redactor.
package connstr

import (
	"regexp"
	"strings"
)

// Mask replaces a password in redacted text.
const Mask = "xxxxx"

var (
	// The password in a URL's user info runs to the last '@' of the
	// token: a malformed URL may hold a raw '@' in it, and hiding part of
	// the host is better than showing part of the password.
	urlPassword = regexp.MustCompile(`(://[^:/@\s]*:)[^\s]*@`)
	// password=… in key=value form (quoted or not, spaces around '='
	// allowed as libpq allows them) and in a URL's query string.
	kvPassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s'` + "`" + `]*)`)
)

// Redact returns text with every database password in it masked: in URLs
// (postgres://user:PASSWORD@host), in key=value connection strings and URL
// query strings (password=PASSWORD, password='PASS WORD'), and wherever
// one of the known passwords appears literally (what a lower layer may
// quote without its key). It is meant for anything printed or logged that
// may quote a connection string, parsed or not.
func Redact(text string, known ...string) string {
	text = urlPassword.ReplaceAllString(text, "${1}"+Mask+"@")
	text = kvPassword.ReplaceAllString(text, "${1}"+Mask)
	for _, pw := range known {
		if pw != "" {
			text = strings.ReplaceAll(text, pw, Mask)
		}
	}
	return text
}
