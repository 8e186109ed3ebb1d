#!/usr/bin/env bash
# Installs what Lookalike needs on a Debian machine and builds bin/lookalike.
#   scripts/setup.sh          the dataset and the build
#   scripts/setup.sh --peers  also the peers the benchmarks compare against
#                             (python3-torch, python3-faiss, python3-sklearn)
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
apt_install() {
	local missing=()
	for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "setup: installing ${missing[*]}" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

apt_install dataset-fashion-mnist ca-certificates
if [ "${1:-}" = "--peers" ]; then
	apt_install python3-torch python3-faiss python3-sklearn
fi

# Go 1.26.5 or newer (GoMLX needs it; GOEXPERIMENT=simd gives the pure-Go
# backend its SIMD matmul). Debian's golang package is older: use the Go
# toolchain from go.dev or the machine's /usr/local/go.
export PATH="$PATH:/usr/local/go/bin"
if ! command -v go >/dev/null; then
	echo "setup: Go 1.26.5+ is required (not found on PATH or in /usr/local/go/bin)" >&2
	exit 1
fi
go mod download
GOEXPERIMENT=simd go build -o bin/lookalike ./cmd/lookalike
echo "setup: built bin/lookalike ($(go version | cut -d' ' -f3))" >&2
