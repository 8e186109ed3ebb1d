package hashing

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

// Names of SADH's variables in its scope.
const (
	// SADHCodes holds the target code of every training image, one row
	// of +-1 per image (by Batch.Index), a row per training image.
	SADHCodes = "codes"
	// SADHFitted is 1 once the codes are fitted: until then the
	// regression loss is off.
	SADHFitted = "fitted"
)

// SADH is Similarity-Adaptive Deep Hashing: F. Shen, Y. Xu, L. Liu, Y.
// Yang, Z. Huang, H. T. Shen, "Unsupervised Deep Hashing with
// Similarity-Adaptive and Discrete Optimization", TPAMI 40(12), 2018.
//
// SADH alternates three modules. The network H(x; Theta) is trained to
// regress the current binary codes B of the training images,
//
//	min_Theta || B - H(X; Theta) ||_F^2,
//
// the similarity graph S is rebuilt from the trained network's outputs as
// an anchor graph (m anchors by k-means, each image tied to its s nearest
// anchors by a Gaussian kernel, Z rows summing to 1, S = Z Lambda^-1 Z^T
// with Lambda = diag(Z^T 1)), and the codes are re-optimized on the new
// graph with the binary constraint kept:
//
//	min_B -tr(B^T S B)   s.t.  B in {-1, 1}^{n x r},  B^T 1 = 0,  B^T B = n I,
//
// by lp-box ADMM (B. Wu, B. Ghanem, TPAMI 2019): {-1, 1}^{n r} is the
// intersection of the box [-1, 1]^{n r} and the sphere ||B||^2 = n r, so
// with copies Z1 in the box and Z2 on the sphere and their multipliers
// Y1, Y2 the augmented Lagrangian
//
//	f(B) + <Y1, B - Z1> + <Y2, B - Z2> + rho/2 (||B - Z1||^2 + ||B - Z2||^2)
//
// is minimized in turn over B, Z1 (clipping), Z2 (scaling onto the
// sphere), then Y1 += rho (B - Z1), Y2 += rho (B - Z2), rho grows, and
// finally B = sign(B). The network's codes are sign(H).
//
// The trainer's Refit plays the paper's outer loop: every Every epochs it
// runs the network over the training set, and Refit rebuilds the anchor
// graph from those outputs and re-optimizes the codes starting from their
// signs. The loss is off for the first Every epochs, until there are codes.
//
// Differences: the paper starts from an ImageNet VGG-16 whose fc7 features
// give the first graph; here the network is trained from scratch, so the
// first graph comes from the training inputs themselves (InputGraph: the
// pixels, or the pretrained descriptors when codes are learned on them,
// which is the paper's case), with the first codes the signs of the
// network's outputs after its first epoch, and every later graph from the
// network's r outputs, not a 4,096-d layer. (An earlier version built the
// first graph from those r outputs of a network that had not yet learned
// anything: fmnist-1k, seed 0, 5 epochs, mAP@all 0.4732 at 32 bits and
// 0.4702 at 64, below ITQ's 0.4756 and 0.4853; with the first graph from
// the pixels, 0.4760 and 0.4769. After 3 epochs, 0.4948 and 0.4950,
// above ITQ at both lengths (docs/results.md); at 64 bits, 10 epochs gave
// 0.4127, the graphs from the outputs drifting from the classes; and
// starting the first code optimization from anchor graph hashing's codes
// on the pixel graph, as discrete graph hashing starts, rather than from
// the untrained network's signs, gave 0.4506 after 5 epochs.) The balance and
// decorrelation constraints enter f as penalties,
//
//	f(B) = -tr(B^T S B) + nu/n ||B^T 1||^2 + mu/(4n) ||B^T B - n I||_F^2,
//
// (with nu = 1 the first term is -tr(B^T (S - 11^T/n) B): S's top
// eigenvector 1 is removed), and the B step is one gradient step on the
// augmented Lagrangian (linearized ADMM) rather than an exact solve. The
// code table has a row per training image (Batch.TrainingImages).
type SADH struct {
	// Capacity is the number of rows of the code table when the loss is
	// not told the training set's size (Batch.TrainingImages 0).
	Capacity int
	// Anchors (m) and Nearest (s) shape the anchor graph. AGH: 300, 3.
	Anchors, Nearest int
	// KMeans is the number of k-means iterations placing the anchors.
	KMeans int
	// Every is the number of epochs between graph and code updates.
	Every int
	// Iterations of ADMM per code update.
	Iterations int
	// Rho is the initial ADMM penalty, multiplied by Growth every
	// iteration up to RhoMax.
	Rho, Growth, RhoMax float64
	// Balance (nu) and Decorrelation (mu) weigh the penalties standing
	// for B^T 1 = 0 and B^T B = n I.
	Balance, Decorrelation float64
	// InputGraph builds the first graph from the training inputs (the
	// paper: from the pretrained network's features) rather than from
	// the outputs of the network after its first epoch.
	InputGraph bool
}

func init() {
	Register(SADH{Capacity: 60000, Anchors: 300, Nearest: 3, KMeans: 10, Every: 1, Iterations: 100,
		Rho: 0.1, Growth: 1.05, RhoMax: 10, Balance: 1, Decorrelation: 1, InputGraph: true})
}

// Info describes SADH.
func (SADH) Info() Info {
	return Info{
		Name:  "sadh",
		Title: "Similarity-Adaptive Deep Hashing (code regression, adaptive anchor graph, discrete lp-box ADMM)",
		Paper: "F. Shen, Y. Xu, L. Liu, Y. Yang, Z. Huang, H. T. Shen. Unsupervised Deep Hashing with Similarity-Adaptive and Discrete Optimization. TPAMI 2018",
	}
}

// ImagesSeen is 15,000, 3 epochs of fmnist-1k: SADH's mAP@all falls as
// its graphs come from the network's own outputs for longer (seed 0, 64
// bits: 0.4950 after 3 epochs, 0.4769 after 5, 0.4127 after 10).
func (SADH) ImagesSeen() int { return 15_000 }

// RefitEvery implements Refitter.
func (m SADH) RefitEvery() int { return m.Every }

// Loss is the mean over the batch of ||b_i - u_i||^2, b_i the current code
// of the image at Index i, once the codes are fitted.
func (m SADH) Loss(b Batch) *Node {
	u := b.U
	if b.Index == nil {
		panic("hashing: sadh needs the training-set position of every row (Batch.Index)") // the trainer always gives it
	}
	bits := u.Shape().Dimensions[1]
	scope := b.Scope.WithInitializer(initializer.Zero)
	rows := m.Capacity
	if b.TrainingImages > 0 {
		rows = b.TrainingImages
	}
	codes := scope.VariableWithShape(SADHCodes, shapes.Make(u.DType(), rows, bits)).SetTrainable(false)
	fitted := scope.VariableWithShape(SADHFitted, shapes.Make(u.DType())).SetTrainable(false)
	g := u.Graph()
	return Mul(regression(u, codes.NodeValue(g), b.Index), fitted.NodeValue(g))
}

// regression is the mean of ||codes[index_i] - u_i||^2 over the rows
// whose index falls in the table (unlabelled extras and positions past
// Capacity have no code).
func regression(u, codes, index *Node) *Node {
	g := u.Graph()
	rows := codes.Shape().Dimensions[0]
	inTable := And(GreaterOrEqual(index, ScalarZero(g, index.DType())), LessThan(index, Scalar(g, index.DType(), rows)))
	clamped := ClipScalar(index, 0, float64(rows-1))
	target := Gather(codes, ExpandAxes(clamped, -1))
	weight := ConvertDType(inTable, u.DType())
	per := Mul(ReduceSum(Square(Sub(target, u)), 1), weight)
	return Div(ReduceAllSum(per), Max(ReduceAllSum(weight), ScalarOne(g, u.DType())))
}

// Refit rebuilds the anchor graph from the network's outputs and
// re-optimizes the codes of the n training images on it.
func (m SADH) Refit(vars map[string][]float32, d RefitData) error {
	outputs, n := d.Outputs, d.N
	codes, fitted := vars[SADHCodes], vars[SADHFitted]
	if n < 2 || len(outputs) < n || len(outputs)%n != 0 || len(fitted) != 1 {
		return fmt.Errorf("hashing: sadh refit: %d outputs for %d images, %d fitted flags", len(outputs), n, len(fitted))
	}
	bits := len(outputs) / n
	if len(codes)%bits != 0 {
		return fmt.Errorf("hashing: sadh refit: a code table of %d values for %d-bit codes", len(codes), bits)
	}
	if rows := len(codes) / bits; n > rows {
		return fmt.Errorf("hashing: sadh keeps codes for %d training images, got %d", rows, n)
	}
	x := float64s(outputs)
	// The first graph comes from the inputs, as the paper's from the
	// pretrained network's features; later ones from the outputs.
	features, dim := x, bits
	if m.InputGraph && fitted[0] == 0 && len(d.Inputs) > 0 {
		if len(d.Inputs)%n != 0 {
			return fmt.Errorf("hashing: sadh refit: %d input values for %d images", len(d.Inputs), n)
		}
		features, dim = float64s(d.Inputs), len(d.Inputs)/n
	}
	anchors := min(m.Anchors, n)
	graph, err := newAnchorGraph(features, n, dim, anchors, min(m.Nearest, anchors), m.KMeans, d.Seed)
	if err != nil {
		return fmt.Errorf("hashing: sadh refit: %w", err)
	}
	b := plusMinus(x)
	b = m.optimize(graph.mul, b, n, bits)
	for i := range codes {
		codes[i] = 0
	}
	for i, v := range b {
		codes[i] = float32(v)
	}
	fitted[0] = 1
	return nil
}

func float64s(v []float32) []float64 {
	x := make([]float64, len(v))
	for i, f := range v {
		x[i] = float64(f)
	}
	return x
}

// plusMinus returns +1 where x > 0 and -1 elsewhere, as codes are read.
func plusMinus(x []float64) []float64 {
	b := make([]float64, len(x))
	for i, v := range x {
		b[i] = -1
		if v > 0 {
			b[i] = 1
		}
	}
	return b
}

// optimize runs lp-box ADMM on f from the codes b (n x r, +-1) and
// returns the new codes; mul writes S x into dst for x of n x r.
func (m SADH) optimize(mul func(dst, x []float64, r int), b []float64, n, r int) []float64 {
	s := newADMM(b, m.Rho)
	for range m.Iterations {
		s.step(m, mul, n, r)
	}
	return plusMinus(s.b)
}

// admm is the state of lp-box ADMM: the relaxed codes b, their box and
// sphere copies z1, z2, the multipliers y1, y2 and the penalty rho.
type admm struct {
	b, z1, z2, y1, y2 []float64
	rho               float64
}

func newADMM(b []float64, rho float64) *admm {
	return &admm{b: append([]float64(nil), b...), z1: append([]float64(nil), b...), z2: append([]float64(nil), b...),
		y1: make([]float64, len(b)), y2: make([]float64, len(b)), rho: rho}
}

// gradient returns the gradient of f at b,
//
//	-2 S B + 2 nu/n 1 (1^T B) + mu/n B (B^T B - n I),
//
// and a bound on f's curvature there: 2 for S, whose eigenvalues are at
// most 1, 2 nu for the balance, and 3 mu/n ||B^T B||_F for the
// decorrelation (3 mu/n times B^T B's largest eigenvalue bounds its
// Hessian, and the Frobenius norm bounds that eigenvalue; it reaches mu r
// when all bits agree, as they nearly do in a random network's outputs).
func (m SADH) gradient(mul func(dst, x []float64, r int), b []float64, n, r int) (grad []float64, curvature float64) {
	grad = make([]float64, n*r)
	mul(grad, b, r)
	colSum := make([]float64, r)
	gram := make([]float64, r*r)
	for i := range n {
		row := b[i*r : (i+1)*r]
		for j, v := range row {
			colSum[j] += v
			for k, w := range row {
				gram[j*r+k] += v * w
			}
		}
	}
	frob := 0.0
	for _, v := range gram {
		frob += v * v
	}
	curvature = 2 + 2*m.Balance + 3*m.Decorrelation*math.Sqrt(frob)/float64(n)
	for j := range r {
		gram[j*r+j] -= float64(n)
	}
	for i := range n {
		row := b[i*r : (i+1)*r]
		for j := range r {
			g := -2*grad[i*r+j] + 2*m.Balance/float64(n)*colSum[j]
			for k, v := range row {
				g += m.Decorrelation / float64(n) * v * gram[k*r+j]
			}
			grad[i*r+j] = g
		}
	}
	return grad, curvature
}

// step is one ADMM iteration: a gradient step on the augmented Lagrangian
// in B (step 1/L, L bounding its curvature: f's and 2 rho), the
// projections of Z1 onto the box and Z2 onto the sphere, the multiplier
// ascent, and rho's growth.
func (s *admm) step(m SADH, mul func(dst, x []float64, r int), n, r int) {
	grad, curvature := m.gradient(mul, s.b, n, r)
	lr := 1 / (curvature + 2*s.rho)
	for i := range s.b {
		s.b[i] -= lr * (grad[i] + s.y1[i] + s.y2[i] + s.rho*(2*s.b[i]-s.z1[i]-s.z2[i]))
	}
	norm := 0.0
	for i, v := range s.b {
		s.z1[i] = max(-1, min(1, v+s.y1[i]/s.rho))
		s.z2[i] = v + s.y2[i]/s.rho
		norm += s.z2[i] * s.z2[i]
	}
	if norm > 0 {
		scale := math.Sqrt(float64(n*r) / norm)
		for i := range s.z2 {
			s.z2[i] *= scale
		}
	}
	for i, v := range s.b {
		s.y1[i] += s.rho * (v - s.z1[i])
		s.y2[i] += s.rho * (v - s.z2[i])
	}
	s.rho = min(s.rho*m.Growth, m.RhoMax)
}

// anchorGraph is Z of an anchor graph, s anchors per image, and the
// column sums Lambda; S = Z Lambda^-1 Z^T is never formed.
type anchorGraph struct {
	n, s, m int
	anchor  []int     // n x s anchor positions
	weight  []float64 // n x s kernel weights, each row summing to 1
	lambda  []float64 // m column sums
}

// newAnchorGraph places m anchors among the n points x (n x d) by k-means
// seeded from a random sample, and ties every point to its s nearest
// anchors with weights exp(-d^2/t), t the mean squared distance of the
// points to their s-th nearest anchor, normalized to sum 1.
func newAnchorGraph(x []float64, n, d, m, s, iterations int, seed int64) (*anchorGraph, error) {
	if m < 1 || s < 1 || s > m || n < m {
		return nil, fmt.Errorf("anchor graph of %d anchors, %d per point, over %d points", m, s, n)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5ad4))
	centres := make([]float64, m*d)
	for j, p := range rng.Perm(n)[:m] {
		copy(centres[j*d:(j+1)*d], x[p*d:(p+1)*d])
	}
	assign := make([]int, n)
	for range iterations {
		for i := range n {
			best, bestD := 0, math.Inf(1)
			for j := range m {
				if dd := squaredDistance(x[i*d:(i+1)*d], centres[j*d:(j+1)*d]); dd < bestD {
					best, bestD = j, dd
				}
			}
			assign[i] = best
		}
		sums := make([]float64, m*d)
		counts := make([]int, m)
		for i, j := range assign {
			counts[j]++
			for k := range d {
				sums[j*d+k] += x[i*d+k]
			}
		}
		for j := range m {
			if counts[j] == 0 {
				continue // an empty cluster keeps its centre
			}
			for k := range d {
				centres[j*d+k] = sums[j*d+k] / float64(counts[j])
			}
		}
	}
	g := &anchorGraph{n: n, s: s, m: m, anchor: make([]int, n*s), weight: make([]float64, n*s), lambda: make([]float64, m)}
	dist := make([]float64, m)
	t := 0.0
	for i := range n {
		for j := range m {
			dist[j] = squaredDistance(x[i*d:(i+1)*d], centres[j*d:(j+1)*d])
		}
		// Selection of the s nearest, in order; s is small.
		for k := range s {
			best := -1
			for j := range m {
				taken := false
				for _, a := range g.anchor[i*s : i*s+k] {
					taken = taken || a == j
				}
				if !taken && (best < 0 || dist[j] < dist[best]) {
					best = j
				}
			}
			g.anchor[i*s+k], g.weight[i*s+k] = best, dist[best]
		}
		t += g.weight[i*s+s-1]
	}
	t /= float64(n)
	if t <= 0 {
		t = 1 // every point on an anchor: any bandwidth gives the same graph
	}
	for i := range n {
		row := g.weight[i*s : (i+1)*s]
		nearest := row[0]
		sum := 0.0
		for k, dd := range row {
			// Relative to the nearest, so that far points do not
			// underflow to all-zero rows; normalization cancels it.
			row[k] = math.Exp(-(dd - nearest) / t)
			sum += row[k]
		}
		for k := range row {
			row[k] /= sum
			g.lambda[g.anchor[i*s+k]] += row[k]
		}
	}
	return g, nil
}

func squaredDistance(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		d := v - b[i]
		s += d * d
	}
	return s
}

// mul writes S x = Z Lambda^-1 Z^T x into dst, for x of n x r.
func (g *anchorGraph) mul(dst, x []float64, r int) {
	zt := make([]float64, g.m*r) // Lambda^-1 Z^T x
	for i := range g.n {
		for k := range g.s {
			a, w := g.anchor[i*g.s+k], g.weight[i*g.s+k]
			for j := range r {
				zt[a*r+j] += w * x[i*r+j]
			}
		}
	}
	for a := range g.m {
		if g.lambda[a] > 0 {
			for j := range r {
				zt[a*r+j] /= g.lambda[a]
			}
		}
	}
	for i := range g.n {
		for j := range r {
			dst[i*r+j] = 0
		}
		for k := range g.s {
			a, w := g.anchor[i*g.s+k], g.weight[i*g.s+k]
			for j := range r {
				dst[i*r+j] += w * zt[a*r+j]
			}
		}
	}
}
