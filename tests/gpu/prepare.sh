#!/usr/bin/env bash
# make gpu-bundle: everything `make test-gpu` needs, built here (where dlc,
# LLVM and the data set are), into $BUILD/gpu/, to be copied to a machine
# with an NVIDIA GPU, which needs only its driver (and PyTorch with CUDA
# for the comparison of speed):
#   ops/          every op case of tests/unit/test_ops.c as a CUDA
#                 executable, its inputs, weights and the reference
#                 interpreter's output (ops/ops.list)
#   mlp.cuda lenet5.cuda    the models built with --target cuda
#   cpu_accuracy.txt        their test accuracy after one epoch on the CPU
#   data/         Fashion-MNIST; npycmp; run.sh; torch_step.py
#   *.cu          the CUDA C of each executable, for a dry run of run.sh on
#                 the CPU stand-in driver (GPU_EMULATE, see run.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
OUT=$PWD/$BUILD/gpu
FM=/usr/share/datasets/fashion-mnist
ARCH=${GPU_ARCH:-sm_80}
rm -rf "$OUT"
mkdir -p "$OUT/ops" "$OUT/data"
cp "$FM"/train-images-idx3-ubyte.gz "$FM"/train-labels-idx1-ubyte.gz \
   "$FM"/t10k-images-idx3-ubyte.gz "$FM"/t10k-labels-idx1-ubyte.gz "$OUT/data/"
cp "$BUILD/tools/npycmp" tests/gpu/run.sh tests/gpu/torch_step.py tests/tools/cudaemu.h "$OUT/"
DATA="--data-images data/train-images-idx3-ubyte.gz --data-labels data/train-labels-idx1-ubyte.gz"
TEST="--test-images data/t10k-images-idx3-ubyte.gz --test-labels data/t10k-labels-idx1-ubyte.gz"
: >"$OUT/cpu_accuracy.txt"
for m in mlp lenet5; do
  "$BUILD/dlc" build --target cuda --gpu-arch "$ARCH" models/$m.dlm -o "$OUT/$m.cuda" --emit-cuda "$OUT/$m.cu"
  "$BUILD/dlc" build models/$m.dlm -o "$OUT/$m.cpu"
  (cd "$OUT" && ./$m.cpu train --epochs 1 --seed 1 --quiet $DATA $TEST --save $m.cpu.ckpt >/dev/null &&
   acc=$(./$m.cpu eval --weights $m.cpu.ckpt $TEST | sed -n 's/^accuracy \([0-9.]*\)%.*/\1/p') &&
   echo "$m $acc" >>cpu_accuracy.txt && rm -f $m.cpu $m.cpu.ckpt)
done
T=$(mktemp -d /tmp/dlc-gpu-prep.XXXXXX)
ROOT=$PWD
(cd "$T" && DLC_OPS_PREPARE="$OUT/ops" DLC="$ROOT/$BUILD/dlc" TOOLS="$ROOT/$BUILD/tools" \
   "$ROOT/$BUILD/unit/test_ops" | grep -v '^PASS' || true)
rm -rf "$T"
strip "$OUT"/*.cuda "$OUT"/ops/*.cuda "$OUT/npycmp" 2>/dev/null || true
echo "bundle in $OUT: $(wc -l <"$OUT/ops/ops.list") op cases, $(du -sh "$OUT" | cut -f1)"
cat "$OUT/cpu_accuracy.txt"
