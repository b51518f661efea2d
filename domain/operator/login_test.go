package operator_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/operator"
	"github.com/smartcard-service-centre/kiosk/internal/sstest"
)

// An operator with one role logs in straight into it; the header shows
// their name and role, and the log-in is audited with the role.
func TestLogInOneRole(t *testing.T) {
	f := newFixture(t, issueDouble)
	sess := f.operator(t, helen, "")
	o := f.svc.Operator(sess)
	if o.Name != "Mx Helen Carter" || o.UserID != helen.id || o.Serial != helen.serial || o.Role.String() != sponsorRole || len(o.Roles) != 1 {
		t.Fatalf("operator %+v", o)
	}
	if want := []domain.Service{domain.ServiceUnlock, domain.ServiceAssistedRenewal, domain.ServiceCancel, domain.ServiceClearLockOut, domain.ServiceAuditTrail}; !equalServices(o.Role.Services, want) {
		t.Fatalf("services %v, want %v", o.Role.Services, want)
	}
	f.wantAudit(t, domain.AuditOperatorLogin, domain.OutcomeSuccess, helen.id, helen.id, helen.serial, sponsorRole)
}

func equalServices(a, b []domain.Service) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Wrong passcodes are counted by the card and say how many tries are
// left; the try that blocks the card ends the session.
func TestLogInWrongPasscode(t *testing.T) {
	f := newFixture(t, issueDouble)
	card := f.enrol(t, helen)
	ctx := t.Context()
	sess, err := f.svc.Begin(ctx, card)
	noErr(t, err)
	for left := 2; left >= 1; left-- {
		err := f.svc.LogIn(ctx, sess, "0000")
		var pe *domain.PasscodeError
		if !errors.As(err, &pe) || pe.TriesLeft != left {
			t.Fatalf("wrong passcode: %v, want %d tries left", err, left)
		}
		if sess.Step() != operator.StepPasscode {
			t.Fatalf("step %v after a wrong passcode", sess.Step())
		}
		f.wantAudit(t, domain.AuditOperatorLogin, domain.OutcomeFailure, helen.id, helen.id, helen.serial, "")
	}
	wantErr(t, "blocking try", f.svc.LogIn(ctx, sess, "0000"), domain.ErrCardBlocked)
	if sess.Step() != operator.StepEnded {
		t.Fatalf("step %v after the blocking try", sess.Step())
	}
	wantErr(t, "right passcode after the session ended", f.svc.LogIn(ctx, sess, helen.pin), operator.ErrSessionEnded)
	if st, err := card.Status(ctx); err != nil || !st.Blocked {
		t.Fatalf("card after three wrong passcodes: %+v, %v", st, err)
	}
	// A blocked card is refused before its passcode is asked.
	_, err = f.svc.Begin(ctx, card)
	wantErr(t, "blocked card", err, domain.ErrCardBlocked)
}

// A card with a copied serial, or whose 9A key is not the one certified
// for the card, cannot log in even with the right passcode: the 9E
// genuine-card check is not enough, the passcode-protected key must sign.
func TestLogInForeignCard(t *testing.T) {
	f := newFixture(t, issueDouble)
	ctx := t.Context()
	f.enrol(t, helen)

	t.Run("copied serial", func(t *testing.T) {
		copied := sstest.NewCard(helen.serial, helen.pin, "12345678")
		sess, err := f.svc.Begin(ctx, copied)
		noErr(t, err)
		wantErr(t, "log in", f.svc.LogIn(ctx, sess, helen.pin), domain.ErrCardNotGenuine)
		if sess.Step() != operator.StepEnded {
			t.Fatalf("step %v", sess.Step())
		}
		f.wantAudit(t, domain.AuditOperatorLogin, domain.OutcomeFailure, helen.id, helen.id, helen.serial, "")
	})
	t.Run("genuine card, 9A certificate for another key", func(t *testing.T) {
		// The record's 9A certificate names this card but certifies a key
		// the card does not hold, as a card whose 9A key was swapped.
		card := f.enrol(t, person{id: "555000000125", serial: "4082A00100000125", given: "Swapped", family: "Key", pin: "2580", positions: []pos{sponsorPos}})
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		noErr(t, err)
		rec := f.card(t, "4082A00100000125")
		rec.PIVAuthCert, err = f.ca.Issue(k.Public(), rec.UserID, rec.Serial, domain.KeyPIVAuth, f.clock.Now().AddDate(-1, 0, 0), rec.CertExpiry)
		noErr(t, err)
		noErr(t, f.store.PutSmartcard(ctx, rec))
		noErr(t, domain.ProveGenuine(ctx, card, rec, f.ca, nil)) // 9E alone would let it in
		sess, err := f.svc.Begin(ctx, card)
		noErr(t, err)
		wantErr(t, "log in", f.svc.LogIn(ctx, sess, "2580"), domain.ErrCardNotGenuine)
	})
	t.Run("9A certificate of another card", func(t *testing.T) {
		card := f.enrol(t, person{id: "555000000141", serial: "4082A00100000141", given: "Borrowed", family: "Cert", pin: "2580", positions: []pos{sponsorPos}})
		rec := f.card(t, "4082A00100000141")
		rec.PIVAuthCert = f.card(t, helen.serial).PIVAuthCert
		noErr(t, f.store.PutSmartcard(ctx, rec))
		sess, err := f.svc.Begin(ctx, card)
		noErr(t, err)
		wantErr(t, "log in", f.svc.LogIn(ctx, sess, "2580"), domain.ErrCardNotGenuine)
	})
	t.Run("no 9A certificate recorded", func(t *testing.T) {
		card := f.enrol(t, person{id: "555000000133", serial: "4082A00100000133", given: "Old", family: "Record", pin: "2580", positions: []pos{sponsorPos}})
		rec := f.card(t, "4082A00100000133")
		rec.PIVAuthCert = nil
		noErr(t, f.store.PutSmartcard(ctx, rec))
		sess, err := f.svc.Begin(ctx, card)
		noErr(t, err)
		wantErr(t, "log in", f.svc.LogIn(ctx, sess, "2580"), domain.ErrCardNotGenuine)
	})
}

// Cards and people the operator terminal turns away, each audited.
func TestLogInRefused(t *testing.T) {
	tests := []struct {
		name  string
		p     person
		login bool // refused after the passcode, not on insertion
		want  error
	}{
		{"unknown card", person{}, false, domain.ErrCardNotFound},
		{"cancelled card", person{cancelled: true}, false, domain.ErrCardCancelled},
		{"expired card", person{expiry: time.Now().AddDate(0, 0, -1)}, false, domain.ErrCertificateExpired},
		{"card needs repair", person{needsRepair: true}, false, domain.ErrCardNeedsRepair},
		{"no operator role", person{positions: []pos{clerkPos}}, true, domain.ErrNotOperator},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, issueDouble)
			ctx := t.Context()
			p := tt.p
			p.id, p.serial, p.given, p.family, p.pin = helen.id, helen.serial, "Helen", "Carter", helen.pin
			if p.positions == nil {
				p.positions = helen.positions
			}
			var card domain.Card
			if tt.want == domain.ErrCardNotFound {
				card = sstest.NewCard(p.serial, p.pin, "12345678")
			} else {
				card = f.enrol(t, p)
			}
			sess, err := f.svc.Begin(ctx, card)
			if tt.login {
				noErr(t, err)
				err = f.svc.LogIn(ctx, sess, p.pin)
				if sess.Step() != operator.StepEnded {
					t.Fatalf("step %v after refusal", sess.Step())
				}
			}
			wantErr(t, "log in", err, tt.want)
			e := f.lastAudit(t, domain.AuditOperatorLogin)
			if e.Outcome != domain.OutcomeFailure || e.CardSerial != p.serial || !errors.Is(err, tt.want) {
				t.Fatalf("audit row %+v", e)
			}
		})
	}
}

// An operator with several roles chooses one (seed 000 Fig 2), and may
// change it later ("Change" in the header); each service is checked
// against the role in force.
func TestRoles(t *testing.T) {
	f := newFixture(t, issueDouble)
	ctx := t.Context()
	card := f.enrol(t, peter)
	holderCard := f.enrol(t, f.expired(testP))
	sess, err := f.svc.Begin(ctx, card)
	noErr(t, err)
	noErr(t, f.svc.LogIn(ctx, sess, peter.pin))
	if sess.Step() != operator.StepChooseRole {
		t.Fatalf("step %v, want choose role", sess.Step())
	}
	if o := f.svc.Operator(sess); len(o.Roles) != 2 || o.Role.Name != "" {
		t.Fatalf("operator %+v", o)
	}
	_, err = f.svc.IdentifyHolder(ctx, sess, holderCard)
	wantErr(t, "manage a card before choosing a role", err, operator.ErrOutOfTurn)
	wantErr(t, "unknown role", f.svc.ChooseRole(ctx, sess, 99999), operator.ErrUnknownRole)

	f.choose(t, sess, sponsorPos.role)
	f.wantAudit(t, domain.AuditOperatorRole, domain.OutcomeSuccess, peter.id, peter.id, peter.serial, sponsorRole)
	f.identify(t, sess, holderCard)
	noErr(t, f.svc.Check(sess, domain.ServiceUnlock))
	var pe *operator.PermissionError
	if err := f.svc.Check(sess, domain.ServiceRepair); !errors.As(err, &pe) {
		t.Fatalf("Repair as a Sponsor: %v", err)
	}
	err = f.svc.RepairCard(ctx, sess, "2468", "2468")
	if !errors.As(err, &pe) || pe.Service != domain.ServiceRepair || pe.Role != sponsorRole {
		t.Fatalf("Repair as a Sponsor: %v", err)
	}

	f.choose(t, sess, raaPos.role)
	if o := f.svc.Operator(sess); o.Role.Name != raaPos.role {
		t.Fatalf("role after change %+v", o.Role)
	}
	noErr(t, f.svc.Check(sess, domain.ServiceRepair))
	wantErr(t, "Unlock as an RAA ID Checker", f.svc.UnlockCard(ctx, sess, "2468", "2468"), domain.ErrNotPermitted)
	noErr(t, f.svc.RepairCard(ctx, sess, "2468", "2468"))
	f.wantAudit(t, domain.AuditOperatorRepair, domain.OutcomeSuccess, peter.id, testP.id, testP.serial, "Systems Support Access Role for A82647")
}

// Idle for the configured time, the session locks: the holder in hand is
// put away and the operator's passcode, checked as at log-in, resumes it.
func TestIdleLock(t *testing.T) {
	f := newFixture(t, issueDouble)
	ctx := t.Context()
	card := f.enrol(t, helen)
	holderCard := f.enrol(t, testP)
	sess := f.login(t, card, helen, "")
	f.identify(t, sess, holderCard)

	// Each call is activity: twice almost the idle time is no lock.
	f.clock.Advance(f.svc.IdleLock() - time.Second)
	_, err := f.svc.FindUsers(ctx, sess, "Person")
	noErr(t, err)
	f.clock.Advance(f.svc.IdleLock() - time.Second)
	_, err = f.svc.FindUsers(ctx, sess, "Person")
	noErr(t, err)

	f.clock.Advance(f.svc.IdleLock())
	wantErr(t, "unlock after idle", f.svc.UnlockCard(ctx, sess, "2468", "2468"), operator.ErrSessionLocked)
	if sess.Step() != operator.StepLocked {
		t.Fatalf("step %v, want locked", sess.Step())
	}
	if _, ok := f.svc.Holder(sess); ok {
		t.Fatal("the holder's details outlived the lock")
	}
	if st, _ := holderCard.Status(ctx); !st.Blocked {
		t.Fatal("a locked session unlocked the card")
	}
	f.wantAudit(t, domain.AuditOperatorLock, domain.OutcomeSuccess, helen.id, helen.id, helen.serial, sponsorRole)
	_, err = f.svc.FindUsers(ctx, sess, "Person")
	wantErr(t, "search while locked", err, operator.ErrSessionLocked)

	var pe *domain.PasscodeError
	if err := f.svc.Resume(ctx, sess, "0000"); !errors.As(err, &pe) || pe.TriesLeft != 2 {
		t.Fatalf("resume with a wrong passcode: %v", err)
	}
	if sess.Step() != operator.StepLocked {
		t.Fatalf("step %v after a wrong passcode", sess.Step())
	}
	noErr(t, f.svc.Resume(ctx, sess, helen.pin))
	if sess.Step() != operator.StepReady {
		t.Fatalf("step %v after resuming", sess.Step())
	}
	// The card counts from full again after the right passcode.
	if st, _ := card.Status(ctx); st.PasscodeTriesLeft != domain.PasscodeTries {
		t.Fatalf("operator's card after resuming: %+v", st)
	}
	f.identify(t, sess, holderCard)
	noErr(t, f.svc.UnlockCard(ctx, sess, "2468", "2468"))

	// Locked by the screens' timer; the blocking try ends the session.
	noErr(t, f.svc.Lock(ctx, sess))
	for range domain.PasscodeTries - 1 {
		if err := f.svc.Resume(ctx, sess, "0000"); !errors.As(err, &pe) {
			t.Fatalf("resume: %v", err)
		}
	}
	wantErr(t, "blocking try", f.svc.Resume(ctx, sess, "0000"), domain.ErrCardBlocked)
	if sess.Step() != operator.StepEnded {
		t.Fatalf("step %v after the blocking try", sess.Step())
	}
}

// Removing the operator's own card ends the session at once; everything
// after is refused, and the log-out is audited.
func TestOperatorCardRemoved(t *testing.T) {
	f := newFixture(t, issueDouble)
	ctx := t.Context()
	card := f.enrol(t, helen)
	holderCard := f.enrol(t, testP)
	sess := f.login(t, card, helen, "")
	f.identify(t, sess, holderCard)
	f.svc.OperatorCardRemoved(ctx, sess)
	if sess.Step() != operator.StepEnded {
		t.Fatalf("step %v", sess.Step())
	}
	if _, ok := f.svc.Holder(sess); ok {
		t.Fatal("holder details outlived the session")
	}
	e := f.wantAudit(t, domain.AuditOperatorLogout, domain.OutcomeSuccess, helen.id, helen.id, helen.serial, sponsorRole)
	if e.Detail != "the operator's Smartcard was removed" {
		t.Fatalf("log-out detail %q", e.Detail)
	}
	_, err := f.svc.IdentifyHolder(ctx, sess, holderCard)
	for what, err := range map[string]error{
		"identify":       err,
		"unlock":         f.svc.UnlockCard(ctx, sess, "2468", "2468"),
		"cancel":         f.svc.CancelSmartcard(ctx, sess, domain.CancelLost, ""),
		"choose role":    f.svc.ChooseRole(ctx, sess, 1),
		"resume":         f.svc.Resume(ctx, sess, helen.pin),
		"lock":           f.svc.Lock(ctx, sess),
		"check":          f.svc.Check(sess, domain.ServiceUnlock),
		"clear lock-out": f.svc.ClearLockOut(ctx, sess),
	} {
		wantErr(t, what, err, operator.ErrSessionEnded)
	}
	if st, _ := holderCard.Status(ctx); !st.Blocked {
		t.Fatal("the holder's card was changed after the session ended")
	}
	// Logging out of an ended session writes nothing more.
	n := f.auditCount(t, domain.AuditOperatorLogout)
	f.svc.LogOut(ctx, sess)
	if f.auditCount(t, domain.AuditOperatorLogout) != n {
		t.Fatal("a second log-out was audited")
	}
}
