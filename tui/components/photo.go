package components

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
)

// The card holder's photo, drawn with Unicode upper half-blocks: each cell
// is one column by two pixel rows, the foreground painting the top pixel
// (▀) and the background the bottom one. Terminal cells are about twice as
// tall as they are wide, so square pixels come out square.
//
// Only bytes this file chooses reach the terminal: the glyphs below and
// SGR colour numbers. Nothing from the image file is ever copied out.
//
// In a screen:
//
//	photo := components.NewPhoto(user.Photo)             // once, with the user
//	mode := components.PhotoModeFor(profile)             // from tea.ColorProfileMsg
//	s := photo.View(components.PhotoOptions{Mode: mode}) // at most 28×19 cells

// PhotoMode is how a photo is coloured; pick it with [PhotoModeFor].
type PhotoMode int

const (
	// PhotoPlain draws no colour at all: each cell is a shade from
	// ' ░▒▓█' chosen by the lightness of its two pixels. It is the zero
	// value, the mode that is safe on any terminal.
	PhotoPlain PhotoMode = iota
	// Photo256 maps every pixel to the nearest colour of the xterm
	// 256-colour palette (its 6×6×6 cube or its grey ramp).
	Photo256
	// PhotoTrueColor draws 24-bit colour.
	PhotoTrueColor
)

// String names the mode, as the golden files do.
func (m PhotoMode) String() string {
	switch m {
	case PhotoTrueColor:
		return "truecolor"
	case Photo256:
		return "256"
	default:
		return "plain"
	}
}

// PhotoModeFor is the mode for a terminal's colour profile (as Bubble Tea
// reports it in tea.ColorProfileMsg). 16-colour terminals get the plain
// mode: shades keep a face's light and dark, which sixteen fixed colours
// would not. NO_COLOR and dumb terminals arrive here as colorprofile.ASCII.
func PhotoModeFor(p colorprofile.Profile) PhotoMode {
	switch p {
	case colorprofile.TrueColor:
		return PhotoTrueColor
	case colorprofile.ANSI256:
		return Photo256
	default:
		return PhotoPlain
	}
}

// Photo limits and defaults.
const (
	// PhotoWidth and PhotoHeight are the default box in cells: a 3:4
	// portrait comes out 28 columns by 19 rows, enough to know a face.
	PhotoWidth  = 28
	PhotoHeight = 19
	// MaxPhotoSide is the largest width or height decoded; the header is
	// read first, so a decompression bomb is refused before any pixel is.
	MaxPhotoSide = 4096
	// MaxPhotoBytes is the largest encoded photo looked at.
	MaxPhotoBytes = 16 << 20
	// workSide bounds the picture kept after decoding: a bigger photo is
	// box-filtered down to it once, so each redraw is cheap.
	workSide = 256
)

// Why a photo cannot be drawn; Photo.Err returns one of these, wrapped.
var (
	ErrNoPhoto         = errors.New("no photo on record")
	ErrPhotoTooLarge   = errors.New("photo too large")
	ErrPhotoUnreadable = errors.New("photo unreadable")
)

// PhotoOptions says how to draw a photo.
type PhotoOptions struct {
	// Width and Height are the box in cells; zero takes PhotoWidth or
	// PhotoHeight. The drawing never exceeds the box.
	Width, Height int
	Mode          PhotoMode
	// LightBackground is for PhotoPlain only: on a light terminal the
	// dense shades are dark, so the scale is turned round.
	LightBackground bool
}

func (o PhotoOptions) box() (int, int) {
	w, h := o.Width, o.Height
	if w == 0 {
		w = PhotoWidth
	}
	if h == 0 {
		h = PhotoHeight
	}
	return w, h
}

// Photo is a decoded card holder's photo, ready to draw at any size. The
// zero value is "no photo on record". What it draws never changes once it
// is made: keep it in the screen's model when the user is loaded and call
// View from the screen's View; View remembers its last drawing, so a frame
// with the same box and mode costs nothing. Copies share that memory.
type Photo struct {
	img          *linImage // nil: nothing to draw
	srcW, srcH   int       // the photo's own size, for its aspect ratio
	err          error
	placeholder1 string
	placeholder2 string
	last         *photoMemo // the last drawing, redrawn only when the options change
}

type photoMemo struct {
	mu   sync.Mutex
	opts PhotoOptions
	out  string
	ok   bool
}

// NewPhoto decodes a PNG or JPEG photo (domain.User.Photo). Missing,
// damaged, oversized or other formats give a Photo that draws a framed
// placeholder and says why in Err; it never panics. A demo portrait takes
// about half a millisecond, the largest photo accepted a third of a
// second: make it where the user is loaded (a tea.Cmd), not in View.
func NewPhoto(data []byte) Photo {
	img, w, h, err := decodePhoto(data)
	p := Photo{img: img, srcW: w, srcH: h, err: err, last: &photoMemo{}}
	switch {
	case err == nil:
	case errors.Is(err, ErrNoPhoto):
		p.placeholder1 = "No photo on record"
	case errors.Is(err, ErrPhotoTooLarge):
		p.placeholder1, p.placeholder2 = "Photo cannot be shown", "(image too large)"
	default:
		p.placeholder1, p.placeholder2 = "Photo cannot be shown", "(image damaged)"
	}
	return p
}

// RenderPhoto decodes data and draws it: NewPhoto(data).View(o).
func RenderPhoto(data []byte, o PhotoOptions) string {
	return NewPhoto(data).View(o)
}

// Err is nil when the photo can be drawn, else why not: ErrNoPhoto,
// ErrPhotoTooLarge or ErrPhotoUnreadable (wrapped).
func (p Photo) Err() error {
	if p.img == nil && p.err == nil {
		return ErrNoPhoto
	}
	return p.err
}

// Size is the photo's own size in pixels (0, 0 when there is none).
func (p Photo) Size() (width, height int) { return p.srcW, p.srcH }

// View draws the photo scaled to fit the box keeping its aspect ratio, or
// the placeholder. Lines are separated by "\n"; each ends with its
// colours reset. The result is as wide as the scaled photo, not padded to
// the box.
func (p Photo) View(o PhotoOptions) string {
	o.Width, o.Height = o.box()
	if p.last == nil {
		return p.draw(o)
	}
	p.last.mu.Lock()
	defer p.last.mu.Unlock()
	if !p.last.ok || p.last.opts != o {
		p.last.opts, p.last.out, p.last.ok = o, p.draw(o), true
	}
	return p.last.out
}

func (p Photo) draw(o PhotoOptions) string {
	bw, bh := o.Width, o.Height
	if bw <= 0 || bh <= 0 {
		return ""
	}
	if p.img == nil {
		l1, l2 := p.placeholder1, p.placeholder2
		if l1 == "" {
			l1 = "No photo on record"
		}
		return placeholder(bw, bh, l1, l2)
	}
	dw, dh := fitPhoto(p.srcW, p.srcH, bw, bh)
	small := p.img.resize(dw, dh)
	switch o.Mode {
	case PhotoTrueColor, Photo256:
		return small.blocks(o.Mode)
	default:
		return small.shades(o.LightBackground)
	}
}

// fitPhoto is the size in pixels of a w×h photo scaled to fit a box of
// bw×bh cells (bw×2bh pixels), keeping the aspect ratio.
func fitPhoto(w, h, bw, bh int) (int, int) {
	pw, ph := float64(bw), float64(2*bh)
	s := min(pw/float64(w), ph/float64(h))
	dw := min(bw, max(1, int(math.Round(float64(w)*s))))
	dh := min(2*bh, max(1, int(math.Round(float64(h)*s))))
	return dw, dh
}

// decodePhoto checks the header, then decodes a PNG or JPEG into linear
// light, box-filtered down to at most workSide on its longer side.
func decodePhoto(data []byte) (img *linImage, w, h int, err error) {
	if len(data) == 0 {
		return nil, 0, 0, ErrNoPhoto
	}
	if len(data) > MaxPhotoBytes {
		return nil, 0, 0, fmt.Errorf("%w: %d bytes", ErrPhotoTooLarge, len(data))
	}
	defer func() {
		// The standard decoders do not panic on bad input; this is only
		// so that one never takes the operator's terminal down with it.
		if r := recover(); r != nil {
			img, w, h, err = nil, 0, 0, fmt.Errorf("%w: decoder failed", ErrPhotoUnreadable)
		}
	}()
	var (
		cfg    image.Config
		decode func([]byte) (image.Image, error)
	)
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
		decode = func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }
	case bytes.HasPrefix(data, []byte{0xff, 0xd8}):
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
		decode = func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }
	default:
		return nil, 0, 0, fmt.Errorf("%w: not a PNG or JPEG image", ErrPhotoUnreadable)
	}
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w: %v", ErrPhotoUnreadable, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, 0, 0, fmt.Errorf("%w: empty image", ErrPhotoUnreadable)
	}
	if cfg.Width > MaxPhotoSide || cfg.Height > MaxPhotoSide {
		return nil, 0, 0, fmt.Errorf("%w: %d×%d pixels, at most %d×%d", ErrPhotoTooLarge, cfg.Width, cfg.Height, MaxPhotoSide, MaxPhotoSide)
	}
	src, err := decode(data)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w: %v", ErrPhotoUnreadable, err)
	}
	b := src.Bounds()
	if b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, 0, 0, fmt.Errorf("%w: size differs from its header", ErrPhotoUnreadable)
	}
	w, h = b.Dx(), b.Dy()
	ww, wh := w, h
	if max(w, h) > workSide {
		ww, wh = fitPhoto(w, h, workSide, workSide/2)
	}
	// One source row at a time through image/draw (fast for the usual
	// YCbCr, RGBA and paletted images), composited over white.
	row := image.NewRGBA(image.Rect(0, 0, w, 1))
	img = boxResize(w, h, ww, wh, func(y int, dst []float32) {
		draw.Draw(row, row.Bounds(), src, image.Pt(b.Min.X, b.Min.Y+y), draw.Src)
		for x := range w {
			px := row.Pix[4*x : 4*x+4 : 4*x+4]
			under := 255 - px[3] // premultiplied: add the white showing through
			dst[3*x] = toLinear[min(255, int(px[0])+int(under))]
			dst[3*x+1] = toLinear[min(255, int(px[1])+int(under))]
			dst[3*x+2] = toLinear[min(255, int(px[2])+int(under))]
		}
	})
	return img, w, h, nil
}

// linImage is an RGB picture in linear light, three floats a pixel:
// averaging there keeps a downscaled photo as bright as the original.
type linImage struct {
	w, h int
	pix  []float32
}

func (m *linImage) resize(w, h int) *linImage {
	if w == m.w && h == m.h {
		return m
	}
	return boxResize(m.w, m.h, w, h, func(y int, dst []float32) {
		copy(dst, m.pix[3*m.w*y:3*m.w*(y+1)])
	})
}

// tap is one source pixel's share of a target pixel.
type tap struct {
	src int
	wt  float32
}

// boxSpans gives, for each of dn target pixels, the source pixels (of n)
// it covers and the share of its area each covers: a box filter that
// averages every source pixel falling into the target one, fractions at
// the edges included. It works for enlarging too.
func boxSpans(n, dn int) [][]tap {
	scale := float64(n) / float64(dn)
	spans := make([][]tap, dn)
	for j := range dn {
		lo, hi := float64(j)*scale, float64(j+1)*scale
		for k := int(lo); k < n && float64(k) < hi; k++ {
			ov := min(hi, float64(k+1)) - max(lo, float64(k))
			if ov > 1e-9 {
				spans[j] = append(spans[j], tap{k, float32(ov / scale)})
			}
		}
	}
	return spans
}

// boxResize box-filters a w×h picture, read one row at a time, to dw×dh.
func boxResize(w, h, dw, dh int, readRow func(y int, dst []float32)) *linImage {
	xs := boxSpans(w, dw)
	// Turn the row spans round: for each source row, the target rows it
	// adds to and with what weight.
	into := make([][]tap, h)
	for i, sp := range boxSpans(h, dh) {
		for _, t := range sp {
			into[t.src] = append(into[t.src], tap{i, t.wt})
		}
	}
	out := &linImage{w: dw, h: dh, pix: make([]float32, 3*dw*dh)}
	src := make([]float32, 3*w)
	across := make([]float32, 3*dw)
	for y := range h {
		if len(into[y]) == 0 {
			continue
		}
		readRow(y, src)
		for j, sp := range xs {
			var r, g, b float32
			for _, t := range sp {
				// The conversions round each product, so that no
				// platform fuses the multiply and add: the same photo
				// draws the same everywhere (the goldens rely on it).
				r += float32(src[3*t.src] * t.wt)
				g += float32(src[3*t.src+1] * t.wt)
				b += float32(src[3*t.src+2] * t.wt)
			}
			across[3*j], across[3*j+1], across[3*j+2] = r, g, b
		}
		for _, t := range into[y] {
			dst := out.pix[3*dw*t.src : 3*dw*(t.src+1)]
			for k, v := range across {
				dst[k] += float32(v * t.wt)
			}
		}
	}
	return out
}

// rgb is one pixel in sRGB.
type rgb struct{ r, g, b uint8 }

func (m *linImage) at(x, y int) rgb {
	p := m.pix[3*(y*m.w+x):]
	return rgb{toSRGB(p[0]), toSRGB(p[1]), toSRGB(p[2])}
}

// lightness is a pixel's perceived lightness, 0 (black) to 1 (white).
func (m *linImage) lightness(x, y int) float64 {
	p := m.pix[3*(y*m.w+x):]
	lum := float64(0.2126*float64(p[0])) + float64(0.7152*float64(p[1])) + float64(0.0722*float64(p[2]))
	return float64(toSRGB(float32(lum))) / 255
}

// blocks draws the picture with ▀ in true colour or 256 colours. A colour
// is sent only when it changes along the line; every line ends reset.
func (m *linImage) blocks(mode PhotoMode) string {
	var sb strings.Builder
	sgr := func(c rgb, fg bool) string {
		base := "38"
		if !fg {
			base = "48"
		}
		if mode == PhotoTrueColor {
			return base + ";2;" + strconv.Itoa(int(c.r)) + ";" + strconv.Itoa(int(c.g)) + ";" + strconv.Itoa(int(c.b))
		}
		return base + ";5;" + strconv.Itoa(int(xterm256(c.r, c.g, c.b)))
	}
	for y := 0; y < m.h; y += 2 {
		if y > 0 {
			sb.WriteByte('\n')
		}
		var curFG, curBG string
		for x := range m.w {
			fg := sgr(m.at(x, y), true)
			bg := "49" // an odd last pixel row: nothing under it
			if y+1 < m.h {
				bg = sgr(m.at(x, y+1), false)
			}
			var set []string
			if fg != curFG {
				set, curFG = append(set, fg), fg
			}
			if bg != curBG && (bg != "49" || curBG != "") {
				set = append(set, bg)
			}
			curBG = bg
			if len(set) > 0 {
				sb.WriteString("\x1b[" + strings.Join(set, ";") + "m")
			}
			sb.WriteString("▀")
		}
		sb.WriteString("\x1b[m")
	}
	return sb.String()
}

// plainGlyphs are the characters of the plain mode with how much of the
// cell's top and bottom half each one inks: the shades for even areas,
// the half blocks where the two pixels of a cell differ (an eyebrow, a
// hairline), which keeps the vertical detail the shades would lose.
var plainGlyphs = []struct {
	r        rune
	top, bot float64
}{
	{' ', 0, 0}, {'░', 0.25, 0.25}, {'▒', 0.5, 0.5}, {'▓', 0.75, 0.75}, {'█', 1, 1},
	{'▀', 1, 0}, {'▄', 0, 1},
}

// shades draws the picture without colour: for each cell the glyph whose
// ink best matches the lightness of its two pixels, lightness stretched
// to the picture's own range so a dim photo still shows its features. On
// a dark terminal ink is light; on a light one it is dark.
func (m *linImage) shades(lightBackground bool) string {
	lo, hi := 1.0, 0.0
	val := make([]float64, m.w*m.h)
	for y := range m.h {
		for x := range m.w {
			v := m.lightness(x, y)
			val[y*m.w+x] = v
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if hi-lo < 0.25 { // a near-flat picture: keep its true levels
		lo, hi = 0, 1
	}
	ink := func(x, y int) float64 {
		v := (val[y*m.w+x] - lo) / (hi - lo)
		if lightBackground {
			v = 1 - v
		}
		return v
	}
	var sb strings.Builder
	for y := 0; y < m.h; y += 2 {
		if y > 0 {
			sb.WriteByte('\n')
		}
		for x := range m.w {
			t := ink(x, y)
			b := t // an odd last row: the top pixel alone
			if y+1 < m.h {
				b = ink(x, y+1)
			}
			best, bestErr := ' ', math.Inf(1)
			for _, g := range plainGlyphs {
				if e := (t-g.top)*(t-g.top) + (b-g.bot)*(b-g.bot); e < bestErr {
					best, bestErr = g.r, e
				}
			}
			sb.WriteRune(best)
		}
	}
	return sb.String()
}

// xterm256 is the colour of the xterm 256-colour palette nearest to an
// sRGB colour as the eye sees it (CIELAB distance), among the 6×6×6 cube
// (16–231) and the grey ramp (232–255). The first sixteen are left out:
// every terminal theme sets them differently.
func xterm256(r, g, b uint8) uint8 {
	c := labOf(r, g, b)
	best, bestD := 16, math.Inf(1)
	for i, p := range xtermLab {
		dl := c[0] - p[0]
		if dl*dl >= bestD {
			continue
		}
		da, db := c[1]-p[1], c[2]-p[2]
		if d := dl*dl + da*da + db*db; d < bestD {
			best, bestD = 16+i, d
		}
	}
	return uint8(best)
}

// xtermRGB is palette entry i (16–255) in sRGB.
func xtermRGB(i int) rgb {
	if i >= 232 {
		v := uint8(8 + 10*(i-232))
		return rgb{v, v, v}
	}
	level := [6]uint8{0, 95, 135, 175, 215, 255}
	i -= 16
	return rgb{level[i/36], level[i/6%6], level[i%6]}
}

// xtermLab is palette entries 16–255 in CIELAB.
var xtermLab = func() (t [240][3]float64) {
	for i := range t {
		c := xtermRGB(16 + i)
		t[i] = labOf(c.r, c.g, c.b)
	}
	return t
}()

// labOf is an sRGB colour in CIELAB (D65 white).
func labOf(r, g, b uint8) [3]float64 {
	lr, lg, lb := float64(toLinear[r]), float64(toLinear[g]), float64(toLinear[b])
	x := (0.4124*lr + 0.3576*lg + 0.1805*lb) / 0.95047
	y := 0.2126*lr + 0.7152*lg + 0.0722*lb
	z := (0.0193*lr + 0.1192*lg + 0.9505*lb) / 1.08883
	f := func(t float64) float64 {
		if t > 216.0/24389 {
			return math.Cbrt(t)
		}
		return (24389.0/27*t + 16) / 116
	}
	fx, fy, fz := f(x), f(y), f(z)
	return [3]float64{116*fy - 16, 500 * (fx - fy), 200 * (fy - fz)}
}

// placeholder is a frame the size a 3:4 portrait would take in the box,
// with the reason centred in it.
func placeholder(bw, bh int, line1, line2 string) string {
	w := bw
	h := min(bh, max(3, int(math.Ceil(float64(w)*4/3/2))))
	if w < 4 || h < 3 { // no room for a frame
		lines := strings.Split(ansi.Wrap(line1, max(1, w), ""), "\n")
		if len(lines) > h {
			lines = lines[:h]
		}
		for i, l := range lines {
			lines[i] = ansi.Truncate(l, w, "")
		}
		return strings.Join(lines, "\n")
	}
	inner := w - 2
	var text []string
	for _, s := range []string{line1, line2} {
		if s == "" {
			continue
		}
		text = append(text, strings.Split(ansi.Wrap(s, inner, ""), "\n")...)
	}
	if len(text) > h-2 {
		text = text[:h-2]
	}
	first := (h - 2 - len(text)) / 2
	var sb strings.Builder
	sb.WriteString("╭" + strings.Repeat("─", inner) + "╮")
	for i := range h - 2 {
		s := ""
		if j := i - first; j >= 0 && j < len(text) {
			s = ansi.Truncate(strings.TrimSpace(text[j]), inner, "")
		}
		pad := inner - ansi.StringWidth(s)
		sb.WriteString("\n│" + strings.Repeat(" ", pad/2) + s + strings.Repeat(" ", pad-pad/2) + "│")
	}
	sb.WriteString("\n╰" + strings.Repeat("─", inner) + "╯")
	return sb.String()
}

// toLinear turns an 8-bit sRGB value into linear light (0–1).
var toLinear = func() (t [256]float32) {
	for i := range t {
		c := float64(i) / 255
		if c <= 0.04045 {
			t[i] = float32(c / 12.92)
		} else {
			t[i] = float32(math.Pow((c+0.055)/1.055, 2.4))
		}
	}
	return t
}()

// toSRGB turns linear light (0–1) into an 8-bit sRGB value.
func toSRGB(v float32) uint8 {
	c := float64(v)
	switch {
	case c <= 0:
		return 0
	case c >= 1:
		return 255
	case c <= 0.0031308:
		c *= 12.92
	default:
		c = float64(1.055*math.Pow(c, 1/2.4)) - 0.055
	}
	return uint8(math.Round(c * 255))
}
