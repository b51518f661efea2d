package domain

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
)

// AuditWalker reads the audit trail in chain order (AuditLog does).
type AuditWalker interface {
	WalkAudit(ctx context.Context, fn func(AuditEvent) error) error
	UnchainedThrough(ctx context.Context) (int64, error)
}

// AuditBreak is a link of the audit chain that does not hold.
type AuditBreak struct {
	Event AuditEvent
	// Why says what most likely happened to the row, in words for the
	// person running the check.
	Why string
}

// AuditReport is the outcome of walking the audit chain.
type AuditReport struct {
	Rows int // rows read
	// Unchained counts rows from before the chain began (no MAC, and no
	// later than the chain's recorded start); they can only come first.
	Unchained int
	// Last is the last row whose link holds: compare it with a terminal's
	// own record of its last row to see a cut tail, which no chain shows.
	Last AuditEvent
	// Breaks lists the links that do not hold, first first.
	Breaks []AuditBreak
}

// OK reports whether every chained link holds.
func (r AuditReport) OK() bool { return len(r.Breaks) == 0 }

// ErrAuditChainBroken is returned by VerifyAudit when a link does not hold.
var ErrAuditChainBroken = errors.New("the audit trail has been changed")

// VerifyAudit walks the audit log in order and checks every row's MAC
// against its content and the previous row's MAC. A row whose link fails
// is told apart by the row after it: if that row links to the failed
// row's MAC, the failed row is in the chain but its content was changed
// (or rows before it were deleted); if it links to the row before, the
// failed row was inserted. Only rows from before the chain began
// (UnchainedThrough) may lack a MAC. The walk goes on past a break, so
// every break is listed. It returns ErrAuditChainBroken with the report
// if any link fails.
func VerifyAudit(ctx context.Context, log AuditWalker, chain AuditChain) (AuditReport, error) {
	through, err := log.UnchainedThrough(ctx)
	if err != nil {
		return AuditReport{}, fmt.Errorf("read audit trail: %w", err)
	}
	var (
		rep     AuditReport
		prev    []byte      // MAC the next row must link to
		suspect *AuditEvent // a row whose link failed, judged by the next one
		before  []byte      // the MAC before the suspect
	)
	links := func(prev []byte, e AuditEvent) bool { return hmac.Equal(chain.AuditMAC(prev, e), e.MAC) }
	judge := func(why string) {
		rep.Breaks = append(rep.Breaks, AuditBreak{Event: *suspect, Why: why})
		suspect = nil
	}
	err = log.WalkAudit(ctx, func(e AuditEvent) error {
		rep.Rows++
		if len(e.MAC) != AuditMACSize {
			if e.MAC == nil && e.ID <= through && rep.Rows == rep.Unchained+1 {
				rep.Unchained++ // from before the chain: nothing to check
				return nil
			}
			if suspect != nil {
				judge("changed, or rows before it were deleted")
			}
			why := "its MAC was removed, or it was inserted"
			if e.MAC != nil {
				why = "its MAC was tampered with"
			}
			rep.Breaks = append(rep.Breaks, AuditBreak{Event: e, Why: why})
			return nil
		}
		if suspect != nil {
			switch {
			case before != nil && hmac.Equal(suspect.MAC, before):
				judge("a copy of the row before it")
				prev = before
			case links(suspect.MAC, e):
				prev = suspect.MAC
				judge("changed, or rows before it were deleted")
			case links(before, e):
				judge("inserted: the next row links past it")
				prev = before
			default:
				judge("changed or inserted")
			}
		}
		if !links(prev, e) {
			ev := e
			suspect, before = &ev, prev
			prev = e.MAC // go on from the row as stored
			return nil
		}
		prev = e.MAC
		rep.Last = e
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("read audit trail: %w", err)
	}
	if suspect != nil {
		if before != nil && hmac.Equal(suspect.MAC, before) {
			judge("a copy of the row before it")
		} else {
			judge("changed or inserted (the newest row), or rows before it were deleted")
		}
	}
	if !rep.OK() {
		return rep, ErrAuditChainBroken
	}
	return rep, nil
}
