// Package learned holds global image descriptors learned on the frozen
// feature maps of a pretrained CNN: the two heads of the retrieval
// literature that train only what sits on top of the backbone.
//
//   - Gordo et al. 2016 (gordo.go): R-MAC whose regions are shifted and
//     projected by a PCA-initialized fully connected layer, learned with a
//     three-stream siamese network and the triplet ranking loss.
//   - SOLAR, Ng et al. 2020 (solar.go): a second-order attention block on
//     the feature map, GeM and a learned whitening layer, learned with the
//     triplet loss plus the second-order similarity loss.
//
// Each file cites its paper, writes its loss as the paper does, and lists
// where this implementation departs from it.
//
// # Training data
//
// The papers train on landmark photos grouped by landmark. Here the
// groups are instances: an image and a few edited copies of it (package
// neardup's edits: crops, rotations, JPEG, blur...), drawn with a seed
// other than the near-duplicate benchmark's, from a folder disjoint from
// the benchmark's photos (Debian's openclipart-png by default; Pick and
// BuildSet). The backbone runs once per image; its maps stay in memory
// (a 1792x7x7 map is 351 KB: 4,000 images take 1.4 GB) and training
// touches only the head, on the pure-Go GoMLX backend with automatic
// differentiation.
//
// Every epoch mines hard negatives with the current model
// (HardNegatives): for each query drawn for the epoch, the nearest images
// of other groups among a pool drawn anew, one per group. A tuple is the
// query, one of its copies as the positive, and those negatives.
//
// # Heads
//
// Train returns a Head, which describes feature maps of any size with the
// channel count it was trained on (Head.Describe; album.Extractor takes it
// in place of a fixed pooling), and records how it was trained. Save and
// Load keep it in a head file (.lkh): a magic, a format version, a JSON
// header naming the method and the variables' shapes, the weights, and a
// CRC-32C; Load checks them in that order and reports damage with
// ErrMagic, ErrVersion, ErrChecksum or ErrCorrupt.
package learned
