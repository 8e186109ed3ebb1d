package codes

import (
	"bytes"
	"testing"
)

// FuzzRead: any input either fails with an error or decodes to a set that
// writes back to the same bytes.
func FuzzRead(f *testing.F) {
	s, labels := sample()
	var buf bytes.Buffer
	Write(&buf, s, labels)
	f.Add(buf.Bytes())
	buf.Reset()
	Write(&buf, s, nil)
	f.Add(buf.Bytes())
	f.Add([]byte(Magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, l, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := Write(&out, got, l); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), data[:out.Len()]) {
			t.Fatal("decoded file does not write back to the same bytes")
		}
	})
}
