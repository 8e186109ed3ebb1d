package hashing

import (
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"

	"github.com/lookalike/lookalike/encoder"
)

// PGHash is relaxation-free deep hashing by policy gradient: X. Yuan, L.
// Ren, J. Lu, J. Zhou, "Relaxation-free Deep Hashing via Policy Gradient",
// ECCV 2018.
//
// Every bit is a stochastic binary action: given the network's output u_ik,
// bit k of image i is 1 with probability p_ik = sigmoid(u_ik). Codes b are
// sampled from this policy, earn a reward for similarity preservation, and
// the network follows the policy gradient (REINFORCE) of the expected
// reward; no relaxation of sign() enters training, and at test time the
// code is the most likely action, bit 1 where p > 1/2, that is sign(u).
//
// The reward of a batch is a triplet ranking reward of the sampled codes:
// for every anchor i, positive j (same label) and negative l (another
// label), the Hamming margin d_il - d_ij, the negative's distance counted
// up to Margin k bits, normalized by the code length k, averaged over
// each anchor's triplets and then over the anchors,
//
//	R(b) = 1/n sum_i ( mean_{l in N(i)} min(d_il, Margin k) - mean_{j in P(i)} d_ij ) / k
//
// (a term whose set is empty counts 0). The cap is DSH's margin (2k on
// the squared distance of +-1 codes, k/2 Hamming bits): without it the
// reward is linear in the distances, every bit split evenly between the
// classes maximizes it, and it is as high for codes that merge the ten
// classes into two antipodal groups as for codes that separate them all
// (measured: mAP@all 0.33 after 2 epochs, the training batches'
// uncapped reward at 0.51 of its maximum of about 0.56).
//
// REINFORCE estimates
//
//	grad E[R] = E[ (R(b) - c) grad log pi(b) ]
//
// for any baseline c that does not depend on the action. Bits are drawn
// independently, so the terms of R that do not involve bit (i, k) (the
// pairs without image i) have zero expected contribution to that bit's
// score, and each bit is credited with R_i, the terms of image i's pairs
// (as anchor and as another anchor's positive or negative). Its baseline
// is its value under the policy given all the other sampled bits,
//
//	c_ik = p_ik R_i(b, b_ik = 1) + (1 - p_ik) R_i(b, b_ik = 0)
//
// which does not depend on the action b_ik itself and so keeps the
// estimator unbiased (the state-value baseline of actor-critic methods,
// computed exactly here by flipping the bit rather than learned). Then
// R_i(b) - c_ik = (b_ik - p_ik) (R_i(b_ik = 1) - R_i(b_ik = 0)), and the
// loss minimized is
//
//	-1/(n k) sum_ik StopGradient(R_i(b) - c_ik) log pi(b_ik | u_ik)
//
// with log pi(b | u) = b u - softplus(u), whose gradient b - p is the
// score function.
//
// The objective maximized is the expected reward plus an entropy bonus on
// the policy (R. J. Williams, J. Peng, "Function optimization using
// connectionist reinforcement learning algorithms", Connection Science
// 1991), the mean over the bits of H(p) = -p log p - (1-p) log(1-p),
//
//	J = E[R] + Entropy 1/(n k) sum_ik H(p_ik)
//
// whose gradient on u_ik is -Entropy u_ik p_ik (1-p_ik) / (n k). Without
// it the policy turns deterministic within a few steps: Adam moves every
// weight by about its learning rate per step whatever the gradient's
// scale, so |u| grows far faster than the bits sort themselves out; the
// mean certainty |2p - 1| was 0.87 after 8 steps and 0.98 after 30 (seed
// 0, fmnist-1k, 48 bits), exploration stopped, the score b - p of every
// nearly certain bit is almost always near 0 (the gradient comes from
// rare draws against the policy), and the codes froze where the first
// steps left them: greedy reward 0.26 after one epoch, mAP@all 0.36 after
// 5 epochs. With the bonus the policy stays stochastic (certainty 0.62 after
// one epoch) while its greedy codes improve faster (greedy reward 0.30
// after one epoch) and mAP@all reaches 0.51 after 5 epochs. At
// equilibrium u_ik is the bit's expected flip gain (times n k) over
// Entropy, so the bits the reward clearly decides are nearly certain and
// the others stay uncertain. What still limits it is the reward: its
// codes merge classes (of the database images at Hamming distance 0 from
// a query, 0.53 share its label, for 0.77 of those that do), since an
// anchor's negatives, averaged, weigh no more than its positives. DSH's
// weighting, every pair equal (negatives nine tenths with ten classes),
// did worse (mAP@all 0.39 with Entropy 0.05, 0.41 with 0.005, 0.43
// without, 5 epochs): the codes sampled near p = 1/2 already sit at the
// cap, k/2 bits apart, so such a reward barely depends on the policy
// there (0.37 for the samples throughout training, its maximum 0.45).
//
// Samples come from GoMLX's Philox generator in the graph, its state the
// model store's RNG variable, seeded by the training seed (and saved in
// checkpoints, so a resumed run draws what an uninterrupted one would).
// Without a scope (unit tests) a fixed generator seeded 0 is used.
//
// Differences: the paper's exact reward and baseline could not be checked
// here (no copy of the paper was reachable offline); the capped triplet
// reward above is a similarity-preservation reward in the paper's
// framework as its abstract describes it, and the per-image credit and
// the value baseline are the variance reductions chosen here; the entropy
// bonus is a standard policy-gradient regularizer added here (not, as far
// as could be checked, in the paper), needed to learn at Adam 1e-3.
type PGHash struct {
	// Margin caps a negative's distance at Margin k bits. 1/2, DSH's.
	Margin float64
	// Samples is the number of codes drawn per image per step; their
	// estimates are averaged. At least 1.
	Samples int
	// Entropy weighs the mean entropy of the bits' policy, in nats per
	// bit, in the objective E[R] + Entropy mean H. 1/2; 0 is plain
	// REINFORCE.
	Entropy float64
}

func init() { Register(PGHash{Margin: 0.5, Samples: 4, Entropy: 0.5}) }

// Info describes PGHash.
func (PGHash) Info() Info {
	return Info{
		Name:       "pghash",
		Title:      "Relaxation-free deep hashing via policy gradient (REINFORCE on Bernoulli bits, triplet ranking reward)",
		Paper:      "X. Yuan, L. Ren, J. Lu, J. Zhou. Relaxation-free Deep Hashing via Policy Gradient. ECCV 2018",
		Supervised: true,
	}
}

// Loss has the gradient of the REINFORCE surrogate of the batch's expected
// reward, averaged over Samples draws, plus the entropy bonus, and the
// value -R(greedy codes). It reports the sampled codes' mean reward
// ("reward") and the policy's mean certainty |2p - 1| ("certainty").
func (m PGHash) Loss(b Batch) *Node {
	u := b.U
	g := u.Graph()
	p := Sigmoid(StopGradient(u))
	greedy := ConvertDType(GreaterThan(StopGradient(u), ZerosLike(u)), u.DType())
	var rng *Node
	if b.Scope == nil {
		rng = RNGStateFromSeedForGraph(g, 0)
	}
	var total, reward *Node
	for range max(m.Samples, 1) {
		var r *Node
		if b.Scope != nil {
			r = b.Scope.RandomUniform(g, u.Shape())
		} else {
			rng, r = RandomUniform(rng, shapes.Make(u.DType(), u.Shape().Dimensions...))
		}
		sample := ConvertDType(LessThan(r, p), u.DType())
		s := PGSurrogate(u, sample, b.Labels, m.Margin)
		r = TripletReward(sample, b.Labels, m.Margin)
		if total == nil {
			total, reward = s, r
		} else {
			total, reward = Add(total, s), Add(reward, r)
		}
	}
	// The surrogate's value is meaningless (of order 1/(n k)); the loss
	// reads as the negative reward of the greedy codes, the test-time
	// action, and keeps the surrogate's gradient.
	total = DivScalar(total, float64(max(m.Samples, 1)))
	if m.Entropy > 0 {
		// Same 1/(n k) scale as the surrogate: the gradient is that of
		// -(E[R] + Entropy mean H) / (n k).
		n, k := u.Shape().Dimensions[0], u.Shape().Dimensions[1]
		bonus := MulScalar(ReduceAllMean(BernoulliEntropy(u)), m.Entropy/float64(n*k))
		total = Sub(total, bonus)
	}
	b.Report("reward", DivScalar(reward, float64(max(m.Samples, 1))))
	b.Report("certainty", Abs(OneMinus(MulScalar(p, 2))))
	return Add(StopGradient(Neg(TripletReward(greedy, b.Labels, m.Margin))), Sub(total, StopGradient(total)))
}

// PGSurrogate is the REINFORCE loss of the action b (0/1, [n, k]) with
// the value baseline: its gradient with respect to u is the estimate of
// -grad E[R] / (n k), and its value is -mean(advantage x log-probability).
func PGSurrogate(u, b, labels *Node, margin float64) *Node {
	p := Sigmoid(StopGradient(u))
	adv := StopGradient(Mul(Sub(b, p), flipGains(b, labels, margin)))
	logp := Sub(Mul(b, u), Softplus(u))
	return Neg(ReduceAllMean(Mul(adv, logp)))
}

// BernoulliEntropy returns, elementwise, the entropy in nats of the bit
// drawn with probability p = sigmoid(u), H = -p log p - (1-p) log(1-p),
// written as softplus(u) - p u; its derivative is -u p (1-p).
func BernoulliEntropy(u *Node) *Node {
	return Sub(Softplus(u), Mul(Sigmoid(u), u))
}

// flipGains returns R_i(b, b_ik = 1) - R_i(b, b_ik = 0), [n, k]: how much
// the terms of image i's pairs gain when its bit k is 1 rather than 0, the
// other bits as in b. Flipping b_ik moves d_ij to
// d_ij - |b_ik - b_jk| + (1 - b_jk) (bit 1) or + b_jk (bit 0).
func flipGains(b, labels *Node, margin float64) *Node {
	k := b.Shape().Dimensions[1]
	capAt := margin * float64(k)
	w := tripletWeights(labels, b)
	sym := Add(w, Transpose(w, 0, 1))
	neg := OneMinus(PairSimilarity(labels, b.DType()))
	d := hamming01(b)
	bi, bj := ExpandAxes(b, 1), ExpandAxes(b, 0) // [n, 1, k], [1, n, k]
	base := Sub(ExpandAxes(d, 2), Sub(Add(bi, bj), MulScalar(Mul(bi, bj), 2)))
	d1, d0 := Add(base, OneMinus(bj)), Add(base, bj)
	// f(d) = d on positive pairs, min(d, cap) = d - relu(d - cap) on negative ones.
	over := Sub(encoder.Relu(AddScalar(d1, -capAt)), encoder.Relu(AddScalar(d0, -capAt)))
	diff := Sub(Sub(d1, d0), Mul(ExpandAxes(neg, 2), over))
	return DivScalar(ReduceSum(Mul(ExpandAxes(sym, 2), diff), 1), float64(k))
}

// hamming01 returns the [n, n] Hamming distances between the 0/1 rows of b.
func hamming01(b *Node) *Node {
	ones := ReduceSum(b, 1)
	return Sub(Add(ExpandAxes(ones, 1), ExpandAxes(ones, 0)), MulScalar(MatMul(b, Transpose(b, 0, 1)), 2))
}

// tripletWeights returns the [n, n] weights w such that the triplet
// reward of the type's doc is R(b) = sum_ij w_ij f_ij(d_ij) / k: for
// anchor i, 1/|N(i)| on its negatives and -1/|P(i)| on its positives
// (other images of its label), over n anchors; like gives the dtype.
func tripletWeights(labels *Node, like *Node) *Node {
	g := like.Graph()
	n := like.Shape().Dimensions[0]
	sim := PairSimilarity(labels, like.DType())
	eye := ConvertDType(Equal(Iota(g, shapes.Make(like.DType(), n, n), 0), Iota(g, shapes.Make(like.DType(), n, n), 1)), like.DType())
	pos := Sub(sim, eye)
	neg := OneMinus(sim)
	one := ScalarOne(g, like.DType())
	nPos := Max(ReduceSum(pos, 1), one)
	nNeg := Max(ReduceSum(neg, 1), one)
	w := Sub(Div(neg, ExpandAxes(nNeg, 1)), Div(pos, ExpandAxes(nPos, 1)))
	return DivScalar(w, float64(n))
}

// TripletReward returns R(b), the batch's capped triplet ranking reward,
// negatives' distances counted up to margin k bits.
func TripletReward(b, labels *Node, margin float64) *Node {
	k := b.Shape().Dimensions[1]
	d := hamming01(b)
	neg := OneMinus(PairSimilarity(labels, b.DType()))
	f := Sub(d, Mul(neg, encoder.Relu(AddScalar(d, -margin*float64(k)))))
	return DivScalar(ReduceAllSum(Mul(tripletWeights(labels, b), f)), float64(k))
}
