package sqlstore

import (
	"database/sql"
	"fmt"
	"time"
)

// Precision is what both databases keep of a timestamp: PostgreSQL's
// timestamptz holds microseconds, and SQLite is made to match so that both
// stores return identical values.
const Precision = time.Microsecond

// NormTime is a timestamp as the stores give it back: UTC, microseconds.
func NormTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(Precision)
}

// UnixMicro is the SQLite encoding of a timestamp: integer microseconds
// since 1970 in UTC, which sorts and compares like the time itself.
func UnixMicro(t time.Time) any { return NormTime(t).UnixMicro() }

// timeArg binds a timestamp; the zero time is NULL.
func (q *Queries) timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return q.d.Time(NormTime(t))
}

// blobArg binds bytes; empty is NULL, so nil and empty read back alike.
func blobArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// textArg binds an optional text; empty is NULL.
func textArg(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// timeDest scans a timestamp column: time.Time (PostgreSQL), integer
// microseconds (SQLite) or NULL (the zero time).
type timeDest struct{ t *time.Time }

var _ sql.Scanner = timeDest{}

func (d timeDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.t = time.Time{}
	case time.Time:
		*d.t = NormTime(v)
	case int64:
		*d.t = time.UnixMicro(v).UTC()
	default:
		return fmt.Errorf("scan timestamp: unexpected %T", src)
	}
	return nil
}

// bytesDest scans a nullable blob; NULL is nil.
type bytesDest struct{ b *[]byte }

func (d bytesDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.b = nil
	case []byte:
		if len(v) == 0 {
			*d.b = nil
			return nil
		}
		// Drivers may reuse their buffer after Scan returns.
		*d.b = append([]byte(nil), v...)
	default:
		return fmt.Errorf("scan bytes: unexpected %T", src)
	}
	return nil
}

// textDest scans a nullable text; NULL is "".
type textDest struct{ s *string }

func (d textDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.s = ""
	case string:
		*d.s = v
	case []byte:
		*d.s = string(v)
	default:
		return fmt.Errorf("scan text: unexpected %T", src)
	}
	return nil
}

// intDest scans a nullable integer; NULL is 0 and sets *valid false.
type intDest struct {
	n     *int64
	valid *bool
}

func (d intDest) Scan(src any) error {
	var n sql.NullInt64
	if err := n.Scan(src); err != nil {
		return fmt.Errorf("scan integer: %w", err)
	}
	*d.n, *d.valid = n.Int64, n.Valid
	return nil
}

// nullBool scans a nullable boolean (PostgreSQL's boolean, SQLite's
// 0 or 1); NULL is false.
type nullBool struct{ b bool }

func (d *nullBool) Scan(src any) error {
	var n sql.NullBool
	if err := n.Scan(src); err != nil {
		return fmt.Errorf("scan boolean: %w", err)
	}
	d.b = n.Bool
	return nil
}

var (
	_ sql.Scanner = (*nullBool)(nil)
	_ sql.Scanner = bytesDest{}
	_ sql.Scanner = textDest{}
	_ sql.Scanner = intDest{}
)
