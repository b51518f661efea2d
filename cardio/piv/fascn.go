package piv

import (
	"errors"
	"fmt"
)

// FASCN holds the fields of a Federal Agency Smart Credential Number as
// decimal digit strings (TIG SCEPACS v2.3, section 6).
type FASCN struct {
	Agency     string // 4 digits
	System     string // 4 digits
	Credential string // 6 digits
	CS         string // 1 digit: credential series
	ICI        string // 1 digit: individual credential issue
	PI         string // 10 digits: person identifier
	OC         string // 1 digit: organisational category
	OI         string // 4 digits: organisational identifier
	POA        string // 1 digit: person/organisation association
}

// NonFederalFASCN is the FASC-N non-federal issuers use (agency, system and
// credential all nines; 9999-9999-999999-0-1-0000000000300001), the same one
// yubico-piv-tool writes, so standard tools read our CHUIDs as usual.
var NonFederalFASCN = FASCN{
	Agency: "9999", System: "9999", Credential: "999999", CS: "0", ICI: "1",
	PI: "0000000000", OC: "3", OI: "0000", POA: "1",
}

// Control characters of the 4-bit BCD alphabet.
const (
	fascnSS = 0x0B // start sentinel
	fascnFS = 0x0D // field separator
	fascnES = 0x0F // end sentinel
)

// ErrInvalidFASCN reports FASC-N fields of the wrong length or non-digits.
var ErrInvalidFASCN = errors.New("piv: invalid FASC-N")

// EncodeFASCN packs f into 25 bytes: 40 characters of 4 data bits (least
// significant first) plus an odd-parity bit, ending with an LRC character.
func EncodeFASCN(f FASCN) ([]byte, error) {
	var chars []byte
	add := func(field string, n int) error {
		if len(field) != n {
			return fmt.Errorf("%w: field %q is not %d digits", ErrInvalidFASCN, field, n)
		}
		for i := 0; i < n; i++ {
			if field[i] < '0' || field[i] > '9' {
				return fmt.Errorf("%w: field %q is not %d digits", ErrInvalidFASCN, field, n)
			}
			chars = append(chars, field[i]-'0')
		}
		return nil
	}
	chars = append(chars, fascnSS)
	fields := []struct {
		v   string
		n   int
		sep bool // a field separator follows
	}{
		{f.Agency, 4, true}, {f.System, 4, true}, {f.Credential, 6, true}, {f.CS, 1, true},
		{f.ICI, 1, true}, {f.PI, 10, false}, {f.OC, 1, false}, {f.OI, 4, false}, {f.POA, 1, false},
	}
	for _, fl := range fields {
		if err := add(fl.v, fl.n); err != nil {
			return nil, err
		}
		if fl.sep {
			chars = append(chars, fascnFS)
		}
	}
	chars = append(chars, fascnES)
	var lrc byte
	for _, c := range chars {
		lrc ^= c
	}
	chars = append(chars, lrc)

	out := make([]byte, 25)
	bit := 0
	put := func(v bool) {
		if v {
			out[bit/8] |= 0x80 >> (bit % 8)
		}
		bit++
	}
	for _, c := range chars {
		ones := 0
		for i := 0; i < 4; i++ {
			b := c>>i&1 == 1
			if b {
				ones++
			}
			put(b)
		}
		put(ones%2 == 0) // odd parity over the 5 bits
	}
	return out, nil
}
