package postgres

import (
	"context"
	"errors"
	"iter"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/storage/internal/sqlstore"
)

// copyRowsCases are rows at the edges of what copyRows encodes.
func copyRowsCases() []domain.DirectoryRow {
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	user := domain.User{ID: "300000000001", Title: "Dr", GivenName: "Élodie", FamilyName: "O'Brien-Ó Súilleabháin",
		Email: "e.obrien@example.org"}
	return []domain.DirectoryRow{
		{Line: 2, FirstOfUser: true, User: user,
			Position: &domain.Position{OrgCode: "RTH", OrgName: "Oxford University Hospitals", RoleName: "Clinical Practitioner Access Role"},
			Card: &domain.Smartcard{Serial: "4082A00000000001", Type: "PIV",
				IssuedAt:   at("1999-12-31T23:59:59.9999995Z"), // before the epoch, below a microsecond
				CertExpiry: at("2199-12-31T23:59:59.123456789+05:30")}},
		{Line: 3, User: user, // a later row of the same user: codes, a cancelled card
			Position: &domain.Position{OrgCode: "A82647", OrgName: "", RoleName: "Sponsor",
				ActivityCodes: []domain.ActivityCode{"B0001", "B0263", "B1300"}},
			Card: &domain.Smartcard{Serial: "4082A00000000002", Type: "Gemplus",
				IssuedAt: at("2000-01-01T00:00:00Z"), CertExpiry: at("2026-11-28T12:00:00.000001Z"),
				CancelledAt: at("2026-11-28T12:00:01Z"), CancelReason: domain.DirectoryCancelReason}},
		{Line: math.MaxInt32, FirstOfUser: true, User: domain.User{ID: "300000000002", GivenName: "Amara", FamilyName: "Okafor"},
			Position: &domain.Position{OrgCode: "RJ1", RoleName: "Role", ActivityCodes: []domain.ActivityCode{}}},
	}
}

// TestCopyRowsAsPgx: copyRows stages exactly what pgx's own COPY
// encoding of the same values stages.
func TestCopyRowsAsPgx(t *testing.T) {
	tx := stagingTx(t, `CREATE TEMP TABLE reference (LIKE import_rows) ON COMMIT DROP`)
	rows := copyRowsCases()
	src := newCopyRows(rowsThen(rows, nil))
	tag, err := tx.Conn().PgConn().CopyFrom(t.Context(), src, copyStaging)
	if sent, rerr := src.close(); err != nil || rerr != nil || sent != int64(len(rows)) || tag.RowsAffected() != sent {
		t.Fatalf("copyRows: %v, %v; %d sent, %d staged", err, rerr, sent, tag.RowsAffected())
	}
	var ref [][]any
	for _, r := range rows {
		ref = append(ref, pgxValues(r))
	}
	if _, err := tx.CopyFrom(t.Context(), pgx.Identifier{"reference"}, importCols, pgx.CopyFromRows(ref)); err != nil {
		t.Fatal(err)
	}
	var staged, differ int
	err = tx.QueryRow(t.Context(), `
		SELECT (SELECT count(*) FROM import_rows),
			(SELECT count(*) FROM ((TABLE import_rows EXCEPT ALL TABLE reference)
				UNION ALL (TABLE reference EXCEPT ALL TABLE import_rows)) d)`).Scan(&staged, &differ)
	if err != nil || staged != len(rows) || differ != 0 {
		t.Fatalf("%d rows staged, %d differ from pgx's encoding (%v)", staged, differ, err)
	}
	var issued time.Time
	var emptyCodes bool
	if err := tx.QueryRow(t.Context(), `SELECT issued_at, codes = '{}' FROM import_rows WHERE line = 2`).Scan(&issued, &emptyCodes); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC); !issued.Equal(want) || !emptyCodes {
		t.Errorf("line 2: issued %s, codes empty %v; want %s and an empty array", issued, emptyCodes, want)
	}
}

// TestCopyRowsStopsAtTheRowsError: the rows' error aborts the COPY and is
// the one close reports; nothing is staged.
func TestCopyRowsStopsAtTheRowsError(t *testing.T) {
	tx := stagingTx(t, "")
	errFile := errors.New("line 5: bad row")
	src := newCopyRows(rowsThen(copyRowsCases()[:2], errFile))
	_, err := tx.Conn().PgConn().CopyFrom(t.Context(), src, copyStaging)
	sent, rerr := src.close()
	if err == nil || !errors.Is(rerr, errFile) || sent != 2 {
		t.Fatalf("COPY %v; close %d, %v; want the COPY aborted and %v", err, sent, rerr, errFile)
	}
	if n, err := src.Read(make([]byte, 8)); n != 0 || !errors.Is(err, errCopyClosed) {
		t.Errorf("Read after close: %d, %v", n, err)
	}
}

// stagingTx is a transaction, rolled back at the end of the test, with
// the import's staging tables made and then extra run (if any).
func stagingTx(t *testing.T, extra string) pgx.Tx {
	t.Helper()
	s := open(t, throwawayDB(t))
	tx, err := s.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	if _, err := tx.Exec(t.Context(), importSetup+";"+extra); err != nil {
		t.Fatal(err)
	}
	return tx
}

// rowsThen yields rows, then end if it is not nil.
func rowsThen(rows []domain.DirectoryRow, end error) iter.Seq2[domain.DirectoryRow, error] {
	return func(yield func(domain.DirectoryRow, error) bool) {
		for _, r := range rows {
			if !yield(r, nil) {
				return
			}
		}
		if end != nil {
			yield(domain.DirectoryRow{}, end)
		}
	}
}

// pgxValues is a row as pgx.CopyFrom takes it: the reference encoding.
func pgxValues(r domain.DirectoryRow) []any {
	search, sort := sqlstore.UserKeys(r.User)
	v := []any{int32(r.Line), r.FirstOfUser, string(r.User.ID), r.User.Title, r.User.GivenName, r.User.FamilyName,
		r.User.Email, search, sort, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil}
	if p := r.Position; p != nil {
		codes := []string{}
		for _, c := range p.ActivityCodes {
			codes = append(codes, string(c))
		}
		v[9], v[10], v[11], v[12] = p.OrgCode, p.OrgName, p.RoleName, codes
	}
	orNil := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Truncate(sqlstore.Precision)
	}
	if c := r.Card; c != nil {
		v[13], v[14] = string(c.Serial), c.Type
		v[15], v[16], v[17], v[18] = orNil(c.IssuedAt), orNil(c.CertExpiry), orNil(c.CancelledAt), c.CancelReason
	}
	return v
}
