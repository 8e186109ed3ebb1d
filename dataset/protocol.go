package dataset

import (
	"fmt"
	"path/filepath"
	"sort"
)

// DefaultFashionMNIST is where Debian's dataset-fashion-mnist package puts
// the files.
const DefaultFashionMNIST = "/usr/share/datasets/fashion-mnist"

// InstallHint tells a user how to get the default dataset.
const InstallHint = "install it with: sudo apt-get install -y dataset-fashion-mnist (or pass --data DIR)"

// Split is one evaluation protocol applied to its data: the images used to
// train, the queries and the database searched.
type Split struct {
	Protocol string
	Train    *Set
	// Unlabelled holds the training-split images outside Train, for
	// semi-supervised methods; nil when the protocol trains on all of them.
	Unlabelled *Set
	Query      *Set
	Database   *Set
	// HeadlineK is the K of the protocol's headline mAP@K; 0 means mAP@all.
	HeadlineK int
}

// Protocol defines which images of a dataset play which role
// (shared/protocols.md).
type Protocol struct {
	Name        string
	Description string
	// Load reads the data from dir and applies the protocol.
	Load func(dir string) (*Split, error)
}

var protocols = map[string]Protocol{}

// RegisterProtocol adds a protocol; registering a name twice panics, as it
// is a programming error.
func RegisterProtocol(p Protocol) {
	if _, ok := protocols[p.Name]; ok {
		panic("dataset: protocol registered twice: " + p.Name)
	}
	protocols[p.Name] = p
}

// LookupProtocol returns the named protocol.
func LookupProtocol(name string) (Protocol, error) {
	p, ok := protocols[name]
	if !ok {
		return Protocol{}, fmt.Errorf("dataset: unknown protocol %q (known: %v)", name, ProtocolNames())
	}
	return p, nil
}

// ProtocolNames lists the registered protocols, sorted.
func ProtocolNames() []string {
	var names []string
	for n := range protocols {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func init() {
	RegisterProtocol(Protocol{
		Name:        "fmnist-1k",
		Description: "Fashion-MNIST; query: first 100 test images per class; train: first 500 train images per class; database: all 60,000 train images; headline mAP@all",
		Load:        func(dir string) (*Split, error) { return loadFashion(dir, "fmnist-1k", 100, 500, 0) },
	})
	RegisterProtocol(Protocol{
		Name:        "fmnist-full",
		Description: "Fashion-MNIST; query: all 10,000 test images; train = database: all 60,000 train images; headline mAP@1000",
		Load:        func(dir string) (*Split, error) { return loadFashion(dir, "fmnist-full", 0, 0, 1000) },
	})
}

// FashionMNIST reads the train and test sets of Fashion-MNIST from dir.
func FashionMNIST(dir string) (train, test *Set, err error) {
	if dir == "" {
		dir = DefaultFashionMNIST
	}
	train, err = ReadIdx(filepath.Join(dir, "train-images-idx3-ubyte.gz"), filepath.Join(dir, "train-labels-idx1-ubyte.gz"))
	if err != nil {
		return nil, nil, err
	}
	test, err = ReadIdx(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// loadFashion applies a protocol; perClassQuery / perClassTrain of 0 mean
// the whole split.
func loadFashion(dir, name string, perClassQuery, perClassTrain, headlineK int) (*Split, error) {
	train, test, err := FashionMNIST(dir)
	if err != nil {
		return nil, err
	}
	s := &Split{Protocol: name, Database: train, Query: test, Train: train, HeadlineK: headlineK}
	if perClassQuery > 0 {
		if s.Query, err = test.Subset(FirstPerClass(test.Labels, perClassQuery)); err != nil {
			return nil, err
		}
	}
	if perClassTrain > 0 {
		pos := FirstPerClass(train.Labels, perClassTrain)
		if s.Train, err = train.Subset(pos); err != nil {
			return nil, err
		}
		if s.Unlabelled, err = train.Subset(complement(pos, train.Len())); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// FirstPerClass returns the positions of the first n items of each class,
// by file order, grouped by class in increasing label order (as the
// reference scripts build them).
func FirstPerClass(labels []int32, n int) []int {
	byClass := map[int32][]int{}
	for i, l := range labels {
		if len(byClass[l]) < n {
			byClass[l] = append(byClass[l], i)
		}
	}
	classes := make([]int, 0, len(byClass))
	for c := range byClass {
		classes = append(classes, int(c))
	}
	sort.Ints(classes)
	var out []int
	for _, c := range classes {
		out = append(out, byClass[int32(c)]...)
	}
	return out
}

func complement(pos []int, n int) []int {
	in := make([]bool, n)
	for _, p := range pos {
		in[p] = true
	}
	var out []int
	for i := 0; i < n; i++ {
		if !in[i] {
			out = append(out, i)
		}
	}
	return out
}
