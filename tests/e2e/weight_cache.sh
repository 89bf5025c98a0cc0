#!/usr/bin/env bash
# weight_cache.sh — the CPU backend's cache of packed weight panels
# (codegen/llvm_vec.c, "matrix products") never serves stale weights.
#
# The evaluation entry keeps each weight matrix packed from one call to the
# next and packs it again when the frame's weights version changes. Here
# the weights change inside one process and small batches (5 rows) are
# evaluated after each change: `./m train` trains, scores the validation
# set every epoch and the test set at the end. The test loss it prints
# must equal the loss that the reference interpreter (`dlc run`) computes
# from the checkpoint saved at the end, which holds the weights the test
# set was scored with:
#
#   trained        the training steps changed the weights
#   early_stopped  early stopping restored the weights of an earlier epoch
#   resumed        weights loaded from a checkpoint, then trained further
#
# The model covers what the cache packs: a weight read transposed, a K of
# 300 (two K blocks with AVX-512), 100 columns (a partial last panel; at 2
# threads each thread computes 2 or more panels, from its own copy of A's
# rows) and 3 columns.
set -u
cd "$(dirname "$0")/../.."
DLC=${DLC:-$PWD/build/dlc}
D=$(mktemp -d "${TMPROOT:-/tmp}/weight-cache.XXXXXX")
trap 'rm -rf "$D"' EXIT
cat >"$D/cache.dlm" <<'DLM'
input x: f32[N, 300]
label y: i32[N] classes 3
param Wt: f32[100, 300] init xavier
h = relu(dense(x, 100)) + tanh(matmul(x, transpose(Wt)))
logits = dense(h, 3)
output probs = softmax(logits)
train {
  loss = cross_entropy(logits, y)
  optimizer = sgd(lr = 0.5)
  batch = 5
  epochs = 4
}
DLM
# 90 samples: 60 to train on (a quarter of them validated), 30 to test.
awk 'BEGIN { for (n = 0; n < 90; n++) { s = 0
  for (i = 0; i < 300; i++) { v = ((n * 37 + i * 11) % 23) / 23.0 - 0.5; s += i % 3 ? -v / 2 : v
                              printf "%.5f,", v }
  printf "%d\n", (s > 0.3 ? 2 : s > -0.3 ? 1 : 0) } }' >"$D/data.csv"
head -60 "$D/data.csv" >"$D/train.csv"
tail -30 "$D/data.csv" >"$D/test.csv"
cut -d, -f1-300 "$D/test.csv" >"$D/test_x.csv"
cut -d, -f301 "$D/test.csv" >"$D/test_y.csv"

if ! "$DLC" build "$D/cache.dlm" -o "$D/m" >"$D/build.log" 2>&1; then
  echo "FAIL weight_cache/build"; sed 's/^/    /' "$D/build.log" | head -20; exit 1
fi
DATA=(--data "csv($D/train.csv, label_column=-1, skip_header=false)"
      --test "csv($D/test.csv, label_column=-1, skip_header=false)"
      --validation-split 0.25 --batch 5 --threads 2)

# The interpreter's mean cross-entropy on the test set for checkpoint $1.
want_loss() {
  "$DLC" run "$D/cache.dlm" --weights "$1" --input "$D/test_x.csv" | paste -d' ' - "$D/test_y.csv" |
    awk '{ s -= log($($NF + 1)) } END { if (NR == 30) printf "%.4f\n", s / NR }'
}

# check NAME OUT CKPT [LINE]: the test loss printed in OUT is the
# interpreter's for CKPT, and OUT has LINE (a regular expression).
check() {
  local name=$1 out=$2 ckpt=$3 line=${4:-}
  local got want
  got=$(sed -n 's/^test loss \([0-9.]*\) .*/\1/p' "$out")
  want=$(want_loss "$ckpt")
  if [ -n "$line" ] && ! grep -q -- "$line" "$out"; then
    echo "FAIL weight_cache/$name (no line '$line': the scenario did not happen)"
    sed 's/^/    /' "$out"
  elif [ -n "$got" ] && [ -n "$want" ] && awk -v a="$got" -v b="$want" 'BEGIN { d = a - b; exit !(d * d <= 1e-8) }'; then
    echo "PASS weight_cache/$name"
  else
    echo "FAIL weight_cache/$name (test loss '$got' in one process, '$want' from the interpreter on the saved weights)"
    sed 's/^/    /' "$out"
  fi
}

"$D/m" train "${DATA[@]}" --epochs 4 --save "$D/a.ckpt" >"$D/a.out" 2>&1
check trained "$D/a.out" "$D/a.ckpt" '^epoch 4/4 '
# The validation loss is lowest after epoch 2 (1.07 against 3.27 and 2.82).
"$D/m" train "${DATA[@]}" --epochs 4 --early-stopping 5 --save "$D/b.ckpt" >"$D/b.out" 2>&1
check early_stopped "$D/b.out" "$D/b.ckpt" '^restored the weights of epoch'
"$D/m" train "${DATA[@]}" --epochs 6 --resume "$D/a.ckpt" --save "$D/c.ckpt" >"$D/c.out" 2>&1
check resumed "$D/c.out" "$D/c.ckpt" '^resuming from'
