#!/usr/bin/env bash
# The CUDA target computed, without a GPU: programs built with --target
# cuda run on a stand-in CUDA driver (tests/tools/cudaemu.c) that executes
# the generated CUDA C compiled as C++ (tests/tools/cudaemu.h) on the CPU,
# with the launch configurations, copies and device arena of the real
# runtime. Checked against the reference interpreter:
#   cuda/forward/M      the image models' outputs on 100 test images
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
