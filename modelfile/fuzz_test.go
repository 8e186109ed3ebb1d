package modelfile

import (
	"bytes"
	"testing"
)

// FuzzRead: any input either fails with an error or decodes without
// panicking into variables whose sizes match their shapes.
func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	Write(&buf, sample())
	f.Add(buf.Bytes())
	f.Add([]byte(Magic + "\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, v := range m.Variables {
			if _, err := v.Tensor(); err != nil {
				t.Fatalf("variable %s decoded inconsistently: %v", v.Name, err)
			}
		}
	})
}
