package apdu

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		cmd  Command
		want string
	}{
		{"case 1", Command{INS: 0x20, P2: 0x80}, "00200080"},
		{"case 2 Le 00", Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Ne: 256}, "00CB3FFF00"},
		{"case 2 Le 10", Command{INS: 0xFD, Ne: 3}, "00FD000003"},
		{"case 3", Command{INS: 0x20, P2: 0x80, Data: []byte("123456\xff\xff")}, "0020008008 313233343536FFFF"},
		{"case 4", Command{INS: 0xA4, P1: 0x04, Data: unhex(t, "A000000308"), Ne: 256}, "00A4040005A00000030800"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cmd.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tt.want); !bytes.Equal(got, want) {
				t.Fatalf("got %X want %X", got, want)
			}
			back, err := ParseCommand(got)
			if err != nil {
				t.Fatal(err)
			}
			if back.CLA != tt.cmd.CLA || back.INS != tt.cmd.INS || back.P1 != tt.cmd.P1 || back.P2 != tt.cmd.P2 ||
				!bytes.Equal(back.Data, tt.cmd.Data) || back.Ne != tt.cmd.Ne {
				t.Fatalf("parse back = %v, want %v", back, tt.cmd)
			}
		})
	}
	if _, err := (Command{Data: make([]byte, 256)}).Encode(); err == nil {
		t.Error("256 bytes of data encoded as a short command")
	}
	if _, err := (Command{Ne: 257}).Encode(); err == nil {
		t.Error("Ne 257 encoded as a short command")
	}
}

func TestChain(t *testing.T) {
	data := make([]byte, 600)
	for i := range data {
		data[i] = byte(i)
	}
	parts := Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: data, Ne: 256}.Chain()
	if len(parts) != 3 {
		t.Fatalf("got %d parts, want 3", len(parts))
	}
	var joined []byte
	for i, p := range parts {
		last := i == len(parts)-1
		if (p.CLA&ClaChain != 0) == last {
			t.Errorf("part %d CLA %02X", i, p.CLA)
		}
		if !last && (p.Ne != 0 || len(p.Data) != MaxShortData) {
			t.Errorf("part %d: Ne %d len %d", i, p.Ne, len(p.Data))
		}
		if last && p.Ne != 256 {
			t.Errorf("last part Ne %d", p.Ne)
		}
		joined = append(joined, p.Data...)
	}
	if !bytes.Equal(joined, data) {
		t.Fatal("chain does not reassemble the data")
	}
	if got := (Command{INS: 1, Data: make([]byte, 255)}).Chain(); len(got) != 1 || got[0].CLA != 0 {
		t.Fatalf("255 bytes chained: %v", got)
	}
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in     string
		lc, ne int
		bad    bool
	}{
		{in: "00A40400"},
		{in: "00A4040000", ne: 256},
		{in: "00A404000101", lc: 1},
		{in: "00A40400010100", lc: 1, ne: 256},
		{in: "00A4040001010A", lc: 1, ne: 10},
		{in: "00CB3FFF000000", ne: 65536},
		{in: "00CB3FFF000100", ne: 256},
		{in: "00DB3FFF00000201020000", lc: 2, ne: 65536},
		{in: "00DB3FFF000002 0102", lc: 2},
		{in: "00A404", bad: true},
		{in: "00A4040002 01", bad: true},
		{in: "00A4040001 010203", bad: true},
		{in: "00CB3FFF0000", bad: true},
		{in: "00CB3FFF00000001", bad: true},
		{in: "00DB3FFF000003 0102", bad: true},
	}
	for _, tt := range tests {
		c, err := ParseCommand(unhex(t, tt.in))
		if tt.bad {
			if !errors.Is(err, ErrMalformedCommand) {
				t.Errorf("%s: err = %v, want malformed", tt.in, err)
			}
			continue
		}
		if err != nil || len(c.Data) != tt.lc || c.Ne != tt.ne {
			t.Errorf("%s: got lc %d ne %d err %v, want lc %d ne %d", tt.in, len(c.Data), c.Ne, err, tt.lc, tt.ne)
		}
	}
}

func TestErrorFor(t *testing.T) {
	tests := []struct {
		sw    SW
		is    error
		not   error
		tries int
	}{
		{0x6983, ErrBlocked, ErrNotFound, 0},
		{0x6982, ErrSecurityStatus, ErrBlocked, 0},
		{0x6A82, ErrNotFound, ErrWrongData, 0},
		{0x6A88, ErrNotFound, ErrWrongData, 0},
		{0x6A80, ErrWrongData, ErrNotFound, 0},
		{0x6A86, ErrIncorrectP1P2, ErrWrongData, 0},
		{0x6B00, ErrIncorrectP1P2, ErrWrongData, 0},
		{0x6D00, ErrInsNotSupported, ErrClaNotSupported, 0},
		{0x6E00, ErrClaNotSupported, ErrInsNotSupported, 0},
		{0x6700, ErrWrongLength, ErrWrongData, 0},
		{0x6985, ErrConditionsNotSatisfied, ErrSecurityStatus, 0},
		{0x6A84, ErrNotEnoughMemory, ErrNotFound, 0},
		{0x6883, ErrChaining, ErrNotFound, 0},
		{0x63C2, ErrVerificationFailed, ErrBlocked, 2},
		{0x63C0, ErrBlocked, ErrNotFound, 0},
		{0x6300, ErrVerificationFailed, ErrBlocked, -1},
	}
	for _, tt := range tests {
		err := ErrorFor(tt.sw)
		if !errors.Is(err, tt.is) {
			t.Errorf("%s: %v is not %v", tt.sw, err, tt.is)
		}
		if errors.Is(err, tt.not) {
			t.Errorf("%s: %v unexpectedly is %v", tt.sw, err, tt.not)
		}
		var se *StatusError
		if !errors.As(err, &se) || se.SW != tt.sw {
			t.Errorf("%s: errors.As StatusError = %v", tt.sw, se)
		}
		var ae *AuthError
		if isAuth := errors.As(err, &ae); isAuth != (tt.sw&0xFF00 == 0x6300) {
			t.Errorf("%s: errors.As AuthError = %v", tt.sw, isAuth)
		} else if isAuth && ae.Retries != tt.tries {
			t.Errorf("%s: Retries = %d, want %d", tt.sw, ae.Retries, tt.tries)
		}
	}
	if ErrorFor(0x9000) != nil {
		t.Error("9000 is an error")
	}
	err := ErrorFor(0x6F00)
	var se *StatusError
	if !errors.As(err, &se) || se.SW != 0x6F00 || errors.Is(err, ErrNotFound) {
		t.Errorf("generic status: %v", err)
	}
	if s := err.Error(); !strings.Contains(s, "6F00") {
		t.Errorf("message %q lacks the status word", s)
	}
	// Wrapped with context, the mapping still works.
	wrapped := errorsJoin("verify pin", ErrorFor(0x63C1))
	var ae *AuthError
	if !errors.As(wrapped, &ae) || ae.Retries != 1 {
		t.Errorf("wrapped AuthError lost: %v", wrapped)
	}
}

func errorsJoin(ctx string, err error) error { return &wrapErr{ctx, err} }

type wrapErr struct {
	ctx string
	err error
}

func (w *wrapErr) Error() string { return w.ctx + ": " + w.err.Error() }
func (w *wrapErr) Unwrap() error { return w.err }

func TestParseResponse(t *testing.T) {
	r, err := ParseResponse(unhex(t, "01029000"))
	if err != nil || !bytes.Equal(r.Data, []byte{1, 2}) || r.SW != 0x9000 || r.Err() != nil {
		t.Fatalf("got %v, %v", r, err)
	}
	if !bytes.Equal(r.Encode(), unhex(t, "01029000")) {
		t.Fatal("Encode does not round-trip")
	}
	for _, in := range []string{"", "90"} {
		if _, err := ParseResponse(unhex(t, in)); !errors.Is(err, ErrShortResponse) {
			t.Errorf("%q: err = %v", in, err)
		}
	}
}

// scriptCard answers from a script and records what it was sent.
type scriptCard struct {
	t       *testing.T
	replies []string // hex responses in order
	sent    []string
}

func (s *scriptCard) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	s.sent = append(s.sent, strings.ToUpper(hex.EncodeToString(cmd)))
	if len(s.replies) == 0 {
		s.t.Fatalf("unexpected command %X", cmd)
	}
	r := unhex(s.t, s.replies[0])
	s.replies = s.replies[1:]
	return r, nil
}

func TestSend(t *testing.T) {
	long := make([]byte, 300)
	tests := []struct {
		name     string
		cmd      Command
		replies  []string
		wantSent []string
		want     string
		wantErr  error
	}{
		{
			name: "plain", cmd: Command{INS: 0xFD, Ne: 256},
			replies: []string{"0504039000"}, wantSent: []string{"00FD000000"}, want: "050403",
		},
		{
			name: "get response", cmd: Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: unhex(t, "5C035FC105"), Ne: 256},
			replies:  []string{"AABB6103", "CCDDEE9000"},
			wantSent: []string{"00CB3FFF055C035FC10500", "00C0000003"}, want: "AABBCCDDEE",
		},
		{
			name: "get response 6100 means 256", cmd: Command{INS: 0xCB, Ne: 256},
			replies:  []string{"AA6100", "BB9000"},
			wantSent: []string{"00CB000000", "00C0000000"}, want: "AABB",
		},
		{
			name: "wrong Le", cmd: Command{INS: 0xCA, Ne: 256},
			replies:  []string{"6C02", "01029000"},
			wantSent: []string{"00CA000000", "00CA000002"}, want: "0102",
		},
		{
			name: "status error", cmd: Command{INS: 0xCB, Ne: 256},
			replies: []string{"6A82"}, wantSent: []string{"00CB000000"}, wantErr: ErrNotFound,
		},
		{
			name: "error after get response", cmd: Command{INS: 0xCB, Ne: 256},
			replies: []string{"AA6101", "6F00"}, wantSent: []string{"00CB000000", "00C0000001"}, wantErr: &StatusError{},
		},
		{
			name: "chained", cmd: Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: long},
			replies: []string{"9000", "9000"},
			wantSent: []string{
				"10DB3FFFFF" + strings.Repeat("00", 255),
				"00DB3FFF2D" + strings.Repeat("00", 45),
			},
		},
		{
			name: "chain part rejected", cmd: Command{INS: 0xDB, Data: long},
			replies:  []string{"6A80"},
			wantSent: []string{"10DB0000FF" + strings.Repeat("00", 255)}, wantErr: ErrWrongData,
		},
		{
			name: "auth error", cmd: Command{INS: 0x20, P2: 0x80},
			replies: []string{"63C2"}, wantSent: []string{"00200080"}, wantErr: ErrVerificationFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card := &scriptCard{t: t, replies: tt.replies}
			got, err := Send(context.Background(), card, tt.cmd)
			if tt.wantErr != nil {
				var se *StatusError
				if _, generic := tt.wantErr.(*StatusError); generic {
					if !errors.As(err, &se) {
						t.Fatalf("err = %v, want a StatusError", err)
					}
				} else if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tt.wantErr == nil && !bytes.Equal(got, unhex(t, tt.want)) {
				t.Errorf("data = %X, want %s", got, tt.want)
			}
			if strings.Join(card.sent, ",") != strings.Join(tt.wantSent, ",") {
				t.Errorf("sent %v, want %v", card.sent, tt.wantSent)
			}
			if len(card.replies) != 0 {
				t.Errorf("%d replies unused", len(card.replies))
			}
		})
	}
}

type loopCard struct{ n int }

func (l *loopCard) Transmit(context.Context, []byte) ([]byte, error) {
	l.n++
	return []byte{0x61, 0x00}, nil
}

func TestSendBounded(t *testing.T) {
	card := &loopCard{}
	if _, err := Send(context.Background(), card, Command{INS: 0xCB, Ne: 256}); err == nil {
		t.Fatal("endless 61xx accepted")
	}
	if card.n > maxGetResponse+2 {
		t.Fatalf("%d round trips", card.n)
	}
}

func TestSendContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	card := &scriptCard{t: t}
	if _, err := Send(ctx, card, Command{INS: 0xFD}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParseResponse(f *testing.F) {
	f.Add([]byte{0x90, 0x00})
	f.Add([]byte{0x01, 0x61, 0x10})
	f.Add([]byte{0x63, 0xC2})
	f.Add([]byte{0x90})
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := ParseResponse(in)
		if err != nil {
			if len(in) >= 2 {
				t.Fatalf("rejected %X", in)
			}
			return
		}
		if !bytes.Equal(r.Encode(), in) {
			t.Fatalf("round trip %X", in)
		}
		err = r.Err()
		if (err == nil) != (r.SW == SWSuccess) {
			t.Fatalf("SW %s err %v", r.SW, err)
		}
		if err != nil {
			_ = err.Error()
			var se *StatusError
			if !errors.As(err, &se) || se.SW != r.SW {
				t.Fatalf("SW %s not recoverable from %v", r.SW, err)
			}
		}
	})
}

func FuzzParseCommand(f *testing.F) {
	f.Add([]byte{0, 0xA4, 4, 0, 1, 1, 0})
	f.Add([]byte{0, 0xCB, 0x3F, 0xFF, 0, 0, 1, 5, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := ParseCommand(in)
		if err != nil {
			return
		}
		if len(c.Data) <= MaxShortData && c.Ne <= MaxShortNe {
			enc, err := c.Encode()
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseCommand(enc)
			if err != nil || !bytes.Equal(back.Data, c.Data) || back.Ne != c.Ne {
				t.Fatalf("re-parse of %X: %v %v", enc, back, err)
			}
		}
	})
}
