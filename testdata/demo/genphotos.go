//go:build ignore

// genphotos draws the demo personas' portraits: friendly illustrated
// faces, 96×128 pixels, built from simple shapes so that no photograph of
// anyone is needed. Each persona named in personas.json gets its own look
// (skin, hair, clothes, glasses, background) from the table below; a
// persona missing from the table still gets a portrait, its look picked
// from its user ID. The output is deterministic and the PNGs are
// committed: run `go generate` at the repository root (see assets.go), or
// `go run genphotos.go` in this folder, after changing the table.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
	"path/filepath"
)

const (
	width   = 96
	height  = 128
	samples = 4 // per side: 16 samples a pixel smooth every edge
)

type look struct {
	skin, hair, eyes, top, back rgb
	hairStyle                   string // short, crop, long, bob, afro, bun, ponytail, bald, hijab
	face                        string // "", beard, moustache, goatee
	glasses                     string // "", round, square
	neck                        string // crew, vneck, collar, tie, coat, cardigan
	earrings                    bool
}

type rgb struct{ r, g, b float64 }

func hex(s string) rgb {
	var r, g, b uint8
	if _, err := fmt.Sscanf(s, "#%02x%02x%02x", &r, &g, &b); err != nil {
		panic(err)
	}
	return rgb{float64(r), float64(g), float64(b)}
}

// Skin tones from light to deep; hair and eye colours.
var (
	skinPale   = hex("#F6D7C3")
	skinFair   = hex("#EEC1A2")
	skinLight  = hex("#E0AC8A")
	skinMedium = hex("#C68863")
	skinTan    = hex("#A86B45")
	skinBrown  = hex("#8A5233")
	skinDeep   = hex("#5E3521")

	hairBlack  = hex("#1C1714")
	hairDark   = hex("#3B2618")
	hairBrown  = hex("#6B4226")
	hairAuburn = hex("#A2462A")
	hairBlond  = hex("#D9B26A")
	hairGrey   = hex("#B9B6B1")
	hairSilver = hex("#DCDCDC")

	eyeBrown = hex("#4A2C17")
	eyeBlue  = hex("#3C6E9E")
	eyeGreen = hex("#4F7A4A")
)

// looks is keyed by user ID (personas.json).
var looks = map[string]look{
	// Dr Amara Okafor: deep skin, big curly hair, white coat, gold earrings.
	"555000000011": {skin: skinDeep, hair: hairBlack, eyes: eyeBrown, top: hex("#2A9D8F"), back: hex("#F4E3C1"),
		hairStyle: "afro", neck: "coat", earrings: true},
	// Mr Test Person: light skin, short brown hair, square glasses, blue shirt and tie.
	"555001799894": {skin: skinLight, hair: hairBrown, eyes: eyeBlue, top: hex("#3D7CC9"), back: hex("#DCE9F5"),
		hairStyle: "short", glasses: "square", neck: "tie"},
	// Ms Grace Hughes: pale skin, long auburn hair, green top.
	"555000000037": {skin: skinPale, hair: hairAuburn, eyes: eyeGreen, top: hex("#2E8B57"), back: hex("#EFE6F4"),
		hairStyle: "long", neck: "crew"},
	// Mr Owen Price: fair skin, blond crop, full beard, navy jumper.
	"555000000045": {skin: skinFair, hair: hairBlond, eyes: eyeBlue, top: hex("#1F3A68"), back: hex("#E6EFE3"),
		hairStyle: "crop", face: "beard", neck: "crew"},
	// Mrs Fatima Khan: tan skin, plum hijab, round glasses, teal top.
	"555000000053": {skin: skinTan, hair: hex("#6A2C5A"), eyes: eyeBrown, top: hex("#24777A"), back: hex("#F6EBDD"),
		hairStyle: "hijab", glasses: "round", neck: "crew"},
	// Mr Daniel Reid: deep brown skin, close crop, goatee, grey suit.
	"555000000061": {skin: skinBrown, hair: hairBlack, eyes: eyeBrown, top: hex("#5B6670"), back: hex("#E3E8EE"),
		hairStyle: "crop", face: "goatee", neck: "tie"},
	// Ms Chloe Evans: fair skin, blond ponytail, round glasses, pink top.
	"555000000079": {skin: skinFair, hair: hairBlond, eyes: eyeGreen, top: hex("#D65A8C"), back: hex("#E4F1F1"),
		hairStyle: "ponytail", glasses: "round", neck: "vneck"},
	// Mrs Helen Carter (Sponsor): light skin, silver bob, square glasses, NHS blue cardigan.
	"555000000087": {skin: skinLight, hair: hairSilver, eyes: eyeBlue, top: hex("#005EB8"), back: hex("#F3E9DA"),
		hairStyle: "bob", glasses: "square", neck: "cardigan", earrings: true},
	// Mr Raj Mehta (LSA): medium skin, black side-parted hair, moustache, white shirt.
	"555000000095": {skin: skinMedium, hair: hairBlack, eyes: eyeBrown, top: hex("#F2F2F2"), back: hex("#DDE3F0"),
		hairStyle: "short", face: "moustache", neck: "collar"},
	// Ms Nia Roberts (RAA ID Checker): brown skin, dark hair in a bun, plum top.
	"555000000109": {skin: skinBrown, hair: hairDark, eyes: eyeBrown, top: hex("#7B2D5B"), back: hex("#E9F0E0"),
		hairStyle: "bun", neck: "vneck", earrings: true},
	// Dr Peter Walsh: pale skin, bald with grey sides, grey beard, square glasses, white coat.
	"555000000117": {skin: skinPale, hair: hairGrey, eyes: eyeBlue, top: hex("#8FB8DE"), back: hex("#E8E4F0"),
		hairStyle: "bald", face: "beard", glasses: "square", neck: "coat"},
}

// fallback picks a look from the user ID, for a persona not in the table.
func fallback(id string) look {
	h := fnv.New64a()
	h.Write([]byte(id))
	n := h.Sum64()
	pick := func(k uint64) uint64 { v := n % k; n /= k; return v }
	skins := []rgb{skinPale, skinFair, skinLight, skinMedium, skinTan, skinBrown, skinDeep}
	hairs := []rgb{hairBlack, hairDark, hairBrown, hairAuburn, hairBlond, hairGrey}
	eyes := []rgb{eyeBrown, eyeBlue, eyeGreen}
	tops := []rgb{hex("#005EB8"), hex("#007F3B"), hex("#7C2855"), hex("#ED8B00"), hex("#425563"), hex("#00A499")}
	backs := []rgb{hex("#E8EDEE"), hex("#F3E9DA"), hex("#E4F1F1"), hex("#EFE6F4")}
	styles := []string{"short", "crop", "long", "bob", "afro", "bun", "ponytail"}
	faces := []string{"", "", "beard", "moustache"}
	glasses := []string{"", "", "round", "square"}
	necks := []string{"crew", "vneck", "collar", "tie", "coat", "cardigan"}
	return look{
		skin: skins[pick(uint64(len(skins)))], hair: hairs[pick(uint64(len(hairs)))],
		eyes: eyes[pick(uint64(len(eyes)))], top: tops[pick(uint64(len(tops)))],
		back: backs[pick(uint64(len(backs)))], hairStyle: styles[pick(uint64(len(styles)))],
		face: faces[pick(uint64(len(faces)))], glasses: glasses[pick(uint64(len(glasses)))],
		neck: necks[pick(uint64(len(necks)))],
	}
}

func main() {
	dir := flag.String("dir", ".", "the demo data folder (personas.json and photos/)")
	flag.Parse()
	raw, err := os.ReadFile(filepath.Join(*dir, "personas.json"))
	if err != nil {
		log.Fatal(err)
	}
	var doc struct {
		Personas []struct {
			ID    string `json:"id"`
			Photo string `json:"photo"`
		} `json:"personas"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		log.Fatal(err)
	}
	for _, p := range doc.Personas {
		if p.Photo == "" {
			continue
		}
		lk, ok := looks[p.ID]
		if !ok {
			log.Printf("persona %s has no look in genphotos.go: picking one from its ID", p.ID)
			lk = fallback(p.ID)
		}
		f, err := os.Create(filepath.Join(*dir, "photos", filepath.Base(p.Photo)))
		if err != nil {
			log.Fatal(err)
		}
		enc := png.Encoder{CompressionLevel: png.BestCompression}
		if err := enc.Encode(f, render(lk)); err != nil {
			log.Fatal(err)
		}
		if err := f.Close(); err != nil {
			log.Fatal(err)
		}
	}
}

// render draws a look, averaging samples×samples points a pixel.
func render(lk look) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, width, height))
	for y := range height {
		for x := range width {
			var sum rgb
			for sy := range samples {
				for sx := range samples {
					c := paint(lk, float64(x)+(float64(sx)+0.5)/samples, float64(y)+(float64(sy)+0.5)/samples)
					sum = rgb{sum.r + c.r, sum.g + c.g, sum.b + c.b}
				}
			}
			n := float64(samples * samples)
			img.SetNRGBA(x, y, color.NRGBA{byteOf(sum.r / n), byteOf(sum.g / n), byteOf(sum.b / n), 255})
		}
	}
	return img
}

func byteOf(v float64) uint8 { return uint8(math.Round(math.Max(0, math.Min(255, v)))) }

func shade(c rgb, f float64) rgb { return rgb{c.r * f, c.g * f, c.b * f} }

func mix(a, b rgb, t float64) rgb {
	return rgb{a.r + (b.r-a.r)*t, a.g + (b.g-a.g)*t, a.b + (b.b-a.b)*t}
}

// ellipse is <= 1 inside the ellipse centred on (cx, cy).
func ellipse(x, y, cx, cy, rx, ry float64) float64 {
	dx, dy := (x-cx)/rx, (y-cy)/ry
	return dx*dx + dy*dy
}

// segment is the distance from (x, y) to the segment a–b.
func segment(x, y, ax, ay, bx, by float64) float64 {
	vx, vy := bx-ax, by-ay
	t := math.Max(0, math.Min(1, ((x-ax)*vx+(y-ay)*vy)/(vx*vx+vy*vy)))
	dx, dy := x-(ax+t*vx), y-(ay+t*vy)
	return math.Hypot(dx, dy)
}

// Face geometry, in pixels.
const (
	cx     = 48.0 // centre line
	headY  = 58.0
	headRX = 21.0
	headRY = 27.0
	eyeY   = 58.0
	eyeDX  = 9.0
	mouthY = 73.0
)

// paint is the colour of the point (x, y), shapes laid back to front.
func paint(lk look, x, y float64) rgb {
	// Background: a soft studio gradient, lighter towards the top.
	c := mix(shade(lk.back, 1.04), shade(lk.back, 0.9), y/height)
	hair := lk.hair
	hairLo := shade(hair, 0.8)

	// Hair behind the head and shoulders.
	switch lk.hairStyle {
	case "afro":
		if ellipse(x, y, cx, headY-10, 35, 33) <= 1 {
			c = mix(hair, hairLo, (y-20)/70)
		}
	case "long":
		if ellipse(x, y, cx, headY-6, headRX+7, headRY+6) <= 1 || (math.Abs(x-cx) <= headRX+7 && y >= headY-6 && y <= 104) {
			c = mix(hair, hairLo, (y-30)/80)
		}
	case "bob":
		if ellipse(x, y, cx, headY-4, headRX+7, headRY+4) <= 1 && y <= 80 {
			c = hair
		}
	case "bun":
		if ellipse(x, y, cx, 24, 11, 9) <= 1 {
			c = shade(hair, 0.9)
		}
	case "ponytail":
		if ellipse(x, y, cx+22, headY+2, 7, 20) <= 1 {
			c = shade(hair, 0.9)
		}
	case "hijab":
		if ellipse(x, y, cx, headY-2, headRX+8, headRY+9) <= 1 {
			c = hair
		}
	}

	// Shoulders and clothes.
	top := lk.top
	if ellipse(x, y, cx, 136, 47, 40) <= 1 {
		c = mix(top, shade(top, 0.8), math.Abs(x-cx)/47)
	}
	// Neck, with a shadow under the chin.
	if math.Abs(x-cx) <= 8.5 && y >= headY+16 && y <= 104 {
		c = shade(lk.skin, 0.86)
	}
	// Necklines, over the neck and shirt.
	dx := math.Abs(x - cx)
	switch lk.neck {
	case "crew":
		// A round neckline: the top covers the neck below a U, with a
		// darker band of ribbing along it.
		if y >= 96 && ellipse(x, y, cx, 95, 10.5, 6) > 1 && ellipse(x, y, cx, 136, 47, 40) <= 1 {
			c = top
			if ellipse(x, y, cx, 95, 13.5, 8.5) <= 1 {
				c = shade(top, 0.75)
			}
		}
	case "vneck":
		if y >= 96 && dx <= 10-(y-96)*0.55 && dx <= 10 {
			c = shade(lk.skin, 0.86)
		} else if y >= 96 && y <= 116 && dx <= 12-(y-96)*0.55 && dx > 10-(y-96)*0.55 {
			c = shade(top, 0.75)
		}
	case "collar", "tie":
		// White shirt collar points either side of the neck.
		if y >= 95 && y <= 106 && dx <= 14 && dx >= (y-95)*0.9 {
			c = hex("#FAFAFA")
		}
		if lk.neck == "tie" {
			if (y >= 99 && y <= 103 && dx <= 2.8) || (y > 103 && y <= 128 && dx <= 2+(y-103)*0.12) {
				c = hex("#8E1B2E")
			}
		}
	case "coat":
		// White coat over a coloured top: lapels open in a V.
		if ellipse(x, y, cx, 136, 47, 40) <= 1 && dx >= 4+(y-96)*0.55 {
			c = mix(hex("#FBFBFB"), hex("#D9DDE0"), dx/47)
		}
		if dx < 4+(y-96)*0.55 && dx >= 3+(y-96)*0.45 && y >= 96 {
			c = shade(top, 0.8)
		}
	case "cardigan":
		if y >= 97 && dx >= 7+(y-97)*0.5 && dx <= 9+(y-97)*0.5 {
			c = shade(top, 0.7)
		}
		if y >= 97 && dx < 7+(y-97)*0.5 {
			c = hex("#F4F1EA")
		}
	}

	// Hijab drape over the shoulders, framing the face.
	if lk.hairStyle == "hijab" {
		if ellipse(x, y, cx, 92, 25, 20) <= 1 && y >= 78 {
			c = shade(hair, 0.92)
		}
	}

	// Ears.
	if lk.hairStyle != "hijab" {
		for _, s := range []float64{-1, 1} {
			if ellipse(x, y, cx+s*headRX, eyeY+3, 4.2, 7) <= 1 {
				c = shade(lk.skin, 0.9)
				if lk.earrings && ellipse(x, y, cx+s*headRX, eyeY+11, 2, 2) <= 1 {
					c = hex("#E2B33C")
				}
			}
			if lk.earrings && ellipse(x, y, cx+s*headRX, eyeY+11, 2, 2) <= 1 {
				c = hex("#E2B33C")
			}
		}
	}

	// The face: a slightly darker rim gives it some roundness.
	faceRY := headRY
	if lk.hairStyle == "hijab" {
		faceRY = headRY - 1
	}
	if d := ellipse(x, y, cx, headY, headRX, faceRY); d <= 1 {
		c = mix(lk.skin, shade(lk.skin, 0.85), math.Max(0, d-0.55)/0.45)
		// Cheeks.
		// Cheeks: a blush on lighter skin, barely any on darker skin.
		lum := (0.3*lk.skin.r + 0.59*lk.skin.g + 0.11*lk.skin.b) / 255
		for _, s := range []float64{-1, 1} {
			if e := ellipse(x, y, cx+s*12, 68, 5, 3.5); e <= 1 {
				c = mix(c, hex("#E07A6F"), math.Max(0, lum-0.45)*0.6*(1-e))
			}
		}
	}

	// Hair on top of the head (the fringe/cap), by style.
	inCap := func(depth float64) bool {
		// The hair cap covers the head above a hairline that dips at the
		// temples; depth moves the hairline down.
		if ellipse(x, y, cx, headY-2, headRX+2.5, headRY+3) > 1 {
			return false
		}
		hairline := headY - 17 + depth + math.Pow(math.Abs(x-cx)/headRX, 4)*14
		return y <= hairline
	}
	switch lk.hairStyle {
	case "short":
		// Side parting: a little higher on the left.
		if inCap(1 + (x-cx)*0.06) {
			c = mix(hair, hairLo, math.Max(0, (x-cx)/headRX))
			if math.Abs(x-(cx-8)) < 0.7 && y < headY-22 {
				c = hairLo
			}
		}
	case "crop":
		if inCap(-3) {
			c = mix(hair, hairLo, 0.3)
		}
	case "long", "bob", "ponytail", "bun":
		// Centre parting, hair sweeping down both sides of the forehead.
		if inCap(2 + math.Abs(x-cx)*0.15) {
			c = hair
			if math.Abs(x-cx) < 0.8 && y < headY-19 {
				c = hairLo
			}
		}
	case "afro":
		if inCap(-1) {
			c = hair
		}
	case "bald":
		// Grey at the sides only, above the ears.
		if ellipse(x, y, cx, headY-2, headRX+2, headRY+3) <= 1 && dx >= headRX-4 && y >= headY-16 && y <= headY+4 {
			c = hair
		}
		// A shine on the crown.
		if e := ellipse(x, y, cx-6, headY-20, 6, 3); e <= 1 {
			c = mix(c, rgb{255, 255, 255}, 0.25*(1-e))
		}
	case "hijab":
		// The hijab's edge around the face.
		if d := ellipse(x, y, cx, headY, headRX, faceRY); d <= 1 && (y <= headY-16+math.Pow(dx/headRX, 2)*10 || d > 0.86) {
			c = shade(hair, 1.1)
		}
	}

	// Eyes: white, iris, pupil and a glint.
	for _, s := range []float64{-1, 1} {
		ex := cx + s*eyeDX
		if ellipse(x, y, ex, eyeY, 4.2, 2.8) <= 1 {
			c = hex("#FCFCFA")
			if ellipse(x, y, ex, eyeY, 2.4, 2.4) <= 1 {
				c = lk.eyes
			}
			if ellipse(x, y, ex, eyeY, 1.1, 1.1) <= 1 {
				c = hex("#111111")
			}
			if ellipse(x, y, ex+0.9, eyeY-0.9, 0.6, 0.6) <= 1 {
				c = rgb{255, 255, 255}
			}
		}
		// Eyebrows: a short thick stroke, darker than skin.
		brow := shade(hair, 0.85)
		if lk.hairStyle == "hijab" || lk.hairStyle == "bald" || lk.hair == hairSilver || lk.hair == hairBlond {
			brow = mix(hairDark, hair, 0.4)
		}
		if segment(x, y, ex-4.5, eyeY-5.5+0.6*s*s, ex+4.5, eyeY-6.5) <= 1.1 {
			c = brow
		}
	}

	// Nose: a soft shadow on one side and a tip.
	if segment(x, y, cx+1.5, eyeY+2, cx+2.5, eyeY+9) <= 0.8 {
		c = mix(c, shade(lk.skin, 0.7), 0.5)
	}
	if e := ellipse(x, y, cx, eyeY+10, 3.5, 1.6); e <= 1 && y >= eyeY+10 {
		c = mix(c, shade(lk.skin, 0.72), 0.6)
	}

	// Facial hair.
	switch lk.face {
	case "beard":
		if d := ellipse(x, y, cx, headY, headRX+0.5, headRY+1); d <= 1 && y >= headY+7 && !(ellipse(x, y, cx, mouthY, 6.5, 3.2) <= 1) {
			c = mix(hair, shade(hair, 0.85), (y-headY)/30)
		}
	case "moustache":
		if ellipse(x, y, cx, mouthY-3.2, 7, 2.2) <= 1 && y >= mouthY-4.5 {
			c = hair
		}
	case "goatee":
		if ellipse(x, y, cx, mouthY-3.2, 6.5, 1.8) <= 1 || (ellipse(x, y, cx, headY+headRY-3, 6, 5) <= 1 && y >= mouthY+3) {
			c = shade(hair, 1.4)
		}
	}

	// A friendly smile: an open mouth with a row of teeth.
	if ellipse(x, y, cx, mouthY-1, 6.5, 5) <= 1 && y >= mouthY {
		c = hex("#8C2F2F")
		if y <= mouthY+1.6 {
			c = hex("#FAFAF7")
		}
	}

	// Glasses: frames around the eyes, a bridge and the arms to the ears.
	frame := hex("#2B2B2B")
	if lk.glasses != "" && (lk.hair == hairSilver || lk.hair == hairGrey) {
		frame = hex("#7A2E3A") // burgundy frames
	}
	switch lk.glasses {
	case "round":
		for _, s := range []float64{-1, 1} {
			d := math.Sqrt(ellipse(x, y, cx+s*eyeDX, eyeY, 6.5, 6)) * 6.2
			if math.Abs(d-6.2) <= 0.85 {
				c = frame
			}
		}
	case "square":
		for _, s := range []float64{-1, 1} {
			ex := cx + s*eyeDX
			in := math.Abs(x-ex) <= 6.8 && y >= eyeY-5 && y <= eyeY+4.6
			inner := math.Abs(x-ex) <= 5.3 && y >= eyeY-3.6 && y <= eyeY+3.2
			if in && !inner {
				c = frame
			}
		}
	}
	if lk.glasses != "" {
		if y >= eyeY-2.2 && y <= eyeY-0.8 && dx <= 3 {
			c = frame // bridge
		}
		if y >= eyeY-2.4 && y <= eyeY-1 && dx >= eyeDX+6 && dx <= headRX+0.5 {
			c = frame // arms
		}
	}
	return c
}
