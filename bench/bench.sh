#!/usr/bin/env bash
# make bench: dlc against PyTorch 1.13 on the MLP of models/mlp.dlm, on
# LeNet-5 (models/lenet5.dlm) and on an LSTM over image rows
# (models/lstm_rows.dlm against bench/torch_lstm.py), same machine, same batch, same thread count,
# in one run. Prints Markdown tables (also written to bench/results.md) of
# training samples/s (batch 64, one epoch of Fashion-MNIST), inference
# latency at batch 1 and throughput at batch 256, compile time, executable
# size and peak memory; then one convolution (bench/conv_layer.dlm: batch
# 64, 32 -> 64 channels, 3x3, 28x28) forward and forward + backward in
# GFLOP/s beside PyTorch's and the CPU's nominal peak, with dlc's convgemm
# pass on and off; and CNN inference (LeNet-5, vgg_small, resnet_small) at
# batch 1 and 64 with the layout pass on and off.
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

# ---- LeNet-5: dlc
t0=$(date +%s.%N)
"$BUILD/dlc" build models/lenet5.dlm -o "$D/lenet5" 2>"$D/lstats" || { cat "$D/lstats"; exit 1; }
t1=$(date +%s.%N)
l_compile=$(echo "$t1 - $t0" | bc -l)
l_size=$(( $(stat -c %s "$D/lenet5") / 1024 ))
"$D/lenet5" train --epochs 1 --threads "$T" >"$D/ltrain.log" 2>&1
l_train=$(grep -o '[0-9]* samples/s' "$D/ltrain.log" | head -1 | cut -d' ' -f1)
l_acc=$(grep -o 'test accuracy [0-9.]*' "$D/ltrain.log" | awk '{print $3}')
l_peak=$(peak_mb "$D/lenet5" train --epochs 1 --threads "$T" --quiet)
"$BUILD/dlc" build models/lenet5.dlm -o "$D/lenet5_notile" --disable-pass tile 2>/dev/null
"$D/lenet5_notile" train --epochs 1 --threads "$T" >"$D/lnotile.log" 2>&1
l_notile=$(grep -o '[0-9]* samples/s' "$D/lnotile.log" | head -1 | cut -d' ' -f1)
l_b1=$("$D/lenet5" bench --batch 1 --iters 5000 --threads 1 | awk '/latency_us/ {print $2}')
l_b256=$("$D/lenet5" bench --batch 256 --iters 100 --threads "$T" | awk '/samples_per_s/ {print $2}')
# ---- LeNet-5: PyTorch, the faster BLAS thread setting for training
l_pt=0
if have_torch; then
  lbest=""
  for blas in 1 "$T"; do
    OPENBLAS_NUM_THREADS=$blas /usr/bin/python3 bench/torch_lenet.py "$T" >"$D/ltorch.$blas" 2>&1 || continue
    v=$(awk '/train_samples_per_s/ {print $2}' "$D/ltorch.$blas")
    if [ -z "$lbest" ] || awk -v a="$v" -v b="$(awk '/train_samples_per_s/ {print $2}' "$D/ltorch.$lbest")" 'BEGIN { exit !(a > b) }'; then lbest=$blas; fi
  done
  if [ -n "$lbest" ]; then
    l_pt=1
    lget() { awk -v k="$1" '$1 == k {print $2}' "$D/ltorch.$lbest"; }
  fi
fi

# ---- LSTM over image rows (models/lstm_rows.dlm): one epoch each
"$BUILD/dlc" build models/lstm_rows.dlm -o "$D/lstm_rows" 2>/dev/null || exit 1
"$D/lstm_rows" train --epochs 1 --threads "$T" >"$D/rtrain.log" 2>&1
r_train=$(grep -o '[0-9]* samples/s' "$D/rtrain.log" | tail -1 | cut -d' ' -f1)
r_acc=$(grep -o 'test accuracy [0-9.]*' "$D/rtrain.log" | awk '{print $3}')
r_pt=0
if have_torch && OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_lstm.py "$T" >"$D/rtorch" 2>&1; then r_pt=1; fi
rget() { awk -v k="$1" '$1 == k {print $2}' "$D/rtorch"; }

# ---- one convolution, forward and forward + backward
"$BUILD/dlc" build bench/conv_layer.dlm -o "$D/conv" 2>/dev/null || exit 1
"$BUILD/dlc" build bench/conv_layer.dlm -o "$D/conv_direct" --disable-pass convgemm 2>/dev/null || exit 1
CONV_FLOP=$(echo "2 * 64 * 64 * 28 * 28 * 32 * 9" | bc)
gflops() { awk -v f="$CONV_FLOP" -v k="$1" -v us="$2" 'BEGIN { printf "%.1f", k * f / (us * 1e3) }'; }
c_fwd=$("$D/conv" bench --batch 64 --iters 20 --threads "$T" | awk '/latency_us/ {print $2}')
c_step=$("$D/conv" bench --train --batch 64 --iters 20 --threads "$T" | awk '/latency_us/ {print $2}')
d_fwd=$("$D/conv_direct" bench --batch 64 --iters 3 --threads "$T" | awk '/latency_us/ {print $2}')
d_step=$("$D/conv_direct" bench --train --batch 64 --iters 3 --threads "$T" | awk '/latency_us/ {print $2}')
ghz=$(lscpu | sed -n 's/^Model name:.*@ *\([0-9.]*\)GHz.*/\1/p')
peak=$(awk -v c="$T" -v g="${ghz:-0}" 'BEGIN { printf "%.0f", c * g * 32 }')
c_pt=0
if have_torch && OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_conv.py "$T" >"$D/ctorch" 2>&1; then c_pt=1; fi
cget() { awk -v k="$1" '$1 == k {print $2}' "$D/ctorch"; }

# ---- the blocked layout: CNN inference with the layout pass on (the
# default), off (convgemm's im2col + GEMM) and with both off (direct NCHW
# loops), one thread, the best of 3 runs of each
best_us() { # exe batch iters
  for r in 1 2 3; do "$1" bench --batch "$2" --iters "$3" --threads 1 | awk '/latency_us/ {print $2}'; done |
    sort -g | head -1
}
lay_rows=""
for m in lenet5 vgg_small resnet_small; do
  "$BUILD/dlc" build models/$m.dlm -o "$D/$m.lay" 2>/dev/null || exit 1
  "$BUILD/dlc" build models/$m.dlm -o "$D/$m.gemm" --disable-pass layout 2>/dev/null || exit 1
  "$BUILD/dlc" build models/$m.dlm -o "$D/$m.direct" --disable-pass layout --disable-pass convgemm 2>/dev/null || exit 1
  row="| $m"
  for b in 1 64; do
    it=$([ $b = 1 ] && echo 500 || echo 10)
    lay=$(best_us "$D/$m.lay" $b $it); gemm=$(best_us "$D/$m.gemm" $b $it)
    direct=$(best_us "$D/$m.direct" $b $((it / 5 > 0 ? it / 5 : 1)))
    row="$row | $b | $(printf %.0f "$lay") | $(printf %.0f "$gemm") | $(printf %.0f "$direct") | $(ratio "$gemm" "$lay") |"
    [ $b = 1 ] && row="$row"$'\n'"| "
  done
  lay_rows="$lay_rows$row"$'\n'
done

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
  echo
  echo "LeNet-5 (models/lenet5.dlm), $T threads"
  echo
  echo "| | dlc | PyTorch 1.13 | dlc / PyTorch |"
  echo "|---|---|---|---|"
  if [ $l_pt = 1 ]; then
    echo "| training, batch 64, 1 epoch (samples/s) | $l_train | $(lget train_samples_per_s) | $(ratio "$l_train" "$(lget train_samples_per_s)") |"
    echo "| inference latency, batch 1 (us) | $l_b1 (1 thread) | $(lget infer_b1_us) | $(ratio "$(lget infer_b1_us)" "$l_b1") faster |"
    echo "| inference, batch 256 (samples/s) | $l_b256 | $(lget infer_b256_samples_per_s) | $(ratio "$l_b256" "$(lget infer_b256_samples_per_s)") |"
    echo "| test accuracy after 1 epoch | $l_acc% | $(awk -v a="$(lget test_accuracy)" 'BEGIN {printf "%.2f", 100 * a}')% | |"
    echo "| peak memory, training (MB) | $l_peak | $(lget peak_rss_mb) | |"
  else
    echo "| training, batch 64, 1 epoch (samples/s) | $l_train | (PyTorch unavailable) | |"
    echo "| inference latency, batch 1 (us) | $l_b1 (1 thread) | | |"
    echo "| inference, batch 256 (samples/s) | $l_b256 | | |"
    echo "| peak memory, training (MB) | $l_peak | | |"
  fi
  echo "| training, --disable-pass tile (samples/s) | $l_notile | | |"
  echo "| compile time, dlc build (s) | $(printf %.2f "$l_compile") | | |"
  echo "| executable size (KB) | $l_size | | |"
  echo
  echo "LSTM(128) over 28 rows of 28 pixels, last step, fc 10 (models/lstm_rows.dlm), $T threads"
  echo
  echo "| | dlc | PyTorch 1.13 nn.LSTM | dlc / PyTorch |"
  echo "|---|---|---|---|"
  if [ $r_pt = 1 ]; then
    echo "| training, batch 64, 1 epoch (samples/s) | $r_train | $(rget train_samples_per_s) | $(ratio "$r_train" "$(rget train_samples_per_s)") |"
    echo "| test accuracy after 1 epoch | $r_acc% | $(awk -v a="$(rget test_accuracy)" 'BEGIN {printf "%.2f", 100 * a}')% | |"
  else
    echo "| training, batch 64, 1 epoch (samples/s) | $r_train | (PyTorch unavailable) | |"
  fi
  echo
  echo "conv2d batch 64, 32 -> 64 channels, 3x3, pad 1, 28x28 (bench/conv_layer.dlm), $T threads;"
  echo "nominal peak $peak GFLOP/s ($T cores x $ghz GHz x 32 flops/cycle)"
  echo
  echo "| | forward (ms) | GFLOP/s | forward + backward (ms) | GFLOP/s | % of peak |"
  echo "|---|---|---|---|---|---|"
  echo "| dlc (im2col + GEMM, convgemm pass) | $(awk -v u="$c_fwd" 'BEGIN {printf "%.1f", u / 1e3}') | $(gflops 1 "$c_fwd") | $(awk -v u="$c_step" 'BEGIN {printf "%.1f", u / 1e3}') | $(gflops 3 "$c_step") | $(awk -v g="$(gflops 3 "$c_step")" -v p="$peak" 'BEGIN { if (p > 0) printf "%.0f%%", 100 * g / p }') |"
  echo "| dlc, --disable-pass convgemm (direct NCHW loops) | $(awk -v u="$d_fwd" 'BEGIN {printf "%.1f", u / 1e3}') | $(gflops 1 "$d_fwd") | $(awk -v u="$d_step" 'BEGIN {printf "%.1f", u / 1e3}') | $(gflops 3 "$d_step") | |"
  if [ $c_pt = 1 ]; then
    echo "| PyTorch 1.13 | $(cget fwd_ms) | $(cget fwd_gflops) | $(cget fwdbwd_ms) | $(cget fwdbwd_gflops) | $(awk -v g="$(cget fwdbwd_gflops)" -v p="$peak" 'BEGIN { if (p > 0) printf "%.0f%%", 100 * g / p }') |"
  fi
  echo
  echo "CNN inference in the blocked layout NCHW8c (layout pass), 1 thread, latency per call (us), best of 3"
  echo
  echo "| model | batch | layout (default) | --disable-pass layout (im2col + GEMM) | also --disable-pass convgemm (direct NCHW) | layout speedup over GEMM |"
  echo "|---|---|---|---|---|---|"
  printf '%s' "$lay_rows"
} | tee bench/results.md
[ $torch_ok = 1 ] && echo && echo "PyTorch with OPENBLAS_NUM_THREADS=$best was the faster setting for training."
