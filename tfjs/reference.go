package tfjs

// ReferenceImage is test image k of scripts/tfjs_reference.js, whose
// TensorFlow.js outputs testdata/mobilenet_v2_mid.json holds: 224x224x3
// values in [0, 1] made by a formula both sides compute.
func ReferenceImage(k int) []float32 {
	x := make([]float32, 224*224*3)
	for y := 0; y < 224; y++ {
		for i := 0; i < 224; i++ {
			for c := 0; c < 3; c++ {
				x[(y*224+i)*3+c] = float32((y*7+i*13+c*29+k*101+(y*i)>>4)%256) / 255
			}
		}
	}
	return x
}
