//go:build ignore

// genphotos draws the demo personas' 64×64 portrait placeholders. Run it from
// this folder with `go run genphotos.go`; the PNGs are committed.
package main

import (
	"encoding/json"
	"hash/fnv"
	"image"
	"image/color"
	"image/png"
	"log"
	"os"
	"path/filepath"
)

type persona struct {
	Given, Photo string
}

var (
	skins  = []color.RGBA{{241, 194, 125, 255}, {224, 172, 105, 255}, {198, 134, 66, 255}, {141, 85, 36, 255}, {255, 219, 172, 255}}
	hairs  = []color.RGBA{{40, 30, 20, 255}, {90, 56, 37, 255}, {180, 140, 60, 255}, {20, 20, 20, 255}, {120, 120, 120, 255}}
	shirts = []color.RGBA{{0, 94, 184, 255}, {0, 114, 84, 255}, {125, 85, 199, 255}, {218, 41, 28, 255}, {0, 48, 135, 255}}
	backs  = []color.RGBA{{232, 237, 238, 255}, {216, 221, 224, 255}, {240, 228, 210, 255}, {222, 235, 247, 255}}
)

func main() {
	raw, err := os.ReadFile("personas.json")
	if err != nil {
		log.Fatal(err)
	}
	var doc struct{ Personas []persona }
	if err := json.Unmarshal(raw, &doc); err != nil {
		log.Fatal(err)
	}
	for _, p := range doc.Personas {
		h := fnv.New32a()
		h.Write([]byte(p.Given))
		n := int(h.Sum32())
		img := draw(skins[n%len(skins)], hairs[(n/7)%len(hairs)], shirts[(n/13)%len(shirts)], backs[(n/17)%len(backs)], n%2 == 0)
		f, err := os.Create(filepath.Join("photos", p.Photo))
		if err != nil {
			log.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			log.Fatal(err)
		}
		f.Close()
	}
}

func draw(skin, hair, shirt, back color.RGBA, longHair bool) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	in := func(x, y, cx, cy, rx, ry int) bool {
		dx, dy := float64(x-cx)/float64(rx), float64(y-cy)/float64(ry)
		return dx*dx+dy*dy <= 1
	}
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			c := back
			switch {
			case in(x, y, 32, 68, 26, 20):
				c = shirt
			case longHair && in(x, y, 32, 30, 17, 22) && y > 22:
				c = hair
			}
			if in(x, y, 32, 27, 13, 16) {
				c = skin
				if y < 17 || (y < 22 && !in(x, y, 32, 30, 12, 14)) {
					c = hair
				}
				if (x == 27 || x == 37) && (y == 27 || y == 28) {
					c = color.RGBA{30, 30, 30, 255}
				}
				if y == 35 && x >= 29 && x <= 35 {
					c = color.RGBA{150, 60, 60, 255}
				}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}
