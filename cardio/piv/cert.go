package piv

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"github.com/smartcard-service-centre/kiosk/cardio/tlv"
)

// certInfoGzip is the CertInfo bit for a gzip-compressed certificate, as
// written by yubico-piv-tool --compress.
const certInfoGzip = 0x01

// maxCertSize bounds a decompressed certificate, against gzip bombs.
const maxCertSize = 16 << 10

// ErrNoCertificate reports a certificate object without a certificate.
var ErrNoCertificate = errors.New("piv: certificate object holds no certificate")

// EncodeCertificate returns the contents of a certificate object's 53
// envelope: 70 { DER } 71 { 00: uncompressed } FE { } (SP 800-73-4 Part 1,
// table 10).
func EncodeCertificate(der []byte) []byte {
	return tlv.EncodeAll(tlv.New(0x70, der), tlv.New(0x71, []byte{0x00}), tlv.New(0xFE, nil))
}

// DecodeCertificate parses the contents of a certificate object's 53
// envelope; gzip-compressed certificates are accepted.
func DecodeCertificate(b []byte) (*x509.Certificate, error) {
	objs, err := tlv.DecodeAll(b)
	if err != nil {
		return nil, fmt.Errorf("decode certificate object: %w", err)
	}
	c, ok := tlv.Find(objs, 0x70)
	if !ok || len(c.Value) == 0 {
		return nil, ErrNoCertificate
	}
	der := c.Value
	if info, ok := tlv.Find(objs, 0x71); ok && len(info.Value) == 1 && info.Value[0]&certInfoGzip != 0 {
		if der, err = gunzip(der); err != nil {
			return nil, fmt.Errorf("decode certificate object: %w", err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("decode certificate object: %w", err)
	}
	return cert, nil
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxCertSize+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxCertSize {
		return nil, fmt.Errorf("compressed certificate larger than %d bytes", maxCertSize)
	}
	return out, nil
}

// Certificate reads the certificate of slot. An absent object matches
// apdu.ErrNotFound.
func (c *Client) Certificate(ctx context.Context, slot Slot) (*x509.Certificate, error) {
	b, err := c.GetData(ctx, slot.Object)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", slot, err)
	}
	cert, err := DecodeCertificate(b)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", slot, err)
	}
	return cert, nil
}

// SetCertificate stores cert in slot's object; management-key authentication
// is required first.
func (c *Client) SetCertificate(ctx context.Context, slot Slot, cert *x509.Certificate) error {
	if err := c.PutData(ctx, slot.Object, EncodeCertificate(cert.Raw)); err != nil {
		return fmt.Errorf("set certificate %s: %w", slot, err)
	}
	return nil
}
