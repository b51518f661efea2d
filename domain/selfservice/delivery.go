package selfservice

import (
	"context"
	"fmt"

	"github.com/smartcard-service-centre/kiosk/domain"
)

// CodeDelivery says how far the email carrying the visit's latest code
// has got, as the outbox records it: "we have sent" is only true once the
// mail relay took it, and a holder waiting for a code that will not come
// must be told. ErrOutOfTurn when the session is not waiting for a code
// it was sent.
//
// It holds the session only to read which mail that is, so asking while
// another step runs does not wait on the store behind it.
func (s *Service) CodeDelivery(ctx context.Context, sess *Session) (domain.Delivery, error) {
	sess.mu.Lock()
	err := sess.at(StepCodeSent, StepRegistrationCodeSent)
	id := sess.codeMail
	sess.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if id == 0 {
		return 0, ErrOutOfTurn
	}
	m, err := s.cfg.Store.GetMail(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("look up the code's email: %w", err)
	}
	return m.Delivery(s.now()), nil
}
