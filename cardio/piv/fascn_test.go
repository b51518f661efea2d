package piv

import (
	"encoding/hex"
	"errors"
	"testing"
)

func TestEncodeFASCN(t *testing.T) {
	got, err := EncodeFASCN(NonFederalFASCN)
	if err != nil {
		t.Fatal(err)
	}
	// The FASC-N in yubico-piv-tool's default CHUID template.
	const want = "d4e739da739ced39ce739d836858210842108421c84210c3eb"
	if hex.EncodeToString(got) != want {
		t.Fatalf("got %x\nwant %s", got, want)
	}
	bad := NonFederalFASCN
	bad.Agency = "99A9"
	if _, err := EncodeFASCN(bad); !errors.Is(err, ErrInvalidFASCN) {
		t.Errorf("non-digit: err = %v", err)
	}
	bad = NonFederalFASCN
	bad.PI = "123"
	if _, err := EncodeFASCN(bad); !errors.Is(err, ErrInvalidFASCN) {
		t.Errorf("short field: err = %v", err)
	}
}
