package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/storage/postgres"
	"github.com/smartcard-service-centre/kiosk/storage/postgres/pgtest"
)

// TestUsersDuringHungPrimary (issue 13): with the primary of a
// multi-host URL hung (its processes stopped: it accepts connections and
// never answers), kiosk users says so within its wait while no host takes
// writes, and lists the users from the standby once it is promoted,
// the primary still hung.
func TestUsersDuringHungPrimary(t *testing.T) {
	primary := pgtest.NewTCPCluster(t)
	primary.Exec("CREATE DATABASE kiosk")
	env := map[string]string{"KIOSK_DATA_DIR": t.TempDir(),
		"KIOSK_DATABASE_URL": fmt.Sprintf("postgres://postgres@127.0.0.1:%d/kiosk?sslmode=disable", primary.Port)}
	if _, e, code := runKiosk(t, env, "migrate"); code != 0 {
		t.Fatalf("migrate: %s", e)
	}
	s, err := postgres.Open(t.Context(), env["KIOSK_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	err = s.PutUser(t.Context(), domain.User{ID: "555013000003", GivenName: "Still", FamilyName: "Listed", Email: "still.listed@nhs.net", CreatedAt: time.Now().UTC()})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	standby := primary.NewStandby(t)
	primary.WaitStandby(false)
	env["KIOSK_DATABASE_URL"] = fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/kiosk?sslmode=disable&target_session_attrs=read-write",
		primary.Port, standby.Port)
	budget := postgres.OpenBudget(env["KIOSK_DATABASE_URL"], postgres.DefaultConnectTimeout)
	if out, e, code := runKiosk(t, env, "users"); code != 0 || !strings.Contains(out, "Still Listed") {
		t.Fatalf("users before the failure: %d %q %q", code, out, e)
	}

	primary.Freeze()
	// Neither host takes writes: a clear error, within the wait (the old
	// store's wait went to the hung primary alone, and failed after 10 s).
	start := time.Now()
	_, e, code := runKiosk(t, env, "users")
	oneLine(t, e, code, "connect to database")
	if took := time.Since(start); took > budget+time.Second {
		t.Errorf("users with no writable host failed after %v, want within %v", took, budget)
	}

	standby.Promote()
	start = time.Now()
	out, e, code := runKiosk(t, env, "users")
	took := time.Since(start)
	if code != 0 || !strings.Contains(out, "Still Listed") {
		t.Fatalf("users after the promotion, primary hung: %d %q %q", code, out, e)
	}
	// The hung primary costs one connect timeout before the standby.
	if limit := postgres.DefaultConnectTimeout + time.Second; took > limit {
		t.Errorf("users took %v with the primary hung, want within %v (connect timeout + 1 s)", took, limit)
	}
	t.Logf("kiosk users with the primary hung: %v", took)
}
