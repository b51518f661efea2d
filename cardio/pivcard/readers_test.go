package pivcard

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/cardio"
	"github.com/smartcard-service-centre/kiosk/cardio/apdu"
	"github.com/smartcard-service-centre/kiosk/cardio/piv"
	"github.com/smartcard-service-centre/kiosk/cardio/sim"
	"github.com/smartcard-service-centre/kiosk/cardio/simreader"
	"github.com/smartcard-service-centre/kiosk/domain"
)

func TestResolve(t *testing.T) {
	h, o := domain.ReaderHolder, domain.ReaderOperator
	type roles = map[domain.ReaderRole]string
	tests := []struct {
		name    string
		a       Assignment
		names   []string
		want    roles
		missing []domain.ReaderRole
	}{
		{"none", Assignment{}, nil, roles{}, []domain.ReaderRole{h, o}},
		{"one reader by position", Assignment{}, []string{"A"}, roles{h: "A"}, []domain.ReaderRole{o}},
		{"two by position", Assignment{}, []string{"A", "B"}, roles{h: "A", o: "B"}, nil},
		{"by name", Assignment{Holder: "front", Operator: "desk"}, []string{"Desk 00", "Front 00"}, roles{h: "Front 00", o: "Desk 00"}, nil},
		{"holder named, operator takes the other", Assignment{Holder: "B"}, []string{"A", "B"}, roles{h: "B", o: "A"}, nil},
		{"operator named, holder takes the other", Assignment{Operator: "A"}, []string{"A", "B"}, roles{h: "B", o: "A"}, nil},
		{"holder named, only reader", Assignment{Holder: "A"}, []string{"A"}, roles{h: "A"}, []domain.ReaderRole{o}},
		{"operator named, only reader", Assignment{Operator: "A"}, []string{"A"}, roles{o: "A"}, []domain.ReaderRole{h}},
		{"both name the same", Assignment{Holder: "A", Operator: "A"}, []string{"A", "B"}, roles{h: "A"}, []domain.ReaderRole{o}},
		{"named reader absent", Assignment{Holder: "Z"}, []string{"A", "B"}, roles{o: "B"}, []domain.ReaderRole{h}},
		{"ambiguous name", Assignment{Holder: "Reader"}, []string{"Reader 1", "Reader 2"}, roles{o: "Reader 2"}, []domain.ReaderRole{h}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := tt.a.Resolve(tt.names)
			if !maps.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			if len(errs) != len(tt.missing) {
				t.Fatalf("errors %v, want for %v", errs, tt.missing)
			}
			for _, r := range tt.missing {
				if !errors.Is(errs[r], cardio.ErrNoReader) {
					t.Fatalf("%s: %v, want ErrNoReader", r, errs[r])
				}
			}
		})
	}
}

func nextCardEvent(t *testing.T, ev <-chan domain.CardEvent) domain.CardEvent {
	t.Helper()
	select {
	case e, ok := <-ev:
		if !ok {
			t.Fatal("event channel closed")
		}
		return e
	case <-time.After(2 * time.Second):
		t.Fatal("no event within 2s")
	}
	return domain.CardEvent{}
}

func expectCardEvents(t *testing.T, ev <-chan domain.CardEvent, want ...domain.CardEvent) {
	t.Helper()
	for _, w := range want {
		if e := nextCardEvent(t, ev); e != w {
			t.Fatalf("got %+v, want %+v", e, w)
		}
	}
	select {
	case e := <-ev:
		t.Fatalf("unexpected %+v", e)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestEvents(t *testing.T) {
	h := func(p bool) domain.CardEvent { return domain.CardEvent{Role: domain.ReaderHolder, Present: p} }
	o := func(p bool) domain.CardEvent { return domain.CardEvent{Role: domain.ReaderOperator, Present: p} }
	tray := simreader.New("Kiosk", "Desk")
	defer tray.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// A card already present is reported first.
	must(tray.Insert("Desk", sim.New()))
	r := NewReaders(tray, Assignment{})
	ctx, cancel := context.WithCancel(context.Background())
	ev, err := r.Events(ctx)
	must(err)
	expectCardEvents(t, ev, o(true))

	must(tray.Insert("Kiosk", sim.New()))
	expectCardEvents(t, ev, h(true))
	must(tray.Remove("Kiosk"))
	expectCardEvents(t, ev, h(false))
	must(tray.Insert("Kiosk", sim.New()))
	expectCardEvents(t, ev, h(true))

	// A reader for no role is ignored.
	must(tray.AddReader("Spare"))
	must(tray.Insert("Spare", sim.New()))
	expectCardEvents(t, ev)

	// Unplugging the holder's reader moves the role to the first reader
	// left ("Desk"), and the operator's to the next ("Spare"); both hold
	// cards, so each role reports a removal and an insertion.
	must(tray.RemoveReader("Kiosk"))
	expectCardEvents(t, ev, h(false), h(true), o(false), o(true))

	cancel()
	deadline := time.After(2 * time.Second)
	for {
		select {
		case _, ok := <-ev:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("channel not closed after cancel")
		}
	}
}

func TestEventsEndWithReaders(t *testing.T) {
	tray := simreader.New("Kiosk")
	ev, err := NewReaders(tray, Assignment{}).Events(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tray.Close()
	select {
	case _, ok := <-ev:
		if ok {
			t.Fatal("event after close")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("channel not closed when the readers closed")
	}
	if _, err := NewReaders(tray, Assignment{}).Events(context.Background()); !errors.Is(err, domain.ErrReaderUnavailable) {
		t.Fatalf("events on closed readers: %v, want ErrReaderUnavailable", err)
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	c := personalise(t, testSerial)
	tray := simreader.New("Kiosk")
	defer tray.Close()
	r := NewReaders(tray, Assignment{})
	if _, err := r.Open(ctx, domain.ReaderHolder); !errors.Is(err, domain.ErrNoCard) {
		t.Fatalf("empty reader: %v, want ErrNoCard", err)
	}
	if _, err := r.Open(ctx, domain.ReaderOperator); !errors.Is(err, domain.ErrReaderUnavailable) {
		t.Fatalf("no operator reader: %v, want ErrReaderUnavailable", err)
	}
	if _, err := r.Open(ctx, "nobody"); !errors.Is(err, domain.ErrReaderUnavailable) {
		t.Fatalf("unknown role: %v", err)
	}
	if _, err := NewReaders(tray, Assignment{Holder: "Front"}).Open(ctx, domain.ReaderHolder); !errors.Is(err, domain.ErrReaderUnavailable) {
		t.Fatalf("named reader missing: %v", err)
	}
	if err := tray.Insert("Kiosk", c.sim); err != nil {
		t.Fatal(err)
	}
	card, err := r.Open(ctx, domain.ReaderHolder)
	if err != nil {
		t.Fatal(err)
	}
	defer card.Close()
	st, err := card.Status(ctx)
	if err != nil || st.Serial != testSerial {
		t.Fatalf("status %+v %v", st, err)
	}
	if err := domain.ProveGenuine(ctx, card, c.rec, c.ca, nil); err != nil {
		t.Fatal(err)
	}
	// Close resets the card: a verified passcode does not outlive it.
	if err := card.VerifyPasscode(ctx, testPIN); err != nil {
		t.Fatal(err)
	}
	if err := card.Close(); err != nil {
		t.Fatal(err)
	}
	conn, err := tray.Connect(ctx, "Kiosk")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.Transact(ctx, func(tr apdu.Transport) error {
		cl := piv.New(tr)
		if _, err := cl.Select(ctx); err != nil {
			return err
		}
		ps, err := cl.PINStatus(ctx)
		if err == nil && ps.Verified {
			err = errors.New("passcode still verified after Close")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
