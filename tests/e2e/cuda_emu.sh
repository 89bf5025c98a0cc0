#!/usr/bin/env bash
# The CUDA target computed, without a GPU: programs built with --target
# cuda run on a stand-in CUDA driver (tests/tools/cudaemu.c) that executes
# the generated CUDA C compiled as C++ (tests/tools/cudaemu.h) on the CPU,
# with the launch configurations, copies and device arena of the real
# runtime. Checked against the reference interpreter:
#   cuda/forward/M      the image models' outputs on 100 test images
#   cuda/residency/...  weights stay on the device while training, and
#                       the trained weights match a CPU build's
#   train_step/cuda/... one training step (tests/e2e/train_step.sh)
#   op/cuda/...         every op case of tests/unit/test_ops.c
# and cuda/load-error: a driver that cannot load the module is reported.
# Skipped without NVRTC or a C++ compiler.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
EMU=$PWD/$BUILD/cudaemu
NVRTC=${DLC_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
CXX=${CXX:-c++}
if [ ! -e "$NVRTC" ]; then echo "SKIP cuda_emu (no NVRTC at $NVRTC)"; exit 0; fi
if ! command -v "$CXX" >/dev/null; then echo "SKIP cuda_emu (no C++ compiler $CXX)"; exit 0; fi
if [ ! -e "$EMU/libcuda.so.1" ]; then echo "FAIL cuda_emu (no $EMU/libcuda.so.1: make all)"; exit 1; fi
D=$(mktemp -d "${TMPROOT:-/tmp}/cudaemu.XXXXXX")
FM=/usr/share/datasets/fashion-mnist

# build M: $D/M (CUDA) and $D/M.so (its kernels for the stand-in driver).
build() {
  "$DLC" build --target cuda "models/$1.dlm" -o "$D/$1" --emit-cuda "$D/$1.cu" >"$D/$1.log" 2>&1 &&
    "$CXX" -O1 -shared -fPIC -include tests/tools/cudaemu.h -x c++ "$D/$1.cu" -o "$D/$1.so" >>"$D/$1.log" 2>&1
}
emu() { local m=$1; shift; LD_LIBRARY_PATH=$EMU DLC_CUDAEMU_MODULE=$D/$m.so "$D/$m" "$@"; }

for m in mlp mlp_explicit lenet5; do
  if build $m && "$D/$m" init --seed 3 -o "$D/$m.ckpt" >/dev/null &&
     emu $m predict --weights "$D/$m.ckpt" --input $FM/t10k-images-idx3-ubyte.gz --limit 100 \
       --batch 64 -o "$D/$m.got.npy" >/dev/null 2>"$D/$m.err" &&
     "$DLC" run "models/$m.dlm" --weights "$D/$m.ckpt" --input $FM/t10k-images-idx3-ubyte.gz \
       --limit 100 -o "$D/$m.want.npy" && "$TOOLS/npycmp" "$D/$m.got.npy" "$D/$m.want.npy" >"$D/$m.cmp"; then
    echo "PASS cuda/forward/$m"
  else
    echo "FAIL cuda/forward/$m"; cat "$D/$m.log" "$D/$m.err" "$D/$m.cmp" 2>/dev/null | head -20
  fi
done

# Residency: the weights and momentum stay on the device during training.
# Eighteen steps (2 epochs of 576 images, batch 64), a validation split
# (the eval entry between epochs) and a checkpoint after each epoch copy
# the weights in at most once per epoch, not once per step; and the run
# ends with the weights a CPU build of the same recipe reaches (the
# predictions of both checkpoints on 100 test images agree).
if [ -x "$D/mlp" ]; then
  # the first 64 test images and labels, for a short final evaluation
  { printf '\x00\x00\x08\x03\x00\x00\x00\x40\x00\x00\x00\x1c\x00\x00\x00\x1c'
    gzip -dc $FM/t10k-images-idx3-ubyte.gz | tail -c +17 | head -c $((64 * 784)); } >"$D/timg.idx"
  { printf '\x00\x00\x08\x01\x00\x00\x00\x40'
    gzip -dc $FM/t10k-labels-idx1-ubyte.gz | tail -c +9 | head -c 64; } >"$D/tlab.idx"
  recipe=(train --epochs 2 --limit 640 --batch 64 --validation-split 0.1 --threads 1 --quiet
          --test-images "$D/timg.idx" --test-labels "$D/tlab.idx")
  rm -f "$D/copies"
  if DLC_CUDAEMU_COPIES=$D/copies emu mlp "${recipe[@]}" --save "$D/gpu.ckpt" >"$D/res.out" 2>&1 &&
     "$DLC" build models/mlp.dlm -o "$D/mlp_cpu" >>"$D/res.out" 2>&1 &&
     "$D/mlp_cpu" "${recipe[@]}" --save "$D/cpu.ckpt" >>"$D/res.out" 2>&1 &&
     "$DLC" run models/mlp.dlm --weights "$D/gpu.ckpt" --input $FM/t10k-images-idx3-ubyte.gz \
       --limit 100 -o "$D/gpu.npy" >>"$D/res.out" 2>&1 &&
     "$DLC" run models/mlp.dlm --weights "$D/cpu.ckpt" --input $FM/t10k-images-idx3-ubyte.gz \
       --limit 100 -o "$D/cpu.npy" >>"$D/res.out" 2>&1; then
    # weights and momentum are both 940584 bytes (940608 as regions), the
    # largest copies; a batch of images is 200704: per epoch at most one
    # copy in of each (after the checkpoint of the epoch), 6 in all,
    # where copying them for every entry would make it 2 x 22 entries
    big=$(awk '$1 == "htod" && $2 >= 940584' "$D/copies" | wc -l)
    if [ "$big" -ge 2 ] && [ "$big" -le 6 ]; then
      echo "PASS cuda/residency/weights-in"
    else
      echo "FAIL cuda/residency/weights-in ($big copies of weights or state in for 18 steps)"
      sort "$D/copies" | uniq -c
    fi
    if "$TOOLS/npycmp" --rtol 1e-3 "$D/gpu.npy" "$D/cpu.npy" >"$D/res.cmp" 2>&1; then
      echo "PASS cuda/residency/trained-as-cpu"
    else
      echo "FAIL cuda/residency/trained-as-cpu"; head -5 "$D/res.cmp"
    fi
  else
    echo "FAIL cuda/residency (train or run)"; tail -8 "$D/res.out"
  fi
fi

# A driver that cannot load the module: the runtime names the call.
LD_LIBRARY_PATH=$EMU "$D/mlp" predict --weights "$D/mlp.ckpt" --input $FM/t10k-images-idx3-ubyte.gz \
  --limit 10 -o "$D/x.npy" >/dev/null 2>"$D/load.err"; rc=$?
if [ $rc -eq 1 ] && grep -q "^error: CUDA: cuModuleLoadDataEx cannot load the program's PTX" "$D/load.err"; then
  echo "PASS cuda/load-error"
else
  echo "FAIL cuda/load-error (exit $rc)"; cat "$D/load.err"
fi

STEP_TARGET=cuda bash tests/e2e/train_step.sh

if [ -x "$BUILD/unit/test_ops" ]; then
  DLC_OPS_TARGET=cuda DLC_CUDAEMU_LIB=$EMU DLC_ROOT=$PWD "$PWD/$BUILD/unit/test_ops" 2>&1 |
    grep -E '^(PASS|FAIL|SKIP) |^  '
else
  echo "FAIL op/cuda (no $BUILD/unit/test_ops: make test builds it)"
fi
rm -rf "$D"
