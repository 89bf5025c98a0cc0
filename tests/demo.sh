#!/usr/bin/env bash
# make demo: compile models/mlp.dlm to a native executable, train it for 5
# epochs on Fashion-MNIST (SGD, momentum 0.9, lr 0.01, batch 64), report the
# test accuracy, and classify a few test images with the trained weights;
# then embed the trained network in a C program (dlc header,
# examples/classify.c) and classify the same images with it.
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
"$OUT/mlp" info | head -24
echo
echo "== $OUT/mlp train --epochs 5 --save $OUT/mlp.ckpt --log $OUT/curve.csv --plot $OUT/curve.svg"
"$OUT/mlp" train --epochs 5 --save "$OUT/mlp.ckpt" --log "$OUT/curve.csv" --plot "$OUT/curve.svg"
echo
echo "== $OUT/mlp eval --weights $OUT/mlp.ckpt   (the 10000 test images)"
"$OUT/mlp" eval --weights "$OUT/mlp.ckpt"
echo
echo "== $OUT/mlp predict --weights $OUT/mlp.ckpt --limit 10   (first 10 test images)"
"$OUT/mlp" predict --weights "$OUT/mlp.ckpt" --input "$FM/t10k-images-idx3-ubyte.gz" \
  --labels "$FM/t10k-labels-idx1-ubyte.gz" --limit 10
echo
echo "== $BUILD/dlc header models/mlp.dlm --weights $OUT/mlp.ckpt -o $OUT/mlp.h --stats"
"$BUILD/dlc" header models/mlp.dlm --weights "$OUT/mlp.ckpt" -o "$OUT/mlp.h" --stats
gzip -dc "$FM/t10k-images-idx3-ubyte.gz" >"$OUT/t10k-images.idx"
gzip -dc "$FM/t10k-labels-idx1-ubyte.gz" >"$OUT/t10k-labels.idx"
echo
echo "== cc -std=c99 -O2 -I$OUT examples/classify.c -o $OUT/classify -lm   (the network inside a C program)"
"${CC:-cc}" -std=c99 -O2 -Wall -Wextra -pedantic -I"$OUT" examples/classify.c -o "$OUT/classify" -lm
"$OUT/classify" "$OUT/t10k-images.idx" "$OUT/t10k-labels.idx" 10
echo
echo "The learning curve is in $OUT/curve.csv and $OUT/curve.svg; the weights in $OUT/mlp.ckpt;"
echo "the network as C in $OUT/mlp.h."
