package tlv

import (
	"bytes"
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

func TestDecodeOne(t *testing.T) {
	long200 := "81C8" + strings.Repeat("AA", 200)
	long300 := "82012C" + strings.Repeat("BB", 300)
	long70000 := "83011170" + strings.Repeat("CC", 70000)
	tests := []struct {
		name    string
		in      string
		tag     Tag
		valLen  int
		wantErr error
	}{
		{"one byte tag", "53 02 0102", 0x53, 2, nil},
		{"empty value", "71 00", 0x71, 0, nil},
		{"two byte tag", "7F49 03 860100", 0x7F49, 3, nil},
		{"three byte tag", "5FC102 01 00", 0x5FC102, 1, nil},
		{"long form 1", "53" + long200, 0x53, 200, nil},
		{"long form 2", "53" + long300, 0x53, 300, nil},
		{"long form 3", "53" + long70000, 0x53, 70000, nil},
		{"empty input", "", 0, 0, ErrTruncated},
		{"tag only", "53", 0, 0, ErrTruncated},
		{"truncated value", "53 03 0102", 0, 0, ErrTruncated},
		{"truncated long length", "53 82 01", 0, 0, ErrTruncated},
		{"truncated two byte tag", "7F", 0, 0, ErrTruncated},
		{"truncated three byte tag", "5FC1", 0, 0, ErrTruncated},
		{"indefinite", "73 80 0000", 0, 0, ErrIndefiniteLength},
		{"four length bytes", "53 84 00000001 00", 0, 0, ErrLengthTooLong},
		{"non-minimal 81", "53 81 05 0102030405", 0, 0, ErrNonMinimalLength},
		{"non-minimal 82", "53 82 0080" + strings.Repeat("00", 128), 0, 0, ErrNonMinimalLength},
		{"non-minimal 83", "53 83 000100" + strings.Repeat("00", 256), 0, 0, ErrNonMinimalLength},
		{"padding 00 as tag", "00 01 00", 0, 0, ErrInvalidTag},
		{"padding FF as tag", "FF 01 00", 0, 0, ErrInvalidTag},
		{"second tag byte too small", "5F 1E 01 00", 0, 0, ErrInvalidTag},
		{"second tag byte 80", "5F 80 01 01 00", 0, 0, ErrInvalidTag},
		{"four byte tag", "5F C1 81 01 01 00", 0, 0, ErrTagTooLong},
		{"trailing", "53 01 00 00", 0, 0, ErrTrailingData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := unhex(t, tt.in)
			got, err := DecodeOne(in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got.Tag != tt.tag || len(got.Value) != tt.valLen {
				t.Fatalf("got tag %s len %d, want %s len %d", got.Tag, len(got.Value), tt.tag, tt.valLen)
			}
			if re := got.Encode(); !bytes.Equal(re, in) {
				t.Fatalf("re-encode = %X, want %X", re, in)
			}
		})
	}
}

func TestDecodeAllAndFind(t *testing.T) {
	// A CHUID-like sequence.
	in := unhex(t, "3002AABB 3410"+strings.Repeat("11", 16)+" 3508 3230333030313031 3E00 FE00")
	objs, err := DecodeAll(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 5 {
		t.Fatalf("got %d objects, want 5", len(objs))
	}
	if g, ok := Find(objs, 0x35); !ok || string(g.Value) != "20300101" {
		t.Fatalf("Find(35) = %q, %v", g.Value, ok)
	}
	if _, ok := Find(objs, 0x36); ok {
		t.Fatal("Find(36) found an absent tag")
	}
	v, ok, err := FindIn(in, 0x34)
	if err != nil || !ok || len(v) != 16 {
		t.Fatalf("FindIn(34) = %X, %v, %v", v, ok, err)
	}
	if !bytes.Equal(EncodeAll(objs...), in) {
		t.Fatal("EncodeAll does not round-trip")
	}
	// A partial object at the end of a sequence is an error, not ignored.
	if _, err := DecodeAll(append(in, 0x53, 0x05, 0x01)); !errors.Is(err, ErrTruncated) {
		t.Fatalf("trailing partial object: err = %v", err)
	}
	if objs, err := DecodeAll(nil); err != nil || len(objs) != 0 {
		t.Fatalf("DecodeAll(nil) = %v, %v", objs, err)
	}
}

func TestConstructed(t *testing.T) {
	apt := Constructed(0x61,
		New(0x4F, unhex(t, "000010000100")),
		Constructed(0x79, New(0x4F, unhex(t, "A000000308"))),
	)
	want := unhex(t, "6111 4F06000010000100 7907 4F05A000000308")
	if got := apt.Encode(); !bytes.Equal(got, want) {
		t.Fatalf("Encode = %X, want %X", got, want)
	}
	kids, err := apt.Children()
	if err != nil || len(kids) != 2 || kids[1].Tag != 0x79 {
		t.Fatalf("Children = %v, %v", kids, err)
	}
	if _, err := New(0x4F, nil).Children(); !errors.Is(err, ErrNotConstructed) {
		t.Fatalf("Children of primitive: err = %v", err)
	}
	if v, err := Unwrap(want, 0x61); err != nil || len(v) != 0x11 {
		t.Fatalf("Unwrap = %X, %v", v, err)
	}
	if _, err := Unwrap(want, 0x7C); err == nil {
		t.Fatal("Unwrap with the wrong tag succeeded")
	}
}

func TestTag(t *testing.T) {
	tests := []struct {
		tag         Tag
		n           int
		constructed bool
		class       Class
		valid       bool
	}{
		{0x53, 1, false, ClassApplication, true},
		{0x7C, 1, true, ClassApplication, true},
		{0x7F49, 2, true, ClassApplication, true},
		{0x5FC102, 3, false, ClassApplication, true},
		{0x80, 1, false, ClassContext, true},
		{0xFE, 1, true, ClassPrivate, true},
		{0x1F, 1, false, ClassUniversal, false},     // needs more bytes
		{0x5F05, 2, false, ClassApplication, false}, // should be short form
		{0x4F01, 2, false, ClassApplication, false}, // 4F is not multi-byte
		{0x5FC1C1, 3, false, ClassApplication, false},
		{0x01000000, 3, false, ClassUniversal, false},
	}
	for _, tt := range tests {
		if tt.tag.Len() != tt.n && tt.tag <= 0xFFFFFF {
			t.Errorf("%s Len = %d, want %d", tt.tag, tt.tag.Len(), tt.n)
		}
		if tt.valid {
			if tt.tag.Constructed() != tt.constructed || tt.tag.Class() != tt.class {
				t.Errorf("%s constructed=%v class=%d", tt.tag, tt.tag.Constructed(), tt.tag.Class())
			}
		}
		if tt.tag.Valid() != tt.valid {
			t.Errorf("%s Valid = %v, want %v", tt.tag, tt.tag.Valid(), tt.valid)
		}
	}
	if s := Tag(0x5FC102).String(); s != "5FC102" {
		t.Errorf("String = %q", s)
	}
	if s := Tag(0x7C).String(); s != "7C" {
		t.Errorf("String = %q", s)
	}
}

func TestAppendLength(t *testing.T) {
	for _, n := range []int{0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000, MaxLength} {
		enc := AppendLength(nil, n)
		got, k, err := parseLength(enc)
		if err != nil || got != n || k != len(enc) {
			t.Errorf("length %d: encoded %X decoded %d/%d, %v", n, enc, got, k, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"5302 0102", "6111 4F06000010000100 7907 4F05A000000308",
		"7F49 43 8641 04" + strings.Repeat("01", 64), "5FC102 00",
		"53 81 80" + strings.Repeat("00", 128), "7C 80 0000", "53 82 00", "",
	} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		objs, err := DecodeAll(in)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes: one encoding per value.
		if re := EncodeAll(objs...); !bytes.Equal(re, in) {
			t.Fatalf("round trip: %X -> %X", in, re)
		}
		for _, o := range objs {
			if !o.Tag.Valid() {
				t.Fatalf("decoded invalid tag %X", uint32(o.Tag))
			}
			if !o.Tag.Constructed() {
				continue
			}
			kids, err := o.Children()
			if err != nil {
				continue
			}
			if re := EncodeAll(kids...); !bytes.Equal(re, o.Value) {
				t.Fatalf("children round trip: %X -> %X", o.Value, re)
			}
		}
	})
}
