#!/usr/bin/env bash
# make demo: compile the MLP of models/mlp.dlm, initialise it from a seed
# and classify Fashion-MNIST test images with the native executable.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
FM=/usr/share/datasets/fashion-mnist
OUT=demo
mkdir -p "$OUT"
echo "== dlc build models/mlp.dlm -o $OUT/mlp --stats"
"$BUILD/dlc" build models/mlp.dlm -o "$OUT/mlp" --stats
echo
echo "== $OUT/mlp info"
"$OUT/mlp" info
echo
echo "== $OUT/mlp init --seed 1 -o $OUT/mlp-init.ckpt"
"$OUT/mlp" init --seed 1 -o "$OUT/mlp-init.ckpt"
echo
echo "== $OUT/mlp predict (first 10 test images, untrained weights)"
"$OUT/mlp" predict --weights "$OUT/mlp-init.ckpt" --input "$FM/t10k-images-idx3-ubyte.gz" \
  --labels "$FM/t10k-labels-idx1-ubyte.gz" --limit 10
echo
echo "== $OUT/mlp predict (all 10000 test images)"
"$OUT/mlp" predict --weights "$OUT/mlp-init.ckpt" --input "$FM/t10k-images-idx3-ubyte.gz" \
  --labels "$FM/t10k-labels-idx1-ubyte.gz" -o "$OUT/probs.npy" 
echo
echo "Untrained weights classify at about chance (10%); training arrives with './mlp train'."
