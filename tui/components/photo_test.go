package components

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
)

// portrait is a demo persona's portrait (96×128), kept here so that
// redrawing the demo photos does not change these goldens.
func portrait(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/portrait.png")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func solid(w, h int, c color.Color) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	return img
}

// pngWithHeader is a valid 1×1 PNG whose header claims w×h: what a
// decompression bomb looks like before its pixels are read.
func pngWithHeader(t testing.TB, w, h uint32) []byte {
	t.Helper()
	b := encodePNG(t, solid(1, 1, color.White))
	ihdr := b[8+8 : 8+8+13] // after the signature, length and "IHDR"
	binary.BigEndian.PutUint32(ihdr[0:4], w)
	binary.BigEndian.PutUint32(ihdr[4:8], h)
	binary.BigEndian.PutUint32(b[8+8+13:], crc32.ChecksumIEEE(b[8+4:8+8+13]))
	return b
}

// Golden photos for each colour mode at three sizes; run with -update to
// rewrite them.
func TestPhotoGolden(t *testing.T) {
	img := portrait(t)
	sizes := []struct{ w, h int }{{14, 10}, {PhotoWidth, PhotoHeight}, {40, 12}}
	for _, mode := range []PhotoMode{PhotoTrueColor, Photo256, PhotoPlain} {
		for _, sz := range sizes {
			t.Run(fmt.Sprintf("%s_%dx%d", mode, sz.w, sz.h), func(t *testing.T) {
				golden.RequireEqual(t, RenderPhoto(img, PhotoOptions{Width: sz.w, Height: sz.h, Mode: mode})+"\n")
			})
		}
	}
	t.Run("plain_light_28x19", func(t *testing.T) {
		golden.RequireEqual(t, RenderPhoto(img, PhotoOptions{Mode: PhotoPlain, LightBackground: true})+"\n")
	})
	t.Run("missing_28x19", func(t *testing.T) {
		golden.RequireEqual(t, RenderPhoto(nil, PhotoOptions{Mode: PhotoTrueColor})+"\n")
	})
	t.Run("damaged_28x19", func(t *testing.T) {
		golden.RequireEqual(t, RenderPhoto(img[:len(img)/2], PhotoOptions{Mode: PhotoTrueColor})+"\n")
	})
}

// sgrOnly matches the only escape sequences a photo may contain: colour
// settings and the reset.
var sgrOnly = regexp.MustCompile(`^\x1b\[(?:(?:38|48);2;\d{1,3};\d{1,3};\d{1,3}|(?:38|48);5;\d{1,3}|49|;)*m$`)

var letter = regexp.MustCompile(`^[A-Za-z]$`)

// checkDrawing fails unless out fits a bw×bh box and holds nothing but
// the photo's glyphs, the frame, the placeholder's words and SGR colours.
func checkDrawing(t *testing.T, out string, bw, bh int) {
	t.Helper()
	lines := strings.Split(out, "\n")
	if len(lines) > bh {
		t.Fatalf("%d lines in a %d×%d box:\n%s", len(lines), bw, bh, out)
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w > bw {
			t.Fatalf("line %d is %d cells wide in a %d×%d box:\n%s", i, w, bw, bh, out)
		}
		p := ansi.NewParser()
		state := byte(0)
		for len(l) > 0 {
			seq, _, n, newState := ansi.DecodeSequence(l, state, p)
			state = newState
			switch {
			case seq[0] == '\x1b':
				if !sgrOnly.MatchString(seq) {
					t.Fatalf("line %d: escape sequence %q is not a colour", i, seq)
				}
			case strings.ContainsAny(seq, " ░▒▓█▀▄╭╮╰╯─│()") || letter.MatchString(seq):
			default:
				t.Fatalf("line %d: unexpected %q", i, seq)
			}
			l = l[n:]
		}
	}
}

// No photo, whatever it is and whatever the box, draws outside its box.
func TestPhotoStaysInsideTheBox(t *testing.T) {
	photos := map[string][]byte{
		"portrait":  portrait(t),
		"landscape": encodePNG(t, solid(300, 100, color.NRGBA{200, 30, 30, 255})),
		"1x1":       encodePNG(t, solid(1, 1, color.Black)),
		"tall":      encodePNG(t, solid(1, 500, color.White)),
		"wide":      encodePNG(t, solid(500, 1, color.White)),
		"odd":       encodePNG(t, solid(7, 3, color.NRGBA{0, 94, 184, 255})),
		"missing":   nil,
		"damaged":   []byte("\x89PNG\r\n\x1a\nnot really"),
	}
	for name, data := range photos {
		p := NewPhoto(data)
		for _, mode := range []PhotoMode{PhotoTrueColor, Photo256, PhotoPlain} {
			t.Run(name+"/"+mode.String(), func(t *testing.T) {
				for bw := 1; bw <= 42; bw += 4 {
					for bh := 1; bh <= 26; bh += 3 {
						checkDrawing(t, p.View(PhotoOptions{Width: bw, Height: bh, Mode: mode}), bw, bh)
					}
				}
			})
		}
	}
	if got := NewPhoto(portrait(t)).View(PhotoOptions{Width: -1, Height: 5}); got != "" {
		t.Fatalf("a box of no width drew %q", got)
	}
}

// The photo fills the box along one side and keeps its shape.
func TestPhotoKeepsItsAspectRatio(t *testing.T) {
	cases := []struct {
		name   string
		w, h   int // the photo, pixels
		bw, bh int // the box, cells
		cols   int // want: columns
		rows   int // want: lines (two pixel rows each)
	}{
		{"portrait in the default box", 96, 128, PhotoWidth, PhotoHeight, 28, 19}, // 28×37 px
		{"portrait in a short box", 96, 128, 40, 12, 18, 12},                      // 18×24 px
		{"square", 100, 100, 20, 20, 20, 10},                                      // 20×20 px
		{"landscape", 300, 100, 30, 20, 30, 5},                                    // 30×10 px
		{"tiny photo enlarged", 3, 4, 30, 10, 15, 10},                             // 15×20 px
		{"tall strip", 1, 500, 10, 10, 1, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := encodePNG(t, solid(tc.w, tc.h, color.NRGBA{90, 120, 150, 255}))
			out := RenderPhoto(data, PhotoOptions{Width: tc.bw, Height: tc.bh, Mode: PhotoTrueColor})
			lines := strings.Split(out, "\n")
			if len(lines) != tc.rows || ansi.StringWidth(lines[0]) != tc.cols {
				t.Fatalf("drawn %d×%d cells, want %d×%d", ansi.StringWidth(lines[0]), len(lines), tc.cols, tc.rows)
			}
			dw, dh := fitPhoto(tc.w, tc.h, tc.bw, tc.bh)
			// Rounding to whole pixels is the only distortion allowed.
			want, got := float64(tc.w)/float64(tc.h), float64(dw)/float64(dh)
			if lo, hi := float64(dw-1)/float64(dh+1), float64(dw+1)/float64(max(1, dh-1)); want < lo || want > hi {
				t.Fatalf("drawn at %d×%d px (ratio %.3f), photo ratio %.3f", dw, dh, got, want)
			}
			if dw != tc.bw && dh < 2*tc.bh-1 {
				t.Fatalf("drawn at %d×%d px: fills neither side of the %d×%d px box", dw, dh, tc.bw, 2*tc.bh)
			}
		})
	}
}

// Downscaling averages every source pixel (in linear light), where
// nearest-neighbour would keep one of each pair: stripes become grey.
func TestPhotoBoxFilterAverages(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 8, 8))
	for y := range 8 {
		for x := range 8 {
			v := uint8(0)
			if x%2 == 1 {
				v = 255
			}
			img.Set(x, y, color.NRGBA{v, v, v, 255})
		}
	}
	p := NewPhoto(encodePNG(t, img))
	small := p.img.resize(4, 4)
	for y := range 4 {
		for x := range 4 {
			// Half black, half white in linear light is sRGB 188.
			if c := small.at(x, y); c != (rgb{188, 188, 188}) {
				t.Fatalf("pixel %d,%d = %v, want the average grey 188", x, y, c)
			}
		}
	}
	// A third of a pixel's area counts for a third.
	m := &linImage{w: 3, h: 1, pix: []float32{1, 1, 1, 0, 0, 0, 0, 0, 0}}
	if c := m.resize(2, 1).at(0, 0); c != (rgb{toSRGB(2.0 / 3), toSRGB(2.0 / 3), toSRGB(2.0 / 3)}) {
		t.Fatalf("3→2 pixels: first is %v", c)
	}
}

func TestPhotoTransparencyIsWhite(t *testing.T) {
	p := NewPhoto(encodePNG(t, solid(2, 2, color.NRGBA{0, 0, 0, 0})))
	if c := p.img.at(0, 0); c != (rgb{255, 255, 255}) {
		t.Fatalf("a transparent pixel draws as %v, want white", c)
	}
}

func TestPhotoDecodesJPEG(t *testing.T) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, solid(30, 40, color.NRGBA{0, 94, 184, 255}), &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	p := NewPhoto(buf.Bytes())
	if p.Err() != nil {
		t.Fatal(p.Err())
	}
	if w, h := p.Size(); w != 30 || h != 40 {
		t.Fatalf("size %d×%d", w, h)
	}
	out := p.View(PhotoOptions{Width: 3, Height: 2, Mode: Photo256})
	if !strings.Contains(out, "38;5;25") { // NHS blue
		t.Fatalf("a blue JPEG drew %q", out)
	}
}

// Missing, damaged, oversized and foreign images draw a framed
// placeholder and say why; none panics or decodes a bomb.
func TestPhotoRefusesBadImages(t *testing.T) {
	good := portrait(t)
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0xff
	cases := []struct {
		name string
		data []byte
		want error
		text string
	}{
		{"nil", nil, ErrNoPhoto, "No photo on record"},
		{"empty", []byte{}, ErrNoPhoto, "No photo on record"},
		{"truncated png", good[:len(good)/2], ErrPhotoUnreadable, "Photo cannot be shown"},
		{"corrupt png data", flipped, ErrPhotoUnreadable, "(image damaged)"},
		{"png signature only", []byte("\x89PNG\r\n\x1a\n"), ErrPhotoUnreadable, "Photo cannot be shown"},
		{"jpeg garbage", []byte{0xff, 0xd8, 0xff, 0xe0, 1, 2, 3}, ErrPhotoUnreadable, "Photo cannot be shown"},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), ErrPhotoUnreadable, "Photo cannot be shown"},
		{"text", []byte("\x1b]0;pwned\x07\x1b[2J"), ErrPhotoUnreadable, "Photo cannot be shown"},
		{"zero size", pngWithHeader(t, 0, 0), ErrPhotoUnreadable, "Photo cannot be shown"},
		{"just too wide", encodePNG(t, solid(MaxPhotoSide+1, 1, color.White)), ErrPhotoTooLarge, "(image too large)"},
		{"just too tall", encodePNG(t, solid(1, MaxPhotoSide+1, color.White)), ErrPhotoTooLarge, "(image too large)"},
		{"bomb header", pngWithHeader(t, 100000, 100000), ErrPhotoTooLarge, "(image too large)"},
		{"huge file", append(bytes.Clone(good), make([]byte, MaxPhotoBytes)...), ErrPhotoTooLarge, "(image too large)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			p := NewPhoto(tc.data)
			runtime.ReadMemStats(&after)
			if !errors.Is(p.Err(), tc.want) {
				t.Fatalf("Err() = %v, want %v", p.Err(), tc.want)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
				t.Fatalf("refusing it allocated %d bytes", grew)
			}
			out := p.View(PhotoOptions{Mode: PhotoTrueColor})
			checkDrawing(t, out, PhotoWidth, PhotoHeight)
			lines := strings.Split(out, "\n")
			if !strings.HasPrefix(lines[0], "╭") || !strings.HasPrefix(lines[len(lines)-1], "╰") || !strings.Contains(out, tc.text) {
				t.Fatalf("placeholder:\n%s", out)
			}
			if strings.Contains(out, "\x1b") || strings.Contains(out, "pwned") {
				t.Fatalf("the placeholder carries bytes from the file: %q", out)
			}
		})
	}
	var zero Photo
	if !errors.Is(zero.Err(), ErrNoPhoto) || !strings.Contains(zero.View(PhotoOptions{}), "No photo on record") {
		t.Fatal("the zero Photo is not \"no photo on record\"")
	}
}

// Bytes hidden in a photo's metadata never reach the terminal.
func TestPhotoNeverCopiesBytesFromTheFile(t *testing.T) {
	b := encodePNG(t, solid(4, 4, color.NRGBA{10, 200, 30, 255}))
	// A tEXt chunk before IEND carrying an escape sequence.
	payload := []byte("Comment\x00\x1b]0;pwned\x07")
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
	chunk = append(chunk, "tEXt"...)
	chunk = append(chunk, payload...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	iend := len(b) - 12
	evil := append(append(bytes.Clone(b[:iend]), chunk...), b[iend:]...)
	p := NewPhoto(evil)
	if p.Err() != nil {
		t.Fatal(p.Err())
	}
	for _, mode := range []PhotoMode{PhotoTrueColor, Photo256, PhotoPlain} {
		out := p.View(PhotoOptions{Mode: mode})
		if strings.Contains(out, "pwned") || strings.Contains(out, "\x1b]") {
			t.Fatalf("%s: metadata reached the output: %q", mode, out)
		}
		checkDrawing(t, out, PhotoWidth, PhotoHeight)
	}
}

// View keeps its last drawing; other options draw afresh.
func TestPhotoViewRemembersTheLastDrawing(t *testing.T) {
	p := NewPhoto(portrait(t))
	a := p.View(PhotoOptions{Mode: PhotoTrueColor})
	if b := p.View(PhotoOptions{Width: PhotoWidth, Height: PhotoHeight, Mode: PhotoTrueColor}); b != a {
		t.Fatal("the default box drew differently when spelt out")
	}
	if c := p.View(PhotoOptions{Mode: Photo256}); c == a || c != p.draw(PhotoOptions{Width: PhotoWidth, Height: PhotoHeight, Mode: Photo256}) {
		t.Fatal("a new mode did not redraw")
	}
}

func TestPhotoPlainHasNoColour(t *testing.T) {
	out := RenderPhoto(portrait(t), PhotoOptions{Mode: PhotoPlain})
	if strings.Contains(out, "\x1b") {
		t.Fatal("plain mode sent an escape sequence")
	}
	white := encodePNG(t, solid(2, 2, color.White))
	dark := RenderPhoto(white, PhotoOptions{Width: 2, Height: 1, Mode: PhotoPlain})
	light := RenderPhoto(white, PhotoOptions{Width: 2, Height: 1, Mode: PhotoPlain, LightBackground: true})
	if dark != "██" || light != "  " {
		t.Fatalf("white on a dark terminal %q, on a light one %q", dark, light)
	}
}

func TestPhotoModeFor(t *testing.T) {
	for p, want := range map[colorprofile.Profile]PhotoMode{
		colorprofile.TrueColor: PhotoTrueColor,
		colorprofile.ANSI256:   Photo256,
		colorprofile.ANSI:      PhotoPlain,
		colorprofile.ASCII:     PhotoPlain,
		colorprofile.NoTTY:     PhotoPlain,
		colorprofile.Unknown:   PhotoPlain,
	} {
		if got := PhotoModeFor(p); got != want {
			t.Errorf("%s: %s, want %s", p, got, want)
		}
	}
	if got := PhotoModeFor(colorprofile.Env([]string{"TERM=xterm-256color", "COLORTERM=truecolor", "NO_COLOR=1"})); got != PhotoPlain {
		t.Errorf("NO_COLOR: %s, want plain", got)
	}
}

func TestXterm256(t *testing.T) {
	for _, tc := range []struct {
		name    string
		r, g, b uint8
		want    uint8
	}{
		{"black", 0, 0, 0, 16},
		{"white", 255, 255, 255, 231},
		{"red", 255, 0, 0, 196},
		{"green", 0, 255, 0, 46},
		{"blue", 0, 0, 255, 21},
		{"orange", 255, 135, 0, 208},
		{"NHS blue #005EB8", 0x00, 0x5e, 0xb8, 25},
		{"mid grey #808080", 128, 128, 128, 244},
		{"darkest grey #080808", 8, 8, 8, 232},
		{"lightest grey #EEEEEE", 238, 238, 238, 255},
		{"near black #0A0A0A", 10, 10, 10, 232},
		{"near white #FAFAFA", 250, 250, 250, 231},
		{"skin #E0AC8A", 0xe0, 0xac, 0x8a, 180},
	} {
		if got := xterm256(tc.r, tc.g, tc.b); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	// Every colour of the cube and the grey ramp maps to itself.
	for i := 16; i < 256; i++ {
		c := xtermRGB(i)
		if got := xterm256(c.r, c.g, c.b); int(got) != i {
			t.Errorf("palette colour %d (%v) maps to %d", i, c, got)
		}
	}
}

// Drawing, without the memo that View keeps.
func BenchmarkPhotoDraw(b *testing.B) {
	p := NewPhoto(portrait(b))
	for _, mode := range []PhotoMode{PhotoTrueColor, Photo256, PhotoPlain} {
		b.Run(mode.String(), func(b *testing.B) {
			for b.Loop() {
				p.draw(PhotoOptions{Width: PhotoWidth, Height: PhotoHeight, Mode: mode})
			}
		})
	}
}

func BenchmarkNewPhoto(b *testing.B) {
	data := portrait(b)
	for b.Loop() {
		NewPhoto(data)
	}
}
