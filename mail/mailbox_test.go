package mail

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/smartcard-service-centre/kiosk/domain"
)

func TestMailboxKeepsTheNewest(t *testing.T) {
	at := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	b, err := NewMailbox(MailboxConfig{Limit: 3, Clock: newFakeClock(at)})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Messages(); len(got) != 0 {
		t.Fatalf("new mailbox holds %v", got)
	}
	for i := 1; i <= 5; i++ {
		m := codeMail(fmt.Sprintf("user%d@nhs.net", i), at)
		m.ID = int64(i)
		if err := b.Deliver(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	got := b.Messages()
	if len(got) != 3 || got[0].ID != 5 || got[1].ID != 4 || got[2].ID != 3 {
		t.Fatalf("messages %+v, want 5, 4, 3", got)
	}
	want := Message{ID: 5, From: quotedFrom, To: "user5@nhs.net", Subject: "Smartcard Unlock Code",
		Body: codeMail("", at).Body, Date: at}
	if got[0] != want {
		t.Errorf("message\n got  %+v\n want %+v", got[0], want)
	}
	// The caller's copy is its own.
	got[0].Subject = "changed"
	if b.Messages()[0].Subject == "changed" {
		t.Error("Messages shares its slice")
	}
}

func TestMailboxSubscribe(t *testing.T) {
	b, err := NewMailbox(MailboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ch, cancel := b.Subscribe()
	slow, cancelSlow := b.Subscribe() // never read until the end
	defer cancelSlow()
	m := codeMail("jane.bloggs@nhs.net", time.Now())
	m.ID = 7
	if err := b.Deliver(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-ch:
		if got.ID != 7 {
			t.Fatalf("subscriber got %+v", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscriber not told")
	}
	cancel()
	cancel() // twice is harmless
	if _, open := <-ch; open {
		t.Fatal("channel still open after cancel")
	}
	// A slow subscriber never blocks delivery; it keeps what fits.
	for i := range 2 * subscriberBuffer {
		m.ID = int64(100 + i)
		if err := b.Deliver(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(slow); n != subscriberBuffer {
		t.Fatalf("slow subscriber holds %d, want %d", n, subscriberBuffer)
	}
	if first := <-slow; first.ID != 7 {
		t.Fatalf("slow subscriber's first message %d, want 7", first.ID)
	}
}

// TestMailboxConcurrent runs deliveries, readers and subscriptions at once
// (meaningful with -race).
func TestMailboxConcurrent(t *testing.T) {
	b, err := NewMailbox(MailboxConfig{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				if err := b.Deliver(context.Background(), domain.Mail{ID: int64(i*1000 + j), To: "a@nhs.net"}); err != nil {
					t.Error(err)
					return
				}
				if len(b.Messages()) > 10 {
					t.Error("over the limit")
					return
				}
			}
		})
		wg.Go(func() {
			for range 20 {
				ch, cancel := b.Subscribe()
				select {
				case <-ch:
				case <-time.After(time.Millisecond):
				}
				cancel()
			}
		})
	}
	wg.Wait()
	if n := len(b.Messages()); n != 10 {
		t.Fatalf("%d messages kept, want 10", n)
	}
}

func TestMailboxConfig(t *testing.T) {
	if _, err := NewMailbox(MailboxConfig{Limit: -1}); err == nil {
		t.Error("negative limit accepted")
	}
	if _, err := NewMailbox(MailboxConfig{From: "@"}); err == nil {
		t.Error("bad From accepted")
	}
	b, err := NewMailbox(MailboxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := b.Deliver(ctx, domain.Mail{ID: 1, To: "a@nhs.net"}); err == nil || len(b.Messages()) != 0 {
		t.Error("delivered with a cancelled context")
	}
}
