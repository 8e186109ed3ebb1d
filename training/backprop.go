package training

import (
	"fmt"
	"strings"
	"sync"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/lookalike/lookalike/encoder"
	"github.com/lookalike/lookalike/hashing"
)

// tapedOptimizer gives an optimizer the gradients of the encoder's written
// backward pass (encoder.Tape) instead of GoMLX's automatic
// differentiation through the network, which on the pure-Go backend took
// about twice as long per step (see encoder's layers.go).
//
// The network's output reaches the loss through a node that stops
// automatic differentiation below it; the gradient of the loss with
// respect to that node (and to any variable of the method's own, outside
// the network) still comes from automatic differentiation, and the tape
// carries it down through the network.
type tapedOptimizer struct {
	optimizer.Interface
	withGradients train.OptimizeWithGradients
	mu            sync.Mutex
	tapes         map[*Graph]taped
	// shared is set when the loss also runs the network outside the tape
	// (hashing.SharedDiscriminator): the network's variables then add
	// automatic differentiation's gradient to the tape's.
	shared bool
}

type taped struct {
	tape   *encoder.Tape
	output *Node
}

func newTapedOptimizer(opt optimizer.Interface) (*tapedOptimizer, error) {
	o, ok := opt.(train.OptimizeWithGradients)
	if !ok {
		return nil, fmt.Errorf("training: optimizer %T cannot take gradients", opt)
	}
	return &tapedOptimizer{Interface: opt, withGradients: o, tapes: map[*Graph]taped{}}, nil
}

// sharedNetwork gives a loss the network as a function of its own images
// (hashing.Network): a second pass, in training mode, over the network's
// variables, differentiated automatically. The pass leaves the batch
// normalization's running statistics as the batch's own pass set them, so
// that inference sees the statistics of the training images only.
func sharedNetwork(net encoder.CNN, store *model.Store, g *Graph) hashing.Network {
	scope := store.Scope("/" + encoder.Scope)
	prefix := "/" + encoder.Scope + "/"
	var weights *Node
	for v := range store.IterVariables() {
		if strings.HasPrefix(v.Path(), prefix) && strings.HasSuffix(v.Path(), "_out/weights") && v.InUseByGraph(g) {
			weights = v.NodeValue(g)
		}
	}
	encode := func(images *Node) *Node {
		type held struct {
			v   *model.Variable
			val *Node
		}
		var stats []held
		for v := range store.IterVariables() {
			if strings.HasPrefix(v.Path(), prefix) && !v.Trainable && v.InUseByGraph(g) {
				stats = append(stats, held{v, v.NodeValue(g)})
			}
		}
		out := net.Build(scope, images)
		for _, h := range stats {
			h.v.SetNodeValue(h.val)
		}
		return out
	}
	return hashing.Network{Encode: encode, OutputWeights: weights}
}

// build runs the network for a training step of graph g and returns the
// output the loss should see.
func (o *tapedOptimizer) build(net encoder.CNN, scope *model.Scope, x *Node) *Node {
	u, tape := net.Train(scope, x)
	// Identity over StopGradient: a node whose own gradient automatic
	// differentiation computes, without going below it.
	out := Identity(StopGradient(u))
	o.mu.Lock()
	o.tapes[x.Graph()] = taped{tape: tape, output: out}
	o.mu.Unlock()
	return out
}

// features returns the output layer's inputs of the network built in g
// through build, held constant (nil when none was).
func (o *tapedOptimizer) features(g *Graph) *Node {
	o.mu.Lock()
	t, ok := o.tapes[g]
	o.mu.Unlock()
	if !ok || t.tape.Features() == nil {
		return nil
	}
	return StopGradient(t.tape.Features())
}

// UpdateGraph implements optimizer.Interface.
func (o *tapedOptimizer) UpdateGraph(scope *model.Scope, g *Graph, loss *Node) {
	o.mu.Lock()
	t, ok := o.tapes[g]
	o.mu.Unlock()
	if !ok {
		// Not a graph the network was built in through build: plain
		// automatic differentiation.
		o.Interface.UpdateGraph(scope, g, loss)
		return
	}
	onTape := map[*model.Variable]bool{}
	for _, v := range t.tape.Variables() {
		onTape[v] = true
	}
	var vars []*model.Variable
	targets := []*Node{t.output}
	for v := range scope.IterVariables() {
		if v.Trainable && v.InUseByGraph(g) {
			vars = append(vars, v)
			if !onTape[v] || o.shared {
				targets = append(targets, v.NodeValue(g))
			}
		}
	}
	auto := Gradient(loss, targets...)
	network := t.tape.Backward(auto[0])
	grads := make([]*Node, len(vars))
	next := 1
	for i, v := range vars {
		switch {
		case onTape[v] && o.shared:
			grads[i] = Add(network[v], auto[next])
			next++
		case onTape[v]:
			grads[i] = network[v]
		default:
			grads[i] = auto[next]
			next++
		}
	}
	o.withGradients.UpdateGraphWithGradients(scope, grads, loss.DType())
}
