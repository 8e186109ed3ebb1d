#!/usr/bin/env bash
# Regenerates tfjs/testdata/mobilenet_v2_mid.json: the feature vectors that
# TensorFlow.js itself computes for the default model (deps/models, from
# scripts/setup.sh) on the test images of scripts/tfjs_reference.js.
# Needs Node.js and the npm registry (it installs @tensorflow/tfjs in a
# temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm init -y >/dev/null && npm install --silent @tensorflow/tfjs@4.22.0 >/dev/null)
cp scripts/tfjs_reference.js "$tmp/"
node "$tmp/tfjs_reference.js" "$PWD/deps/models/mobilenet_v2_mid/model.min.js" \
	"StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/StatefulPartitionedCall/predict/feature_vector/SpatialSqueeze" \
	3 2>/dev/null >tfjs/testdata/mobilenet_v2_mid.json
echo "wrote tfjs/testdata/mobilenet_v2_mid.json" >&2
