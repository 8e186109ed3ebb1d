//go:build goexperiment.simd && amd64

package index

import (
	"math/bits"
	"math/rand/v2"
	"simd/archsimd"
	"testing"
)

// TestCounter_Bytes checks the nibble-table popcount of every byte
// against math/bits on random and extreme words.
func TestCounter_Bytes(t *testing.T) {
	if !archsimd.X86.AVX512() {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	k := newCounter()
	for trial := range 100 {
		var w [8]uint64
		for i := range w {
			w[i] = rng.Uint64()
		}
		if trial == 0 {
			w = [8]uint64{0, ^uint64(0), 1, 1 << 63, 0x0f0f0f0f0f0f0f0f, 0xf0f0f0f0f0f0f0f0, 0x8000000000000001, 0x00ff00ff00ff00ff}
		}
		var got [64]uint8
		k.bytes(archsimd.LoadUint64x8(&w)).Store(&got)
		var d [8]uint64
		lanes(k.bytes(archsimd.LoadUint64x8(&w))).Store(&d)
		for i, x := range w {
			for j := range 8 {
				if want := uint8(bits.OnesCount8(uint8(x >> (8 * j)))); got[8*i+j] != want {
					t.Fatalf("word %x byte %d: count %d, want %d", x, j, got[8*i+j], want)
				}
			}
			if want := uint64(bits.OnesCount64(x)); d[i] != want {
				t.Fatalf("word %x: lane sum %d, want %d", x, d[i], want)
			}
		}
	}
}

// TestHamming_BruteForceLUT runs TestHamming_BruteForce's checks with the
// nibble-table kernels, whatever kernel this CPU would pick.
func TestHamming_BruteForceLUT(t *testing.T) {
	if !archsimd.X86.AVX512() {
		t.Skip("no AVX-512")
	}
	defer func(s func(*Hamming, [][]uint64, []*collector, int, int)) { groupScanner = s }(groupScanner)
	groupScanner = scanGroupLUT
	for _, l := range layouts {
		for _, flip := range []float64{0, 0.15, 0.01} {
			withLayout(l.clusterMin, l.perCluster, func() { testBruteForce(t, flip) })
		}
	}
}
