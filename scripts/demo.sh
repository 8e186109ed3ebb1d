#!/usr/bin/env bash
# The main jobs. First, index the photos of Debian's python3-skimage with the
# default pretrained CNN and search them with one of them. Then train DSH
# (48 bits) on fmnist-1k, index the 60,000-image database, evaluate
# (mAP@all, mAP@1000, P@r<=2, PR curve) and search. Killed during training,
# a rerun resumes from the last epoch's checkpoint. Everything it writes
# goes to out/.
#
# The optional argument names the protocol of the second job: fmnist-1k
# (default) or fmnist-full (train on all 60,000 train images for 2 epochs,
# headline mAP@1000).
set -euo pipefail
protocol=${1:-fmnist-1k}
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
model=out/dsh48-$protocol.lkm
if [ ! -f "$model" ]; then
	$L train --method dsh --bits 48 --protocol "$protocol" --out "$model"
fi
$L index --model "$model" --protocol "$protocol" --index "out/$protocol.idx"
$L eval --index "out/$protocol.idx" --protocol "$protocol" --plot "out/pr-dsh48-$protocol.svg" --report "out/eval-dsh48-$protocol.json"
echo
echo "nearest neighbours of database image 0:"
$L search --index "out/$protocol.idx" --id 0 --k 5
echo
echo "wrote out/photos.idx, $model, out/$protocol.idx, out/eval-dsh48-$protocol.json and out/pr-dsh48-$protocol.svg"
