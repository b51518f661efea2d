package directory_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/directory"
	"github.com/smartcard-service-centre/kiosk/domain/directory/directorytest"
)

const header = "user_id,title,given_name,family_name,email,org_code,org_name,role_name,activity_codes,card_serial,card_type,issued,cert_expiry,cancelled\n"

// read reads the whole file: its rows, or its problems.
func read(t *testing.T, text string, opts directory.Options) ([]domain.DirectoryRow, *domain.ImportProblems) {
	t.Helper()
	r := directory.NewReader("test.csv", strings.NewReader(text), opts)
	var rows []domain.DirectoryRow
	for row, err := range r.Rows() {
		var ip *domain.ImportProblems
		if errors.As(err, &ip) {
			return nil, r.Problems()
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		rows = append(rows, row)
	}
	if p := r.Problems(); p != nil {
		t.Fatalf("rows read to the end, yet problems: %v", p)
	}
	return rows, nil
}

type at struct {
	Line   int
	Column string
}

func where(ip *domain.ImportProblems) []at {
	var out []at
	for _, p := range ip.Problems {
		out = append(out, at{p.Line, p.Column})
	}
	return out
}

func TestValidRows(t *testing.T) {
	// Columns in another order, a byte-order mark, CRLF line ends, a
	// quoted field over two lines: the row after it keeps its line number.
	text := "\ufeffUSER_ID,family_name,given_name,title,email,org_code,org_name,role_name,activity_codes,card_serial,card_type,issued,cert_expiry,cancelled\r\n" +
		"5550 0179 9894,Person,Test,Mr,test.person@NHS.net,A82647,\"Riverside\nPractice\",Clerk, B1300 ;B0001,4082a001132f2817,PIV,2024-05-01,2026-05-01T12:00:00Z,2025-01-02\r\n" +
		"555001799894,Person,Test,Mr,test.person@NHS.net,RTH,Oxford,Porter,,,,,,\r\n"
	rows, ip := read(t, text, directory.Options{})
	if ip != nil {
		t.Fatal(ip.Problems)
	}
	id := domain.UserID("555001799894")
	want := []domain.DirectoryRow{
		{Line: 2, FirstOfUser: true,
			User:     domain.User{ID: id, Title: "Mr", GivenName: "Test", FamilyName: "Person", Email: "test.person@nhs.net"},
			Position: &domain.Position{UserID: id, OrgCode: "A82647", OrgName: "Riverside Practice", RoleName: "Clerk", ActivityCodes: []domain.ActivityCode{"B0001", "B1300"}},
			Card: &domain.Smartcard{Serial: "4082A001132F2817", UserID: id, Type: "PIV", IssuedAt: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC),
				CertExpiry: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), CancelledAt: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC),
				CancelReason: domain.DirectoryCancelReason}},
		{Line: 4, User: domain.User{ID: id, Title: "Mr", GivenName: "Test", FamilyName: "Person", Email: "test.person@nhs.net"},
			Position: &domain.Position{UserID: id, OrgCode: "RTH", OrgName: "Oxford", RoleName: "Porter"}},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows:\n got  %+v\n want %+v", rows, want)
	}
}

func TestRowProblems(t *testing.T) {
	tests := []struct {
		name string
		rows string
		want []at
		says []string
	}{
		{"malformed user ID", "55500179989X,,A,B,,,,,,,,,,\n", []at{{2, "user_id"}}, []string{"only digits"}},
		{"names required", "555001799894,,,  ,,,,,,,,,,\n", []at{{2, "given_name"}, {2, "family_name"}}, []string{"is required", "is required"}},
		{"name too long", "555001799894,," + strings.Repeat("x", 101) + ",B,,,,,,,,,,\n", []at{{2, "given_name"}}, []string{"longer than 100"}},
		{"invalid UTF-8", "555001799894,,Zo\xe9,B,,,,,,,,,,\n", []at{{2, "given_name"}}, []string{"UTF-8"}},
		{"bad email", "555001799894,,A,B,Jane <jane@nhs.net>,,,,,,,,,\n", []at{{2, "email"}}, []string{"not an email address"}},
		{"position without org code", "555001799894,,A,B,,,Oxford,Clerk,B0001,,,,,\n",
			[]at{{2, "org_name"}, {2, "role_name"}, {2, "activity_codes"}}, []string{"without an org_code"}},
		{"org code not alphanumeric", "555001799894,,A,B,,R-TH,Oxford,Clerk,,,,,,\n", []at{{2, "org_code"}}, []string{"letters and digits"}},
		{"role required", "555001799894,,A,B,,RTH,Oxford,,,,,,,\n", []at{{2, "role_name"}}, []string{"required with an org_code"}},
		{"malformed activity code", "555001799894,,A,B,,RTH,Oxford,Clerk,b0001,,,,,\n", []at{{2, "activity_codes"}}, []string{"capital letter and four digits"}},
		{"unknown activity code", "555001799894,,A,B,,RTH,Oxford,Clerk,B0001;B9999,,,,,\n", []at{{2, "activity_codes"}}, []string{"unknown activity code B9999 (known: B0001, B0263, B0267, B1300)"}},
		{"activity code twice", "555001799894,,A,B,,RTH,Oxford,Clerk,B0001;B0001,,,,,\n", []at{{2, "activity_codes"}}, []string{"listed twice"}},
		{"card fields without serial", "555001799894,,A,B,,,,,,,PIV,2025-01-01,,\n", []at{{2, "card_type"}, {2, "issued"}}, []string{"without a card_serial"}},
		{"malformed serial", "555001799894,,A,B,,,,,,4082A001132F281,PIV,2025-01-01,2027-01-01,\n", []at{{2, "card_serial"}}, []string{"16 hex digits"}},
		{"card needs type and dates", "555001799894,,A,B,,,,,,4082A001132F2817,,,,\n",
			[]at{{2, "card_type"}, {2, "issued"}, {2, "cert_expiry"}}, []string{"required", "required", "required"}},
		{"bad date", "555001799894,,A,B,,,,,,4082A001132F2817,PIV,01/02/2025,2027-01-01,\n", []at{{2, "issued"}}, []string{`"01/02/2025" is not a date`}},
		{"implausible date", "555001799894,,A,B,,,,,,4082A001132F2817,PIV,0001-01-01,2027-01-01,\n", []at{{2, "issued"}}, []string{"not a plausible date"}},
		{"expiry before issue", "555001799894,,A,B,,,,,,4082A001132F2817,PIV,2025-01-01,2024-01-01,\n", []at{{2, "cert_expiry"}}, []string{"not after the issue date"}},
		{"cancelled before issue", "555001799894,,A,B,,,,,,4082A001132F2817,PIV,2025-01-01,2027-01-01,2024-12-31\n", []at{{2, "cancelled"}}, []string{"before the issue date"}},
		{"too few columns", "555001799894,,A,B\n", []at{{2, ""}}, []string{"has 4 columns, the header has 14"}},
		{"too many columns", "555001799894,,A,B,,,,,,,,,,,\n", []at{{2, ""}}, []string{"has 15 columns"}},
		{"bare quote", "555001799894,,A\"x,B,,,,,,,,,,\n", []at{{2, ""}}, []string{"bare \" in non-quoted-field"}},
		{"rows of one user disagree", "555001799894,Mr,A,B,a@nhs.net,RTH,Oxford,Clerk,,,,,,\n555001799894,Dr,A,C,a@nhs.net,RTH,Oxford,Porter,,,,,,\n",
			[]at{{3, "title"}, {3, "family_name"}}, []string{"differs from line 2", "differs from line 2"}},
		{"position twice", "555001799894,,A,B,,RTH,Oxford,Clerk,,,,,,\n555001799894,,A,B,,RTH,Oxford,Clerk,B0001,,,,,\n",
			[]at{{3, "role_name"}}, []string{"also on line 2"}},
		{"serial twice", "555001799894,,A,B,,,,,,4082A001132F2817,PIV,2025-01-01,2027-01-01,\n555000000011,,C,D,,,,,,4082a001132f2817,PIV,2025-01-01,2027-01-01,\n",
			[]at{{3, "card_serial"}}, []string{"card 4082A001132F2817 is also on line 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ip := read(t, header+tt.rows, directory.Options{})
			if ip == nil {
				t.Fatal("no problems found")
			}
			if got := where(ip); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("problems at %v, want %v: %v", got, tt.want, ip.Problems)
			}
			for i, s := range tt.says {
				if !strings.Contains(ip.Problems[i].Problem, s) {
					t.Errorf("problem %v does not say %q", ip.Problems[i], s)
				}
			}
			if ip.Total != len(tt.want) || !errors.Is(ip, domain.ErrImportRefused) {
				t.Errorf("total %d, want %d; %v", ip.Total, len(tt.want), ip)
			}
		})
	}
}

func TestHeaderProblems(t *testing.T) {
	for name, tt := range map[string]struct {
		text string
		want []at
	}{
		"empty file":     {"", []at{{1, ""}}},
		"unknown column": {strings.Replace(header, "title", "honorific", 1) + "x\n", []at{{1, "honorific"}, {1, "title"}}},
		"column twice":   {strings.Replace(header, "title", "email", 1), []at{{1, "email"}, {1, "title"}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, ip := read(t, tt.text, directory.Options{})
			if ip == nil || !reflect.DeepEqual(where(ip), tt.want) {
				t.Fatalf("problems %v, want at %v", ip, tt.want)
			}
		})
	}
}

// A deployment's own activity codes are accepted when named.
func TestExtraActivityCodes(t *testing.T) {
	text := header + "555001799894,,A,B,,RTH,Oxford,Clerk,B0360;B0001,,,,,\n"
	if _, ip := read(t, text, directory.Options{}); ip == nil {
		t.Fatal("B0360 accepted without being named")
	}
	rows, ip := read(t, text, directory.Options{ActivityCodes: []domain.ActivityCode{"B0360"}})
	if ip != nil || !reflect.DeepEqual(rows[0].Position.ActivityCodes, []domain.ActivityCode{"B0001", "B0360"}) {
		t.Fatalf("rows %+v, problems %v", rows, ip)
	}
}

// Rows stops at the first problem; Problems then reads the rest of the
// file, keeping the first MaxRowProblems by line and counting them all.
func TestProblemsFromTheWholeFile(t *testing.T) {
	var b strings.Builder
	b.WriteString(header + "555001799894,,A,B,,,,,,,,,,\n")
	for range 25 {
		b.WriteString("1,,A,B,,,,,,,,,,\n555000000011,,C,D,,,,,,,,,,\n")
	}
	r := directory.NewReader("x.csv", strings.NewReader(b.String()), directory.Options{})
	var got []int
	var stop error
	for row, err := range r.Rows() {
		if err != nil {
			stop = err
			break
		}
		got = append(got, row.Line)
	}
	if !reflect.DeepEqual(got, []int{2}) || !errors.Is(stop, domain.ErrImportRefused) {
		t.Fatalf("rows %v before %v", got, stop)
	}
	if r.Digest() != nil {
		t.Fatal("digest before the whole file was read")
	}
	ip := r.Problems()
	if ip.Total != 25 || len(ip.Problems) != domain.MaxRowProblems || ip.Problems[19].Line != 41 {
		t.Fatalf("problems: %d in all, %v", ip.Total, ip.Problems)
	}
	if want := sha256.Sum256([]byte(b.String())); !bytes.Equal(r.Digest(), want[:]) {
		t.Fatal("digest is not the file's SHA-256")
	}
	if !strings.HasPrefix(ip.Error(), "25 problems in the file, nothing was imported (first: line 3, user_id: ") {
		t.Fatalf("message %q", ip.Error())
	}
}

func TestReadFailure(t *testing.T) {
	broken := errors.New("disk gone")
	in := io.MultiReader(strings.NewReader(header+"555001799894,,A,B,,,,,,,,,,\n"), iotest.ErrReader(broken))
	r := directory.NewReader("x.csv", in, directory.Options{})
	var last error
	for _, err := range r.Rows() {
		last = err
	}
	if !errors.Is(last, broken) {
		t.Fatalf("read failure: %v", last)
	}
}

// The generator writes files the reader accepts, users with several rows
// among them.
func TestGeneratedFile(t *testing.T) {
	f := directorytest.File{Users: 250, First: 555000100000, SerialBase: 0x4082A00000000000}
	var b strings.Builder
	if err := f.Write(&b); err != nil {
		t.Fatal(err)
	}
	rows, ip := read(t, b.String(), directory.Options{})
	if ip != nil {
		t.Fatal(ip.Problems)
	}
	firsts := 0
	for _, r := range rows {
		if r.FirstOfUser {
			firsts++
		}
	}
	if len(rows) != f.Rows() || firsts != f.Users {
		t.Fatalf("%d rows (%d users), want %d (%d)", len(rows), firsts, f.Rows(), f.Users)
	}
}

// BenchmarkReader: reading and checking rows, without a store.
func BenchmarkReader(b *testing.B) {
	f := directorytest.File{Users: 100000, First: 555100000000, SerialBase: 0x4082A00000000000}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		r := directory.NewReader("bench.csv", bytes.NewReader(buf.Bytes()), directory.Options{})
		n := 0
		for _, err := range r.Rows() {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != f.Rows() {
			b.Fatalf("%d rows", n)
		}
	}
	b.ReportMetric(float64(f.Rows()*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// Text spared the cleaning is text the cleaning would not change.
func FuzzTidy(f *testing.F) {
	for _, s := range []string{"", "Amara", " Amara", "Amara ", "O'Brien  Smith", "a\tb", "Zoë", "\x1b[31mred", "a b c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		text := header + "555001799894,," + `"` + strings.ReplaceAll(s, `"`, `""`) + `"` + ",B,,,,,,,,,,\n"
		r := directory.NewReader("f.csv", strings.NewReader(text), directory.Options{})
		for row, err := range r.Rows() {
			if err != nil {
				return // invalid UTF-8, empty or too long: not the point
			}
			want := strings.Join(strings.Fields(domain.CleanText(strings.ReplaceAll(s, "\r\n", "\n"))), " ")
			if row.User.GivenName != want {
				t.Fatalf("given name %q read as %q, want %q", s, row.User.GivenName, want)
			}
		}
	})
}
