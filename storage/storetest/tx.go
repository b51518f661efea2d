package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// txRunner is what the Queries handed to InTx offer for nesting.
type txRunner interface {
	InTx(ctx context.Context, fn func(q domain.Queries) error) error
}

func mustNotExist(t *testing.T, s domain.Queries, id domain.UserID) {
	t.Helper()
	_, err := s.GetUser(t.Context(), id)
	isErr(t, "user written in a rolled-back transaction", err, domain.ErrNotFound, "get user")
}

func testTxCommit(t *testing.T, s domain.Store) {
	ctx := t.Context()
	u := domain.User{ID: newUserID(), GivenName: "Test", FamilyName: "Committed"}
	var card domain.Smartcard
	var escaped domain.Queries
	err := s.InTx(ctx, func(q domain.Queries) error {
		escaped = q
		if err := q.PutUser(ctx, u); err != nil {
			return err
		}
		// The transaction sees its own writes.
		if _, err := q.GetUser(ctx, u.ID); err != nil {
			return err
		}
		card = domain.Smartcard{Serial: newSerial(), UserID: u.ID, Type: "PIV"}
		return q.PutSmartcard(ctx, card)
	})
	noErr(t, "commit", err)
	got, err := s.GetUser(ctx, u.ID)
	noErr(t, "get committed user", err)
	equal(t, "committed user", got, u)
	gotCard, err := s.GetSmartcard(ctx, card.Serial)
	noErr(t, "get committed card", err)
	equal(t, "committed card", gotCard, card)
	// Queries that escape their transaction fail instead of writing outside it.
	if err := escaped.PutUser(ctx, domain.User{ID: newUserID()}); err == nil {
		t.Fatal("the Queries of a finished transaction still wrote")
	}
}

func testTxRollback(t *testing.T, s domain.Store) {
	ctx := t.Context()
	keep := putUser(t, s, "Test", "Kept")
	u := domain.User{ID: newUserID(), GivenName: "Test", FamilyName: "RolledBack"}
	sentinel := errors.New("workflow said no")
	err := s.InTx(ctx, func(q domain.Queries) error {
		if err := q.PutUser(ctx, u); err != nil {
			return err
		}
		changed := keep
		changed.FamilyName = "Changed"
		if err := q.PutUser(ctx, changed); err != nil {
			return err
		}
		return sentinel
	})
	if !errors.Is(err, sentinel) {
		t.Fatalf("InTx returned %v, want the callback's error", err)
	}
	mustNotExist(t, s, u.ID)
	got, err := s.GetUser(ctx, keep.ID)
	noErr(t, "get user", err)
	equal(t, "user updated in a rolled-back transaction", got, keep)

	// A store error inside fn rolls back the earlier writes too.
	u2 := domain.User{ID: newUserID(), GivenName: "Test", FamilyName: "RolledBack"}
	err = s.InTx(ctx, func(q domain.Queries) error {
		if err := q.PutUser(ctx, u2); err != nil {
			return err
		}
		_, err := q.GetSmartcard(ctx, newSerial())
		return err
	})
	isErr(t, "error inside transaction", err, domain.ErrNotFound, "get smartcard")
	mustNotExist(t, s, u2.ID)
}

func testTxPanic(t *testing.T, s domain.Store) {
	ctx := t.Context()
	u := domain.User{ID: newUserID(), GivenName: "Test", FamilyName: "Panicked"}
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Fatalf("recovered %v, want the callback's panic to continue", p)
			}
		}()
		_ = s.InTx(ctx, func(q domain.Queries) error {
			if err := q.PutUser(ctx, u); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	mustNotExist(t, s, u.ID)
	// The store is still usable: the connection went back to the pool.
	putUser(t, s, "Test", "AfterPanic")
}

func testTxNested(t *testing.T, s domain.Store) {
	ctx := t.Context()
	outer := domain.User{ID: newUserID(), GivenName: "Test", FamilyName: "Outer"}
	inner := domain.User{ID: newUserID(), GivenName: "Test", FamilyName: "Inner"}
	nested := func(q domain.Queries, fn func(domain.Queries) error) error {
		r, ok := q.(txRunner)
		if !ok {
			t.Fatalf("the Queries handed to InTx (%T) have no InTx method", q)
		}
		return r.InTx(ctx, fn)
	}
	// Nested InTx joins the outer transaction: its writes go when it does.
	err := s.InTx(ctx, func(q domain.Queries) error {
		if err := q.PutUser(ctx, outer); err != nil {
			return err
		}
		if err := nested(q, func(nq domain.Queries) error {
			if err := nq.PutUser(ctx, inner); err != nil {
				return err
			}
			_, err := nq.GetUser(ctx, outer.ID)
			return err
		}); err != nil {
			return err
		}
		return errors.New("outer fails after the nested one succeeded")
	})
	if err == nil {
		t.Fatal("InTx succeeded")
	}
	mustNotExist(t, s, outer.ID)
	mustNotExist(t, s, inner.ID)

	noErr(t, "nested commit", s.InTx(ctx, func(q domain.Queries) error {
		if err := q.PutUser(ctx, outer); err != nil {
			return err
		}
		return nested(q, func(nq domain.Queries) error { return nq.PutUser(ctx, inner) })
	}))
	for _, u := range []domain.User{outer, inner} {
		got, err := s.GetUser(ctx, u.ID)
		noErr(t, "get user", err)
		equal(t, "user from nested transaction", got, u)
	}
}
