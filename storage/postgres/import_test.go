package postgres

import (
	"testing"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/storage/storetest"
)

// BenchmarkImport: kiosk import into PostgreSQL (KIOSK_BENCH_USERS users,
// default 10,000), each time into a new database.
func BenchmarkImport(b *testing.B) {
	storetest.BenchImport(b, func(b *testing.B) domain.Store { return benchStore(b) })
}
