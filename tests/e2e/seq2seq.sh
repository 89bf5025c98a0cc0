#!/usr/bin/env bash
# seq2seq.sh — models/seq2seq.dlm, an encoder-decoder with attention,
# trained on reversing digit strings and decoded greedily.
#
# Data: tests/tools/seqdata reverse (20000 training strings of 3..10
# digits, 1000 held-out strings, none of them in training). The full
# recipe: 3 epochs, about 8 s on 2 quiet threads (a minute on a loaded
# machine). Bars:
#   accuracy     `./seq2seq predict` decodes the 1000 held-out sources;
#                at least 95% of them reversed exactly at every position
#                (seqdata exact; it reaches 100%, and 99.0% after one
#                epoch). An untrained network decodes none (0.0%), so
#                the bar measures the training and the decoding together.
#   eval         `./seq2seq eval` reports the same exact-sequence accuracy
#                under greedy decoding (>= 95%) beside the teacher-forced
#                loss.
#   by_hand      predict's greedy decoding of 16 held-out sources equals a
#                decode done by hand with the reference interpreter: `dlc
#                run` on the feed so far, the argmax fed back (seqdata
#                argmax --shift), 12 times.
#   feed_refused predict refuses a file for the feed, which decoding makes.
set -u
cd "$(dirname "$0")/../.."
DLC=${DLC:-$PWD/build/dlc}
TOOLS=${TOOLS:-$PWD/build/tools}
D=$(mktemp -d "${TMPROOT:-/tmp}/seq2seq.XXXXXX")
trap 'rm -rf "$D"' EXIT
M=$PWD/models/seq2seq.dlm
pass() { echo "PASS seq2seq/$1"; }
fail() { echo "FAIL seq2seq/$1"; shift; for l in "$@"; do echo "    $l"; done; }

# pct X: the fraction X as a percentage.
pct() { awk -v x="$1" 'BEGIN { printf "%.2f", 100 * x }'; }

if ! "$TOOLS/seqdata" reverse "$D" >"$D/data.log" 2>&1; then
  fail data "$(cat "$D/data.log")"; exit 0
fi
if ! (cd "$D" && "$DLC" build "$M" -o seq2seq >build.log 2>&1 &&
      ./seq2seq train --threads 2 --save s.ckpt >train.out 2>&1); then
  fail train "$(tail -5 "$D/build.log" "$D/train.out" 2>/dev/null)"; exit 0
fi

# accuracy: greedy decoding by predict, scored by seqdata.
if (cd "$D" && ./seq2seq predict --weights s.ckpt --input reverse_test_src.npy -o answer.npy \
      --threads 2 >predict.out 2>&1); then
  line=$("$TOOLS/seqdata" exact "$D/answer.npy" "$D/reverse_test_tgt.npy")
  exact=$(echo "$line" | awk '{ print $2 }')
  if [ -n "$exact" ] && awk -v a="$exact" 'BEGIN { exit !(a >= 0.95) }'; then
    pass "accuracy ($(pct "$exact")% of 1000 held-out strings reversed exactly >= 95%)"
  else fail accuracy "seqdata exact: '$line', want exact >= 0.95"; fi
else
  fail accuracy "$(tail -3 "$D/predict.out")"
fi

# eval: the same figure from the program itself.
if (cd "$D" && ./seq2seq eval --weights s.ckpt --threads 2 >eval.out 2>&1); then
  acc=$(sed -n 's/^greedy decoding: exact-sequence accuracy \([0-9.]*\)%.*/\1/p' "$D/eval.out")
  if [ -n "$acc" ] && awk -v a="$acc" 'BEGIN { exit !(a >= 95) }'; then pass "eval ($acc% >= 95%)"
  else fail eval "$(cat "$D/eval.out")"; fi
else
  fail eval "$(tail -3 "$D/eval.out")"
fi

# by_hand: the interpreter, with the feed fed back by hand. Position t is
# right after t + 1 rounds (the decoder is causal); 12 rounds for T = 11.
if (cd "$D" && "$TOOLS/seqdata" rand feed.npy i32 16 11 --max 1 &&
    for _ in $(seq 12); do
      "$DLC" run "$M" --weights s.ckpt --input src=reverse_test_src.npy --input prev=feed.npy \
        --limit 16 -o logits.npy >/dev/null &&
      "$TOOLS/seqdata" argmax logits.npy feed.npy --end 11 --shift 10 || exit 1
    done &&
    "$TOOLS/seqdata" argmax logits.npy hand.npy --end 11 &&
    ./seq2seq predict --weights s.ckpt --input reverse_test_src.npy --limit 16 -o got.npy \
      >/dev/null 2>&1 &&
    "$TOOLS/npycmp" got.npy hand.npy >cmp.out 2>&1); then pass by_hand
else fail by_hand "$(cat "$D/cmp.out" 2>/dev/null)"; fi

# feed_refused: the feed is not the user's to give.
if (cd "$D" && ! ./seq2seq predict --weights s.ckpt --input reverse_test_src.npy \
      --input prev=reverse_test_tgt.npy >refused.out 2>&1) &&
   grep -q "input 'prev' is the decoder's feed" "$D/refused.out"; then pass feed_refused
else fail feed_refused "$(cat "$D/refused.out")"; fi
