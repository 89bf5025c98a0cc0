#!/usr/bin/env bash
# seq_models.sh — the sequence and recommender models, compiled and trained.
#
# transformer (models/transformer.dlm): Fashion-MNIST rows as 28 tokens; a
# subset for time (the first 6000 training images, 2 epochs, batch 64; the
# first 2000 test images). Bars: the training loss falls from epoch 1 to
# epoch 2, and the test accuracy is at least 72% (it reaches about 77%;
# chance is 10%). Then the trained network's compiled predict agrees with
# the reference interpreter on 16 test images.
#
# ncf and ncf_mlp (models/ncf.dlm, models/ncf_mlp.dlm): the synthetic
# rating matrix of tests/tools/seqdata (noise std 0.5, the noise floor),
# the full recipe of each. Bar: the RMSE of `predict` on the 5000 held-out
# ratings, computed from the predictions, is within 10% of the noise
# floor: at most 0.55 (they reach about 0.513 and 0.53). Then compiled vs
# interpreter on 200 held-out pairs with the trained weights.
set -u
cd "$(dirname "$0")/../.."
FM=/usr/share/datasets/fashion-mnist
DLC=${DLC:-$PWD/build/dlc}
TOOLS=${TOOLS:-$PWD/build/tools}
D=$(mktemp -d "${TMPROOT:-/tmp}/seqm.XXXXXX")
trap 'rm -rf "$D"' EXIT
pass() { echo "PASS seq/$1"; }
fail() { echo "FAIL seq/$1"; shift; for l in "$@"; do echo "    $l"; done; }

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

transformer() {
  if [ ! -f "$FM/train-images-idx3-ubyte.gz" ]; then
    echo "SKIP seq/transformer (Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist)"; return
  fi
  idx 3 6000 "$FM/train-images-idx3-ubyte.gz" >"$D/img.idx"
  idx 1 6000 "$FM/train-labels-idx1-ubyte.gz" >"$D/lab.idx"
  idx 3 2000 "$FM/t10k-images-idx3-ubyte.gz" >"$D/timg.idx"
  idx 1 2000 "$FM/t10k-labels-idx1-ubyte.gz" >"$D/tlab.idx"
  idx 3 16 "$FM/t10k-images-idx3-ubyte.gz" >"$D/few.idx"
  local t=$D/transformer
  if ! "$DLC" build models/transformer.dlm -o "$t" >"$t.log" 2>&1; then
    fail transformer/build "$(tail -5 "$t.log")"; return
  fi
  if ! "$t" train --data-images "$D/img.idx" --data-labels "$D/lab.idx" --test-images "$D/timg.idx" \
       --test-labels "$D/tlab.idx" --threads 2 --epochs 2 --log "$t.csv" --save "$t.ckpt" >"$t.out" 2>&1; then
    fail transformer/train "$(tail -5 "$t.out")"; return
  fi
  local l1 l2 acc
  l1=$(awk -F, 'NR == 2 { print $2 }' "$t.csv"); l2=$(awk -F, 'NR == 3 { print $2 }' "$t.csv")
  acc=$(sed -n 's/.*test accuracy \([0-9.]*\)%.*/\1/p' "$t.out")
  if awk -v a="$l1" -v b="$l2" 'BEGIN { exit !(b < a) }'; then pass transformer/loss_falls
  else fail transformer/loss_falls "epoch 1: $l1, epoch 2: $l2"; fi
  if [ -n "$acc" ] && awk -v a="$acc" 'BEGIN { exit !(a >= 72) }'; then pass "transformer/accuracy ($acc% >= 72%)"
  else fail transformer/accuracy "test accuracy '$acc', want >= 72%" "$(tail -3 "$t.out")"; fi
  if "$t" predict --weights "$t.ckpt" --input "$D/few.idx" -o "$t.got.npy" >/dev/null 2>&1 &&
     "$DLC" run models/transformer.dlm --weights "$t.ckpt" --input "$D/few.idx" -o "$t.want.npy" &&
     "$TOOLS/npycmp" "$t.got.npy" "$t.want.npy" >"$t.cmp"; then pass transformer/compiled
  else fail transformer/compiled "$(cat "$t.cmp" 2>/dev/null)"; fi
}

# ncf NAME: build, train the full recipe, bar on the held-out RMSE.
ncf() {
  local b=$1 m=$PWD/models/$1.dlm
  if ! (cd "$D" && "$DLC" build "$m" -o "$b" >"$b.log" 2>&1 &&
        ./"$b" train --threads 2 --save "$b.ckpt" >"$b.out" 2>&1 &&
        ./"$b" predict --weights "$b.ckpt" --input ncf_test_pairs.npy -o "$b.pred.npy" >/dev/null 2>&1); then
    fail "$b/train" "$(tail -5 "$D/$b.log" "$D/$b.out" 2>/dev/null)"; return
  fi
  local rmse
  rmse=$("$TOOLS/seqdata" rmse "$D/$b.pred.npy" "$D/ncf_test_ratings.npy")
  if [ -n "$rmse" ] && awk -v r="$rmse" 'BEGIN { exit !(r <= 0.55) }'; then pass "$b/rmse ($rmse <= 0.55, noise floor 0.5)"
  else fail "$b/rmse" "held-out RMSE '$rmse', want <= 0.55"; fi
  if (cd "$D" && "$TOOLS/seqdata" rand few.npy i32 200 2 --max 200 --seed 3 &&
      ./"$b" predict --weights "$b.ckpt" --input few.npy -o "$b.got.npy" >/dev/null 2>&1 &&
      "$DLC" run "$m" --weights "$b.ckpt" --input few.npy -o "$b.want.npy" &&
      "$TOOLS/npycmp" "$b.got.npy" "$b.want.npy" >"$b.cmp"); then pass "$b/compiled"
  else fail "$b/compiled" "$(cat "$D/$b.cmp" 2>/dev/null)"; fi
}

transformer
if "$TOOLS/seqdata" ncf "$D"; then
  ncf ncf
  ncf ncf_mlp
else
  fail ncf/data "seqdata ncf failed"
fi
