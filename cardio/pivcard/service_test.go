package pivcard

import (
	"fmt"
	"testing"

	"github.com/smartcard-service-centre/kiosk/cardio"
	"github.com/smartcard-service-centre/kiosk/domain"
)

// Losing pcscd with a card in the holder's reader is the reader service
// unavailable, not the card removed; when the service returns, the card
// still in the reader is present again.
func TestServiceLossIsNotARemoval(t *testing.T) {
	h, o := domain.ReaderHolder, domain.ReaderOperator
	tr := &tracker{names: []string{"Kiosk", "Desk"}, cardIn: map[string]bool{}, holds: map[domain.ReaderRole]string{}}
	steps := []struct {
		in   []cardio.Event
		want []domain.CardEvent
	}{
		{[]cardio.Event{{Reader: "Kiosk", Kind: cardio.CardInserted}}, []domain.CardEvent{{Role: h, Present: true}}},
		// As the watch reports pcscd dying: the loss first, then every
		// card and reader gone.
		{[]cardio.Event{{Kind: cardio.ServiceLost}, {Reader: "Kiosk", Kind: cardio.CardRemoved},
			{Reader: "Kiosk", Kind: cardio.ReaderRemoved}, {Reader: "Desk", Kind: cardio.ReaderRemoved}},
			[]domain.CardEvent{{Role: h, Unavailable: true}, {Role: o, Unavailable: true}}},
		// And coming back: the readers, then the card still in one.
		{[]cardio.Event{{Kind: cardio.ServiceBack}, {Reader: "Kiosk", Kind: cardio.ReaderAdded},
			{Reader: "Desk", Kind: cardio.ReaderAdded}, {Reader: "Kiosk", Kind: cardio.CardInserted}},
			[]domain.CardEvent{{Role: h}, {Role: o}, {Role: h, Present: true}}},
		{[]cardio.Event{{Reader: "Kiosk", Kind: cardio.CardRemoved}}, []domain.CardEvent{{Role: h}}},
	}
	for i, st := range steps {
		var got []domain.CardEvent
		for _, e := range st.in {
			got = append(got, tr.apply(e)...)
		}
		if fmt.Sprint(got) != fmt.Sprint(st.want) {
			t.Fatalf("step %d: %+v, want %+v", i, got, st.want)
		}
	}
}
