#!/usr/bin/env python3
"""The PyTorch peer of 'lookalike index' on a photo folder: decode (PIL),
resize to 224x224, normalize, and run torchvision's MobileNetV2 (width 1.4,
the default backbone's architecture; random weights, as no pretrained ones
can be downloaded here) up to its last feature map, in batches.

    torch_mobilenet_pipeline.py FOLDER [--threads N] [--batch 16]

Prints one line: torch VERSION images=N seconds=S images/s=R (the first
batch, a warm-up, is not timed).
"""
import argparse
import os
import sys
import time

import torch
import torchvision
from PIL import Image
from torchvision import transforms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=16)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    exts = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff")
    files = sorted(
        os.path.join(d, f) for d, _, fs in os.walk(a.folder) for f in fs if f.lower().endswith(exts)
    )
    if len(files) <= a.batch:
        sys.exit("need more than one batch of images")
    net = torchvision.models.mobilenet_v2(width_mult=1.4).features.eval()
    prep = transforms.Compose([
        transforms.Resize((224, 224)),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])

    def run(batch):
        x = torch.stack([prep(Image.open(f).convert("RGB")) for f in batch])
        with torch.no_grad():
            y = net(x)
        return y.mean(dim=(2, 3))

    run(files[: a.batch])
    start = time.time()
    n = 0
    for i in range(a.batch, len(files), a.batch):
        batch = files[i : i + a.batch]
        run(batch)
        n += len(batch)
    s = time.time() - start
    print(f"torch {torch.__version__} images={n} seconds={s:.3f} images/s={n / s:.2f}")


if __name__ == "__main__":
    main()
