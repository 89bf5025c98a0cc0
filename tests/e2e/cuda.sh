#!/usr/bin/env bash
# The CUDA target without a GPU: for every model in models/, NVRTC
# compiles the generated CUDA C with an empty log (no errors, no warnings)
# and the PTX has a .entry for every __global__ function; the executable
# built, run where there is no CUDA driver, says so and exits 1; and the
# build's own mistakes (no NVRTC, bad --target or --gpu-arch) are clear
# messages. Everything NVRTC does is skipped when NVRTC is absent.
set -u
cd "$(dirname "$0")/../.."
D=$(mktemp -d "${TMPROOT:-/tmp}/cuda.XXXXXX")
NVRTC=${DLC_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}

# Wrong use of the flags: a message and exit 1, before any compiling.
if ! "$DLC" build --target tpu models/mlp.dlm -o "$D/x" 2>"$D/t.err" &&
   grep -q -- "--target must be cpu or cuda, not 'tpu'" "$D/t.err" &&
   ! "$DLC" build --target cuda --gpu-arch ampere models/mlp.dlm -o "$D/x" 2>"$D/a.err" &&
   grep -q -- "--gpu-arch must name a compute capability such as sm_80, not 'ampere'" "$D/a.err"; then
  echo "PASS cuda/flags"
else
  echo "FAIL cuda/flags"; cat "$D/t.err" "$D/a.err"
fi

# No NVRTC where it is looked for: a clear message, exit 1, no executable.
DLC_NVRTC="$D/no-such-libnvrtc.so" "$DLC" build --target cuda models/mlp.dlm -o "$D/nonvrtc" 2>"$D/n.err"; rc=$?
if [ $rc -eq 1 ] && grep -q "needs NVRTC" "$D/n.err" && [ ! -e "$D/nonvrtc" ]; then
  echo "PASS cuda/no-nvrtc"
else
  echo "FAIL cuda/no-nvrtc (exit $rc)"; cat "$D/n.err"
fi

if [ ! -e "$NVRTC" ]; then
  echo "SKIP cuda/nvrtc (no NVRTC at $NVRTC)"
  exit 0
fi

for m in models/*.dlm; do
  b=$(basename "$m" .dlm)
  if "$DLC" build --target cuda "$m" -o "$D/$b" --emit-cuda "$D/$b.cu" --emit-ptx "$D/$b.ptx" 2>"$D/$b.err" &&
     [ ! -s "$D/$b.err" ] && [ -x "$D/$b" ]; then
    want=$(grep -c '__global__ void' "$D/$b.cu"); got=$(grep -c '^\.visible \.entry' "$D/$b.ptx")
    if [ "$want" -gt 0 ] && [ "$want" = "$got" ]; then
      echo "PASS cuda/nvrtc/$b"
    else
      echo "FAIL cuda/nvrtc/$b ($want __global__ functions, $got PTX entries)"
    fi
  else
    echo "FAIL cuda/nvrtc/$b"; head -30 "$D/$b.err"
  fi
done

# The executable without a driver (this machine, and any CI runner): the
# parts that need no GPU work, the first entry called says why it cannot
# run and exits 1. Where a driver is installed, tests/gpu/ checks the rest.
if [ -x "$D/mlp" ] && ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1'; then
  "$D/mlp" init --seed 1 -o "$D/w.ckpt" >/dev/null 2>&1
  "$D/mlp" predict --weights "$D/w.ckpt" --input /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz \
    --limit 10 -o "$D/p.npy" >"$D/p.out" 2>"$D/p.err"; rc=$?
  if [ $rc -eq 1 ] && grep -q "^error: this program runs its kernels on an NVIDIA GPU" "$D/p.err" &&
     grep -q "CUDA driver cannot be loaded" "$D/p.err"; then
    echo "PASS cuda/no-driver"
  else
    echo "FAIL cuda/no-driver (exit $rc)"; cat "$D/p.err"
  fi
else
  echo "SKIP cuda/no-driver (a CUDA driver is installed here)"
fi
rm -rf "$D"
