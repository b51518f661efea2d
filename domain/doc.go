// Package domain holds the Smartcard Service Centre's entities, policies and
// workflows, and the ports (interfaces) they need from the outside world.
//
// It knows nothing of terminals, SQL or PC/SC: adapters in storage/, cardio/
// and tui/ implement or call what is declared here.
package domain
