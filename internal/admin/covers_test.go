package admin

import (
	"bytes"
	"image/png"
	"testing"
)

func TestCoversArePNGsOfTheirCategory(t *testing.T) {
	a, b := Cover("animation", 0), Cover("games", 1)
	for _, c := range [][]byte{a, b} {
		img, err := png.Decode(bytes.NewReader(c))
		if err != nil || img.Bounds().Dx() != 960 || img.Bounds().Dy() != 540 {
			t.Fatalf("cover: %v %v", err, img)
		}
	}
	if bytes.Equal(a, b) {
		t.Fatal("two categories, one cover")
	}
}
