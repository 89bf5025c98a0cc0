#!/usr/bin/env bash
# One compiled training step against the reference interpreter: the step
# `./m train` runs (dropout masks from the seed and step, Adam with bias
# corrections, L2, global-norm clipping, the update written back by assign)
# must leave the same weights as `dlc run --mode train` computes in double
# precision from the same starting weights. This is the compiled-vs-
# reference test of dropout and assign, which only exist in training.
set -u
cd "$(dirname "$0")/../.."
D=$(mktemp -d "${TMPROOT:-/tmp}/trainstep.XXXXXX")
awk 'BEGIN { for (n = 0; n < 10; n++) { for (i = 0; i < 6; i++)
  printf "%.6f,", ((7 * n + 3 * i) % 11) / 11.0 - 0.3; printf "%d\n", (n * 5) % 3 } }' >"$D/data.csv"
cut -d, -f1-6 "$D/data.csv" >"$D/x.csv"
cut -d, -f7 "$D/data.csv" >"$D/y.csv"
cat >"$D/step.dlm" <<DLM
input x: f32[N, 6]
label y: i32[N] classes 3
h = dropout(relu(dense(x, 16)), 0.3)
logits = dense(h, 3)
output probs = softmax(logits)
train {
  loss = cross_entropy(logits, y)
  optimizer = adam(lr = 0.01)
  batch = 10
  epochs = 1
  shuffle = false
  seed = 7
  l2 = 0.001
  clip_norm = 0.5
  data = csv("$D/data.csv", label_column = -1, skip_header = false)
}
DLM
ok=1
if ! "$DLC" build "$D/step.dlm" -o "$D/step" >"$D/log" 2>&1 ||
   ! "$D/step" init --seed 7 -o "$D/w0.ckpt" >>"$D/log" 2>&1 ||
   ! "$D/step" train --save "$D/w1.ckpt" --threads 1 --quiet >>"$D/log" 2>&1; then
  echo "FAIL train_step (build or train)"; tail -5 "$D/log"; ok=0
fi
for p in dense1.W dense1.b dense2.W dense2.b; do
  [ $ok = 1 ] || break
  if "$TOOLS/ckptdump" "$D/w1.ckpt" "$p" -o "$D/got.npy" &&
     "$DLC" run "$D/step.dlm" --mode train --step 0 --seed 7 --weights "$D/w0.ckpt" \
       --input "x=$D/x.csv" --input "y=$D/y.csv" --output "new:$p" -o "$D/want.npy" &&
     "$TOOLS/npycmp" "$D/got.npy" "$D/want.npy" >/dev/null; then
    echo "PASS train_step/$p"
  else
    echo "FAIL train_step/$p"
  fi
done
rm -rf "$D"
