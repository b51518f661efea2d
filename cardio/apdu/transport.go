package apdu

import (
	"context"
	"errors"
	"fmt"
)

// Transport sends one raw command APDU to a card and returns the raw response
// (data and status word). The PC/SC layer and the software card satisfy it.
type Transport interface {
	Transmit(ctx context.Context, cmd []byte) ([]byte, error)
}

// MaxResponse bounds the bytes collected through GET RESPONSE so a faulty
// card cannot make the host allocate without limit.
const MaxResponse = 64 << 10

// maxGetResponse bounds the rounds, for cards that answer 61xx with no data.
const maxGetResponse = 1024

var errTooLong = errors.New("apdu: response exceeds limit")

// Send transmits cmd over t, splitting it into a chain when its data is too
// long for one short command, fetching the rest of a long answer with GET
// RESPONSE (SW 61xx) and resending once with the right Le on 6Cxx. It returns
// the response data when the final status is 9000, and the mapped status
// error otherwise.
func Send(ctx context.Context, t Transport, cmd Command) ([]byte, error) {
	parts := cmd.Chain()
	for _, p := range parts[:len(parts)-1] {
		r, err := transmit(ctx, t, p)
		if err != nil {
			return nil, err
		}
		if r.SW != SWSuccess {
			return nil, ErrorFor(r.SW)
		}
	}
	last := parts[len(parts)-1]
	r, err := transmit(ctx, t, last)
	if err != nil {
		return nil, err
	}
	if r.SW.SW1() == 0x6C && len(parts) == 1 {
		// Wrong Le: the card says how many bytes it has; ask again once.
		last.Ne = int(r.SW.SW2())
		if last.Ne == 0 {
			last.Ne = 256
		}
		if r, err = transmit(ctx, t, last); err != nil {
			return nil, err
		}
	}
	data := append([]byte(nil), r.Data...)
	for rounds := 0; r.SW.SW1() == 0x61; rounds++ {
		if rounds >= maxGetResponse {
			return nil, fmt.Errorf("%w: more than %d GET RESPONSE rounds", errTooLong, maxGetResponse)
		}
		ne := int(r.SW.SW2())
		if ne == 0 {
			ne = 256
		}
		r, err = transmit(ctx, t, Command{CLA: cmd.CLA &^ ClaChain, INS: InsGetResponse, Ne: ne})
		if err != nil {
			return nil, err
		}
		if len(data)+len(r.Data) > MaxResponse {
			return nil, fmt.Errorf("%w: more than %d bytes", errTooLong, MaxResponse)
		}
		data = append(data, r.Data...)
	}
	if err := ErrorFor(r.SW); err != nil {
		return nil, err
	}
	return data, nil
}

func transmit(ctx context.Context, t Transport, c Command) (Response, error) {
	raw, err := c.Encode()
	if err != nil {
		return Response{}, err
	}
	if err := ctx.Err(); err != nil {
		return Response{}, err
	}
	resp, err := t.Transmit(ctx, raw)
	if err != nil {
		return Response{}, fmt.Errorf("transmit %02X: %w", c.INS, err)
	}
	return ParseResponse(resp)
}
