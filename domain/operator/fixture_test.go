package operator_test

import (
	"crypto"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/operator"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
	"github.com/smartcard-service-centre/kiosk/internal/sstest"
	"github.com/smartcard-service-centre/kiosk/storage/sqlite"
)

// cheap keeps argon2id fast in tests; production uses secret.DefaultArgon2.
var cheap = secret.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// issuer makes a card as the service issues it, in one implementation of
// the card port: the passcode given, the PUK and management key of keys,
// its 9A and 9E keys certified through certify, blocked if asked.
type issuer func(t *testing.T, serial domain.CardSerial, pin string, keys domain.CardKeys, blocked bool,
	certify func(domain.KeySlot, crypto.PublicKey) ([]byte, error)) domain.Card

// issueDouble makes the test double (internal/sstest), which
// passes the card port's conformance suite.
func issueDouble(t *testing.T, serial domain.CardSerial, pin string, keys domain.CardKeys, blocked bool,
	certify func(domain.KeySlot, crypto.PublicKey) ([]byte, error)) domain.Card {
	t.Helper()
	c, err := sstest.Issue(serial, pin, keys, certify)
	if err != nil {
		t.Fatal(err)
	}
	if blocked {
		c.PINTries = 0
	}
	return c
}

type fixture struct {
	svc   *operator.Service
	store domain.Store
	keys  *secret.Keys
	ca    domain.CertificateAuthority
	clock *sstest.Clock
	issue issuer
}

func newFixture(t *testing.T, issue issuer) *fixture {
	t.Helper()
	keys, err := secret.NewKeys(make([]byte, secret.KEKSize))
	noErr(t, err)
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "kiosk.db"), sqlite.WithAuditChain(keys))
	noErr(t, err)
	t.Cleanup(func() { st.Close() })
	f := &fixture{store: st, keys: keys, ca: sstest.NewCA(t), clock: sstest.NewClock(time.Now().UTC().Truncate(time.Second)), issue: issue}
	f.svc = operator.New(operator.Config{Store: st, Keys: keys, CA: f.ca, Clock: f.clock, Terminal: "RA-desk-1", AuditPageSize: 3})
	return f
}

// pos is a position: a role and its activity codes.
type pos struct {
	role  string
	codes []domain.ActivityCode
}

var (
	sponsorPos = pos{"Sponsor Access Role", []domain.ActivityCode{domain.ActivityBasicUserRole, domain.ActivitySponsor}}
	lsaPos     = pos{"Local Smartcard Administrator", []domain.ActivityCode{domain.ActivityBasicUserRole, domain.ActivityLocalSCA}}
	raaPos     = pos{"Systems Support Access Role", []domain.ActivityCode{domain.ActivityRAAIDChecker}}
	clerkPos   = pos{"Clerical Access Role", []domain.ActivityCode{domain.ActivityBasicUserRole}}
)

// person is a user with one card, as the demo personas are.
type person struct {
	id             domain.UserID
	serial         domain.CardSerial
	given, family  string
	pin            string
	positions      []pos
	issued, expiry time.Time // zero: a year ago, a year on
	renewals       int
	blocked        bool
	cancelled      bool
	needsRepair    bool
	// registered for self-service, with failed attempts; lockedOut too.
	registered bool
	failed     int
	lockedOut  bool
}

// The operators and card holders of the demo walkthrough.
var (
	helen  = person{id: "555000000087", serial: "4082A00100000087", given: "Helen", family: "Carter", pin: "5093", positions: []pos{sponsorPos}}
	raj    = person{id: "555000000095", serial: "4082A00100000095", given: "Raj", family: "Mehta", pin: "6417", positions: []pos{lsaPos}}
	nia    = person{id: "555000000109", serial: "4082A00100000109", given: "Nia", family: "Roberts", pin: "2947", positions: []pos{raaPos}}
	peter  = person{id: "555000000117", serial: "4082A00100000117", given: "Peter", family: "Walsh", pin: "8315", positions: []pos{sponsorPos, raaPos}}
	testP  = person{id: "555001799894", serial: "4082A001132F2817", given: "Test", family: "Person", pin: "1357", positions: []pos{clerkPos}, blocked: true}
	daniel = person{id: "555000000061", serial: "4082A00100000061", given: "Daniel", family: "Reid", pin: "3819", positions: []pos{clerkPos}}
	amara  = person{id: "555000000011", serial: "4082A00100000011", given: "Amara", family: "Okafor", pin: "2580", positions: []pos{clerkPos}}
)

// expired is p with certificates that expired a day ago.
func (f *fixture) expired(p person) person {
	p.expiry = f.clock.Now().AddDate(0, 0, -1)
	return p
}

// inWindow is p with certificates expiring in 30 days, renewed n times.
func (f *fixture) inWindow(p person, n int) person {
	p.expiry, p.renewals = f.clock.Now().AddDate(0, 0, 30), n
	return p
}

// enrol stores the person, their positions, registration and card (with
// its sealed secrets and certificates) as the service issues them, and
// returns the card.
func (f *fixture) enrol(t *testing.T, p person) domain.Card {
	t.Helper()
	ctx := t.Context()
	now := f.clock.Now()
	if p.issued.IsZero() {
		p.issued = now.AddDate(-1, 0, 0)
	}
	if p.expiry.IsZero() {
		p.expiry = now.AddDate(1, 0, 0)
	}
	if _, err := f.store.GetUser(ctx, p.id); errors.Is(err, domain.ErrNotFound) {
		noErr(t, f.store.PutUser(ctx, domain.User{ID: p.id, Title: "Mx", GivenName: p.given, FamilyName: p.family,
			Email: "someone@nhs.net", Photo: []byte("\x89PNG photo of " + p.given), CreatedAt: now}))
		for _, ps := range p.positions {
			_, err := f.store.AddPosition(ctx, domain.Position{UserID: p.id, OrgCode: "A82647", OrgName: "NECS", RoleName: ps.role, ActivityCodes: ps.codes})
			noErr(t, err)
		}
	}
	puk, err := secret.NewPUK(nil)
	noErr(t, err)
	mk, err := secret.NewManagementKey(nil)
	noErr(t, err)
	certs := map[domain.KeySlot][]byte{}
	card := f.issue(t, p.serial, p.pin, domain.CardKeys{MgmtAlg: "AES256", MgmtKey: mk, PUK: puk}, p.blocked,
		func(slot domain.KeySlot, pub crypto.PublicKey) ([]byte, error) {
			der, err := f.ca.Issue(pub, p.id, p.serial, slot, p.expiry.AddDate(-2, 0, 0), p.expiry)
			certs[slot] = der
			return der, err
		})
	rec := domain.Smartcard{Serial: p.serial, UserID: p.id, Type: "PIV", IssuedAt: p.issued, CertExpiry: p.expiry,
		RenewalsSinceOperator: p.renewals, CardAuthCert: certs[domain.KeyCardAuth], PIVAuthCert: certs[domain.KeyPIVAuth],
		NeedsRepair: p.needsRepair}
	if p.cancelled {
		rec.CancelledAt, rec.CancelReason = now.AddDate(0, 0, -10), "Lost"
	}
	noErr(t, f.store.PutSmartcard(ctx, rec))
	sealed, err := f.keys.SealCard(p.serial, puk, "AES256", mk, now)
	noErr(t, err)
	noErr(t, f.store.PutCardSecrets(ctx, sealed))
	if p.registered {
		reg := domain.Registration{UserID: p.id, Email: "someone@nhs.net", RegisteredAt: now, FailedAttempts: p.failed}
		if p.lockedOut {
			reg.LockedOutAt = now
		}
		sets, err := secret.HashAnswerSets(cheap, map[domain.QuestionID]string{1: "first", 2: "second", 3: "third", 4: "fourth"}, nil)
		noErr(t, err)
		reg.Sets = sets
		noErr(t, f.store.PutRegistration(ctx, reg))
	}
	return card
}

// login logs p in with card, choosing the role named if p has several.
func (f *fixture) login(t *testing.T, card domain.Card, p person, role string) *operator.Session {
	t.Helper()
	sess, err := f.svc.Begin(t.Context(), card)
	noErr(t, err)
	noErr(t, f.svc.LogIn(t.Context(), sess, p.pin))
	if sess.Step() == operator.StepChooseRole {
		f.choose(t, sess, role)
	}
	if sess.Step() != operator.StepReady {
		t.Fatalf("logged in at step %v, want ready", sess.Step())
	}
	return sess
}

// operator enrols and logs in p.
func (f *fixture) operator(t *testing.T, p person, role string) *operator.Session {
	t.Helper()
	return f.login(t, f.enrol(t, p), p, role)
}

func (f *fixture) choose(t *testing.T, sess *operator.Session, role string) {
	t.Helper()
	for _, r := range f.svc.Operator(sess).Roles {
		if r.Name == role {
			noErr(t, f.svc.ChooseRole(t.Context(), sess, r.PositionID))
			return
		}
	}
	t.Fatalf("no role %q among %+v", role, f.svc.Operator(sess).Roles)
}

// identify puts the holder's card in the second reader.
func (f *fixture) identify(t *testing.T, sess *operator.Session, card domain.Card) operator.HolderDetails {
	t.Helper()
	d, err := f.svc.IdentifyHolder(t.Context(), sess, card)
	noErr(t, err)
	return d
}

func (f *fixture) card(t *testing.T, serial domain.CardSerial) domain.Smartcard {
	t.Helper()
	c, err := f.store.GetSmartcard(t.Context(), serial)
	noErr(t, err)
	return c
}

// lastAudit is the newest audit row of the action.
func (f *fixture) lastAudit(t *testing.T, action domain.AuditAction) domain.AuditEvent {
	t.Helper()
	evs, err := f.store.ListAudit(t.Context(), domain.AuditFilter{Action: action, Limit: 1})
	noErr(t, err)
	if len(evs) == 0 {
		t.Fatalf("no %s audit row", action)
	}
	return evs[0]
}

// wantAudit checks the newest row of the action names who did what to
// whom, where, and how it went.
func (f *fixture) wantAudit(t *testing.T, action domain.AuditAction, outcome domain.AuditOutcome, actor, subject domain.UserID,
	serial domain.CardSerial, role string) domain.AuditEvent {
	t.Helper()
	e := f.lastAudit(t, action)
	if e.Outcome != outcome || e.ActorID != actor || e.SubjectID != subject || e.CardSerial != serial || e.Role != role || e.Terminal != "RA-desk-1" {
		t.Fatalf("%s audit row %+v, want %s by %s on %s/%s as %q at RA-desk-1", action, e, outcome, actor, subject, serial, role)
	}
	return e
}

// auditCount counts the audit rows of the action.
func (f *fixture) auditCount(t *testing.T, action domain.AuditAction) int {
	t.Helper()
	evs, err := f.store.ListAudit(t.Context(), domain.AuditFilter{Action: action})
	noErr(t, err)
	return len(evs)
}

// openWrites lists the card's unsettled card-write intents.
func (f *fixture) openWrites(t *testing.T, serial domain.CardSerial) []domain.CardWriteIntent {
	t.Helper()
	ws, err := f.store.OpenCardWrites(t.Context(), serial)
	noErr(t, err)
	return ws
}

// secrets opens the card's recorded PUK and management key.
func (f *fixture) secrets(t *testing.T, serial domain.CardSerial) domain.CardKeys {
	t.Helper()
	sealed, err := f.store.GetCardSecrets(t.Context(), serial)
	noErr(t, err)
	puk, mk, err := f.keys.OpenCard(sealed)
	noErr(t, err)
	return domain.CardKeys{MgmtAlg: sealed.MgmtKeyAlg, MgmtKey: mk, PUK: puk}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got %v, want %v", what, err, target)
	}
}

// sponsorRole is how a Sponsor's session role appears in the audit log.
const sponsorRole = "Sponsor Access Role for A82647"
