package postgres

import (
	"encoding/binary"
	"errors"
	"io"
	"iter"
	"sync"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/storage/internal/sqlstore"
)

// copyRows is the staged rows as a COPY ... FROM STDIN (FORMAT binary)
// stream, encoded as the server reads it. Writing the format directly,
// rather than through pgx.CopyFrom's []any per row, spares a million
// rows' boxing and per-value encode planning: most of the client's time
// in the staging step. The column types are importSetup's, in importCols
// order.
//
// pgconn reads the stream in a goroutine of its own, which it does not
// always wait for when the connection fails; mu keeps close and the
// result from running beside a Read.
type copyRows struct {
	mu     sync.Mutex
	closed bool
	next   func() (domain.DirectoryRow, error, bool)
	stop   func()
	buf    []byte
	off    int
	rows   int64
	done   bool
	err    error // the rows' own failure: a problem in the file, a read error
}

// copyBatch is how much is encoded ahead of each read.
const copyBatch = 64 << 10

// pgEpoch is where PostgreSQL's binary timestamps count from.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// textOID is the type of an activity-code array's elements.
const textOID = 25

func newCopyRows(rows iter.Seq2[domain.DirectoryRow, error]) *copyRows {
	next, stop := iter.Pull2(rows)
	c := &copyRows{next: next, stop: stop, buf: make([]byte, 0, 2*copyBatch)}
	// Signature, flags (no OIDs), no header extension.
	c.buf = append(c.buf, "PGCOPY\n\xff\r\n\x00"...)
	c.buf = binary.BigEndian.AppendUint32(c.buf, 0)
	c.buf = binary.BigEndian.AppendUint32(c.buf, 0)
	return c
}

// Read gives the next part of the stream. A row's error ends it with
// that error, which aborts the COPY (and is in c.err).
func (c *copyRows) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, errCopyClosed
	}
	if c.off == len(c.buf) {
		if c.done {
			if c.err != nil {
				return 0, c.err
			}
			return 0, io.EOF
		}
		c.buf, c.off = c.buf[:0], 0
		for len(c.buf) < copyBatch && !c.done {
			row, err, ok := c.next()
			switch {
			case !ok:
				c.done = true
				c.buf = binary.BigEndian.AppendUint16(c.buf, 0xffff) // trailer
			case err != nil:
				c.done, c.err = true, err
			default:
				c.append(row)
				c.rows++
			}
		}
		if c.err != nil && len(c.buf) == 0 {
			return 0, c.err
		}
	}
	n := copy(p, c.buf[c.off:])
	c.off += n
	return n, nil
}

// errCopyClosed ends a stream read after close.
var errCopyClosed = errors.New("staging stopped")

// close stops the rows (their reading goroutine included) and says how
// many rows were sent and the rows' own failure, if any.
func (c *copyRows) close() (rows int64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		c.stop()
	}
	return c.rows, c.err
}

// append encodes one row's tuple.
func (c *copyRows) append(r domain.DirectoryRow) {
	b := binary.BigEndian.AppendUint16(c.buf, uint16(len(importCols)))
	search, sort := sqlstore.UserKeys(r.User)
	b = binary.BigEndian.AppendUint32(b, 4)
	b = binary.BigEndian.AppendUint32(b, uint32(int32(r.Line)))
	b = binary.BigEndian.AppendUint32(b, 1)
	if r.FirstOfUser {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	for _, s := range [...]string{string(r.User.ID), r.User.Title, r.User.GivenName, r.User.FamilyName, r.User.Email, search, sort} {
		b = appendText(b, s)
	}
	if p := r.Position; p != nil {
		b = appendText(b, p.OrgCode)
		b = appendText(b, p.OrgName)
		b = appendText(b, p.RoleName)
		b = appendCodes(b, p.ActivityCodes)
	} else {
		b = appendNulls(b, 4)
	}
	if k := r.Card; k != nil {
		b = appendText(b, string(k.Serial))
		b = appendText(b, k.Type)
		b = appendTime(b, k.IssuedAt)
		b = appendTime(b, k.CertExpiry)
		b = appendTime(b, k.CancelledAt)
		b = appendText(b, k.CancelReason)
	} else {
		b = appendNulls(b, 6)
	}
	c.buf = b
}

func appendText(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendNulls(b []byte, n int) []byte {
	for range n {
		b = binary.BigEndian.AppendUint32(b, 0xffffffff)
	}
	return b
}

// appendTime encodes a timestamptz (microseconds from 2000-01-01 UTC,
// below a microsecond dropped, as sqlstore.Precision); a zero time is
// NULL.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return appendNulls(b, 1)
	}
	// Not t.Sub: a Duration ends 292 years from the epoch.
	us := (t.Unix()-pgEpoch.Unix())*1e6 + int64(t.Nanosecond()/1e3)
	b = binary.BigEndian.AppendUint32(b, 8)
	return binary.BigEndian.AppendUint64(b, uint64(us))
}

// appendCodes encodes a text[]: one dimension from 1, or none when empty
// (the form '{}' takes).
func appendCodes(b []byte, codes []domain.ActivityCode) []byte {
	ndim := 0
	if len(codes) > 0 {
		ndim = 1
	}
	// The header (3 words), a dimension's length and lower bound (2).
	size := 12 + 8*ndim
	for _, c := range codes {
		size += 4 + len(c)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(size))
	b = binary.BigEndian.AppendUint32(b, uint32(ndim))
	b = binary.BigEndian.AppendUint32(b, 0) // no NULLs
	b = binary.BigEndian.AppendUint32(b, textOID)
	if ndim == 1 {
		b = binary.BigEndian.AppendUint32(b, uint32(len(codes)))
		b = binary.BigEndian.AppendUint32(b, 1)
	}
	for _, c := range codes {
		b = appendText(b, string(c))
	}
	return b
}
