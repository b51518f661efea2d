package storetest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/directory"
	"github.com/smartcard-service-centre/kiosk/domain/directory/directorytest"
)

// Directory import (kiosk import): the stores' bulk path, through the
// domain's DirectoryImport and the CSV reader, as the command uses them.

// testImport runs the import cases, on one store: each makes its own IDs.
func testImport(t *testing.T, s domain.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s domain.Store)
	}{
		{"Adds", testImportAdds},
		{"Idempotent", testImportIdempotent},
		{"Updates", testImportUpdates},
		{"BadRows", testImportBadRows},
		{"AtMost20Problems", testImportProblemCap},
		{"CardOfAnotherUser", testImportCardOfAnotherUser},
		{"AllOrNothing", testImportAllOrNothing},
		{"HostileText", testImportHostileText},
		{"Generated", testImportGenerated},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, s) })
	}
}

// importNow is the import's clock: new users are created then.
var importNow = time.Date(2026, 5, 4, 10, 30, 0, 0, time.UTC)

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

const importHeader = "user_id,title,given_name,family_name,email,org_code,org_name,role_name,activity_codes,card_serial,card_type,issued,cert_expiry,cancelled\n"

// importer imports into s, its audit rows marked with a terminal name
// unique to the test.
func importer(s domain.Store) (domain.DirectoryImport, string) {
	term := "storetest-import-" + newTag()
	return domain.DirectoryImport{Store: s, Clock: fixedClock(importNow), Terminal: term}, term
}

func importText(t *testing.T, im domain.DirectoryImport, name, text string) (domain.ImportCounts, error) {
	t.Helper()
	return im.Import(t.Context(), directory.NewReader(name, strings.NewReader(text), directory.Options{}))
}

// importAudit is the audit rows the importer with terminal term wrote.
func importAudit(t *testing.T, s domain.Store, term string) []domain.AuditEvent {
	t.Helper()
	all, err := s.ListAudit(t.Context(), domain.AuditFilter{Action: domain.AuditDirectoryImport, Limit: 200})
	noErr(t, "list import audit", err)
	var out []domain.AuditEvent
	for _, e := range all {
		if e.Terminal == term {
			out = append(out, e)
		}
	}
	return out
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// userState is everything an import may touch of a user, to compare.
type userState struct {
	User      domain.User
	Positions []domain.Position
	Cards     []domain.Smartcard
}

func stateOf(t *testing.T, s domain.Store, ids ...domain.UserID) []userState {
	t.Helper()
	var out []userState
	for _, id := range ids {
		u, err := s.GetUser(t.Context(), id)
		noErr(t, "get user "+string(id), err)
		ps, err := s.ListPositions(t.Context(), id)
		noErr(t, "list positions", err)
		cs, err := s.ListSmartcards(t.Context(), id)
		noErr(t, "list cards", err)
		out = append(out, userState{u, ps, cs})
	}
	return out
}

func absent(t *testing.T, s domain.Store, ids []domain.UserID, serials []domain.CardSerial) {
	t.Helper()
	for _, id := range ids {
		if _, err := s.GetUser(t.Context(), id); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("user %s after a refused import: %v, want not found", id, err)
		}
	}
	for _, c := range serials {
		if _, err := s.GetSmartcard(t.Context(), c); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("card %s after a refused import: %v, want not found", c, err)
		}
	}
}

// firstFile is three users: one with a position and a card, one with two
// of each (one card cancelled), one with neither.
func firstFile(a, b, c domain.UserID, sa, sb1, sb2 domain.CardSerial) string {
	return importHeader + fmt.Sprintf(`%s,Dr,Amara,Okafor,Amara.Okafor@NHS.NET,RTH,Oxford University Hospitals,Clinical Practitioner Access Role,B0001,%s,PIV,2025-01-10,2027-01-10,
%s,,Owen,Price,,A82647,Riverside Medical Practice,Registration Authority Agent,B1300;B0263,%s,PIV,2024-05-01,2026-05-01,2025-02-03
%s,,Owen,Price,,RTH,Oxford University Hospitals,Admin and Clerical Access Role,,%s,Gemplus,2025-02-04,2027-02-04,
%s,Ms,Grace,Hughes,grace.hughes@nhs.net,,,,,,,,,
`, a, sa, b, sb1, b, sb2, c)
}

func testImportAdds(t *testing.T, s domain.Store) {
	a, b, c := newUserID(), newUserID(), newUserID()
	sa, sb1, sb2 := newSerial(), newSerial(), newSerial()
	im, term := importer(s)
	got, err := importText(t, im, "first.csv", firstFile(a, b, c, sa, sb1, sb2))
	noErr(t, "import", err)
	equal(t, "counts", got, domain.ImportCounts{Rows: 4, Added: 3})

	st := stateOf(t, s, a, b, c)
	equal(t, "user a", st[0].User, domain.User{ID: a, Title: "Dr", GivenName: "Amara", FamilyName: "Okafor",
		Email: "Amara.Okafor@nhs.net", CreatedAt: importNow})
	equal(t, "user c", st[2].User, domain.User{ID: c, Title: "Ms", GivenName: "Grace", FamilyName: "Hughes",
		Email: "grace.hughes@nhs.net", CreatedAt: importNow})
	if len(st[1].Positions) != 2 || len(st[2].Positions) != 0 || len(st[2].Cards) != 0 {
		t.Fatalf("positions %+v / %+v, cards of c %+v", st[1].Positions, st[2].Positions, st[2].Cards)
	}
	pos := st[1].Positions
	equal(t, "b's RA position", pos[0], domain.Position{ID: pos[0].ID, UserID: b, OrgCode: "A82647",
		OrgName: "Riverside Medical Practice", RoleName: "Registration Authority Agent",
		ActivityCodes: []domain.ActivityCode{domain.ActivityLocalSCA, domain.ActivitySponsor}})
	equal(t, "b's other position", pos[1], domain.Position{ID: pos[1].ID, UserID: b, OrgCode: "RTH",
		OrgName: "Oxford University Hospitals", RoleName: "Admin and Clerical Access Role"})
	equal(t, "b's cards", st[1].Cards, []domain.Smartcard{
		{Serial: sb1, UserID: b, Type: "PIV", IssuedAt: day("2024-05-01"), CertExpiry: day("2026-05-01"),
			CancelledAt: day("2025-02-03"), CancelReason: domain.DirectoryCancelReason},
		{Serial: sb2, UserID: b, Type: "Gemplus", IssuedAt: day("2025-02-04"), CertExpiry: day("2027-02-04")},
	})
	equal(t, "a's card", st[0].Cards, []domain.Smartcard{{Serial: sa, UserID: a, Type: "PIV",
		IssuedAt: day("2025-01-10"), CertExpiry: day("2027-01-10")}})

	// The search finds imported users, by ID and by name.
	found, err := s.SearchUsers(t.Context(), a.String(), 5)
	noErr(t, "search by ID", err)
	if len(found) != 1 || found[0].User.ID != a {
		t.Fatalf("search for %s: %+v", a, found)
	}
	found, err = s.SearchUsers(t.Context(), "grace hughes", 1000)
	noErr(t, "search by name", err)
	if !slices.ContainsFunc(found, func(m domain.UserMatch) bool { return m.User.ID == c }) {
		t.Fatalf("search for grace hughes does not find %s", c)
	}

	// One audit row says what was imported: the file, its digest, the counts.
	rows := importAudit(t, s, term)
	if len(rows) != 1 {
		t.Fatalf("%d audit rows, want 1: %+v", len(rows), rows)
	}
	e := rows[0]
	if e.Outcome != domain.OutcomeSuccess || !e.At.Equal(importNow) ||
		!strings.HasPrefix(e.Detail, "first.csv (sha256 ") || !strings.HasSuffix(e.Detail, "): 4 rows; users 3 added, 0 updated, 0 unchanged") {
		t.Fatalf("audit row %+v", e)
	}
}

func testImportIdempotent(t *testing.T, s domain.Store) {
	a, b, c := newUserID(), newUserID(), newUserID()
	file := firstFile(a, b, c, newSerial(), newSerial(), newSerial())
	im, term := importer(s)
	_, err := importText(t, im, "users.csv", file)
	noErr(t, "first import", err)
	before := stateOf(t, s, a, b, c)
	for range 2 {
		got, err := importText(t, im, "users.csv", file)
		noErr(t, "import again", err)
		equal(t, "counts of the same file again", got, domain.ImportCounts{Rows: 4, Unchanged: 3})
		// Not a field, nor a position's ID, moved.
		equal(t, "state after the same file again", stateOf(t, s, a, b, c), before)
	}
	rows := importAudit(t, s, term)
	if len(rows) != 3 || !strings.HasSuffix(rows[0].Detail, "users 0 added, 0 updated, 3 unchanged") {
		t.Fatalf("audit rows %+v, want one per import", rows)
	}
}

func testImportUpdates(t *testing.T, s domain.Store) {
	ctx := t.Context()
	a, b, c, d, e := newUserID(), newUserID(), newUserID(), newUserID(), newUserID()
	sa, sb1, sb2, sc := newSerial(), newSerial(), newSerial(), newSerial()
	im, _ := importer(s)
	eRows := fmt.Sprintf("%s,,Eli,Moved,,RTH,Oxford University Hospitals,Clerk,B0001,,,,,\n", e)
	_, err := importText(t, im, "first.csv", firstFile(a, b, c, sa, sb1, sb2)+
		fmt.Sprintf("%s,,Ivy,Unchanged,,RTH,Oxford University Hospitals,Clerk,B0001,,,,,\n", d)+
		eRows+fmt.Sprintf("%s,,Eli,Moved,,RJ1,Guy's,Porter,,,,,,\n", e))
	noErr(t, "first import", err)
	before := stateOf(t, s, a, b, c, d, e)

	// The service's own changes since: a renewal and an operator's
	// cancellation, which an older directory file must not undo.
	renewed := day("2028-06-01")
	noErr(t, "renew", s.RecordRenewal(ctx, sa, domain.RenewalRecord{CertExpiry: renewed, CardAuthCert: []byte{1}}))
	lost := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	noErr(t, "cancel", s.CancelSmartcard(ctx, sb2, lost, "Lost"))

	// a: new family name, organisation renamed, card type changed with an
	// older expiry than the renewal's. b: one position with other codes,
	// the other replaced; sb2 shown active, of another type.
	// c: a first card. d: as before. e: one position fewer.
	second := importHeader + fmt.Sprintf(`%s,Dr,Amara,Okafor-Smith,Amara.Okafor@nhs.net,RTH,Oxford University Hospitals NHS FT,Clinical Practitioner Access Role,B0001,%s,PIV-2,2025-01-10,2027-01-10,
%s,,Owen,Price,,A82647,Riverside Medical Practice,Registration Authority Agent,B1300,%s,PIV,2024-05-01,2026-05-01,2025-02-03
%s,,Owen,Price,,RJ1,Guy's and St Thomas',Sponsor,B1300;B0001,%s,Gemplus 2,2025-02-04,2027-02-04,
%s,Ms,Grace,Hughes,grace.hughes@nhs.net,,,,,%s,PIV,2026-01-01,2028-01-01,
%s,,Ivy,Unchanged,,RTH,Oxford University Hospitals,Clerk,B0001,,,,,
`, a, sa, b, sb1, b, sb2, c, sc, d) + eRows
	got, err := importText(t, im, "second.csv", second)
	noErr(t, "second import", err)
	equal(t, "counts", got, domain.ImportCounts{Rows: 6, Updated: 4, Unchanged: 1})

	after := stateOf(t, s, a, b, c, d, e)
	equal(t, "unchanged user", after[3], before[3])
	wantE := before[4]
	wantE.Positions = wantE.Positions[:1]
	equal(t, "e: a position removed", after[4], wantE)
	wantA := before[0]
	wantA.User.FamilyName = "Okafor-Smith"
	wantA.Positions[0].OrgName = "Oxford University Hospitals NHS FT" // in place: same ID
	wantA.Cards[0].Type = "PIV-2"
	wantA.Cards[0].CertExpiry, wantA.Cards[0].CardAuthCert, wantA.Cards[0].RenewalsSinceOperator = renewed, []byte{1}, 1
	equal(t, "a: name, organisation and card type changed, renewal kept", after[0], wantA)

	pb := after[1].Positions
	if len(pb) != 2 {
		t.Fatalf("b's positions %+v", pb)
	}
	// Changed in place: an operator's chosen role keeps its ID.
	equal(t, "b's changed position", pb[0], domain.Position{ID: before[1].Positions[0].ID, UserID: b, OrgCode: "A82647",
		OrgName: "Riverside Medical Practice", RoleName: "Registration Authority Agent", ActivityCodes: []domain.ActivityCode{domain.ActivitySponsor}})
	equal(t, "b's new position", pb[1], domain.Position{ID: pb[1].ID, UserID: b, OrgCode: "RJ1",
		OrgName: "Guy's and St Thomas'", RoleName: "Sponsor", ActivityCodes: []domain.ActivityCode{domain.ActivityBasicUserRole, domain.ActivitySponsor}})
	if pb[1].ID == before[1].Positions[1].ID {
		t.Fatalf("the replaced position kept its ID")
	}
	wantB := before[1].Cards
	wantB[1].CancelledAt, wantB[1].CancelReason, wantB[1].Type = lost, "Lost", "Gemplus 2"
	equal(t, "b's cards: the operator's cancellation stands", after[1].Cards, wantB)
	equal(t, "c's new card", after[2].Cards, []domain.Smartcard{{Serial: sc, UserID: c, Type: "PIV",
		IssuedAt: day("2026-01-01"), CertExpiry: day("2028-01-01")}})

	// A later expiry and a cancellation from the directory are taken.
	third := strings.Replace(second, ",2027-01-10,\n", ",2029-01-10,2026-04-30\n", 1)
	got, err = importText(t, im, "third.csv", third)
	noErr(t, "third import", err)
	equal(t, "counts", got, domain.ImportCounts{Rows: 6, Updated: 1, Unchanged: 4})
	card, err := s.GetSmartcard(ctx, sa)
	noErr(t, "get card", err)
	if !card.CertExpiry.Equal(day("2029-01-10")) || !card.CancelledAt.Equal(day("2026-04-30")) || card.CancelReason != domain.DirectoryCancelReason {
		t.Fatalf("card after the third file: %+v", card)
	}
}

func testImportBadRows(t *testing.T, s domain.Store) {
	a, b := newUserID(), newUserID()
	sa, sb := newSerial(), newSerial()
	file := importHeader + fmt.Sprintf(`%s,,Ann,Valid,,RTH,Oxford,Clerk,B0001,%s,PIV,2025-01-10,2027-01-10,
12345,,Bad,Id,,,,,,,,,,
%s,,Bob,Codes,,RTH,Oxford,Clerk,B0001;B9999,,,,,
%s,,Cat,Twice,,,,,,%s,PIV,2025-01-10,2027-01-10,
%s,,Dan,Date,,,,,,%s,PIV,2025-13-01,2027-01-10,
%s,,Eve,Short,,RTH
`, a, sa, b, newUserID(), sa, newUserID(), sb, newUserID())
	im, term := importer(s)
	got, err := importText(t, im, "bad.csv", file)
	if !errors.Is(err, domain.ErrImportRefused) {
		t.Fatalf("import of bad rows: %v, %+v, want refused", err, got)
	}
	var ip *domain.ImportProblems
	if !errors.As(err, &ip) {
		t.Fatalf("error %v is not an *ImportProblems", err)
	}
	type lc struct {
		Line   int
		Column string
	}
	var where []lc
	for _, p := range ip.Problems {
		where = append(where, lc{p.Line, p.Column})
	}
	equal(t, "problems (line, column)", where, []lc{{3, "user_id"}, {4, "activity_codes"}, {5, "card_serial"}, {6, "issued"}, {7, ""}})
	equal(t, "total", ip.Total, 5)
	for i, want := range []string{"12 digits", "unknown activity code B9999", "also on line 2", `"2025-13-01" is not a date`, "has 6 columns, the header has 14"} {
		if !strings.Contains(ip.Problems[i].Problem, want) {
			t.Errorf("problem %v does not say %q", ip.Problems[i], want)
		}
	}
	absent(t, s, []domain.UserID{a, b}, []domain.CardSerial{sa, sb})
	rows := importAudit(t, s, term)
	if len(rows) != 1 || rows[0].Outcome != domain.OutcomeFailure || !strings.Contains(rows[0].Detail, "5 problems in the file, nothing was imported") {
		t.Fatalf("audit of the refused import: %+v", rows)
	}
}

func testImportProblemCap(t *testing.T, s domain.Store) {
	var b strings.Builder
	b.WriteString(importHeader)
	good := newUserID()
	fmt.Fprintf(&b, "%s,,Good,Row,,,,,,,,,,\n", good)
	for i := range 30 {
		fmt.Fprintf(&b, "%s,,Bad%d,Row,,,,,,,,,,\n", strconv.Itoa(i), i)
	}
	im, _ := importer(s)
	_, err := importText(t, im, "many.csv", b.String())
	var ip *domain.ImportProblems
	if !errors.As(err, &ip) {
		t.Fatalf("import: %v, want problems", err)
	}
	if ip.Total != 30 || len(ip.Problems) != domain.MaxRowProblems || ip.Problems[0].Line != 3 || ip.Problems[19].Line != 22 {
		t.Fatalf("problems: total %d, %d listed, %v", ip.Total, len(ip.Problems), ip.Problems)
	}
	absent(t, s, []domain.UserID{good}, nil)
}

func testImportCardOfAnotherUser(t *testing.T, s domain.Store) {
	owner := putUser(t, s, "Card", "Owner"+newTag())
	card := putCard(t, s, owner.ID, base)
	a, b := newUserID(), newUserID()
	file := importHeader + fmt.Sprintf(`%s,,Ann,Other,,,,,,%s,PIV,2025-01-10,2027-01-10,
%s,,Bob,Thief,,,,,,%s,PIV,2025-01-10,2027-01-10,
`, a, newSerial(), b, card.Serial)
	im, _ := importer(s)
	_, err := importText(t, im, "clash.csv", file)
	var ip *domain.ImportProblems
	if !errors.As(err, &ip) {
		t.Fatalf("import: %v, want problems", err)
	}
	equal(t, "problems", ip.Problems, []domain.RowProblem{{Line: 3, Column: "card_serial",
		Problem: fmt.Sprintf("card %s belongs to user %s in the store", card.Serial, owner.ID)}})
	absent(t, s, []domain.UserID{a, b}, nil)
	got, err := s.GetSmartcard(t.Context(), card.Serial)
	noErr(t, "get card", err)
	equal(t, "the owner's card", got.UserID, owner.ID)
}

// rowSource is a DirectorySource of rows given as they are, to reach the
// store with what the CSV reader never lets through.
type rowSource struct {
	rows []domain.DirectoryRow
	// at, if > 0, is where err is yielded instead of a row.
	at  int
	err error
	// cancel, if set, is called before row at is yielded.
	cancel func()
}

func (r *rowSource) Name() string { return "rows" }

func (r *rowSource) Rows() iter.Seq2[domain.DirectoryRow, error] {
	return func(yield func(domain.DirectoryRow, error) bool) {
		for i, row := range r.rows {
			if i == r.at && r.err != nil {
				yield(domain.DirectoryRow{}, r.err)
				return
			}
			if i == r.at && r.cancel != nil {
				r.cancel()
			}
			if !yield(row, nil) {
				return
			}
		}
	}
}

func (r *rowSource) Problems() *domain.ImportProblems { return nil }
func (r *rowSource) Digest() []byte                   { return nil }

// someRows are n valid rows of new users, each with a position and a card.
func someRows(n int) []domain.DirectoryRow {
	out := make([]domain.DirectoryRow, n)
	for i := range out {
		id := newUserID()
		out[i] = domain.DirectoryRow{Line: i + 2, FirstOfUser: true,
			User:     domain.User{ID: id, GivenName: "Row", FamilyName: fmt.Sprint("Number", i)},
			Position: &domain.Position{UserID: id, OrgCode: "RTH", RoleName: "Clerk", ActivityCodes: []domain.ActivityCode{"B0001"}},
			Card:     &domain.Smartcard{Serial: newSerial(), UserID: id, Type: "PIV", IssuedAt: base, CertExpiry: base.AddDate(2, 0, 0)}}
	}
	return out
}

func idsOf(rows []domain.DirectoryRow) ([]domain.UserID, []domain.CardSerial) {
	var ids []domain.UserID
	var serials []domain.CardSerial
	for _, r := range rows {
		ids = append(ids, r.User.ID)
		if r.Card != nil {
			serials = append(serials, r.Card.Serial)
		}
	}
	return ids, serials
}

// testImportAllOrNothing: whatever stops an import part-way (the store
// refusing a row while merging, the file failing while staging, the
// caller giving up), nothing of it is left, nor a success audit row.
func testImportAllOrNothing(t *testing.T, s domain.Store) {
	readErr := errors.New("disk read failed")
	for _, tc := range []struct {
		name string
		src  func(rows []domain.DirectoryRow, cancel func()) *rowSource
		want func(error) bool
	}{
		{"store refuses a row while merging", func(rows []domain.DirectoryRow, _ func()) *rowSource {
			// Past the reader, a malformed ID reaches the table's own check.
			rows[250].User.ID = "12345678901x"
			rows[250].Position.UserID, rows[250].Card.UserID = rows[250].User.ID, rows[250].User.ID
			return &rowSource{rows: rows}
		}, func(err error) bool { return err != nil && !errors.Is(err, domain.ErrImportRefused) }},
		{"reading fails while staging", func(rows []domain.DirectoryRow, _ func()) *rowSource {
			return &rowSource{rows: rows, at: 250, err: readErr}
		}, func(err error) bool { return errors.Is(err, readErr) }},
		{"cancelled while staging", func(rows []domain.DirectoryRow, cancel func()) *rowSource {
			return &rowSource{rows: rows, at: 250, cancel: cancel}
		}, func(err error) bool { return errors.Is(err, context.Canceled) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := someRows(400)
			ids, serials := idsOf(rows)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			src := tc.src(rows, cancel)
			ids = slices.DeleteFunc(ids, func(id domain.UserID) bool { _, err := domain.ParseUserID(string(id)); return err != nil })
			im, term := importer(s)
			_, err := im.Import(ctx, src)
			if !tc.want(err) {
				t.Fatalf("import: %v", err)
			}
			absent(t, s, ids, serials)
			audit := importAudit(t, s, term)
			if len(audit) != 1 || audit[0].Outcome != domain.OutcomeFailure {
				t.Fatalf("audit rows %+v, want one failure", audit)
			}
			// The store is usable afterwards, and the same rows import.
			rows[250] = someRows(1)[0]
			ids, _ = idsOf(rows)
			got, err := im.Import(t.Context(), &rowSource{rows: rows})
			noErr(t, "import after the failure", err)
			equal(t, "counts", got, domain.ImportCounts{Rows: 400, Added: 400})
			if _, err := s.GetUser(t.Context(), ids[399]); err != nil {
				t.Fatalf("last user: %v", err)
			}
		})
	}
}

// testImportHostileText: names are cleaned of what could drive a
// terminal or disguise a name, and whatever text reaches the store is
// kept exactly as data, never as SQL or COPY syntax.
func testImportHostileText(t *testing.T, s domain.Store) {
	a, b := newUserID(), newUserID()
	const esc, bel = "\x1b", "\x07"
	file := importHeader +
		string(a) + `,"Dr` + esc + `]0;pwned` + bel + `","Ro"" ""bert","O'Brien'); DROP TABLE users;--",,RTH,"Trust, \N",Role` + "\u202e" + `evil,B0001,,,,,` + "\n" +
		string(b) + `,,"Line` + "\n" + `break","Tab` + "\t" + `and ` + esc + `[31mred` + esc + `[0m zero` + "\u200b" + `width",,,,,,,,,,` + "\n"
	im, _ := importer(s)
	got, err := importText(t, im, "hostile.csv", file)
	noErr(t, "import", err)
	equal(t, "counts", got, domain.ImportCounts{Rows: 2, Added: 2})
	st := stateOf(t, s, a, b)
	equal(t, "a", st[0].User, domain.User{ID: a, Title: "Dr", GivenName: `Ro" "bert`,
		FamilyName: "O'Brien'); DROP TABLE users;--", CreatedAt: importNow})
	equal(t, "a's position", st[0].Positions, []domain.Position{{ID: st[0].Positions[0].ID, UserID: a, OrgCode: "RTH",
		OrgName: `Trust, \N`, RoleName: "Roleevil", ActivityCodes: []domain.ActivityCode{"B0001"}}})
	equal(t, "b", st[1].User, domain.User{ID: b, GivenName: "Line break", FamilyName: "Tab and red zerowidth", CreatedAt: importNow})

	// Past the reader, through the port: text the store must keep as it is.
	rows := someRows(2)
	raw := "\\N\t\\\\ 'quoted' \"double\" ; -- /* %_ \u00a0é 🙂 \r\n"
	rows[0].User.GivenName, rows[0].User.Title, rows[0].Position.OrgName = raw, `\.`, raw
	rows[0].Position.ActivityCodes = []domain.ActivityCode{`"]`, `\u0000`, "<&>"}
	rows[1].User.FamilyName = "NULL"
	_, err = im.Import(t.Context(), &rowSource{rows: rows})
	noErr(t, "import raw rows", err)
	st = stateOf(t, s, rows[0].User.ID, rows[1].User.ID)
	if st[0].User.GivenName != raw || st[0].User.Title != `\.` || st[1].User.FamilyName != "NULL" || st[0].Positions[0].OrgName != raw {
		t.Fatalf("raw text changed in the store: %+v", st)
	}
	equal(t, "raw codes", st[0].Positions[0].ActivityCodes, rows[0].Position.ActivityCodes)
	// And again: nothing to change.
	got, err = im.Import(t.Context(), &rowSource{rows: rows})
	noErr(t, "import raw rows again", err)
	equal(t, "counts again", got, domain.ImportCounts{Rows: 2, Unchanged: 2})
}

// testImportGenerated imports a generated file of a few thousand rows
// (users with several rows among them) twice.
func testImportGenerated(t *testing.T, s domain.Store) {
	f := directorytest.File{Users: 3000, First: 1e11 + rand.Uint64N(8e11), SerialBase: rand.Uint64N(1 << 59)}
	path, err := f.WriteFile(t.TempDir())
	noErr(t, "write file", err)
	imp := func() domain.ImportCounts {
		t.Helper()
		in, err := os.Open(path)
		noErr(t, "open", err)
		defer in.Close()
		im, _ := importer(s)
		got, err := im.Import(t.Context(), directory.NewReader("generated.csv", in, directory.Options{}))
		noErr(t, "import", err)
		return got
	}
	equal(t, "first import", imp(), domain.ImportCounts{Rows: f.Rows(), Added: f.Users})
	equal(t, "second import", imp(), domain.ImportCounts{Rows: f.Rows(), Unchanged: f.Users})
	st := stateOf(t, s, f.UserID(0), f.UserID(f.Users-1))
	if len(st[0].Positions) != 2 || len(st[0].Cards) != 2 || len(st[1].Positions) != 1 {
		t.Fatalf("generated users: %+v", st)
	}
}

// BenchImport measures kiosk import of a generated file of
// KIOSK_BENCH_USERS users (default 10,000) into an empty store (new),
// and of the same file again (again: nothing to change). open returns an
// empty, migrated store each time it is called.
func BenchImport(b *testing.B, open func(b *testing.B) domain.Store) {
	n := 10000
	if v := os.Getenv("KIOSK_BENCH_USERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("KIOSK_BENCH_USERS=%q: want a number of users", v)
		}
	}
	f := directorytest.File{Users: n, First: 200000000000, SerialBase: 0x4082A00000000000}
	path, err := f.WriteFile(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	imp := func(b *testing.B, s domain.Store, want domain.ImportCounts) {
		in, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer in.Close()
		im := domain.DirectoryImport{Store: s, Clock: domain.SystemClock{}, Terminal: "bench"}
		got, err := im.Import(b.Context(), directory.NewReader("bench.csv", in, directory.Options{}))
		if err != nil {
			b.Fatal(err)
		}
		if got != want {
			b.Fatalf("counts %+v, want %+v", got, want)
		}
	}
	b.Run(fmt.Sprintf("new/users=%d", n), func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			s := open(b)
			b.StartTimer()
			imp(b, s, domain.ImportCounts{Rows: f.Rows(), Added: n})
		}
		b.ReportMetric(float64(f.Rows()*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run(fmt.Sprintf("again/users=%d", n), func(b *testing.B) {
		s := open(b)
		imp(b, s, domain.ImportCounts{Rows: f.Rows(), Added: n})
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			imp(b, s, domain.ImportCounts{Rows: f.Rows(), Unchanged: n})
		}
		b.ReportMetric(float64(f.Rows()*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}
