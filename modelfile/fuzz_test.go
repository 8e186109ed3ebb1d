package modelfile

import (
	"bytes"
	"testing"
)

// FuzzRead: any input either fails with an error or decodes without
// panicking into variables whose sizes match their shapes; a valid header
// of a shallow kind builds its encoder, or fails with an error, and the
// encoder encodes without panicking.
func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	Write(&buf, sample())
	f.Add(buf.Bytes())
	f.Add([]byte(Magic + "\x01\x00\x00\x00"))
	for _, e := range shallowSamples() {
		buf.Reset()
		Write(&buf, shallowModel(f, e))
		f.Add(buf.Bytes())
	}
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
		if m.Header.Validate() != nil || !IsShallow(m.Header.Kind) {
			return
		}
		enc, err := m.Encoder()
		if err != nil {
			return
		}
		// The variables hold at least one value per input dimension, so
		// the input is no larger than data.
		p := m.Header.Preprocess
		if _, err := enc.Encode(make([]float32, p.Height*p.Width*p.Channels), 1); err != nil {
			t.Fatalf("valid %s encoder: %v", m.Header.Kind, err)
		}
	})
}
