package operator_test

import (
	"context"
	"errors"
	"testing"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/operator"
)

// The seed's sentence, word for word (seed 001, Fig 8).
func TestNotPermittedText(t *testing.T) {
	const seed = "If the Repair Smartcard option is not available, you do not have permission to perform this operation or have logged on with the incorrect role profile."
	if operator.NotPermittedText != seed {
		t.Fatalf("NotPermittedText = %q", operator.NotPermittedText)
	}
}

// Every service, called by every role: the domain refuses what the
// session role's activity codes do not allow, on the call itself (not
// only by what the screens offer), audits the refusal and changes
// nothing; what they allow goes through.
func TestPermissions(t *testing.T) {
	calls := map[domain.Service]func(ctx context.Context, f *fixture, sess *operator.Session) error{
		domain.ServiceUnlock: func(ctx context.Context, f *fixture, sess *operator.Session) error {
			return f.svc.UnlockCard(ctx, sess, "2468", "2468")
		},
		domain.ServiceRepair: func(ctx context.Context, f *fixture, sess *operator.Session) error {
			return f.svc.RepairCard(ctx, sess, "2468", "2468")
		},
		domain.ServiceAssistedRenewal: func(ctx context.Context, f *fixture, sess *operator.Session) error {
			return f.svc.RenewCard(ctx, sess)
		},
		domain.ServiceCancel: func(ctx context.Context, f *fixture, sess *operator.Session) error {
			return f.svc.CancelSmartcard(ctx, sess, domain.CancelDamaged, "")
		},
		domain.ServiceClearLockOut: func(ctx context.Context, f *fixture, sess *operator.Session) error {
			return f.svc.ClearLockOut(ctx, sess)
		},
		domain.ServiceAuditTrail: func(ctx context.Context, f *fixture, sess *operator.Session) error {
			_, err := f.svc.AuditTrail(ctx, sess, 0)
			return err
		},
	}
	const (
		sponsor = "Sponsor (B1300)"
		lsa     = "Local Smartcard Administrator (B0263)"
		raa     = "RAA ID Checker (B0267)"
	)
	operators := map[string]person{sponsor: helen, lsa: raj, raa: nia}
	allowed := map[domain.Service]map[string]bool{
		domain.ServiceUnlock:          {sponsor: true, lsa: true},
		domain.ServiceRepair:          {raa: true},
		domain.ServiceAssistedRenewal: {sponsor: true, lsa: true},
		domain.ServiceCancel:          {sponsor: true, lsa: true, raa: true},
		domain.ServiceClearLockOut:    {sponsor: true, lsa: true},
		domain.ServiceAuditTrail:      {sponsor: true, lsa: true, raa: true},
	}
	for svc, call := range calls {
		for role, op := range operators {
			t.Run(string(svc)+"/"+role, func(t *testing.T) {
				f := newFixture(t, issueDouble)
				ctx := t.Context()
				sess := f.operator(t, op, "")
				// A holder every service would act on: blocked, in its
				// renewal window at capacity (so Repair applies too), and
				// locked out of self-service.
				h := f.inWindow(testP, 2)
				h.registered, h.failed, h.lockedOut = true, 3, true
				holderCard := f.enrol(t, h)
				f.identify(t, sess, holderCard)

				err := call(ctx, f, sess)
				check := f.svc.Check(sess, svc)
				if allowed[svc][role] {
					if errors.Is(err, domain.ErrNotPermitted) || errors.Is(check, domain.ErrNotPermitted) {
						t.Fatalf("allowed service refused: %v (check: %v)", err, check)
					}
					noErr(t, err)
					return
				}
				var pe *operator.PermissionError
				if !errors.As(err, &pe) || pe.Service != svc || !errors.Is(check, domain.ErrNotPermitted) {
					t.Fatalf("got %v (check: %v), want a PermissionError for %s", err, check, svc)
				}
				e := f.wantAudit(t, domain.AuditServiceRefused, domain.OutcomeFailure, op.id, testP.id, testP.serial, pe.Role)
				if e.Detail != string(svc)+": "+err.Error() {
					t.Fatalf("refusal audited as %q", e.Detail)
				}
				// Nothing changed.
				rec := f.card(t, testP.serial)
				if st, _ := holderCard.Status(ctx); !st.Blocked || !rec.Active() || rec.RenewalsSinceOperator != 2 ||
					!rec.CertExpiry.Equal(h.expiry) {
					t.Fatalf("a refused %s changed the card: %+v, record %+v", svc, st, rec)
				}
				if reg, _ := f.store.GetRegistration(ctx, testP.id); !reg.LockedOut() {
					t.Fatalf("a refused %s cleared the lock-out", svc)
				}
				if n := len(f.openWrites(t, testP.serial)); n != 0 {
					t.Fatalf("a refused %s began %d card writes", svc, n)
				}
			})
		}
	}
}
