#!/usr/bin/env bash
# The main jobs. First, index the photos of Debian's python3-skimage with the
# default pretrained CNN and search them with one of them. Then train DSH
# (48 bits) on fmnist-1k, index the 60,000-image database, evaluate
# (mAP@all, mAP@1000, P@r<=2, PR curve) and search. Killed during training,
# a rerun resumes from the last epoch's checkpoint. Everything it writes
# goes to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PATH:/usr/local/go/bin"
mkdir -p out
L=bin/lookalike
photos=/usr/lib/python3/dist-packages/skimage/data
$L index --index out/photos.idx "$photos"
echo
echo "photos most like $photos/chelsea.png:"
$L search --index out/photos.idx --k 5 "$photos/chelsea.png"
echo
if [ ! -f out/dsh48.lkm ]; then
	$L train --method dsh --bits 48 --protocol fmnist-1k --out out/dsh48.lkm
fi
$L index --model out/dsh48.lkm --protocol fmnist-1k --index out/fmnist.idx
$L eval --index out/fmnist.idx --protocol fmnist-1k --plot out/pr-dsh48.svg --report out/eval-dsh48.json
echo
echo "nearest neighbours of database image 0:"
$L search --index out/fmnist.idx --id 0 --k 5
echo
echo "wrote out/photos.idx, out/dsh48.lkm, out/fmnist.idx, out/eval-dsh48.json and out/pr-dsh48.svg"
