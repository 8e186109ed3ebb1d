#!/usr/bin/env bash
# Installs what Lookalike needs on a Debian machine and builds bin/lookalike.
#   scripts/setup.sh          the datasets, the pretrained model, the build
#   scripts/setup.sh --peers  also the peers the benchmarks compare against
#                             (python3-torch, python3-torchvision,
#                             python3-faiss, python3-sklearn) and the
#                             training images of the learned heads
#                             (openclipart-png)
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

# chromium: the server test drives the web page in headless Chromium
# (it skips without it).
apt_install dataset-fashion-mnist ca-certificates python3-skimage chromium
# openclipart-png: the images 'bench photos' and 'index --pooling gordo|solar'
# train the learned heads on (package learned).
if [ "${1:-}" = "--peers" ]; then
	apt_install python3-torch python3-torchvision python3-faiss python3-sklearn openclipart-png
fi
command -v npm >/dev/null || apt_install npm

# npm_extract PACKAGE@VERSION DEST MEMBER...: fetch the package tarball from
# the npm registry and extract MEMBERs (paths under package/) into DEST.
npm_extract() {
	local spec=$1 dest=$2
	shift 2
	local tmp
	tmp=$(mktemp -d)
	echo "setup: fetching $spec from the npm registry" >&2
	(cd "$tmp" && npm pack --silent "$spec" >/dev/null)
	local members=()
	for m in "$@"; do members+=("package/$m"); done
	tar xzf "$tmp"/*.tgz -C "$tmp" "${members[@]}"
	mkdir -p "$dest"
	for m in "$@"; do cp -r "$tmp/package/$m" "$dest/"; done
	rm -rf "$tmp"
}

# Pretrained CNN inference: ONNX Runtime's CPU library from the npm package
# onnxruntime-node, and the default model, nsfwjs's TF.js MobileNetV2 (its
# ImageNet backbone), which 'lookalike' imports at first use.
case "$(uname -m)" in
x86_64) ort_arch=x64 ;;
aarch64) ort_arch=arm64 ;;
*) ort_arch="" ;;
esac
if [ -n "$ort_arch" ] && [ ! -f deps/onnxruntime/libonnxruntime.so.1 ]; then
	npm_extract onnxruntime-node@1.30.0 deps/onnxruntime "bin/napi-v6/linux/$ort_arch/libonnxruntime.so.1"
fi
if [ ! -f deps/models/mobilenet_v2_mid/model.min.js ]; then
	npm_extract nsfwjs@4.4.0 deps/models dist/models/mobilenet_v2_mid
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
