#!/usr/bin/env bash
# The test suite: formatting, vet, staticcheck and every Go test (the
# Fashion-MNIST ones included: setup installs the dataset).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"
export GOEXPERIMENT=simd

unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi
go vet ./...
if ! command -v staticcheck >/dev/null; then
	go install honnef.co/go/tools/cmd/staticcheck@v0.8.2 >/dev/null 2>&1 ||
		go install honnef.co/go/tools/cmd/staticcheck@latest
fi
staticcheck ./...
go test -count=1 ./...
