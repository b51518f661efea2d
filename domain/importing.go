package domain

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"time"
)

// A directory import brings users, their positions and their cards from
// the organisation's directory (a CSV file, read by domain/directory) into
// the store, all or nothing, through the store's bulk path.

// AuditDirectoryImport records a directory import: what file, how many
// rows, and what it changed (or why it was refused).
const AuditDirectoryImport AuditAction = "directory_import"

// DirectoryCancelReason is the reason recorded for a card the directory
// says is cancelled (as CancelOther.Record words it): the directory gives
// the date, not the reason.
const DirectoryCancelReason = "Other: cancelled in the directory"

// KnownActivityCodes are the activity codes the service itself acts on;
// an import accepts these and the ones its caller adds.
var KnownActivityCodes = []ActivityCode{ActivityBasicUserRole, ActivityLocalSCA, ActivityRAAIDChecker, ActivitySponsor}

// ParseActivityCode checks the shape of an RBAC activity code: a capital
// letter and four digits ("B0263"). Whether the service knows the code is
// for the caller to decide.
func ParseActivityCode(s string) (ActivityCode, error) {
	s = strings.TrimSpace(s)
	if len(s) != 5 || s[0] < 'A' || s[0] > 'Z' {
		return "", fmt.Errorf("activity code %q must be a capital letter and four digits, e.g. B0263", s)
	}
	for _, r := range s[1:] {
		if r < '0' || r > '9' {
			return "", fmt.Errorf("activity code %q must be a capital letter and four digits, e.g. B0263", s)
		}
	}
	return ActivityCode(s), nil
}

// DirectoryRow is one valid row of a directory file. Every row names its
// user; it may add one position and one card to that user. Rows of one
// user repeat the user's details, which the store takes from the row
// marked FirstOfUser.
type DirectoryRow struct {
	Line        int  // line in the file, for problems the store finds
	FirstOfUser bool // the first row of this user in the file
	// User holds ID, Title, GivenName, FamilyName and Email (cleaned).
	User User
	// Position, if set, is one of the user's positions: OrgCode, OrgName,
	// RoleName and ActivityCodes (sorted, no repeats).
	Position *Position
	// Card, if set, is one of the user's cards: Serial, Type, IssuedAt,
	// CertExpiry, and CancelledAt with CancelReason if cancelled.
	Card *Smartcard
}

// ImportCounts is what an import did, counted in users: added (new to the
// store), updated (details, positions or cards changed) or unchanged.
type ImportCounts struct {
	Rows                      int
	Added, Updated, Unchanged int
}

func (c ImportCounts) String() string {
	return fmt.Sprintf("%d added, %d updated, %d unchanged", c.Added, c.Updated, c.Unchanged)
}

// DirectoryImporter is a store's bulk path for a directory import. The
// Queries a Store hands to an InTx callback implement it (both stores);
// it is not part of Queries so that test doubles need not. The rows are
// applied in the caller's transaction:
//
//   - a user's details are set from the file; a new user's CreatedAt is now;
//     the photo is never touched;
//   - a user's positions become exactly those the file gives (the file is
//     the directory's word on them); unchanged ones keep their IDs;
//   - a new card is added; a known card of the same user takes the file's
//     type and issue date, its certificate expiry only moves forward (the
//     service renews certificates itself) and a cancellation is recorded
//     but never undone;
//   - users and cards the file does not mention are left alone.
//
// A card serial the store holds for another user is refused as an
// *ImportProblems (line, column "card_serial"); rows yielding an error stop
// the import with that error. Either way the caller's transaction must be
// rolled back.
type DirectoryImporter interface {
	ImportDirectory(ctx context.Context, rows iter.Seq2[DirectoryRow, error], now time.Time) (ImportCounts, error)
}

// MaxRowProblems is how many problems an import reports in detail; it
// still counts them all.
const MaxRowProblems = 20

// RowProblem is one thing wrong with one row of a directory file.
type RowProblem struct {
	Line    int
	Column  string // the header's name for it; empty for the row as a whole
	Problem string
}

func (p RowProblem) String() string {
	if p.Column == "" {
		return fmt.Sprintf("line %d: %s", p.Line, p.Problem)
	}
	return fmt.Sprintf("line %d, %s: %s", p.Line, p.Column, p.Problem)
}

// ErrImportRefused: a directory file had problems; nothing was imported.
var ErrImportRefused = errors.New("nothing was imported")

// ImportProblems is the error of a refused import: the first problems (at
// most MaxRowProblems, in line order) and how many there were in all.
type ImportProblems struct {
	Problems []RowProblem
	Total    int
}

func (e *ImportProblems) Error() string {
	s := "problems"
	if e.Total == 1 {
		s = "problem"
	}
	msg := fmt.Sprintf("%d %s in the file, %s", e.Total, s, ErrImportRefused)
	if len(e.Problems) > 0 {
		msg += " (first: " + e.Problems[0].String() + ")"
	}
	return msg
}

func (e *ImportProblems) Unwrap() error { return ErrImportRefused }

// Add records a problem, keeping the first MaxRowProblems by line.
func (e *ImportProblems) Add(p RowProblem) {
	e.Total++
	i := len(e.Problems)
	for i > 0 && e.Problems[i-1].Line > p.Line {
		i--
	}
	if i >= MaxRowProblems {
		return
	}
	e.Problems = append(e.Problems, RowProblem{})
	copy(e.Problems[i+1:], e.Problems[i:])
	e.Problems[i] = p
	if len(e.Problems) > MaxRowProblems {
		e.Problems = e.Problems[:MaxRowProblems]
	}
}

// DirectorySource is a directory file being read (domain/directory).
type DirectorySource interface {
	// Name says which file it is, for the audit trail.
	Name() string
	// Rows yields the valid rows in file order. At the first problem it
	// yields an *ImportProblems and stops; a read failure is yielded as
	// itself.
	Rows() iter.Seq2[DirectoryRow, error]
	// Problems reads whatever Rows left unread and returns every problem
	// found in the file, nil if there were none.
	Problems() *ImportProblems
	// Digest is the SHA-256 of what was read (all of the file once Rows
	// has finished), so the audit row says exactly what was imported.
	Digest() []byte
}

// DirectoryImport imports directory files into a store, writing one
// audit row per import: what it changed, or why it was refused.
type DirectoryImport struct {
	Store    Store
	Clock    Clock
	Terminal string
}

// Import reads src into the store in one transaction, with its audit row.
// A file with problems gives *ImportProblems (errors.Is ErrImportRefused),
// listing problems from anywhere in the file, and changes nothing.
func (im DirectoryImport) Import(ctx context.Context, src DirectorySource) (ImportCounts, error) {
	now := im.Clock.Now().UTC().Truncate(time.Second)
	var counts ImportCounts
	err := im.Store.InTx(ctx, func(q Queries) error {
		bulk, ok := q.(DirectoryImporter)
		if !ok {
			return errors.New("this store has no bulk import")
		}
		c, err := bulk.ImportDirectory(ctx, readAhead(src.Rows()), now)
		if err != nil {
			return err
		}
		counts = c
		_, err = q.AppendAudit(ctx, AuditEvent{
			At: now, Action: AuditDirectoryImport, Outcome: OutcomeSuccess, Terminal: im.Terminal,
			Detail: fmt.Sprintf("%s: %d rows; users %s", im.describe(src), c.Rows, c),
		})
		return err
	})
	if err == nil {
		return counts, nil
	}
	// Problems the reader found stopped the rows early: read the rest of
	// the file so the report covers all of it.
	var ip *ImportProblems
	if errors.As(err, &ip) {
		if all := src.Problems(); all != nil {
			err = all
		}
	}
	err = fmt.Errorf("import %s: %w", src.Name(), err)
	// The refusal is a transaction too; its record must not depend on a
	// context the caller may have cancelled.
	actx := context.WithoutCancel(ctx)
	if _, aerr := im.Store.AppendAudit(actx, AuditEvent{
		At: now, Action: AuditDirectoryImport, Terminal: im.Terminal, Detail: im.describe(src),
	}.Result(auditLine(err))); aerr != nil {
		return ImportCounts{}, errors.Join(err, fmt.Errorf("record the refused import in the audit trail: %w", aerr))
	}
	return ImportCounts{}, err
}

// readAheadBatch is how many rows readAhead hands over at a time.
const readAheadBatch = 512

// readAhead reads and checks rows in a goroutine of its own, a few
// batches ahead of the store: reading, cleaning and checking the file is
// most of an import's own work, and this way it overlaps with the
// store's. The goroutine has stopped by the time the sequence returns,
// so the source may be read again afterwards (Problems).
func readAhead(rows iter.Seq2[DirectoryRow, error]) iter.Seq2[DirectoryRow, error] {
	type batch struct {
		rows []DirectoryRow
		err  error
	}
	return func(yield func(DirectoryRow, error) bool) {
		out := make(chan batch, 4)
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			defer close(out)
			send := func(b batch) bool {
				select {
				case out <- b:
					return true
				case <-done:
					return false
				}
			}
			b := batch{rows: make([]DirectoryRow, 0, readAheadBatch)}
			for r, err := range rows {
				if err != nil {
					b.err = err
					break
				}
				if b.rows = append(b.rows, r); len(b.rows) == readAheadBatch {
					if !send(b) {
						return
					}
					b = batch{rows: make([]DirectoryRow, 0, readAheadBatch)}
				}
			}
			if len(b.rows) > 0 || b.err != nil {
				send(b)
			}
		})
		defer wg.Wait()
		defer close(done)
		for b := range out {
			for _, r := range b.rows {
				if !yield(r, nil) {
					return
				}
			}
			if b.err != nil {
				yield(DirectoryRow{}, b.err)
				return
			}
		}
	}
}

func (im DirectoryImport) describe(src DirectorySource) string {
	d := src.Digest()
	if len(d) == 0 {
		return CleanText(src.Name())
	}
	return fmt.Sprintf("%s (sha256 %x)", CleanText(src.Name()), d)
}

// auditLine keeps an audit detail to one line of bounded length.
func auditLine(err error) error {
	s := strings.Join(strings.Fields(CleanText(err.Error())), " ")
	return errors.New(truncate(s, 500))
}
