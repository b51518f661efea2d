package mail

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// FileConfig configures the file transport.
type FileConfig struct {
	// Dir receives one .eml file per mail; it is created (mode 0700) if
	// missing. The files carry codes, so they are readable by the owner only.
	Dir string
	// From is the sender address; empty means DefaultFrom.
	From string
	// Clock dates the messages; nil is the system clock.
	Clock domain.Clock
}

// File writes each mail as an RFC 5322 message (an .eml file any mail
// client opens) into a directory, for kiosks without an SMTP relay.
type File struct {
	dir   string
	from  string
	clock domain.Clock
}

var _ Transport = (*File)(nil)

// NewFile checks cfg and creates the directory.
func NewFile(cfg FileConfig) (*File, error) {
	if cfg.Dir == "" {
		return nil, errors.New("mail directory: no path given")
	}
	from, err := parseFrom(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail directory: %w", err)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("mail directory: %w", err)
	}
	if cfg.Clock == nil {
		cfg.Clock = domain.SystemClock{}
	}
	return &File{dir: cfg.Dir, from: from, clock: cfg.Clock}, nil
}

// Name is the file m is written to inside the directory: its creation time
// (so a listing sorts by age) and outbox id. Delivering the same mail again
// replaces the file rather than adding a second one.
func (f *File) Name(m domain.Mail) string {
	return fmt.Sprintf("%s-%d.eml", m.CreatedAt.UTC().Format("20060102T150405.000000Z"), m.ID)
}

// Deliver writes m to a temporary file and renames it into place, so a
// reader never sees half a message.
func (f *File) Deliver(ctx context.Context, m domain.Mail) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	msg, err := newMessage(m, f.from, f.clock.Now())
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(f.dir, ".incoming-*.eml") // mode 0600
	if err != nil {
		return fmt.Errorf("write mail: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := msg.WriteTo(tmp); err != nil {
		return fmt.Errorf("write mail: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write mail: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write mail: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(f.dir, f.Name(m))); err != nil {
		return fmt.Errorf("write mail: %w", err)
	}
	return nil
}
