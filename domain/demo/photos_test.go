package demo_test

import (
	"bytes"
	"crypto/sha256"
	"image"
	"image/png"
	"testing"
	"testing/fstest"
	"time"

	kiosk "github.com/smartcard-service-centre/kiosk"
	"github.com/smartcard-service-centre/kiosk/domain"
	"github.com/smartcard-service-centre/kiosk/domain/demo"
	"github.com/smartcard-service-centre/kiosk/domain/secret"
)

// Every persona is seeded with its own portrait, one the operator terminal
// can draw: a PNG of the generator's size, different from everyone else's.
func TestEveryPersonaGetsAPhoto(t *testing.T) {
	personas, err := demo.Load(kiosk.DemoData())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secret.NewKeys(bytes.Repeat([]byte{7}, secret.KEKSize))
	if err != nil {
		t.Fatal(err)
	}
	store := openStore(t, keys)
	s := demo.Seeder{
		Store: store, Keys: keys, Clock: fixedClock{time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)},
		Argon2: secret.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 16},
	}
	if _, err := s.Seed(t.Context(), personas); err != nil {
		t.Fatal(err)
	}
	seen := map[[32]byte]string{}
	for _, p := range personas {
		if p.Photo == "" {
			t.Errorf("persona %s %s names no photo", p.ID, p.Given)
			continue
		}
		u, err := store.GetUser(t.Context(), domain.UserID(p.ID))
		if err != nil {
			t.Fatal(err)
		}
		img, format, err := image.Decode(bytes.NewReader(u.Photo))
		if err != nil {
			t.Errorf("persona %s: stored photo does not decode: %v", p.ID, err)
			continue
		}
		if b := img.Bounds(); format != "png" || b.Dx() != 96 || b.Dy() != 128 {
			t.Errorf("persona %s: stored photo is a %d×%d %s, want a 96×128 png", p.ID, b.Dx(), b.Dy(), format)
		}
		sum := sha256.Sum256(u.Photo)
		if other, dup := seen[sum]; dup {
			t.Errorf("personas %s and %s have the same photo", other, p.ID)
		}
		seen[sum] = p.ID
	}
}

// A photo that is not a PNG stops loading with the persona named.
func TestLoadRefusesABadPhoto(t *testing.T) {
	var good bytes.Buffer
	if err := png.Encode(&good, image.NewGray(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	doc := `{"personas": [{"id": "555000000011", "given": "Amara", "photo": "a.png",
		"card": {"serial": "4082A00100000011", "type": "PIV"}}]}`
	for name, photo := range map[string][]byte{
		"not a png": []byte("GIF89a..."),
		"truncated": good.Bytes()[:12],
	} {
		t.Run(name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"personas.json": {Data: []byte(doc)},
				"photos/a.png":  {Data: photo},
			}
			if _, err := demo.Load(fsys); err == nil {
				t.Fatal("loaded a persona whose photo is not a PNG")
			}
		})
	}
	fsys := fstest.MapFS{"personas.json": {Data: []byte(doc)}, "photos/a.png": {Data: good.Bytes()}}
	if _, err := demo.Load(fsys); err != nil {
		t.Fatalf("a good photo: %v", err)
	}
}
