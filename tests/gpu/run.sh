#!/usr/bin/env bash
# make test-gpu (on a machine with an NVIDIA GPU and its driver): run from
# the bundle that tests/gpu/prepare.sh made (make gpu-bundle), which needs
# no compiler here. Prints one line per check (PASS, FAIL, SKIP) and the
# last line "N passed, N failed":
#   op/NAME N=K   every op case's CUDA output against the reference
#                 interpreter's (npycmp, relative 1e-4)
#   train/M       one epoch of M (mlp, lenet5) on the GPU reaches the CPU
#                 build's test accuracy within half a point
#   bench         training steps of both at batch 64 and 256 beside
#                 PyTorch CUDA (torch_step.py), into bench.md
# Without a GPU it says SKIP and exits 0. DLRT_CUDA_SYNC=1 names a failing
# kernel.
#
# GPU_EMULATE=DIR (a dry run of this script where there is no GPU): run
# every executable on the CPU stand-in driver DIR/libcuda.so.1
# (tests/tools/cudaemu.c), its kernels compiled as C++ from the bundle's
# .cu files; training then uses 128 samples and is not compared.
set -u
cd "$(dirname "$0")"
log=$(mktemp /tmp/dlc-gpu.XXXXXX)
emit() { echo "$1" | tee -a "$log"; }
EMU=${GPU_EMULATE:-}
# run EXE ARGS...: the executable, on the stand-in driver under GPU_EMULATE.
run() {
  local exe=$1; shift
  if [ -n "$EMU" ]; then
    [ -f "${exe%.cuda}.so" ] || ${CXX:-c++} -O1 -shared -fPIC -include "$BUNDLE/cudaemu.h" \
      -x c++ "${exe%.cuda}.cu" -o "${exe%.cuda}.so" || return 1
    LD_LIBRARY_PATH=$EMU DLC_CUDAEMU_MODULE=$PWD/${exe%.cuda}.so ./$exe "$@"
  else
    ./$exe "$@"
  fi
}
BUNDLE=$PWD
if [ -z "$EMU" ] && ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1' && ! command -v nvidia-smi >/dev/null; then
  echo "SKIP gpu (no CUDA driver on this machine: libcuda.so.1 not found)"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
export DLRT_CUDA_VERBOSE=1

# ---- every op against the reference interpreter
if [ -f ops/ops.list ]; then
  while read -r name n exe w want flags; do
    wflag=""; [ "$w" != "-" ] && wflag="--weights $w"
    if (cd ops && run $exe predict $wflag $flags -o got.npy >out.txt 2>err.txt &&
        ../npycmp --rtol 1e-4 got.npy "$want" >cmp.txt 2>&1); then
      emit "PASS op/$name N=$n"
    else
      emit "FAIL op/$name N=$n"; sed 's/^/    /' ops/err.txt ops/cmp.txt 2>/dev/null | head -12
    fi
  done <ops/ops.list
else
  emit "FAIL op (no ops/ops.list: run make gpu-bundle where dlc builds)"
fi

# ---- training: one epoch, the GPU's accuracy against the CPU's
DATA="--data-images data/train-images-idx3-ubyte.gz --data-labels data/train-labels-idx1-ubyte.gz"
TEST="--test-images data/t10k-images-idx3-ubyte.gz --test-labels data/t10k-labels-idx1-ubyte.gz"
LIMIT=""; [ -n "$EMU" ] && LIMIT="--limit 128"
for m in mlp lenet5; do
  cpu=$(awk -v m=$m '$1 == m {print $2}' cpu_accuracy.txt)
  [ -n "$EMU" ] && cpu="(not compared)"
  t0=$(date +%s.%N)
  if run $m.cuda train --epochs 1 --seed 1 --quiet $LIMIT $DATA $TEST --save $m.cuda.ckpt >train.$m.txt 2>&1; then
    t1=$(date +%s.%N)
    gpu=$(run $m.cuda eval --weights $m.cuda.ckpt $TEST $LIMIT 2>&1 | sed -n 's/^accuracy \([0-9.]*\)%.*/\1/p')
    if [ -n "$gpu" ] && { [ -n "$EMU" ] ||
         awk -v a="$gpu" -v b="$cpu" 'BEGIN {d = a - b; exit !(b != "" && d <= 0.5 && d >= -0.5)}'; }; then
      emit "PASS train/$m (GPU $gpu%, CPU $cpu%, epoch $(awk -v a=$t0 -v b=$t1 'BEGIN {printf "%.1f", b - a}') s)"
    else
      emit "FAIL train/$m (GPU '${gpu}'%, CPU '${cpu}'%)"
    fi
  else
    emit "FAIL train/$m"; tail -5 train.$m.txt | sed 's/^/    /'
  fi
done

# ---- speed: one training step, dlc beside PyTorch CUDA
{
  echo "| model | batch | dlc CUDA step (us) | PyTorch CUDA step (us) | ratio |"
  echo "|---|---|---|---|---|"
} >bench.md
for m in mlp lenet5; do
  for b in 64 256; do
    iters=200; [ -n "$EMU" ] && iters=1
    d=$(run $m.cuda bench --train --batch $b --iters $iters 2>/dev/null | awk '/latency_us/ {print $2}')
    t=""; [ -z "$EMU" ] && t=$(python3 torch_step.py $m $b 2>/dev/null | awk '/step_us/ {print $2}')
    r=$(awk -v d="$d" -v t="$t" 'BEGIN {if (d > 0 && t > 0) printf "%.2f", d / t; else print "-"}')
    echo "| $m | $b | ${d:--} | ${t:--} | $r |" >>bench.md
    if [ -n "$d" ]; then emit "PASS bench/$m/$b (dlc $d us, PyTorch ${t:--} us)"; else emit "FAIL bench/$m/$b"; fi
  done
done
cat bench.md
p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log")
echo "$p passed, $f failed"
rm -f "$log"
[ "$f" -eq 0 ]
