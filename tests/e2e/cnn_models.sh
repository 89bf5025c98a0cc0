#!/usr/bin/env bash
# cnn_models.sh — the CNN models with batch norm, models/vgg_small.dlm and
# models/resnet_small.dlm, compiled and trained on Fashion-MNIST: a subset
# for time (the first 2000 training images, two epochs, batch 64; the
# first 2000 test images), read from uncompressed IDX files cut from the
# real ones.
#
# The bars, for each model: the training loss falls from epoch 1 to epoch
# 2; the test accuracy is at least 65% for vgg_small (it reaches about
# 72%) and 52% for resnet_small (about 61%), far above chance (10%); the
# checkpoint holds running averages that training moved; and the compiled
# predict, where the bnfold pass has folded each batch norm into the
# convolution before it, agrees with the reference interpreter, which runs
# batch norm as written, on 32 test images.
#
# Then bnfold itself: a small model with batch norm after a convolution
# with bias, a grouped convolution and a dense layer, trained a few steps
# so that its running averages, gamma and beta are not their initial
# values, predicts the same built with and without --disable-pass bnfold.
set -u
cd "$(dirname "$0")/../.."
FM=/usr/share/datasets/fashion-mnist
DLC=${DLC:-$PWD/build/dlc}
TOOLS=${TOOLS:-$PWD/build/tools}
if [ ! -f "$FM/train-images-idx3-ubyte.gz" ]; then
  echo "SKIP cnn_models (Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist)"; exit 0
fi
D=$(mktemp -d "${TMPROOT:-/tmp}/cnn.XXXXXX")
trap 'rm -rf "$D"' EXIT
fails=0
pass() { echo "PASS cnn/$1"; }
fail() { echo "FAIL cnn/$1"; shift; for l in "$@"; do echo "    $l"; done; fails=$((fails + 1)); }

# idx KIND N SRC: the first N items of an IDX gz file, uncompressed, with
# the count in the header patched (KIND 3: images, 1: labels).
idx() {
  local hex; hex=$(printf '%08x' "$2" | sed 's/../\\x&/g')
  if [ "$1" = 3 ]; then
    { printf '\x00\x00\x08\x03'; printf "$hex"; printf '\x00\x00\x00\x1c\x00\x00\x00\x1c'
      gzip -dc "$3" | tail -c +17 | head -c $(($2 * 784)); }
  else
    { printf '\x00\x00\x08\x01'; printf "$hex"; gzip -dc "$3" | tail -c +9 | head -c "$2"; }
  fi
}
idx 3 2000 "$FM/train-images-idx3-ubyte.gz" >"$D/img.idx"
idx 1 2000 "$FM/train-labels-idx1-ubyte.gz" >"$D/lab.idx"
idx 3 2000 "$FM/t10k-images-idx3-ubyte.gz" >"$D/timg.idx"
idx 1 2000 "$FM/t10k-labels-idx1-ubyte.gz" >"$D/tlab.idx"
DATA=(--data-images "$D/img.idx" --data-labels "$D/lab.idx"
      --test-images "$D/timg.idx" --test-labels "$D/tlab.idx" --threads 2)

# model NAME BAR RUNNING: build, train, check the loss, the accuracy bar,
# the running average RUNNING in the checkpoint, and compiled vs reference.
model() {
  local b=$1 bar=$2 running=$3 m=models/$1.dlm
  if ! "$DLC" build "$m" -o "$D/$b" >"$D/$b.log" 2>&1; then
    fail "$b/build" "$(tail -5 "$D/$b.log")"; return
  fi
  if ! "$D/$b" train "${DATA[@]}" --epochs 2 --batch 64 --log "$D/$b.csv" --save "$D/$b.ckpt" \
       >"$D/$b.out" 2>&1; then
    fail "$b/train" "$(tail -5 "$D/$b.out")"; return
  fi
  awk -F, 'NR == 2 { t1 = $2 } NR == 3 { t2 = $2 } END { exit !(t2 < t1) }' "$D/$b.csv" &&
    pass "$b/loss_falls" || fail "$b/loss_falls" "$(cat "$D/$b.csv")"
  local acc; acc=$(sed -n 's/^test loss .*test accuracy \([0-9.]*\)%.*/\1/p' "$D/$b.out")
  if awk -v a="$acc" -v b="$bar" 'BEGIN { exit !(a >= b) }'; then pass "$b/test_accuracy_above_$bar ($acc%)"
  else fail "$b/test_accuracy_above_$bar" "test accuracy '$acc'" "$(tail -3 "$D/$b.out")"; fi
  "$TOOLS/ckptdump" "$D/$b.ckpt" "$running" | grep "^$running " |
    awk '{ for (i = 2; i <= NF; i++) if ($i != 1) moved = 1 } END { exit !moved }' &&
    pass "$b/running_average_saved" ||
    fail "$b/running_average_saved" "$("$TOOLS/ckptdump" "$D/$b.ckpt" "$running" 2>&1 | tail -1)"
  if "$D/$b" predict --weights "$D/$b.ckpt" --input "$D/timg.idx" --limit 32 -o "$D/got.npy" \
       >/dev/null 2>&1 &&
     "$DLC" run "$m" --weights "$D/$b.ckpt" --input "$D/timg.idx" --limit 32 -o "$D/want.npy" &&
     "$TOOLS/npycmp" "$D/got.npy" "$D/want.npy" >"$D/cmp.txt"; then
    pass "$b/compiled_folded_vs_interpreter"
  else fail "$b/compiled_folded_vs_interpreter" "$(cat "$D/cmp.txt" 2>/dev/null)"; fi
}
model vgg_small 65 conv_bn1.batchnorm1.running_var
model resnet_small 52 residual1.conv_bn1.batchnorm1.running_var

# bnfold on and off, same trained weights.
cat >"$D/fold.dlm" <<DLM
input image: f32[N, 1, 28, 28]
label y: i32[N] classes 10
h = relu(batchnorm(conv2d(image, 6, kernel = 5, stride = 2)))        # conv + bias + bn
h = maxpool(relu(batchnorm(conv2d(h, 6, groups = 3, bias = false))), 2)
h = relu(batchnorm(dense(flatten(h), 32), momentum = 0.5))          # matmul + bias + bn
logits = dense(h, 10)
output probs = softmax(logits)
train {
  loss = cross_entropy(logits, y)
  optimizer = sgd(lr = 0.1, momentum = 0.9)
  batch = 32
  epochs = 1
}
DLM
if "$DLC" build "$D/fold.dlm" -o "$D/fold" >"$D/fold.log" 2>&1 &&
   "$DLC" build "$D/fold.dlm" -o "$D/nofold" --disable-pass bnfold >>"$D/fold.log" 2>&1 &&
   "$D/fold" train "${DATA[@]}" --limit 640 --save "$D/fold.ckpt" --quiet >>"$D/fold.log" 2>&1 &&
   "$D/fold" predict --weights "$D/fold.ckpt" --input "$D/timg.idx" -o "$D/a.npy" >/dev/null 2>&1 &&
   "$D/nofold" predict --weights "$D/fold.ckpt" --input "$D/timg.idx" -o "$D/b.npy" >/dev/null 2>&1 &&
   "$TOOLS/npycmp" "$D/a.npy" "$D/b.npy" >"$D/cmp.txt"; then
  pass "bnfold_on_vs_off"
else
  fail "bnfold_on_vs_off" "$(tail -5 "$D/fold.log")" "$(cat "$D/cmp.txt" 2>/dev/null)"
fi
# Sample tiling (passes/tile.c, codegen/tile.c): the training step runs
# its chains of per-sample kernels (im2col, the convolution's product,
# pooling and their gradients) a few samples at a time. Every element is
# computed by the same code, so a few steps with tiling on and off, on one
# thread and on two, at a batch of 50 and of 5, must leave bit-identical
# weights; and the step must actually have groups.
cat >"$D/tile.dlm" <<DLM
input image: f32[N, 1, 28, 28]
label y: i32[N] classes 10
h = maxpool(relu(conv2d(image, 6, kernel = 5, pad = 2)), 2)
h = maxpool(relu(conv2d(h, 8, kernel = 3)), 2)
logits = dense(relu(dense(flatten(h), 32)), 10)
output probs = softmax(logits)
train {
  loss = cross_entropy(logits, y)
  optimizer = sgd(lr = 0.05, momentum = 0.9)
  batch = 50
  epochs = 1
}
DLM
ok=1
"$DLC" build "$D/tile.dlm" -o "$D/tile" >"$D/tile.log" 2>&1 &&
  "$DLC" build "$D/tile.dlm" -o "$D/notile" --disable-pass tile >>"$D/tile.log" 2>&1 || ok=0
groups=$("$DLC" dump "$D/tile.dlm" --graph train --emit llvm 2>/dev/null | grep -c '^define internal void @dlrt_train_step.tile')
[ "$groups" -ge 2 ] || ok=0
for run in "1 50" "2 50" "2 5"; do # threads, batch: a batch under 8 runs a group's
  set -- $run                          # steps in turn, each member on the pool
  for b in tile notile; do
    "$D/$b" train "${DATA[@]:0:8}" --limit 400 --threads $1 --batch $2 --seed 3 \
      --save "$D/$b.$1.$2.ckpt" --quiet >>"$D/tile.log" 2>&1 || ok=0
  done
  cmp -s "$D/tile.$1.$2.ckpt" "$D/notile.$1.$2.ckpt" || ok=0
done
if [ $ok = 1 ]; then
  pass "tile_on_vs_off ($groups groups)"
else
  fail "tile_on_vs_off" "groups: $groups" "$(tail -5 "$D/tile.log")"
fi
[ "$fails" -eq 0 ]
