package mail

import (
	"path/filepath"
	"testing"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/storage/postgres"
	"github.com/smartcard-service-centre/kiosk/storage/postgres/pgtest"
	"github.com/smartcard-service-centre/kiosk/storage/sqlite"
)

// testStores open several connections to one fresh database, as several
// kiosks would: open(t) prepares the database and returns a function that
// opens one more store on it.
var testStores = []struct {
	name string
	open func(t *testing.T) func(t *testing.T) domain.Store
}{
	{"sqlite", func(t *testing.T) func(t *testing.T) domain.Store {
		path := filepath.Join(t.TempDir(), "kiosk.db")
		return func(t *testing.T) domain.Store {
			s, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	}},
	{"postgres", func(t *testing.T) func(t *testing.T) domain.Store {
		url := pgtest.NewDatabase(t) // skips when no server answers
		open := func(t *testing.T) *postgres.Store {
			s, err := postgres.Open(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		if _, err := open(t).Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		return func(t *testing.T) domain.Store { return open(t) }
	}},
}
