// Package directory reads the CSV files in which an organisation's
// directory hands over its users, their positions and their cards
// (kiosk import). It checks every row with the domain's own rules and
// yields valid rows to a store's bulk path (domain.DirectoryImporter);
// problems are reported by line and column.
//
// The format (README "Importing users from the directory"): UTF-8, commas,
// RFC 4180 quoting, a header row naming the columns below in any order.
// One row per user, position and card: a user with two positions or two
// cards has two rows, repeating the user's details.
package directory

import (
	"crypto/sha256"
	"encoding/csv"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"io"
	"iter"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// The columns of a directory file, in the order the documentation lists them.
const (
	ColUserID        = "user_id"
	ColTitle         = "title"
	ColGivenName     = "given_name"
	ColFamilyName    = "family_name"
	ColEmail         = "email"
	ColOrgCode       = "org_code"
	ColOrgName       = "org_name"
	ColRoleName      = "role_name"
	ColActivityCodes = "activity_codes"
	ColCardSerial    = "card_serial"
	ColCardType      = "card_type"
	ColIssued        = "issued"
	ColCertExpiry    = "cert_expiry"
	ColCancelled     = "cancelled"
)

// Columns lists every column a file must have.
var Columns = []string{ColUserID, ColTitle, ColGivenName, ColFamilyName, ColEmail,
	ColOrgCode, ColOrgName, ColRoleName, ColActivityCodes,
	ColCardSerial, ColCardType, ColIssued, ColCertExpiry, ColCancelled}

// maxRunes bounds each text column once cleaned: room for real names,
// none for a megabyte pasted into a cell.
var maxRunes = map[string]int{
	ColTitle: 35, ColGivenName: 100, ColFamilyName: 100, ColEmail: 254,
	ColOrgCode: 12, ColOrgName: 200, ColRoleName: 200, ColCardType: 32,
}

// DateLayout is how dates are written; a full RFC 3339 time is accepted too.
const DateLayout = "2006-01-02"

// Options adjust what a Reader accepts.
type Options struct {
	// ActivityCodes are accepted besides domain.KnownActivityCodes (a
	// deployment's other RBAC codes).
	ActivityCodes []domain.ActivityCode
}

// Reader reads one directory file. It is a domain.DirectorySource.
type Reader struct {
	name  string
	in    *countingReader
	tee   io.Reader // in, through sum
	sum   hash.Hash
	csv   *csv.Reader
	known map[domain.ActivityCode]bool

	col      map[string]int // column name → index in a record
	width    int            // fields per record
	started  bool           // header read
	eof      bool
	line     int // line of the last record read
	problems domain.ImportProblems
	rows     int

	// Cross-row checks, kept compact for a million rows.
	seed    maphash.Seed
	users   map[uint64]userSeen
	serials map[uint64]int32
	posns   map[posKey]int32
	intern  map[string]string
}

var _ domain.DirectorySource = (*Reader)(nil)

// userSeen is the first row of a user: its line and a hash of each
// detail, to tell a later row that disagrees.
type userSeen struct {
	line int32
	hash [4]uint64 // title, given name, family name, email
}

type posKey struct {
	user      uint64
	org, role string
}

// NewReader reads a directory file from in; name says which file it is.
func NewReader(name string, in io.Reader, opts Options) *Reader {
	cr := &countingReader{r: in}
	sum := sha256.New()
	tee := io.TeeReader(cr, sum)
	c := csv.NewReader(tee)
	c.FieldsPerRecord = -1 // a short or long row is reported, not fatal
	c.ReuseRecord = true
	known := map[domain.ActivityCode]bool{}
	for _, a := range slices.Concat(domain.KnownActivityCodes, opts.ActivityCodes) {
		known[a] = true
	}
	return &Reader{
		name: name, in: cr, tee: tee, sum: sum, csv: c, known: known,
		seed:    maphash.MakeSeed(),
		users:   map[uint64]userSeen{},
		serials: map[uint64]int32{},
		posns:   map[posKey]int32{},
		intern:  map[string]string{},
	}
}

// Name is the file's name as given.
func (r *Reader) Name() string { return r.name }

// BytesRead is how much of the file has been read so far (safe to call
// from another goroutine, e.g. a progress bar).
func (r *Reader) BytesRead() int64 { return r.in.n.Load() }

// Digest is the SHA-256 of the whole file once it has been read to the
// end; nil before.
func (r *Reader) Digest() []byte {
	if !r.eof {
		return nil
	}
	return r.sum.Sum(nil)
}

// Rows yields the valid rows in file order; at the first problem it
// yields the problems so far (*domain.ImportProblems) and stops, and a
// read failure is yielded as itself.
func (r *Reader) Rows() iter.Seq2[domain.DirectoryRow, error] {
	return func(yield func(domain.DirectoryRow, error) bool) {
		for {
			row, ok, err := r.next()
			switch {
			case err != nil:
				yield(domain.DirectoryRow{}, err)
				return
			case r.problems.Total > 0:
				p := r.problems
				yield(domain.DirectoryRow{}, &p)
				return
			case !ok:
				return
			}
			if !yield(row, nil) {
				return
			}
		}
	}
}

// Problems reads the rest of the file and returns every problem found in
// it, nil if there were none. A read failure is reported as a problem of
// the line it stopped at.
func (r *Reader) Problems() *domain.ImportProblems {
	for {
		_, ok, err := r.next()
		if err != nil {
			r.problems.Add(domain.RowProblem{Line: r.line + 1, Problem: "could not read the file: " + err.Error()})
			break
		}
		if !ok {
			break
		}
	}
	if r.problems.Total == 0 {
		return nil
	}
	p := r.problems
	return &p
}

// next reads one record: a valid row (ok), a row with problems (recorded,
// not ok only at the end of the file), or a read failure.
func (r *Reader) next() (domain.DirectoryRow, bool, error) {
	for !r.eof {
		rec, err := r.csv.Read()
		if errors.Is(err, io.EOF) {
			r.eof = true
			if !r.started {
				r.problems.Add(domain.RowProblem{Line: 1, Problem: "the file is empty: it needs a header row naming the columns"})
			}
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			r.problems.Add(domain.RowProblem{Line: pe.Line, Problem: fmt.Sprintf("%v (column %d of the line)", pe.Err, pe.Column)})
			continue
		}
		if err != nil {
			return domain.DirectoryRow{}, false, err
		}
		line, _ := r.csv.FieldPos(0)
		r.line = line
		if !r.started {
			r.started = true
			if !r.header(line, rec) {
				// Without the columns no row can be read: stop here.
				r.eof = true
				_, _ = io.Copy(io.Discard, r.tee) // the digest covers the whole file
			}
			continue
		}
		row, ok := r.row(line, rec)
		if ok {
			r.rows++
			return row, true, nil
		}
	}
	return domain.DirectoryRow{}, false, nil
}

func (r *Reader) header(line int, rec []string) bool {
	r.col = map[string]int{}
	r.width = len(rec)
	bad := false
	for i, h := range rec {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !slices.Contains(Columns, h) {
			r.problems.Add(domain.RowProblem{Line: line, Column: clip(h), Problem: fmt.Sprintf("unknown column in the header (the columns are %s)", strings.Join(Columns, ", "))})
			bad = true
			continue
		}
		if _, dup := r.col[h]; dup {
			r.problems.Add(domain.RowProblem{Line: line, Column: h, Problem: "column named twice in the header"})
			bad = true
			continue
		}
		r.col[h] = i
	}
	for _, c := range Columns {
		if _, ok := r.col[c]; !ok {
			r.problems.Add(domain.RowProblem{Line: line, Column: c, Problem: "column missing from the header"})
			bad = true
		}
	}
	return !bad
}

// rowCheck gathers one row's problems.
type rowCheck struct {
	r    *Reader
	line int
	rec  []string
	bad  bool
}

func (c *rowCheck) field(col string) string { return c.rec[c.r.col[col]] }

func (c *rowCheck) fail(col, format string, args ...any) {
	c.bad = true
	c.r.problems.Add(domain.RowProblem{Line: c.line, Column: col, Problem: fmt.Sprintf(format, args...)})
}

// text is a cleaned text column: valid UTF-8, no control or escape
// sequences or invisible characters (domain.CleanText), single spaces.
func (c *rowCheck) text(col string, required bool) string {
	s := c.field(col)
	if !utf8.ValidString(s) {
		c.fail(col, "is not valid UTF-8 (save the file as UTF-8)")
		return ""
	}
	if !tidy(s) {
		s = strings.Join(strings.Fields(domain.CleanText(s)), " ")
	}
	if required && s == "" {
		c.fail(col, "is required")
	}
	if n, ok := maxRunes[col]; ok && utf8.RuneCountInString(s) > n {
		c.fail(col, "is longer than %d characters", n)
	}
	return s
}

// tidy reports text that cleaning would leave as it is: printable ASCII,
// single spaces between words (most of a directory), so it is spared
// the work.
func tidy(s string) bool {
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b == ' ':
			if i == 0 || i == len(s)-1 || s[i-1] == ' ' {
				return false
			}
		case b < 0x21 || b > 0x7e:
			return false
		}
	}
	return true
}

func (c *rowCheck) date(col string) time.Time {
	s := strings.TrimSpace(c.field(col))
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		if t, err = time.Parse(time.RFC3339, s); err != nil {
			c.fail(col, "%q is not a date like 2026-03-14", clip(s))
			return time.Time{}
		}
	}
	if y := t.Year(); y < 1990 || y > 2199 {
		c.fail(col, "%q is not a plausible date", clip(s))
		return time.Time{}
	}
	return t.UTC()
}

// row checks one record; problems are recorded and the row is not ok.
func (r *Reader) row(line int, rec []string) (domain.DirectoryRow, bool) {
	if len(rec) != r.width {
		r.problems.Add(domain.RowProblem{Line: line, Problem: fmt.Sprintf("has %d columns, the header has %d", len(rec), r.width)})
		return domain.DirectoryRow{}, false
	}
	c := &rowCheck{r: r, line: line, rec: rec}
	row := domain.DirectoryRow{Line: line}

	id, err := domain.ParseUserID(c.field(ColUserID))
	if err != nil {
		c.fail(ColUserID, "%q: %s", clip(c.field(ColUserID)), err)
	}
	u := domain.User{ID: id, Title: c.text(ColTitle, false), GivenName: c.text(ColGivenName, true),
		FamilyName: c.text(ColFamilyName, true), Email: c.email()}
	row.User = u

	if p := c.position(id); p != nil {
		row.Position = p
	}
	if card := c.card(id); card != nil {
		row.Card = card
	}
	if id != "" {
		row.FirstOfUser = c.sameUser(u)
	}
	if c.bad {
		return domain.DirectoryRow{}, false
	}
	return row, true
}

func (c *rowCheck) email() string {
	s := c.text(ColEmail, false)
	if s == "" {
		return ""
	}
	addr, err := mail.ParseAddress(s)
	at := strings.LastIndexByte(s, '@')
	if err != nil || addr.Name != "" || addr.Address != s || at < 1 || at == len(s)-1 {
		c.fail(ColEmail, "%q is not an email address", clip(s))
		return ""
	}
	return s[:at] + "@" + strings.ToLower(s[at+1:])
}

// sameUser records the first row of a user and checks that a later row
// repeats its details; it reports whether this row is the first.
func (c *rowCheck) sameUser(u domain.User) bool {
	key, _ := strconv.ParseUint(string(u.ID), 10, 64)
	h := [4]uint64{}
	for i, s := range []string{u.Title, u.GivenName, u.FamilyName, u.Email} {
		h[i] = maphash.String(c.r.seed, s)
	}
	first, seen := c.r.users[key]
	if !seen {
		c.r.users[key] = userSeen{line: int32(c.line), hash: h}
		return true
	}
	for i, col := range []string{ColTitle, ColGivenName, ColFamilyName, ColEmail} {
		if h[i] != first.hash[i] {
			c.fail(col, "differs from line %d, the first row of user %s: a user's rows must agree", first.line, u.ID)
		}
	}
	return false
}

func (c *rowCheck) position(user domain.UserID) *domain.Position {
	org := c.text(ColOrgCode, false)
	name, role := c.text(ColOrgName, false), c.text(ColRoleName, false)
	rawCodes := strings.TrimSpace(c.field(ColActivityCodes))
	if org == "" {
		for i, v := range []string{name, role, rawCodes} {
			if v != "" {
				c.fail([]string{ColOrgName, ColRoleName, ColActivityCodes}[i], "is given without an org_code")
			}
		}
		return nil
	}
	for _, r := range org {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			c.fail(ColOrgCode, "%q must be letters and digits only", clip(org))
			break
		}
	}
	if role == "" {
		c.fail(ColRoleName, "is required with an org_code")
	}
	var codes []domain.ActivityCode
	if rawCodes != "" {
		for s := range strings.SplitSeq(rawCodes, ";") {
			code, err := domain.ParseActivityCode(s)
			switch {
			case err != nil:
				c.fail(ColActivityCodes, "%q is not an activity code: a capital letter and four digits, e.g. B0263", clip(strings.TrimSpace(s)))
				continue
			case !c.r.known[code]:
				c.fail(ColActivityCodes, "unknown activity code %s (known: %s)", code, c.r.knownList())
				continue
			case slices.Contains(codes, code):
				c.fail(ColActivityCodes, "%s is listed twice", code)
				continue
			}
			codes = append(codes, code)
		}
		slices.Sort(codes) // one order, so a reordered list is no change
	}
	if user != "" && role != "" {
		key, _ := strconv.ParseUint(string(user), 10, 64)
		k := posKey{user: key, org: c.r.internStr(org), role: c.r.internStr(role)}
		if first, dup := c.r.posns[k]; dup {
			c.fail(ColRoleName, "the position %s %q of user %s is also on line %d", org, role, user, first)
		} else {
			c.r.posns[k] = int32(c.line)
		}
	}
	return &domain.Position{UserID: user, OrgCode: org, OrgName: name, RoleName: role, ActivityCodes: codes}
}

func (c *rowCheck) card(user domain.UserID) *domain.Smartcard {
	raw := strings.TrimSpace(c.field(ColCardSerial))
	typ := c.text(ColCardType, false)
	issued, expiry, cancelled := c.date(ColIssued), c.date(ColCertExpiry), c.date(ColCancelled)
	if raw == "" {
		for _, col := range []string{ColCardType, ColIssued, ColCertExpiry, ColCancelled} {
			if strings.TrimSpace(c.field(col)) != "" {
				c.fail(col, "is given without a card_serial")
			}
		}
		return nil
	}
	serial, err := domain.ParseCardSerial(raw)
	if err != nil {
		c.fail(ColCardSerial, "%q: %s", clip(raw), err)
	} else {
		key, _ := strconv.ParseUint(string(serial), 16, 64)
		if first, dup := c.r.serials[key]; dup {
			c.fail(ColCardSerial, "card %s is also on line %d", serial, first)
		} else {
			c.r.serials[key] = int32(c.line)
		}
	}
	if typ == "" {
		c.fail(ColCardType, "is required with a card_serial")
	}
	for i, t := range []time.Time{issued, expiry} {
		if col := []string{ColIssued, ColCertExpiry}[i]; t.IsZero() && strings.TrimSpace(c.field(col)) == "" {
			c.fail(col, "is required with a card_serial")
		}
	}
	if !issued.IsZero() && !expiry.IsZero() && !expiry.After(issued) {
		c.fail(ColCertExpiry, "is not after the issue date")
	}
	if !issued.IsZero() && !cancelled.IsZero() && cancelled.Before(issued) {
		c.fail(ColCancelled, "is before the issue date")
	}
	card := &domain.Smartcard{Serial: serial, UserID: user, Type: typ, IssuedAt: issued, CertExpiry: expiry}
	if !cancelled.IsZero() {
		card.CancelledAt, card.CancelReason = cancelled, domain.DirectoryCancelReason
	}
	return card
}

func (r *Reader) knownList() string {
	var out []string
	for a := range r.known {
		out = append(out, string(a))
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// internStr shares one copy of each org code and role name (a directory
// has few of each) and never keeps a whole line alive.
func (r *Reader) internStr(s string) string {
	if v, ok := r.intern[s]; ok {
		return v
	}
	s = strings.Clone(s)
	r.intern[s] = s
	return s
}

// clip keeps a bad value short in a report, and printable.
func clip(s string) string {
	s = domain.CleanText(strings.ToValidUTF8(s, "\uFFFD"))
	if rs := []rune(s); len(rs) > 40 {
		return string(rs[:40]) + "…"
	}
	return s
}

// countingReader counts the bytes read, for progress.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
