// Package tlv is a strict BER-TLV codec for the subset ISO/IEC 7816-4 and
// NIST SP 800-73-4 use: tags of one to three bytes and definite lengths in
// short form or long form with up to three length bytes.
//
// Strictness is deliberate: card responses are untrusted input, and a decoder
// that accepts exactly one encoding per value lets callers compare and
// re-encode objects byte for byte (decode followed by encode round-trips).
package tlv

import (
	"errors"
	"fmt"
)

// Decoding errors. They are returned wrapped with the offset where decoding
// failed; test them with errors.Is.
var (
	ErrTruncated        = errors.New("tlv: truncated input")
	ErrInvalidTag       = errors.New("tlv: invalid tag")
	ErrTagTooLong       = errors.New("tlv: tag longer than 3 bytes")
	ErrIndefiniteLength = errors.New("tlv: indefinite length not allowed")
	ErrLengthTooLong    = errors.New("tlv: length field longer than 3 bytes")
	ErrNonMinimalLength = errors.New("tlv: length not minimally encoded")
	ErrTrailingData     = errors.New("tlv: trailing data")
	ErrNotConstructed   = errors.New("tlv: tag is primitive")
)

// MaxLength is the largest value length that can be encoded (3 length bytes).
const MaxLength = 1<<24 - 1

// Class is the class of a tag (bits 8 and 7 of its first byte).
type Class byte

// Tag classes.
const (
	ClassUniversal   Class = 0
	ClassApplication Class = 1
	ClassContext     Class = 2
	ClassPrivate     Class = 3
)

// Tag is a BER tag kept as its encoded bytes read as a big-endian integer, the
// way specifications write them: 0x53, 0x7F49, 0x5FC102.
type Tag uint32

// Len returns the number of bytes of the encoded tag.
func (t Tag) Len() int {
	switch {
	case t > 0xFFFF:
		return 3
	case t > 0xFF:
		return 2
	default:
		return 1
	}
}

func (t Tag) first() byte { return byte(t >> (8 * (t.Len() - 1))) }

// Constructed reports whether the tag marks a constructed data object.
func (t Tag) Constructed() bool { return t.first()&0x20 != 0 }

// Class returns the tag's class.
func (t Tag) Class() Class { return Class(t.first() >> 6) }

// Bytes returns the encoded tag.
func (t Tag) Bytes() []byte { return t.appendTo(nil) }

func (t Tag) appendTo(dst []byte) []byte {
	for i := t.Len() - 1; i >= 0; i-- {
		dst = append(dst, byte(t>>(8*i)))
	}
	return dst
}

// Valid reports whether t is an encoding this package can decode, so that
// encoding it cannot produce bytes the decoder would reject.
func (t Tag) Valid() bool {
	if t > 0xFFFFFF {
		return false
	}
	b := t.Bytes()
	n, err := tagLen(b)
	return err == nil && n == len(b)
}

func (t Tag) String() string {
	return fmt.Sprintf("%0*X", 2*t.Len(), uint32(t))
}

// TLV is one data object. Value holds the raw contents; for constructed
// objects use Children to decode them.
type TLV struct {
	Tag   Tag
	Value []byte
}

// New returns a primitive or constructed object with the given raw value.
func New(tag Tag, value []byte) TLV { return TLV{Tag: tag, Value: value} }

// Constructed returns an object whose value is the encoding of children.
func Constructed(tag Tag, children ...TLV) TLV {
	return TLV{Tag: tag, Value: EncodeAll(children...)}
}

// Children decodes the value of a constructed object as a sequence.
func (t TLV) Children() ([]TLV, error) {
	if !t.Tag.Constructed() {
		return nil, fmt.Errorf("%w: %s", ErrNotConstructed, t.Tag)
	}
	return DecodeAll(t.Value)
}

// Encode returns the encoding of the object.
func (t TLV) Encode() []byte { return t.AppendTo(nil) }

// AppendTo appends the encoding of the object to dst. It panics only on
// programmer error (a tag that is not valid or a value over MaxLength),
// never on decoded input, which always satisfies both.
func (t TLV) AppendTo(dst []byte) []byte {
	if !t.Tag.Valid() {
		panic(fmt.Sprintf("tlv: encoding invalid tag %X", uint32(t.Tag)))
	}
	dst = t.Tag.appendTo(dst)
	dst = AppendLength(dst, len(t.Value))
	return append(dst, t.Value...)
}

// Encode returns the encoding of one object with the given tag and value.
func Encode(tag Tag, value []byte) []byte { return TLV{tag, value}.Encode() }

// EncodeAll returns the concatenated encodings of the objects.
func EncodeAll(objs ...TLV) []byte {
	var out []byte
	for _, o := range objs {
		out = o.AppendTo(out)
	}
	return out
}

// AppendLength appends the minimal definite-length encoding of n.
func AppendLength(dst []byte, n int) []byte {
	switch {
	case n < 0 || n > MaxLength:
		panic(fmt.Sprintf("tlv: length %d out of range", n))
	case n < 0x80:
		return append(dst, byte(n))
	case n <= 0xFF:
		return append(dst, 0x81, byte(n))
	case n <= 0xFFFF:
		return append(dst, 0x82, byte(n>>8), byte(n))
	default:
		return append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
}

// tagLen returns the length of the tag at the start of b.
func tagLen(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, ErrTruncated
	}
	// ISO/IEC 7816-4 5.2.2.1: '00' and 'FF' are padding, never a first byte.
	if b[0] == 0x00 || b[0] == 0xFF {
		return 0, ErrInvalidTag
	}
	if b[0]&0x1F != 0x1F {
		return 1, nil
	}
	if len(b) < 2 {
		return 0, ErrTruncated
	}
	// '00'–'1E' would fit the short form and '80' is a leading zero group:
	// both are invalid second bytes (ISO/IEC 7816-4 5.2.2.1).
	if b[1] < 0x1F || b[1] == 0x80 {
		return 0, ErrInvalidTag
	}
	if b[1]&0x80 == 0 {
		return 2, nil
	}
	if len(b) < 3 {
		return 0, ErrTruncated
	}
	if b[2]&0x80 != 0 {
		return 0, ErrTagTooLong
	}
	return 3, nil
}

// ParseTag decodes the tag at the start of b and returns it with its length.
func ParseTag(b []byte) (Tag, int, error) {
	n, err := tagLen(b)
	if err != nil {
		return 0, 0, err
	}
	var t Tag
	for _, c := range b[:n] {
		t = t<<8 | Tag(c)
	}
	return t, n, nil
}

// parseLength decodes the length field at the start of b.
func parseLength(b []byte) (length, n int, err error) {
	if len(b) == 0 {
		return 0, 0, ErrTruncated
	}
	first := b[0]
	if first < 0x80 {
		return int(first), 1, nil
	}
	if first == 0x80 {
		return 0, 0, ErrIndefiniteLength
	}
	k := int(first & 0x7F)
	if k > 3 {
		return 0, 0, ErrLengthTooLong
	}
	if len(b) < 1+k {
		return 0, 0, ErrTruncated
	}
	for _, c := range b[1 : 1+k] {
		length = length<<8 | int(c)
	}
	// The long form must be needed and use no leading zero byte, so each
	// length has exactly one encoding.
	if length < 0x80 || b[1] == 0 {
		return 0, 0, ErrNonMinimalLength
	}
	return length, 1 + k, nil
}

// Decode decodes the first object in b and returns it with the bytes that
// follow it. The returned Value aliases b.
func Decode(b []byte) (TLV, []byte, error) {
	tag, tn, err := ParseTag(b)
	if err != nil {
		return TLV{}, nil, fmt.Errorf("decode tag at offset 0: %w", err)
	}
	length, ln, err := parseLength(b[tn:])
	if err != nil {
		return TLV{}, nil, fmt.Errorf("decode length of %s: %w", tag, err)
	}
	start := tn + ln
	if length > len(b)-start {
		return TLV{}, nil, fmt.Errorf("decode value of %s (%d bytes, %d left): %w", tag, length, len(b)-start, ErrTruncated)
	}
	end := start + length
	return TLV{Tag: tag, Value: b[start:end:end]}, b[end:], nil
}

// DecodeOne decodes b as exactly one object; anything after it is an error.
func DecodeOne(b []byte) (TLV, error) {
	t, rest, err := Decode(b)
	if err != nil {
		return TLV{}, err
	}
	if len(rest) != 0 {
		return TLV{}, fmt.Errorf("after %s: %d bytes: %w", t.Tag, len(rest), ErrTrailingData)
	}
	return t, nil
}

// DecodeAll decodes b as a sequence of objects that covers b exactly.
func DecodeAll(b []byte) ([]TLV, error) {
	var out []TLV
	for off := 0; len(b) > 0; {
		t, rest, err := Decode(b)
		if err != nil {
			return nil, fmt.Errorf("at offset %d: %w", off, err)
		}
		off += len(b) - len(rest)
		out = append(out, t)
		b = rest
	}
	return out, nil
}

// Find returns the first object with the given tag in objs.
func Find(objs []TLV, tag Tag) (TLV, bool) {
	for _, o := range objs {
		if o.Tag == tag {
			return o, true
		}
	}
	return TLV{}, false
}

// FindIn decodes b as a sequence and returns the value of the first object
// with the given tag. It reports false when the sequence decodes but lacks it.
func FindIn(b []byte, tag Tag) ([]byte, bool, error) {
	objs, err := DecodeAll(b)
	if err != nil {
		return nil, false, err
	}
	o, ok := Find(objs, tag)
	return o.Value, ok, nil
}

// Unwrap decodes b as exactly one object with the given tag and returns its
// value: the common "7C { ... }" / "53 { ... }" envelope check.
func Unwrap(b []byte, tag Tag) ([]byte, error) {
	t, err := DecodeOne(b)
	if err != nil {
		return nil, err
	}
	if t.Tag != tag {
		return nil, fmt.Errorf("tlv: got tag %s, want %s", t.Tag, tag)
	}
	return t.Value, nil
}
