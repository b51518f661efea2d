package apdu

import (
	"context"
	"io"
	"testing"
)

// fuzzCard answers with the responses packed in script (each a length
// byte, then that many bytes), then fails as a pulled card does.
type fuzzCard struct {
	script []byte
	n      int
	last   []byte // the last answer given
}

func (c *fuzzCard) Transmit(context.Context, []byte) ([]byte, error) {
	c.n++
	if len(c.script) == 0 {
		return nil, io.ErrUnexpectedEOF
	}
	k := min(int(c.script[0]), len(c.script)-1)
	r := c.script[1 : 1+k]
	c.script = c.script[1+k:]
	c.last = r
	return r, nil
}

// FuzzSend feeds Send arbitrary card answers (61xx chains, 6Cxx, short and
// garbage responses): it must never panic, loop without bound or return
// more than MaxResponse bytes, and succeeds only on a final 9000.
func FuzzSend(f *testing.F) {
	f.Add(byte(0), []byte{2, 0x90, 0x00})
	f.Add(byte(0), []byte{4, 0xAA, 0xBB, 0x61, 0x02, 4, 0xCC, 0xDD, 0x90, 0x00})
	f.Add(byte(1), []byte{2, 0x6C, 0x05, 7, 1, 2, 3, 4, 5, 0x90, 0x00})
	f.Add(byte(2), []byte{2, 0x90, 0x00, 2, 0x90, 0x00, 2, 0x90, 0x00})
	f.Add(byte(0), []byte{2, 0x61, 0x00, 2, 0x61, 0x00})
	f.Add(byte(0), []byte{1, 0x90})
	f.Add(byte(0), []byte{2, 0x63, 0xC1})
	f.Fuzz(func(t *testing.T, shape byte, script []byte) {
		// shape picks the command: its data length (chained beyond 255)
		// and whether it asks for a response.
		cmd := Command{INS: 0xCB, Data: make([]byte, int(shape&0x03)*200)}
		if shape&0x04 == 0 {
			cmd.Ne = 256
		}
		card := &fuzzCard{script: script}
		data, err := Send(context.Background(), card, cmd)
		if bound := len(cmd.Chain()) + 2 + maxGetResponse; card.n > bound {
			t.Fatalf("%d transmits, bound %d", card.n, bound)
		}
		if len(data) > MaxResponse {
			t.Fatalf("%d bytes returned", len(data))
		}
		if err != nil {
			if data != nil {
				t.Fatalf("data %X with error %v", data, err)
			}
			_ = err.Error()
			return
		}
		// Success means the card's last answer ended in 9000.
		if n := len(card.last); n < 2 || card.last[n-2] != 0x90 || card.last[n-1] != 0x00 {
			t.Fatalf("success after the answer %X", card.last)
		}
	})
}
