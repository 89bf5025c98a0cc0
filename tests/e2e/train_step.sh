#!/usr/bin/env bash
# One compiled training step against the reference interpreter: the step
# `./m train` runs (dropout masks from the seed and step, Adam with bias
# corrections, L2, global-norm clipping, the update written back by assign)
# must leave the same weights as `dlc run --mode train` computes in double
# precision from the same starting weights. This is the compiled-vs-
# reference test of dropout and assign, which only exist in training, and
# of batch norm's training mode (batch statistics, running averages
# written by the step) and dropout2d's channel masks.
#
# With STEP_TARGET=cuda (tests/e2e/cuda_emu.sh) the programs are built with
# --target cuda and run on the CPU emulation of the CUDA driver
# (tests/tools/cudaemu.c), and the tests are named train_step/cuda/...
set -u
cd "$(dirname "$0")/../.."
D=$(mktemp -d "${TMPROOT:-/tmp}/trainstep.XXXXXX")
awk 'BEGIN { for (n = 0; n < 10; n++) { for (i = 0; i < 6; i++)
  printf "%.6f,", ((7 * n + 3 * i) % 11) / 11.0 - 0.3; printf "%d\n", (n * 5) % 3 } }' >"$D/data.csv"
cut -d, -f1-6 "$D/data.csv" >"$D/x.csv"
cut -d, -f7 "$D/data.csv" >"$D/y.csv"
train_section() {
  cat <<DLM
train {
  loss = cross_entropy(logits, y)
  optimizer = $1
  batch = 10
  epochs = 1
  shuffle = false
  seed = 7
  l2 = 0.001
  clip_norm = 0.5
  data = csv("$D/data.csv", label_column = -1, skip_header = false)
}
DLM
}
{ cat <<DLM
input x: f32[N, 6]
label y: i32[N] classes 3
h = dropout(relu(dense(x, 16)), 0.3)
logits = dense(h, 3)
output probs = softmax(logits)
DLM
  train_section "adam(lr = 0.01)"; } >"$D/step.dlm"
# The six features as a 1x2x3 image: a convolution with batch norm and
# dropout2d, then a dense layer with batch norm.
{ cat <<DLM
input x: f32[N, 6]
label y: i32[N] classes 3
h = reshape(x, [N, 1, 2, 3])
h = relu(batchnorm(conv2d(h, 4, kernel = 2, pad = 1, bias = false), momentum = 0.3))
h = dropout2d(h, 0.5)
h = relu(batchnorm(dense(flatten(h), 8)))
logits = dense(h, 3)
output probs = softmax(logits)
DLM
  train_section "sgd(lr = 0.1, momentum = 0.9)"; } >"$D/bn.dlm"

# build SRC EXE: for the CPU, or for CUDA with the kernels' C++ build for
# the emulated driver, which $RUN puts in the program's environment (only
# there: NVRTC, inside dlc, would find the stand-in driver too).
RUN=""
build() {
  if [ "${STEP_TARGET:-cpu}" = cuda ]; then
    RUN="env DLC_CUDAEMU_MODULE=$2.emu.so LD_LIBRARY_PATH=$PWD/${BUILD:-build}/cudaemu"
    "$DLC" build --target cuda "$1" -o "$2" --emit-cuda "$2.cu" &&
      ${CXX:-c++} -O1 -shared -fPIC -include tests/tools/cudaemu.h -x c++ "$2.cu" -o "$2.emu.so"
  else
    "$DLC" build "$1" -o "$2"
  fi
}

# step NAME PREFIX PARAM...: build NAME.dlm, run one step, compare each
# PARAM; the test names are train_step/PREFIX<param>.
step() {
  local m=$1 pre=$2 ok=1; shift 2
  [ "${STEP_TARGET:-cpu}" = cuda ] && pre=cuda/$pre
  if ! build "$D/$m.dlm" "$D/$m" >"$D/log" 2>&1 ||
     ! $RUN "$D/$m" init --seed 7 -o "$D/w0.ckpt" >>"$D/log" 2>&1 ||
     ! $RUN "$D/$m" train --save "$D/w1.ckpt" --threads 1 --quiet >>"$D/log" 2>&1; then
    echo "FAIL train_step/$pre$m (build or train)"; tail -5 "$D/log"; ok=0
  fi
  for p in "$@"; do
    [ $ok = 1 ] || break
    if "$TOOLS/ckptdump" "$D/w1.ckpt" "$p" -o "$D/got.npy" &&
       "$DLC" run "$D/$m.dlm" --mode train --step 0 --seed 7 --weights "$D/w0.ckpt" \
         --input "x=$D/x.csv" --input "y=$D/y.csv" --output "new:$p" -o "$D/want.npy" &&
       "$TOOLS/npycmp" "$D/got.npy" "$D/want.npy" >/dev/null; then
      echo "PASS train_step/$pre$p"
    else
      echo "FAIL train_step/$pre$p"
    fi
  done
}
# The sequence layers: the six features as 3 tokens of 2, positions,
# causal multi-head attention, layer norm and GELU.
{ cat <<DLM
input x: f32[N, 6]
label y: i32[N] classes 3
h = learned_positions(dense(reshape(x, [N, 3, 2]), 4))
h = h + multihead_attention(layernorm(h), 2, causal = true)
h = gelu(dense(layernorm(h), 5))
logits = dense(mean(h, axis = 1), 3)
output probs = softmax(logits)
DLM
  train_section "adam(lr = 0.01)"; } >"$D/attn.dlm"
# Embeddings, ids 0..8 for tables of 7 rows (7 and 8 clamped): under plain
# SGD the table is updated sparsely (scatter_update), under momentum
# densely after a scatter_add gradient.
mkdir -p "$D/e"
awk 'BEGIN { for (n = 0; n < 10; n++) { for (i = 0; i < 6; i++)
  printf "%d,", (5 * n + 4 * i) % 9; printf "%d\n", (n * 7) % 3 } }' >"$D/e/data.csv"
cut -d, -f1-6 "$D/e/data.csv" >"$D/e/x.csv"
cut -d, -f7 "$D/e/data.csv" >"$D/e/y.csv"
for opt in "sgd(lr = 0.5)" "sgd(lr = 0.5, momentum = 0.9)"; do
  cat <<DLM
input x: i32[N, 6]
label y: i32[N] classes 3
e = embedding(x, 7, 4) + reshape(embedding(x, 7, 1, name = "scale"), [N, 6, 1])
logits = dense(mean(e, axis = 1), 3)
output probs = softmax(logits)
train {
  loss = cross_entropy(logits, y)
  optimizer = $opt
  batch = 10
  epochs = 1
  shuffle = false
  seed = 7
  data = csv("$D/e/data.csv", label_column = -1, skip_header = false)
}
DLM
done | awk -v D="$D/e" '/^input x/ { f = f ? D "/dense.dlm" : D "/sparse.dlm" } { print > f }'
step step "" dense1.W dense1.b dense2.W dense2.b
step bn bn/ conv2d1.W batchnorm1.gamma batchnorm1.beta batchnorm1.running_mean batchnorm1.running_var \
  dense1.W batchnorm2.gamma batchnorm2.running_mean batchnorm2.running_var dense2.W
step attn attn/ dense1.W learned_positions1.table layernorm1.gain multihead_attention1.Wq \
  multihead_attention1.bq multihead_attention1.Wv multihead_attention1.Wo layernorm2.bias dense2.W dense3.b
D=$D/e step sparse sparse/ embedding1.table scale.table dense1.W
D=$D/e step dense dense/ embedding1.table scale.table dense1.W
[ -n "${KEEP:-}" ] || rm -rf "$D"
