package training

import (
	"fmt"
	"path"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

// Optimizers the trainer offers (Config.Optimizer).
const (
	// Adam is Kingma and Ba's, the default, as the PyTorch reference.
	Adam = "adam"
	// SGD is stochastic gradient descent with momentum, as several of
	// the seed's authors train (GAH's and DVSQ's code, Caffe's solvers).
	SGD = "sgd"
)

// SGDMomentum is the momentum of the SGD optimizer, Caffe's and the
// seed's authors' usual 0.9.
const SGDMomentum = 0.9

// momentumSGD is stochastic gradient descent with heavy-ball momentum in
// PyTorch's form, v = mu v + g, w = w - lr v (no dampening, no weight
// decay), its learning rate the store's learning-rate variable, which the
// schedule sets. GoMLX's own SGD has no momentum.
type momentumSGD struct {
	rate, momentum float64
}

// sgdScope holds the velocities, one per trainable variable, under the
// variable's own scope path.
const sgdScope = "sgd"

// UpdateGraph implements optimizer.Interface.
func (o momentumSGD) UpdateGraph(scope *model.Scope, g *Graph, loss *Node) {
	if !loss.Shape().IsScalar() {
		panic(fmt.Errorf("sgd: the loss must be a scalar, got %s", loss.Shape()))
	}
	o.UpdateGraphWithGradients(scope, scope.BuildTrainableVariablesGradientsGraph(loss), loss.DType())
}

// UpdateGraphWithGradients implements train.OptimizeWithGradients: grads
// are in the order of scope's trainable variables in use by the graph.
func (o momentumSGD) UpdateGraphWithGradients(scope *model.Scope, grads []*Node, dtype dtypes.DType) {
	if len(grads) == 0 {
		return
	}
	g := grads[0].Graph()
	lr := optimizer.LearningRateVar(scope, dtype, o.rate).NodeValue(g)
	optimizer.IncrementGlobalStep(g, dtype)
	i := 0
	for v := range scope.IterVariables() {
		if !v.Trainable || !v.InUseByGraph(g) {
			continue
		}
		if i >= len(grads) {
			panic(fmt.Errorf("sgd: more trainable variables than the %d gradients", len(grads)))
		}
		grad := grads[i]
		i++
		shape := v.Shape().Clone()
		velocity := scope.Store().Scope(path.Join("/", sgdScope, v.Scope())).
			WithInitializer(initializer.Zero).
			VariableWithShape(fmt.Sprintf("%s_velocity", v.Name()), shape).
			SetTrainable(false)
		step := Add(MulScalar(velocity.NodeValue(g), o.momentum), grad)
		velocity.SetNodeValue(step)
		w := v.NodeValue(g)
		rate := lr
		if rate.DType() != w.DType() {
			rate = ConvertDType(rate, w.DType())
		}
		v.SetNodeValue(Sub(w, Mul(step, rate)))
	}
}

// Clear implements optimizer.Interface: it drops the velocities.
func (o momentumSGD) Clear(scope *model.Scope) error {
	return scope.Store().Scope("/" + sgdScope).DeleteVariablesInScope()
}

// DefaultLearningRate is the learning rate of an optimizer when none is
// given: Adam's 1e-3, the PyTorch reference's; SGD's 0.01.
func DefaultLearningRate(optimizer string) float64 {
	if optimizer == SGD {
		return 0.01
	}
	return 1e-3
}

// CheckOptimizer says why name is not an optimizer of the trainer, or
// nil: "adam", "sgd", or empty for the default.
func CheckOptimizer(name string) error {
	if name != "" && name != Adam && name != SGD {
		return fmt.Errorf("unknown optimizer %q (adam or sgd)", name)
	}
	return nil
}

// newOptimizer returns the optimizer named by c.Optimizer.
func (c *Config) newOptimizer() (optimizer.Interface, error) {
	switch c.Optimizer {
	case "", Adam:
		return optimizer.Adam().LearningRate(c.LearningRate).Epsilon(1e-8).Done(), nil
	case SGD:
		return momentumSGD{rate: c.LearningRate, momentum: SGDMomentum}, nil
	}
	return nil, fmt.Errorf("training: unknown optimizer %q (adam or sgd)", c.Optimizer)
}
