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

# Every fuzz target for a few seconds beyond its seed corpus (go test ran
# the seeds): request parsing, image decoding, and the file formats.
for target in $(git ls-files '*_test.go' | xargs grep -l '^func Fuzz'); do
	pkg=./$(dirname "$target")
	for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$target" | cut -d' ' -f2); do
		# go's fuzzing coordinator can give up on a busy worker at the
		# deadline ("context deadline exceeded", no failing input saved):
		# that alone earns one more run; a found input fails at once.
		if ! out=$(go test -run XXX -fuzz "^$fn\$" -fuzztime 3s "$pkg" 2>&1); then
			echo "$out"
			grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out" || exit 1
			go test -run XXX -fuzz "^$fn\$" -fuzztime 3s "$pkg"
		else
			echo "$out"
		fi
	done
done
