// Package demo loads the demo data set (testdata/demo, embedded in the
// binary) and seeds a store with it, idempotently.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"io/fs"
	"path"
	"strconv"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
)

// Persona is one demo person, as written in personas.json.
type Persona struct {
	ID        string         `json:"id"`
	Title     string         `json:"title"`
	Given     string         `json:"given"`
	Family    string         `json:"family"`
	Email     string         `json:"email"`
	Photo     string         `json:"photo"`
	Case      string         `json:"case"`
	Positions []PositionSpec `json:"positions"`
	Card      CardSpec       `json:"card"`
	Reg       *RegSpec       `json:"registration,omitempty"`

	photo []byte
}

// PositionSpec is a persona's role.
type PositionSpec struct {
	OrgCode string   `json:"org_code"`
	OrgName string   `json:"org_name"`
	Role    string   `json:"role"`
	Codes   []string `json:"codes"`
}

// CardSpec describes a persona's card; days are relative to seeding time.
type CardSpec struct {
	Serial                string `json:"serial"`
	Type                  string `json:"type"`
	IssuedDaysAgo         int    `json:"issued_days_ago"`
	ExpiresInDays         int    `json:"expires_in_days"`
	Passcode              string `json:"passcode"`
	Blocked               bool   `json:"blocked"`
	RenewalsSinceOperator int    `json:"renewals_since_operator"`
	CancelledDaysAgo      int    `json:"cancelled_days_ago"`
	CancelReason          string `json:"cancel_reason"`
}

// RegSpec is a persona's self-service registration.
type RegSpec struct {
	Email          string            `json:"email"`
	Answers        map[string]string `json:"answers"` // question ID → answer
	FailedAttempts int               `json:"failed_attempts"`
	LockedOut      bool              `json:"locked_out"`
}

// Load reads and validates personas.json and the photos it names.
func Load(fsys fs.FS) ([]Persona, error) {
	raw, err := fs.ReadFile(fsys, "personas.json")
	if err != nil {
		return nil, fmt.Errorf("read demo personas: %w", err)
	}
	var doc struct {
		Personas []Persona `json:"personas"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parse demo personas: %w", err)
	}
	for i := range doc.Personas {
		p := &doc.Personas[i]
		if _, err := domain.ParseUserID(p.ID); err != nil {
			return nil, fmt.Errorf("persona %q: %w", p.ID, err)
		}
		if _, err := domain.ParseCardSerial(p.Card.Serial); err != nil {
			return nil, fmt.Errorf("persona %s: %w", p.ID, err)
		}
		if p.Photo != "" {
			if p.photo, err = fs.ReadFile(fsys, path.Join("photos", p.Photo)); err != nil {
				return nil, fmt.Errorf("persona %s photo: %w", p.ID, err)
			}
			// Operators check the card holder against this picture: a
			// file that is not a PNG is a mistake in the data set.
			if _, err := png.DecodeConfig(bytes.NewReader(p.photo)); err != nil {
				return nil, fmt.Errorf("persona %s photo %s: %w", p.ID, p.Photo, err)
			}
		}
	}
	return doc.Personas, nil
}

// Seeder writes personas into a store.
type Seeder struct {
	Store  domain.Store
	Keys   *secret.Keys
	Clock  domain.Clock
	Argon2 secret.Argon2Params
	Rand   io.Reader // nil: crypto/rand
	// IssueCard, if set, is called for each persona being added (never for
	// one already present) to make its card, e.g. a software card file. It
	// returns the certificates it put on the card, recorded with the card.
	// It runs inside the seeding transaction: an error rolls the whole
	// seeding back.
	IssueCard func(ctx context.Context, c NewCard) (IssuedCerts, error)
}

// IssuedCerts are the DER certificates IssueCard put on a card.
type IssuedCerts struct {
	PIVAuth  []byte // 9A: an operator logs in with it
	CardAuth []byte // 9E: the genuine-card check
}

// NewCard is what IssueCard needs to personalise a persona's card so that it
// matches the store: the secrets the seeder sealed and the certificate dates.
type NewCard struct {
	Serial     domain.CardSerial
	UserID     domain.UserID
	Passcode   string
	Blocked    bool            // block the passcode (3 wrong tries)
	Keys       domain.CardKeys // the card's new PUK and management key
	IssuedAt   time.Time       // certificates valid from
	CertExpiry time.Time       // certificates valid until
}

// Report says what a Seed call did.
type Report struct {
	Added, Present []domain.UserID
}

// Seed adds every persona whose user is not yet in the store, all in one
// transaction. A persona already present is left exactly as it is, so
// seeding twice changes nothing.
func (s Seeder) Seed(ctx context.Context, personas []Persona) (Report, error) {
	var rep Report
	now := s.Clock.Now().UTC().Truncate(time.Second)
	err := s.Store.InTx(ctx, func(q domain.Queries) error {
		rep = Report{}
		for _, p := range personas {
			id := domain.UserID(p.ID)
			_, err := q.GetUser(ctx, id)
			if err == nil {
				rep.Present = append(rep.Present, id)
				continue
			}
			if !errors.Is(err, domain.ErrNotFound) {
				return fmt.Errorf("look up %s: %w", id, err)
			}
			if err := s.add(ctx, q, p, now); err != nil {
				return fmt.Errorf("seed %s: %w", id, err)
			}
			rep.Added = append(rep.Added, id)
		}
		return nil
	})
	return rep, err
}

func (s Seeder) add(ctx context.Context, q domain.Queries, p Persona, now time.Time) error {
	id := domain.UserID(p.ID)
	day := 24 * time.Hour
	if err := q.PutUser(ctx, domain.User{
		ID: id, Title: p.Title, GivenName: p.Given, FamilyName: p.Family,
		Email: p.Email, Photo: p.photo, CreatedAt: now.Add(-time.Duration(p.Card.IssuedDaysAgo) * day),
	}); err != nil {
		return err
	}
	for _, pos := range p.Positions {
		codes := make([]domain.ActivityCode, len(pos.Codes))
		for i, c := range pos.Codes {
			codes[i] = domain.ActivityCode(c)
		}
		if _, err := q.AddPosition(ctx, domain.Position{
			UserID: id, OrgCode: pos.OrgCode, OrgName: pos.OrgName, RoleName: pos.Role, ActivityCodes: codes,
		}); err != nil {
			return err
		}
	}

	serial := domain.CardSerial(p.Card.Serial)
	card := domain.Smartcard{
		Serial: serial, UserID: id, Type: p.Card.Type,
		IssuedAt:              now.Add(-time.Duration(p.Card.IssuedDaysAgo) * day),
		CertExpiry:            now.Add(time.Duration(p.Card.ExpiresInDays) * day),
		RenewalsSinceOperator: p.Card.RenewalsSinceOperator,
	}
	if p.Card.CancelReason != "" {
		card.CancelledAt = now.Add(-time.Duration(p.Card.CancelledDaysAgo) * day)
		card.CancelReason = p.Card.CancelReason
	}
	puk, err := secret.NewPUK(s.Rand)
	if err != nil {
		return err
	}
	mk, err := secret.NewManagementKey(s.Rand)
	if err != nil {
		return err
	}
	if s.IssueCard != nil {
		certs, err := s.IssueCard(ctx, NewCard{
			Serial: serial, UserID: id, Passcode: p.Card.Passcode, Blocked: p.Card.Blocked,
			Keys:     domain.CardKeys{MgmtAlg: "AES256", MgmtKey: mk, PUK: puk},
			IssuedAt: card.IssuedAt, CertExpiry: card.CertExpiry,
		})
		if err != nil {
			return fmt.Errorf("issue card %s: %w", serial, err)
		}
		card.CardAuthCert, card.PIVAuthCert = certs.CardAuth, certs.PIVAuth
	}
	if err := q.PutSmartcard(ctx, card); err != nil {
		return err
	}
	sealed, err := s.Keys.SealCard(serial, puk, "AES256", mk, now)
	if err != nil {
		return err
	}
	if err := q.PutCardSecrets(ctx, sealed); err != nil {
		return err
	}
	if _, err := q.AppendAudit(ctx, domain.AuditEvent{
		At: now, Action: domain.AuditCardIssued, Outcome: domain.OutcomeSuccess,
		SubjectID: id, CardSerial: serial, Terminal: "seed", Detail: "demo data set",
	}); err != nil {
		return err
	}

	if p.Reg == nil {
		return nil
	}
	reg := domain.Registration{UserID: id, Email: p.Reg.Email, RegisteredAt: now.Add(-30 * day), FailedAttempts: p.Reg.FailedAttempts}
	if p.Reg.LockedOut {
		reg.LockedOutAt = now.Add(-day)
	}
	answers := make(map[domain.QuestionID]string, len(p.Reg.Answers))
	var qs []domain.QuestionID
	for k, a := range p.Reg.Answers {
		q := domain.QuestionID(atoi(k))
		answers[q], qs = a, append(qs, q)
	}
	if err := domain.ValidateQuestions(qs); err != nil {
		return err
	}
	sets, err := secret.HashAnswerSets(s.Argon2, answers, s.Rand)
	if err != nil {
		return err
	}
	reg.Sets = sets
	return q.PutRegistration(ctx, reg)
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}
