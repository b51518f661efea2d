// Package spool keeps card-write outcomes the store could not take on the
// terminal's own disk (domain.OutcomeSpool), until they are written to
// the store. It is a directory of one JSON file per outcome, named by its
// intent: each is written to a temporary file, synced, renamed into place
// and the directory synced, so an outcome is either whole on disk or not
// there at all, and survives a crash or power cut once Put returns. The
// directory is 0700 and the files 0600; they hold no secret (the domain
// refuses to spool one), but they name card holders.
package spool

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// version is the file format; a file of another version is refused, not
// misread.
const version = 1

const (
	suffix         = ".json"
	tmpPrefix      = ".tmp-"
	damagedSuffix  = ".damaged"  // a file List could not read
	rejectedSuffix = ".rejected" // an outcome the store refused
)

// Dir is a spool directory.
type Dir struct {
	path string
	// mu orders this process's writers. Another process (kiosk recover
	// beside the kiosk) sees only whole files, as each is renamed into
	// place, and leaves a temporary file alone until it is staleTmp old.
	mu sync.Mutex
}

var _ domain.OutcomeSpool = (*Dir)(nil)

// staleTmp is how old a temporary file must be before Open removes it: a
// younger one may be another process's Put still under way.
const staleTmp = 10 * time.Minute

// Open opens the spool in dir, creating it (0700) if needed and making an
// existing one private. Temporary files left by a crash mid-Put are
// removed once stale: their Put never returned, so no caller counted on
// them.
func Open(dir string) (*Dir, error) {
	if dir == "" {
		return nil, errors.New("open spool: no directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tmpPrefix) {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue // renamed or removed by its writer meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("open spool: %w", err)
		}
		if time.Since(info.ModTime()) < staleTmp {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("open spool: %w", err)
		}
	}
	return &Dir{path: dir}, nil
}

// Path is the spool's directory.
func (d *Dir) Path() string { return d.path }

// file is the path of an intent's outcome. IDs are the journal's random
// hex; anything else could name a file outside the spool.
func (d *Dir) file(id string) (string, error) {
	if id == "" || len(id) > 64 || strings.Trim(id, "0123456789abcdef") != "" {
		return "", fmt.Errorf("intent id %q is not lower-case hex", id)
	}
	return filepath.Join(d.path, id+suffix), nil
}

// Put writes o durably: temporary file, fsync, rename, fsync of the
// directory.
func (d *Dir) Put(o domain.CardWriteOutcome) error {
	name, err := d.file(o.Intent.ID)
	if err != nil {
		return fmt.Errorf("spool outcome: %w", err)
	}
	b, err := json.MarshalIndent(toRecord(o), "", "  ")
	if err != nil {
		return fmt.Errorf("spool outcome: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// CreateTemp makes the file 0600.
	f, err := os.CreateTemp(d.path, tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("spool outcome: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(append(b, '\n'))
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, name)
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("spool outcome: %w", werr)
	}
	if err := d.syncDir(); err != nil {
		return fmt.Errorf("spool outcome: %w", err)
	}
	return nil
}

// syncDir makes a rename or removal in the directory durable.
func (d *Dir) syncDir() error {
	dir, err := os.Open(d.path)
	if err != nil {
		return err
	}
	err = dir.Sync()
	if cerr := dir.Close(); err == nil {
		err = cerr
	}
	return err
}

// List reads every outcome, oldest first. A file it cannot read is set
// aside (renamed NAME.damaged, kept for staff) and named in an error
// matching domain.ErrSpoolDamaged, returned with the outcomes it could
// read, so one bad file never stops the others being replayed.
func (d *Dir) List() ([]domain.CardWriteOutcome, error) {
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return nil, fmt.Errorf("list spool: %w", err)
	}
	var (
		out     []domain.CardWriteOutcome
		damaged []error
	)
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), suffix) || strings.HasPrefix(e.Name(), tmpPrefix) {
			continue
		}
		path := filepath.Join(d.path, e.Name())
		o, err := d.read(path, e.Name())
		if errors.Is(err, fs.ErrNotExist) {
			continue // replayed by another process meanwhile
		}
		if err != nil {
			if rerr := d.setAside(path, path+damagedSuffix); rerr != nil {
				return nil, fmt.Errorf("list spool: %w", errors.Join(err, rerr))
			}
			damaged = append(damaged, fmt.Errorf("%w (kept as %s)", err, path+damagedSuffix))
			continue
		}
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b domain.CardWriteOutcome) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.Intent.ID, b.Intent.ID)
	})
	if len(damaged) > 0 {
		return out, fmt.Errorf("list spool: %w: %w", domain.ErrSpoolDamaged, errors.Join(damaged...))
	}
	return out, nil
}

// read reads one outcome file.
func (d *Dir) read(path, name string) (domain.CardWriteOutcome, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return domain.CardWriteOutcome{}, err
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return domain.CardWriteOutcome{}, fmt.Errorf("%s: %w", path, err)
	}
	if r.Version != version {
		return domain.CardWriteOutcome{}, fmt.Errorf("%s: format version %d, this program reads %d", path, r.Version, version)
	}
	o := r.outcome()
	if o.Intent.ID+suffix != name {
		return domain.CardWriteOutcome{}, fmt.Errorf("%s holds the outcome of intent %q", path, o.Intent.ID)
	}
	return o, nil
}

// Reject sets an intent's kept outcome aside as ID.rejected, with why in
// ID.rejected.why, durably; it is never listed again.
func (d *Dir) Reject(id, why string) error {
	name, err := d.file(id)
	if err != nil {
		return fmt.Errorf("reject spooled outcome: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	base := strings.TrimSuffix(name, suffix)
	if err := os.WriteFile(base+rejectedSuffix+".why", []byte(why+"\n"), 0o600); err != nil {
		return fmt.Errorf("reject spooled outcome: %w", err)
	}
	if err := d.setAside(name, base+rejectedSuffix); err != nil {
		return fmt.Errorf("reject spooled outcome: %w", err)
	}
	return nil
}

// setAside renames from to to and makes it durable.
func (d *Dir) setAside(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return err
	}
	return d.syncDir()
}

// Remove deletes an intent's outcome, durably; a missing one is no error.
func (d *Dir) Remove(id string) error {
	name, err := d.file(id)
	if err != nil {
		return fmt.Errorf("remove spooled outcome: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove spooled outcome: %w", err)
	}
	if err := d.syncDir(); err != nil {
		return fmt.Errorf("remove spooled outcome: %w", err)
	}
	return nil
}

// record is the file format. It lists every field it keeps, so nothing
// added to the domain's types reaches the disk unseen.
type record struct {
	Version int          `json:"version"`
	Intent  intentRecord `json:"intent"`
	At      time.Time    `json:"at"`
	Outcome string       `json:"outcome"`
	Detail  string       `json:"detail"`
	Audit   auditRecord  `json:"audit"`
	Mails   []mailRecord `json:"mails,omitempty"`
	Renewal *renewalRec  `json:"renewal,omitempty"`
	// NeedsRepair was added within version 1: older files read as false,
	// which is what they meant.
	NeedsRepair bool `json:"needs_repair,omitempty"`
}

type intentRecord struct {
	ID        string    `json:"id"`
	Op        string    `json:"op"`
	Serial    string    `json:"card_serial"`
	SubjectID string    `json:"subject_id"`
	ActorID   string    `json:"actor_id"`
	Role      string    `json:"role,omitempty"`
	Visit     string    `json:"visit"`
	Terminal  string    `json:"terminal"`
	StartedAt time.Time `json:"started_at"`
}

type auditRecord struct {
	At        time.Time `json:"at"`
	Action    string    `json:"action"`
	Outcome   string    `json:"outcome"`
	ActorID   string    `json:"actor_id"`
	SubjectID string    `json:"subject_id"`
	Serial    string    `json:"card_serial"`
	Role      string    `json:"role,omitempty"`
	Terminal  string    `json:"terminal"`
	Detail    string    `json:"detail"`
}

type mailRecord struct {
	To        string    `json:"to"`
	Subject   string    `json:"subject"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// renewalRec: the fields after card_auth_cert were added within version
// 1; an older file's renewal reads as a self-renewal without the 9A
// certificate, which is what it recorded.
type renewalRec struct {
	CertExpiry   time.Time `json:"cert_expiry"`
	CardAuthCert []byte    `json:"card_auth_cert"`
	PIVAuthCert  []byte    `json:"piv_auth_cert,omitempty"`
	Operator     bool      `json:"operator,omitempty"`
	Rekeyed      bool      `json:"rekeyed,omitempty"`
}

func toRecord(o domain.CardWriteOutcome) record {
	w, e := o.Intent, o.Audit
	r := record{
		Version: version,
		Intent: intentRecord{ID: w.ID, Op: string(w.Op), Serial: string(w.Serial), SubjectID: string(w.SubjectID),
			ActorID: string(w.ActorID), Role: w.Role, Visit: w.Visit, Terminal: w.Terminal, StartedAt: w.StartedAt},
		At: o.At, Outcome: string(o.Outcome), Detail: o.Detail,
		Audit: auditRecord{At: e.At, Action: string(e.Action), Outcome: string(e.Outcome), ActorID: string(e.ActorID),
			SubjectID: string(e.SubjectID), Serial: string(e.CardSerial), Role: e.Role, Terminal: e.Terminal, Detail: e.Detail},
	}
	for _, m := range o.Mails {
		// Only what a mail is when enqueued: the outbox assigns the rest.
		r.Mails = append(r.Mails, mailRecord{To: m.To, Subject: m.Subject, Body: m.Body, CreatedAt: m.CreatedAt})
	}
	if o.Renewal != nil {
		r.Renewal = &renewalRec{CertExpiry: o.Renewal.CertExpiry, CardAuthCert: o.Renewal.CardAuthCert,
			PIVAuthCert: o.Renewal.PIVAuthCert, Operator: o.Renewal.Operator, Rekeyed: o.Renewal.Rekeyed}
	}
	r.NeedsRepair = o.NeedsRepair
	return r
}

func (r record) outcome() domain.CardWriteOutcome {
	w, e := r.Intent, r.Audit
	o := domain.CardWriteOutcome{
		Intent: domain.CardWriteIntent{ID: w.ID, Op: domain.CardWriteOp(w.Op), Serial: domain.CardSerial(w.Serial),
			SubjectID: domain.UserID(w.SubjectID), ActorID: domain.UserID(w.ActorID), Role: w.Role, Visit: w.Visit,
			Terminal: w.Terminal, StartedAt: w.StartedAt},
		At: r.At, Outcome: domain.AuditOutcome(r.Outcome), Detail: r.Detail,
		Audit: domain.AuditEvent{At: e.At, Action: domain.AuditAction(e.Action), Outcome: domain.AuditOutcome(e.Outcome),
			ActorID: domain.UserID(e.ActorID), SubjectID: domain.UserID(e.SubjectID), CardSerial: domain.CardSerial(e.Serial),
			Role: e.Role, Terminal: e.Terminal, Detail: e.Detail},
	}
	for _, m := range r.Mails {
		o.Mails = append(o.Mails, domain.Mail{To: m.To, Subject: m.Subject, Body: m.Body, CreatedAt: m.CreatedAt})
	}
	if r.Renewal != nil {
		o.Renewal = &domain.RenewalRecord{CertExpiry: r.Renewal.CertExpiry, CardAuthCert: r.Renewal.CardAuthCert,
			PIVAuthCert: r.Renewal.PIVAuthCert, Operator: r.Renewal.Operator, Rekeyed: r.Renewal.Rekeyed}
	}
	o.NeedsRepair = r.NeedsRepair
	return o
}
