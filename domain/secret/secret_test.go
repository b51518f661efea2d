package secret

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cheap keeps the tests fast; production uses DefaultArgon2.
var cheap = Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestNormaliseAnswer(t *testing.T) {
	tests := map[string]string{
		"  Fluffy  ":            "fluffy",
		"New   York\tCity":      "new york city",
		"STRASSE":               "strasse",
		"Straße":                "strasse",
		"ｆｕｌｌｗｉｄｔｈ":             "fullwidth",
		"caf\u0065\u0301":       "café",
		"\u00a0non-break\u00a0": "non-break",
	}
	for in, want := range tests {
		if got := NormaliseAnswer(in); got != want {
			t.Errorf("NormaliseAnswer(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHashAnswer(t *testing.T) {
	h, err := HashAnswer(cheap, "Smith", nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(h), "smith") || !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("unexpected hash %q", h)
	}
	for answer, want := range map[string]bool{"smith": true, " SMITH ": true, "Smyth": false, "": false} {
		ok, err := VerifyAnswer(cheap, h, answer)
		if err != nil || ok != want {
			t.Errorf("VerifyAnswer(%q) = %v, %v; want %v", answer, ok, err, want)
		}
	}
	h2, _ := HashAnswer(cheap, "Smith", nil)
	if h == h2 {
		t.Fatal("two hashes of one answer must differ (salt)")
	}
	if _, err := HashAnswer(cheap, "   ", nil); err == nil {
		t.Fatal("blank answer accepted")
	}
}

func TestVerifyAnswerRejectsTampering(t *testing.T) {
	for _, bad := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5",
	} {
		if _, err := VerifyAnswer(cheap, bad, "x"); !errors.Is(err, ErrMalformedHash) {
			t.Errorf("VerifyAnswer(%q) err = %v", bad, err)
		}
	}
}

func TestKEKFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "kek")
	if err := WriteNewKEK(path, nil); err != nil {
		t.Fatal(err)
	}
	if err := WriteNewKEK(path, nil); err == nil {
		t.Fatal("WriteNewKEK overwrote an existing key")
	}
	k, err := LoadKEK(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Fingerprint()) != 16 {
		t.Fatalf("fingerprint %q", k.Fingerprint())
	}

	if _, err := LoadKEK(filepath.Join(dir, "missing")); !errors.Is(err, ErrKEKFile) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := LoadKEK(""); !errors.Is(err, ErrKEKFile) {
		t.Fatalf("empty path: %v", err)
	}
	loose := filepath.Join(dir, "loose")
	os.WriteFile(loose, bytes.Repeat([]byte("ab"), 32), 0o644)
	if _, err := LoadKEK(loose); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable file: %v", err)
	}
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("abcd\n"), 0o600)
	if _, err := LoadKEK(short); err == nil || !strings.Contains(err.Error(), "64 hex digits") {
		t.Fatalf("short file: %v", err)
	}
}

func TestSealOpen(t *testing.T) {
	k1, _ := NewKeys(bytes.Repeat([]byte{1}, 32))
	k2, _ := NewKeys(bytes.Repeat([]byte{2}, 32))
	aad := []byte("4082A001132F2817/puk")
	sealed, err := k1.Seal([]byte("12345678"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("12345678")) {
		t.Fatal("plaintext visible in sealed blob")
	}
	pt, err := k1.Open(sealed, aad)
	if err != nil || string(pt) != "12345678" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	if _, err := k2.Open(sealed, aad); !errors.Is(err, ErrOpenSeal) {
		t.Fatalf("other KEK opened it: %v", err)
	}
	if _, err := k1.Open(sealed, []byte("0000000000000000/puk")); !errors.Is(err, ErrOpenSeal) {
		t.Fatalf("moved to another card: %v", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := k1.Open(sealed, aad); !errors.Is(err, ErrOpenSeal) {
		t.Fatalf("tampered blob opened: %v", err)
	}
	if _, err := k1.Open([]byte{1, 2}, aad); !errors.Is(err, ErrOpenSeal) {
		t.Fatalf("short blob: %v", err)
	}
	if _, err := NewKeys([]byte("short")); err == nil {
		t.Fatal("short KEK accepted")
	}
}

func TestCodeHash(t *testing.T) {
	k, _ := NewKeys(bytes.Repeat([]byte{7}, 32))
	h := k.CodeHash("unlock/555001799894", "171887")
	if !k.CodeMatches(h, "unlock/555001799894", "171887") {
		t.Fatal("code does not match its own hash")
	}
	if k.CodeMatches(h, "unlock/555001799894", "171888") || k.CodeMatches(h, "registration/555001799894", "171887") {
		t.Fatal("hash matched a different code or context")
	}
	k2, _ := NewKeys(bytes.Repeat([]byte{8}, 32))
	if k2.CodeMatches(h, "unlock/555001799894", "171887") {
		t.Fatal("hash matched under another KEK")
	}
}

func TestSealCard(t *testing.T) {
	k, _ := NewKeys(bytes.Repeat([]byte{3}, 32))
	puk, err := NewPUK(nil)
	if err != nil || len(puk) != 8 {
		t.Fatalf("NewPUK = %q, %v", puk, err)
	}
	for _, c := range puk {
		if c < '0' || c > '9' {
			t.Fatalf("PUK %q has a non-digit", puk)
		}
	}
	mk, _ := NewManagementKey(nil)
	cs, err := k.SealCard("4082A001132F2817", puk, "AES256", mk, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	gotPUK, gotMK, err := k.OpenCard(cs)
	if err != nil || !bytes.Equal(gotPUK, puk) || !bytes.Equal(gotMK, mk) {
		t.Fatalf("OpenCard = %q, %x, %v", gotPUK, gotMK, err)
	}
	moved := cs
	moved.Serial = "4082A00100000011"
	if _, _, err := k.OpenCard(moved); !errors.Is(err, ErrOpenSeal) {
		t.Fatalf("secrets moved to another card opened: %v", err)
	}
	other, _ := NewKeys(bytes.Repeat([]byte{4}, 32))
	if _, _, err := other.OpenCard(cs); !errors.Is(err, ErrOpenSeal) || !strings.Contains(err.Error(), cs.KEKFingerprint) {
		t.Fatalf("other KEK: %v", err)
	}
}

// TestVerifyAnswerRefusesDowngrade: a hash below the configured minimum,
// as a database writer could plant, is refused, never checked.
func TestVerifyAnswerRefusesDowngrade(t *testing.T) {
	strong := Argon2Params{Memory: 128, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
	ok, err := func() (bool, error) {
		h, err := HashAnswer(strong, "Smith", nil)
		if err != nil {
			t.Fatal(err)
		}
		return VerifyAnswer(strong, h, "smith")
	}()
	if !ok || err != nil {
		t.Fatalf("a hash at the minimum: %v, %v", ok, err)
	}
	for name, weak := range map[string]Argon2Params{
		"less memory": {Memory: 64, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32},
		"one pass":    {Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		"short salt":  {Memory: 128, Time: 2, Threads: 1, SaltLen: 8, KeyLen: 32},
		"short key":   {Memory: 128, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 16},
	} {
		h, err := HashAnswer(weak, "Smith", nil)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := VerifyAnswer(strong, h, "smith"); ok || !errors.Is(err, ErrWeakHash) {
			t.Errorf("%s: %v, %v; want ErrWeakHash", name, ok, err)
		}
	}
}
