package imageio

import (
	"bufio"
	"encoding/binary"
	"image"
	"io"
)

// exifOrientation returns the EXIF orientation tag (1-8) of a JPEG or TIFF
// stream, or 1 when there is none or it cannot be read: a broken EXIF
// block leaves the image as stored rather than refusing it.
func exifOrientation(r *bufio.Reader, format string) int {
	if format == "tiff" {
		head, err := r.Peek(64 << 10)
		if err != nil && len(head) == 0 {
			return 1
		}
		return tiffOrientation(head)
	}
	// JPEG: walk the markers up to the first APP1 "Exif" segment.
	var soi [2]byte
	if _, err := io.ReadFull(r, soi[:]); err != nil || soi != [2]byte{0xff, 0xd8} {
		return 1
	}
	for {
		var m [4]byte
		if _, err := io.ReadFull(r, m[:]); err != nil || m[0] != 0xff {
			return 1
		}
		marker := m[1]
		size := int(binary.BigEndian.Uint16(m[2:])) - 2
		if marker == 0xda || size < 0 { // start of scan: no EXIF before it
			return 1
		}
		if marker != 0xe1 {
			if _, err := r.Discard(size); err != nil {
				return 1
			}
			continue
		}
		seg := make([]byte, size)
		if _, err := io.ReadFull(r, seg); err != nil {
			return 1
		}
		if len(seg) < 6 || string(seg[:6]) != "Exif\x00\x00" {
			continue
		}
		return tiffOrientation(seg[6:])
	}
}

// tiffOrientation reads tag 0x0112 of the first IFD of a TIFF structure.
func tiffOrientation(b []byte) int {
	if len(b) < 8 {
		return 1
	}
	var order binary.ByteOrder
	switch string(b[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return 1
	}
	ifd := int(order.Uint32(b[4:]))
	if ifd < 8 || ifd+2 > len(b) {
		return 1
	}
	n := int(order.Uint16(b[ifd:]))
	for i := 0; i < n; i++ {
		e := ifd + 2 + 12*i
		if e+12 > len(b) {
			return 1
		}
		if order.Uint16(b[e:]) == 0x0112 {
			v := int(order.Uint16(b[e+8:]))
			if v >= 1 && v <= 8 {
				return v
			}
			return 1
		}
	}
	return 1
}

// Orient returns img turned upright for EXIF orientation o: 2 mirrors, 3
// turns 180 degrees, 4 flips vertically, 5 transposes, 6 turns 90 degrees
// clockwise, 7 transverses, 8 turns 90 degrees counter-clockwise.
//
// Each is a transposition (5-8) followed by flips of the output's
// columns and rows.
func Orient(img image.Image, o int) image.Image {
	if o <= 1 || o > 8 {
		return img
	}
	flips := [9][2]bool{2: {true, false}, 3: {true, true}, 4: {false, true}, 6: {true, false}, 7: {true, true}, 8: {false, true}}
	flipX, flipY := flips[o][0], flips[o][1]
	transpose := o >= 5
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := w, h
	if transpose {
		ow, oh = h, w
	}
	out := image.NewNRGBA64(image.Rect(0, 0, ow, oh))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dx, dy := x, y
			if transpose {
				dx, dy = y, x
			}
			if flipX {
				dx = ow - 1 - dx
			}
			if flipY {
				dy = oh - 1 - dy
			}
			out.Set(dx, dy, img.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return out
}
