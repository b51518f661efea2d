package common

import (
	"context"
	"errors"

	tea "charm.land/bubbletea/v2"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// Messages of a root model that follows card readers: its subscription
// is ready or failed, a card event arrived on it, or it ended. Events
// carry their stream, so a model that subscribed again ignores the old.
type (
	EventsReadyMsg struct{ Ch <-chan domain.CardEvent }
	EventsFailMsg  struct{ Err error }
	CardEventMsg   struct {
		Ev domain.CardEvent
		Ch <-chan domain.CardEvent
	}
	EventsClosedMsg struct{ Ch <-chan domain.CardEvent }
)

// Subscribe subscribes to the readers' card events, until ctx ends.
func Subscribe(ctx context.Context, readers domain.CardReaders) tea.Cmd {
	if readers == nil {
		return func() tea.Msg { return EventsFailMsg{errors.New("no card readers configured")} }
	}
	return func() tea.Msg {
		ch, err := readers.Events(ctx)
		if err != nil {
			return EventsFailMsg{err}
		}
		return EventsReadyMsg{ch}
	}
}

// WaitEvent waits for the next event on ch.
func WaitEvent(ch <-chan domain.CardEvent) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return EventsClosedMsg{ch}
		}
		return CardEventMsg{ev, ch}
	}
}
