package pivcard

import (
	"context"
	"fmt"
	"slices"

	"github.com/smartcard-service-centre/kiosk/cardio"
	"github.com/smartcard-service-centre/kiosk/domain"
)

// Assignment says which reader serves which role, by a part of the reader's
// name (cardio.SelectReader). An empty name means by position: the first
// reader for the card holder, the second for the operator.
type Assignment struct {
	Holder, Operator string
}

// Roles lists the roles in the order they are resolved and reported.
var Roles = []domain.ReaderRole{domain.ReaderHolder, domain.ReaderOperator}

// Resolve assigns readers among names to roles. A role left without a
// reader has the reason in errs. Two roles never share a reader: a role
// chosen by position gives way to one chosen by name.
func (a Assignment) Resolve(names []string) (readers map[domain.ReaderRole]string, errs map[domain.ReaderRole]error) {
	readers = map[domain.ReaderRole]string{}
	errs = map[domain.ReaderRole]error{}
	holder, herr := cardio.SelectReader(names, a.Holder, cardio.HolderReaderIndex)
	operator, oerr := cardio.SelectReader(names, a.Operator, cardio.OperatorReaderIndex)
	if herr == nil && oerr == nil && holder == operator {
		// firstOther is the first reader not taken by the other role.
		firstOther := func(taken string) (string, error) {
			for _, n := range names {
				if n != taken {
					return n, nil
				}
			}
			return "", fmt.Errorf("%w: %q is the only reader and serves the other role", cardio.ErrNoReader, taken)
		}
		switch {
		case a.Operator == "":
			operator, oerr = firstOther(holder)
		case a.Holder == "":
			holder, herr = firstOther(operator)
		default:
			oerr = fmt.Errorf("%w: the holder and operator settings both name %q", cardio.ErrNoReader, holder)
		}
	}
	for _, r := range []struct {
		role domain.ReaderRole
		name string
		err  error
	}{{domain.ReaderHolder, holder, herr}, {domain.ReaderOperator, operator, oerr}} {
		if r.err != nil {
			errs[r.role] = r.err
		} else {
			readers[r.role] = r.name
		}
	}
	return readers, errs
}

// Readers implements domain.CardReaders on cardio.Readers.
type Readers struct {
	r cardio.Readers
	a Assignment
}

var _ domain.CardReaders = (*Readers)(nil)

// NewReaders returns the readers r with roles assigned by a. Cards opened
// through it get opts.
func NewReaders(r cardio.Readers, a Assignment) *Readers {
	return &Readers{r: r, a: a}
}

// Reader returns the name of the reader that serves role now.
func (r *Readers) Reader(ctx context.Context, role domain.ReaderRole) (string, error) {
	names, err := r.r.List(ctx)
	if err != nil {
		return "", fmt.Errorf("list card readers: %w", mapErr(err))
	}
	readers, errs := r.a.Resolve(names)
	name, ok := readers[role]
	if !ok {
		if e := errs[role]; e != nil {
			return "", fmt.Errorf("%s reader: %w", role, mapErr(e))
		}
		return "", fmt.Errorf("%w: unknown reader role %q", domain.ErrReaderUnavailable, role)
	}
	return name, nil
}

// Open connects to the card in role's reader.
func (r *Readers) Open(ctx context.Context, role domain.ReaderRole) (domain.Card, error) {
	name, err := r.Reader(ctx, role)
	if err != nil {
		return nil, err
	}
	conn, err := r.r.Connect(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("connect to the card in %q: %w", name, mapErr(err))
	}
	return New(conn), nil
}

// Events implements domain.CardReaders: it follows the reader watch (which
// blocks in the reader service, no polling) and reports, per role, cards
// arriving and leaving. Readers plugged in or out move the roles as
// Assignment says; a role whose reader changes while both hold a card is
// reported as a removal and an insertion.
func (r *Readers) Events(ctx context.Context) (<-chan domain.CardEvent, error) {
	wctx, cancel := context.WithCancel(ctx)
	// Watch before List: a reader added in between then shows up as an
	// event instead of being missed.
	ev, err := r.r.Watch(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watch card readers: %w", mapErr(err))
	}
	names, err := r.r.List(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("list card readers: %w", mapErr(err))
	}
	out := make(chan domain.CardEvent)
	go func() {
		defer close(out)
		defer cancel()
		t := &tracker{a: r.a, names: names, cardIn: map[string]bool{}, holds: map[domain.ReaderRole]string{}}
		for {
			var e cardio.Event
			var ok bool
			select {
			case <-wctx.Done():
				return
			case e, ok = <-ev:
				if !ok {
					return
				}
			}
			for _, ce := range t.apply(e) {
				select {
				case out <- ce:
				case <-wctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// tracker turns reader events into role events.
type tracker struct {
	a      Assignment
	names  []string
	cardIn map[string]bool
	// holds is the reader in which each role has a card ("" for none).
	holds map[domain.ReaderRole]string
}

func (t *tracker) apply(e cardio.Event) []domain.CardEvent {
	switch e.Kind {
	case cardio.ServiceLost:
		// Every role loses its reader, whatever it held: said as such, so
		// that a card still in a reader is not taken for one pulled out.
		// The removals that follow then change nothing.
		clear(t.cardIn)
		t.names = nil
		out := make([]domain.CardEvent, 0, len(Roles))
		for _, role := range Roles {
			t.holds[role] = ""
			out = append(out, domain.CardEvent{Role: role, Unavailable: true})
		}
		return out
	case cardio.ServiceBack:
		// Usable again, no card seen yet: the readers and their cards
		// follow as added and inserted.
		out := make([]domain.CardEvent, 0, len(Roles))
		for _, role := range Roles {
			out = append(out, domain.CardEvent{Role: role})
		}
		return out
	case cardio.CardInserted:
		t.cardIn[e.Reader] = true
		if !slices.Contains(t.names, e.Reader) {
			t.names = append(t.names, e.Reader)
		}
	case cardio.CardRemoved:
		delete(t.cardIn, e.Reader)
	case cardio.ReaderAdded:
		if !slices.Contains(t.names, e.Reader) {
			t.names = append(t.names, e.Reader)
		}
	case cardio.ReaderRemoved:
		delete(t.cardIn, e.Reader)
		t.names = slices.DeleteFunc(t.names, func(n string) bool { return n == e.Reader })
	}
	readers, _ := t.a.Resolve(t.names)
	var out []domain.CardEvent
	for _, role := range Roles {
		now := ""
		if n, ok := readers[role]; ok && t.cardIn[n] {
			now = n
		}
		was := t.holds[role]
		if now == was {
			continue
		}
		if was != "" {
			out = append(out, domain.CardEvent{Role: role, Present: false})
		}
		if now != "" {
			out = append(out, domain.CardEvent{Role: role, Present: true})
		}
		t.holds[role] = now
	}
	return out
}
