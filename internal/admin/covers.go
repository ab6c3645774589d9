package admin

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
)

// coverPalettes are the demo covers' colors by category: ink and paper for
// animation, night for games, and so on.
var coverPalettes = map[string][2]color.RGBA{
	"animation": {{38, 50, 56, 255}, {236, 229, 214, 255}},
	"games":     {{20, 24, 62, 255}, {120, 86, 255, 255}},
	"music":     {{120, 20, 60, 255}, {255, 170, 90, 255}},
	"film":      {{15, 15, 15, 255}, {200, 160, 80, 255}},
	"media":     {{10, 70, 90, 255}, {140, 220, 200, 255}},
}

// Cover draws a demo project's cover (960×540 PNG): a gradient of the
// category's colors with hills and a sun placed by seed. The platform
// makes its own images: nothing comes from outside.
func Cover(category string, seed int) []byte {
	pal, ok := coverPalettes[category]
	if !ok {
		pal = coverPalettes["media"]
	}
	const w, h = 960, 540
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	mix := func(a, b uint8, t float64) uint8 { return uint8(float64(a)*(1-t) + float64(b)*t) }
	sunX, sunY, sunR := float64(200+(seed*173)%560), float64(140+(seed*61)%120), 70.0
	for y := 0; y < h; y++ {
		t := float64(y) / h
		sky := color.RGBA{mix(pal[0].R, pal[1].R, t), mix(pal[0].G, pal[1].G, t), mix(pal[0].B, pal[1].B, t), 255}
		for x := 0; x < w; x++ {
			c := sky
			if math.Hypot(float64(x)-sunX, float64(y)-sunY) < sunR {
				c = color.RGBA{255, 236, 200, 255}
			}
			// Three ranges of hills, nearer ones darker.
			for i := 0; i < 3; i++ {
				base := float64(h) * (0.55 + 0.13*float64(i))
				hill := base - 40*math.Sin(float64(x)/(90+30*float64(i))+float64(seed+i))
				if float64(y) > hill {
					d := 0.35 + 0.2*float64(i)
					c = color.RGBA{mix(pal[1].R, pal[0].R, d), mix(pal[1].G, pal[0].G, d), mix(pal[1].B, pal[0].B, d), 255}
				}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img) // encoding to memory does not fail
	return b.Bytes()
}
