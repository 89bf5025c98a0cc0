#!/usr/bin/env bash
# make bench: dlc against PyTorch 1.13 on the MLP of models/mlp.dlm, same
# machine, same batch, same thread count, in one run. Prints a Markdown
# table (also written to bench/results.md) of training samples/s (batch 64,
# one epoch of Fashion-MNIST), inference latency at batch 1 and throughput
# at batch 256, compile time, executable size and peak memory.
#
# PyTorch is Debian's python3-torch, run with OpenBLAS; the script installs
# both with apt-get when missing and skips the PyTorch column with a
# message when that is impossible. PyTorch is measured with both of its
# BLAS thread settings and its best is reported.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
T=${THREADS:-$(nproc)}
D=$(mktemp -d /tmp/dlc-bench.XXXXXX)
trap 'rm -rf "$D"' EXIT
FM=/usr/share/datasets/fashion-mnist

have_torch() { /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null; }
if ! have_torch || ! ls /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 >/dev/null 2>&1; then
  echo "installing python3-torch and libopenblas0-pthread (apt-get) for the PyTorch column"
  apt-get install -y -qq python3-torch libopenblas0-pthread >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq python3-torch libopenblas0-pthread >/dev/null 2>&1; }
fi

peak_mb() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.1f", $1 / 1024}'; }

# ---- dlc
t0=$(date +%s.%N)
"$BUILD/dlc" build models/mlp.dlm -o "$D/mlp" --stats 2>"$D/stats" || { cat "$D/stats"; exit 1; }
t1=$(date +%s.%N)
compile_s=$(echo "$t1 - $t0" | bc -l)
size_kb=$(( $(stat -c %s "$D/mlp") / 1024 ))
"$D/mlp" train --epochs 1 --threads "$T" --save "$D/w.ckpt" >"$D/train.log" 2>&1
dlc_train=$(grep -o '[0-9]* samples/s' "$D/train.log" | head -1 | cut -d' ' -f1)
dlc_acc=$(grep -o 'test accuracy [0-9.]*' "$D/train.log" | awk '{print $3}')
dlc_peak=$(peak_mb "$D/mlp" train --epochs 1 --threads "$T" --quiet)
dlc_b1=$("$D/mlp" bench --batch 1 --iters 20000 --threads "$T" | awk '/latency_us/ {print $2}')
dlc_b1_1=$("$D/mlp" bench --batch 1 --iters 20000 --threads 1 | awk '/latency_us/ {print $2}')
if awk -v a="$dlc_b1_1" -v b="$dlc_b1" 'BEGIN { exit !(a < b) }'; then dlc_b1=$dlc_b1_1; b1_note=" (1 thread)"; else b1_note=""; fi
dlc_b256=$("$D/mlp" bench --batch 256 --iters 500 --threads "$T" | awk '/samples_per_s/ {print $2}')

# ---- PyTorch
torch_ok=0
if have_torch; then
  best=""
  for blas in 1 "$T"; do
    OPENBLAS_NUM_THREADS=$blas /usr/bin/python3 bench/torch_mlp.py "$T" >"$D/torch.$blas" 2>&1 || continue
    v=$(awk '/train_samples_per_s/ {print $2}' "$D/torch.$blas")
    if [ -z "$best" ] || awk -v a="$v" -v b="$(awk '/train_samples_per_s/ {print $2}' "$D/torch.$best")" 'BEGIN { exit !(a > b) }'; then best=$blas; fi
  done
  if [ -n "$best" ]; then
    torch_ok=1
    get() { awk -v k="$1" '$1 == k {print $2}' "$D/torch.$best"; }
    pt_train=$(get train_samples_per_s); pt_b1=$(get infer_b1_us); pt_b256=$(get infer_b256_samples_per_s)
    pt_acc=$(get test_accuracy); pt_peak=$(get peak_rss_mb)
    for blas in 1 "$T"; do # best latency of either setting
      v=$(awk '/infer_b1_us/ {print $2}' "$D/torch.$blas" 2>/dev/null)
      [ -n "$v" ] && awk -v a="$v" -v b="$pt_b1" 'BEGIN { exit !(a < b) }' && pt_b1=$v
    done
  fi
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
{
  echo "MLP 784-256-128-10 (models/mlp.dlm), $T threads, $(lscpu | sed -n 's/^Model name: *//p')"
  echo
  echo "| | dlc | PyTorch 1.13 | dlc / PyTorch |"
  echo "|---|---|---|---|"
  if [ $torch_ok = 1 ]; then
    echo "| training, batch 64, 1 epoch (samples/s) | $dlc_train | $pt_train | $(ratio "$dlc_train" "$pt_train") |"
    echo "| inference latency, batch 1 (us) | $dlc_b1$b1_note | $pt_b1 | $(ratio "$pt_b1" "$dlc_b1") faster |"
    echo "| inference, batch 256 (samples/s) | $dlc_b256 | $pt_b256 | $(ratio "$dlc_b256" "$pt_b256") |"
    echo "| test accuracy after 1 epoch | $dlc_acc% | $(awk -v a="$pt_acc" 'BEGIN {printf "%.2f", 100 * a}')% | |"
    echo "| peak memory, training (MB) | $dlc_peak | $pt_peak | |"
  else
    echo "| training, batch 64, 1 epoch (samples/s) | $dlc_train | (PyTorch unavailable) | |"
    echo "| inference latency, batch 1 (us) | $dlc_b1$b1_note | | |"
    echo "| inference, batch 256 (samples/s) | $dlc_b256 | | |"
    echo "| peak memory, training (MB) | $dlc_peak | | |"
  fi
  echo "| compile time, dlc build (s) | $(printf %.2f "$compile_s") | | |"
  echo "| executable size (KB) | $size_kb | | |"
} | tee bench/results.md
[ $torch_ok = 1 ] && echo && echo "PyTorch with OPENBLAS_NUM_THREADS=$best was the faster setting for training."
