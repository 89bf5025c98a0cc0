#!/usr/bin/env bash
# Recurrent layers (lstm, gru, rnn; reverse and bidirectional; every step
# or the last):
#   gradcheck/recurrent-V   autodiff's gradients against central
#                           differences on the reference interpreter
#   train_step/recurrent-V/P  one compiled training step (the forward and
#                           the backward loops, KGemm per step) leaves the
#                           parameter P as `dlc run --mode train` computes
#                           it in double precision; the learning rate is
#                           large so that the update, not the old weight,
#                           dominates the comparison
#   compiled/M              models/M.dlm compiled against the interpreter
#                           on Fashion-MNIST images
#   loop/T512-vs-T28        recurrence is a loop: compile time and object
#                           size for 512 steps within 1.5x of 28 steps
#   lengths/padding-ignored  with lengths, what lies past each sequence's
#                           end does not change the outputs
#   lengths/L-starts-at-end  a reverse (bidirectional) layer over a padded
#                           sequence equals the layer over the sequence alone
set -u
cd "$(dirname "$0")/../.."
D=$(mktemp -d "${TMPROOT:-/tmp}/recurrent.XXXXXX")
FM=/usr/share/datasets/fashion-mnist
awk 'BEGIN { for (n = 0; n < 10; n++) { for (i = 0; i < 12; i++)
  printf "%.6f,", ((7 * n + 3 * i) % 11) / 11.0 - 0.3; printf "%d\n", (n * 5) % 3 } }' >"$D/data.csv"
cut -d, -f1-12 "$D/data.csv" >"$D/x.csv"
cut -d, -f13 "$D/data.csv" >"$D/y.csv"

# model NAME LAYER-EXPRESSION: a 4-step sequence of 3 features through the
# layer, a dense layer to 3 classes
model() {
  cat >"$D/$1.dlm" <<DLM
input x: f32[N, 12]
label y: i32[N] classes 3
s = reshape(x, [N, 4, 3])
h = $2
logits = dense(h, 3)
output probs = softmax(logits)
train {
  loss = cross_entropy(logits, y)
  optimizer = sgd(lr = 5, momentum = 0.9)
  batch = 10
  epochs = 1
  shuffle = false
  seed = 7
  data = csv("$D/data.csv", label_column = -1, skip_header = false)
}
DLM
}

# check NAME LAYER-EXPRESSION PARAM...
check() {
  local v=$1 ok=1; shift
  model "$v" "$1"; shift
  if out=$("$DLC" gradcheck "$D/$v.dlm" --samples 4 2>&1); then
    echo "PASS gradcheck/recurrent-$v"
  else
    echo "FAIL gradcheck/recurrent-$v"; printf '%s\n' "$out" | tail -8
  fi
  if ! "$DLC" build "$D/$v.dlm" -o "$D/$v" >"$D/log" 2>&1 ||
     ! "$D/$v" init --seed 7 -o "$D/w0.ckpt" >>"$D/log" 2>&1 ||
     ! "$D/$v" train --save "$D/w1.ckpt" --threads 2 --quiet >>"$D/log" 2>&1; then
    echo "FAIL train_step/recurrent-$v (build or train)"; tail -5 "$D/log"; ok=0
  fi
  for p in "$@"; do
    [ $ok = 1 ] || break
    if "$TOOLS/ckptdump" "$D/w1.ckpt" "$p" -o "$D/got.npy" &&
       "$DLC" run "$D/$v.dlm" --mode train --step 0 --seed 7 --weights "$D/w0.ckpt" \
         --input "x=$D/x.csv" --input "y=$D/y.csv" --output "new:$p" -o "$D/want.npy" &&
       "$TOOLS/npycmp" "$D/got.npy" "$D/want.npy" >"$D/cmp" 2>&1; then
      echo "PASS train_step/recurrent-$v/$p"
    else
      echo "FAIL train_step/recurrent-$v/$p"; head -5 "$D/cmp"
    fi
  done
}

check lstm-last "lstm(s, 5, last = true)" lstm1.Wih lstm1.Whh lstm1.b
check lstm-all "flatten(lstm(s, 5))" lstm1.Wih lstm1.Whh lstm1.b
check lstm-stacked "lstm(lstm(s, 3), 4, last = true)" lstm1.Wih lstm1.Whh lstm2.Wih lstm2.Whh
check lstm-bidir "lstm(s, 4, bidirectional = true, last = true)" \
  lstm1.Wih lstm1.Whh lstm1.Wih_reverse lstm1.Whh_reverse lstm1.b_reverse
check gru-last "gru(s, 5, last = true)" gru1.Wih gru1.Whh gru1.b
check gru-bidir "flatten(gru(s, 3, bidirectional = true))" \
  gru1.Wih gru1.Whh gru1.Wih_reverse gru1.Whh_reverse gru1.b_reverse
check rnn-last "rnn(s, 5, last = true)" rnn1.Wih rnn1.Whh rnn1.b
check rnn-reverse "flatten(rnn(s, 4, reverse = true))" rnn1.Wih rnn1.Whh rnn1.b

# Compiled vs interpreter on real images, seeded weights.
for b in lstm_rows gru_bidir; do
  m=models/$b.dlm
  if "$DLC" build "$m" -o "$D/$b" && "$D/$b" init --seed 3 -o "$D/$b.ckpt" >/dev/null &&
     "$D/$b" predict --weights "$D/$b.ckpt" --input $FM/t10k-images-idx3-ubyte.gz --limit 40 -o "$D/$b.got.npy" >/dev/null 2>&1 &&
     "$DLC" run "$m" --weights "$D/$b.ckpt" --input $FM/t10k-images-idx3-ubyte.gz --limit 40 -o "$D/$b.want.npy" &&
     "$TOOLS/npycmp" "$D/$b.got.npy" "$D/$b.want.npy" >"$D/cmp" 2>&1; then
    echo "PASS compiled/$b"
  else
    echo "FAIL compiled/$b"; head -5 "$D/cmp"
  fi
done

# Variable lengths: sequences padded at the end, through forward, reverse
# and bidirectional layers. Two sets of 4 sequences of lengths 4, 2, 1, 0
# that differ only in their padding give the same outputs (compiled and
# interpreted agree too); the gradients through the length masks are
# checked.
cat >"$D/len.dlm" <<DLM
input x: f32[N, 4, 3]
input len: i32[N]
label y: i32[N] classes 2
h = lstm(x, 5, last = true, lengths = len)
g = flatten(gru(x, 2, lengths = len))
r = rnn(x, 3, reverse = true, last = true, lengths = len)
b = flatten(gru(x, 2, bidirectional = true, lengths = len))
logits = dense(concat(h, g, r, b), 2)
output p = softmax(logits)
train {
  loss = cross_entropy(logits, y)
}
DLM
hdr='\x00\x00\x08\x03\x00\x00\x00\x04\x00\x00\x00\x04\x00\x00\x00\x03'
{ printf "$hdr"; printf '\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0\xb0\xc0'
  printf '\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c'
  printf '\x33\x22\x11\x00\x00\x00\x00\x00\x00\x00\x00\x00'
  printf '\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05'; } >"$D/xa.idx"
{ printf "$hdr"; printf '\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0\xb0\xc0'
  printf '\x01\x02\x03\x04\x05\x06\xff\xfe\xfd\xfc\xfb\xfa'
  printf '\x33\x22\x11\x99\x88\x77\x66\x55\x44\x33\x22\x11'
  printf '\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee'; } >"$D/xb.idx"
printf '\x00\x00\x08\x01\x00\x00\x00\x04\x04\x02\x01\x00' >"$D/len.idx"
if out=$("$DLC" gradcheck "$D/len.dlm" --samples 4 2>&1); then
  echo "PASS gradcheck/recurrent-lengths"
else
  echo "FAIL gradcheck/recurrent-lengths"; printf '%s\n' "$out" | tail -8
fi
if "$DLC" build "$D/len.dlm" -o "$D/len" >"$D/log" 2>&1 && "$D/len" init --seed 3 -o "$D/lw.ckpt" >>"$D/log" 2>&1 &&
   "$D/len" predict --weights "$D/lw.ckpt" --input "x=$D/xa.idx" --input "len=$D/len.idx" -o "$D/ga.npy" >>"$D/log" 2>&1 &&
   "$D/len" predict --weights "$D/lw.ckpt" --input "x=$D/xb.idx" --input "len=$D/len.idx" -o "$D/gb.npy" >>"$D/log" 2>&1 &&
   "$DLC" run "$D/len.dlm" --weights "$D/lw.ckpt" --input "x=$D/xa.idx" --input "len=$D/len.idx" -o "$D/wa.npy" >>"$D/log" 2>&1; then
  "$TOOLS/npycmp" "$D/ga.npy" "$D/wa.npy" >"$D/cmp" 2>&1 && echo "PASS compiled/recurrent-lengths" ||
    { echo "FAIL compiled/recurrent-lengths"; head -5 "$D/cmp"; }
  cmp -s "$D/ga.npy" "$D/gb.npy" && echo "PASS lengths/padding-ignored" ||
    { echo "FAIL lengths/padding-ignored"; "$TOOLS/npycmp" "$D/ga.npy" "$D/gb.npy" | head -5; }
else
  echo "FAIL compiled/recurrent-lengths (build or run)"; tail -5 "$D/log"
fi

# A reverse layer with lengths starts at each sequence's own end: over a
# sequence of 2 steps padded to 4 it gives what the same layer (the same
# seeded weights) gives over the 2 steps alone; so does a bidirectional one.
for layer in "rnn(x, 3, reverse = true, last = true" "gru(x, 2, bidirectional = true, last = true"; do
  name=$(echo "$layer" | cut -d'(' -f1)
  printf 'input x: f32[N, 4, 3]\ninput len: i32[N]\noutput r = %s, lengths = len)\n' "$layer" >"$D/p$name.dlm"
  printf 'input x: f32[N, 2, 3]\noutput r = %s)\n' "$layer" >"$D/s$name.dlm"
  { printf '\x00\x00\x08\x03\x00\x00\x00\x01\x00\x00\x00\x04\x00\x00\x00\x03'
    printf '\x01\x03\x02\x00\x02\x04\x09\x09\x09\x07\x07\x07'; } >"$D/px.idx"
  { printf '\x00\x00\x08\x03\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03'
    printf '\x01\x03\x02\x00\x02\x04'; } >"$D/sx.idx"
  printf '\x00\x00\x08\x01\x00\x00\x00\x01\x02' >"$D/pl.idx"
  if "$DLC" build "$D/p$name.dlm" -o "$D/p$name" >"$D/log" 2>&1 &&
     "$DLC" build "$D/s$name.dlm" -o "$D/s$name" >>"$D/log" 2>&1 &&
     "$D/p$name" init --seed 4 -o "$D/pw.ckpt" >>"$D/log" 2>&1 &&
     "$D/s$name" init --seed 4 -o "$D/sw.ckpt" >>"$D/log" 2>&1 &&
     "$D/p$name" predict --weights "$D/pw.ckpt" --input "x=$D/px.idx" --input "len=$D/pl.idx" \
       -o "$D/py.npy" >>"$D/log" 2>&1 &&
     "$D/s$name" predict --weights "$D/sw.ckpt" --input "$D/sx.idx" -o "$D/sy.npy" >>"$D/log" 2>&1; then
    "$TOOLS/npycmp" "$D/py.npy" "$D/sy.npy" >"$D/cmp" 2>&1 && echo "PASS lengths/$name-starts-at-end" ||
      { echo "FAIL lengths/$name-starts-at-end"; head -5 "$D/cmp"; }
  else
    echo "FAIL lengths/$name-starts-at-end (build or run)"; tail -5 "$D/log"
  fi
done

# Recurrence as a loop: the same layer over 28 and over 512 steps.
for T in 28 512; do
  cat >"$D/t$T.dlm" <<DLM
input x: f32[N, $((T * 28))]
label y: i32[N] classes 10
h = lstm(reshape(x, [N, $T, 28]), 128, last = true)
logits = dense(h, 10)
output probs = softmax(logits)
train {
  loss = cross_entropy(logits, y)
  optimizer = sgd(lr = 0.01, momentum = 0.9)
}
DLM
  "$DLC" build "$D/t$T.dlm" -o "$D/t$T" --stats >"$D/stats$T" 2>&1
done
# "dlc: time: frontend Xs, passes Xs, codegen Xs, llvm opt Xs, emit Xs, link Xs"
secs() { sed -n 's/^dlc: time: //p' "$1" | tr -d 's,' | awk '{ print $2 + $4 + $6 + $9 + $11 }'; }
bytes() { sed -n 's/.*kernels, object \([0-9]*\) bytes.*/\1/p' "$1"; }
t28=$(secs "$D/stats28"); t512=$(secs "$D/stats512"); o28=$(bytes "$D/stats28"); o512=$(bytes "$D/stats512")
if [ -n "$t28" ] && [ -n "$o28" ] && [ -n "$t512" ] && [ -n "$o512" ] &&
   awk -v a="$t28" -v b="$t512" -v c="$o28" -v d="$o512" 'BEGIN { exit !(b <= 1.5 * a && d <= 1.5 * c) }'; then
  echo "PASS loop/T512-vs-T28"
else
  echo "FAIL loop/T512-vs-T28 (compile ${t28:-?}s vs ${t512:-?}s, object ${o28:-?} vs ${o512:-?} bytes)"
  tail -3 "$D/stats512"
fi
rm -rf "$D"
