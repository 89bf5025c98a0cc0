#!/usr/bin/env bash
# train_cli.sh — `./model train` and `./model eval`, end to end, without the
# compiler: build/rtprog/fake_train is the runtime's main() linked with a
# hand-written softmax regression (tests/rt/prog/fake_train.c) that has all
# three entries; fake_adam is the same trained with Adam; fake_prog has
# only a forward entry. Data: three noisy clusters in 4-D, written as CSV
# by awk. Checks the log, the plot, determinism, bit-identical resume,
# early stopping, folds, eval's confusion matrix, option overrides, and
# that bad data and a diverging run end in "error: ..." and exit 1.
# Prints one PASS/FAIL line per check.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
prog=$PWD/$BUILD/rtprog/fake_train
adam=$PWD/$BUILD/rtprog/fake_adam
fwd=$PWD/$BUILD/rtprog/fake_prog
other=$PWD/$BUILD/rtprog/fake_other
cmp=$PWD/$BUILD/tools/ckptcmp
dump=$PWD/$BUILD/tools/ckptdump
for f in "$prog" "$adam" "$fwd" "$other" "$cmp" "$dump"; do
  if [ ! -x "$f" ]; then echo "FAIL train_cli (build $f first: make test)"; exit 1; fi
done
tmp=$(mktemp -d "${TMPROOT:-/tmp}/train-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fails=0

pass() { echo "PASS train_$1"; }
fail() { echo "FAIL train_$1"; shift; for l in "$@"; do echo "    $l"; done; fails=$((fails + 1)); }

# run NAME WANT_RC CMD...: stdout in out.txt, stderr in err.txt.
run() {
  local name=$1 want=$2; shift 2
  "$@" >out.txt 2>err.txt; rc=$?
  if [ "$rc" -ne "$want" ]; then
    fail "$name" "exit $rc, want $want: $*" "$(head -c 800 err.txt)"; return 1
  fi
  return 0
}

# expect_error NAME PATTERN CMD...: exit 1, stderr "error: ..." matching PATTERN.
expect_error() {
  local name=$1 pat=$2; shift 2
  run "$name" 1 "$@" || return
  if grep '^error: ' err.txt | grep -q -- "$pat"; then pass "$name"
  else fail "$name" "stderr does not match '$pat':" "$(head -c 800 err.txt)"; fi
}

# same NAME A B / differ NAME A B: checkpoints' arrays byte for byte.
same() { if "$cmp" "$2" "$3" >cmp.txt; then pass "$1"; else fail "$1" "$(cat cmp.txt)"; fi; }
differ() { if ! "$cmp" "$2" "$3" >cmp.txt; then pass "$1"; else fail "$1" "the checkpoints are identical"; fi; }

# 900 samples: class c has feature c shifted by 1.2, noise in [-1, 1);
# about 85% separable. 300 more as a test set.
gen() { awk -v seed="$1" -v n="$2" 'BEGIN { srand(seed); for (i = 0; i < n; i++) { c = i % 3
  for (k = 0; k < 4; k++) printf "%.5f,", (k == c) * 1.2 + 2 * rand() - 1; printf "%d\n", c } }'; }
gen 11 900 >train.csv
gen 12 300 >test.csv
# Labels without signal, for early stopping: the validation loss rises.
awk -F, 'BEGIN { srand(5) } { printf "%s,%s,%s,%s,%d\n", $1, $2, $3, $4, int(rand() * 3) }' train.csv >noise.csv
D=(--data-path train.csv --test-path test.csv)
T=("${D[@]}" --threads 2)

# ---- a run: epoch lines, log, plot, test line ----
if run basic 0 "$prog" train "${T[@]}" --epochs 3 --validation-split 0.2 --log a.csv \
     --plot a.svg --save a.ckpt; then
  if [ "$(grep -c '^epoch [123]/3  train loss [0-9.]*  val loss [0-9.]*  val acc [0-9.]*%  lr 0.1  [0-9.]*s  [0-9]* samples/s$' out.txt)" = 3 ] &&
     grep -q '^training faketrain: 720 samples (+180 for validation), batch 16, 3 epochs' out.txt &&
     grep -q '^test loss [0-9.]*  test accuracy [0-9.]*%  (300 samples)$' out.txt; then
    pass epoch_lines
  else fail epoch_lines "$(cat out.txt)"; fi
  if [ "$(head -1 a.csv)" = "epoch,train_loss,val_loss,val_acc,lr,seconds" ] && [ "$(wc -l <a.csv)" = 4 ] &&
     awk -F, 'NR > 1 && (NF != 6 || $1 != NR - 1 || $2 <= 0 || $3 <= 0 || $4 <= 0 || $4 > 1 || $5 != 0.1) { bad = 1 }
              END { exit bad }' a.csv; then
    pass log_csv
  else fail log_csv "$(cat a.csv)"; fi
  if awk -F, 'NR == 2 { l1 = $2 } NR == 4 { l3 = $2 } END { exit !(l3 < l1) }' a.csv; then pass loss_falls
  else fail loss_falls "$(cat a.csv)"; fi
  acc=$(sed -n 's/^test loss .*test accuracy \([0-9.]*\)%.*/\1/p' out.txt)
  if awk -v a="$acc" 'BEGIN { exit !(a >= 75) }'; then pass test_accuracy_above_75
  else fail test_accuracy_above_75 "test accuracy $acc%"; fi
fi
svg_ok() {
  if command -v xmllint >/dev/null; then xmllint --noout "$1" 2>/dev/null || return 1; fi
  head -1 "$1" | grep -q '^<?xml' && tail -1 "$1" | grep -q '^</svg>$' &&
    [ "$(grep -c '<polyline fill="none" stroke="#' "$1")" -ge 2 ] && grep -q 'validation loss' "$1" &&
    grep -q '>epoch<' "$1"
}
if svg_ok a.svg; then pass plot_svg; else fail plot_svg "$(head -c 400 a.svg)"; fi
if "$dump" a.ckpt | grep -q '^# epoch = 3$' && "$dump" a.ckpt | grep -q '^# opt.batch = 16$' &&
   "$dump" a.ckpt | grep -q '^# hyper.momentum = 0.90000000000000002$' &&
   "$dump" a.ckpt | grep -q '^momentum.W ' && "$dump" a.ckpt | grep -q '^# threads = 2$'; then
  pass checkpoint_contents
else fail checkpoint_contents "$("$dump" a.ckpt | grep '^#')"; fi

# ---- determinism and resume ----
run det1 0 "$prog" train "${T[@]}" --epochs 3 --seed 5 --validation-split 0.2 --save d1.ckpt --quiet &&
  run det2 0 "$prog" train "${T[@]}" --epochs 3 --seed 5 --validation-split 0.2 --save d2.ckpt --quiet &&
  same deterministic d1.ckpt d2.ckpt
run det3 0 "$prog" train "${T[@]}" --epochs 3 --seed 6 --validation-split 0.2 --save d3.ckpt --quiet &&
  differ seed_matters d1.ckpt d3.ckpt
run det4 0 "$prog" train "${D[@]}" --epochs 3 --seed 5 --validation-split 0.2 --threads 1 --save d4.ckpt --quiet &&
  same deterministic_across_threads_for_this_model d1.ckpt d4.ckpt
run r1 0 "$prog" train "${T[@]}" --epochs 2 --seed 5 --validation-split 0.2 --save r.ckpt --log r.csv --quiet &&
  run r2 0 "$prog" train --resume r.ckpt --epochs 3 --log r.csv --test-path test.csv &&
  same resume_bit_identical d1.ckpt r.ckpt
if grep -q '^resuming from r.ckpt: 2 of 3 epochs done, step 90$' out.txt && [ "$(wc -l <r.csv)" = 4 ]; then
  pass resume_continues_log
else fail resume_continues_log "$(cat out.txt)" "$(cat r.csv)"; fi
# Adam: the bias corrections depend on the step the checkpoint restores.
run a1 0 "$adam" train "${T[@]}" --epochs 3 --save a3.ckpt --quiet &&
  run a2 0 "$adam" train "${T[@]}" --epochs 1 --save ar.ckpt --quiet &&
  run a3 0 "$adam" train --resume ar.ckpt --epochs 3 --quiet && same resume_adam_bit_identical a3.ckpt ar.ckpt
run r3 0 "$prog" train "${T[@]}" --epochs 2 --seed 5 --validation-split 0.2 --save n.ckpt --quiet
run r4 0 "$prog" train --resume n.ckpt --epochs 3 --lr 0.05 --quiet
if grep -q '^note: --lr 0.05 differs from the checkpoint' err.txt; then pass resume_notes_changed_option
else fail resume_notes_changed_option "$(cat err.txt)"; fi
"$other" init -o other.ckpt >/dev/null
expect_error resume_other_model "other.ckpt: the checkpoint is for model 'other'" \
  "$prog" train "${T[@]}" --resume other.ckpt
"$prog" init -o init.ckpt >/dev/null
expect_error resume_init_checkpoint "init.ckpt: .*state tensor 'momentum.W'" "$prog" train "${T[@]}" --resume init.ckpt

# ---- early stopping ----
if run early 0 "$prog" train --data-path noise.csv --threads 2 --epochs 40 --lr 0.5 \
     --validation-split 0.3 --early-stopping 2 --save e.ckpt --log e.csv; then
  best=$(sed -n 's/^restored the weights of epoch \([0-9]*\) .*/\1/p' out.txt)
  last=$(tail -1 e.csv | cut -d, -f1)
  if grep -q '^early stopping: the validation loss has not improved for 2 epochs; stopped after epoch' out.txt &&
     [ -n "$best" ] && [ "$last" -lt 40 ] && [ "$last" = $((best + 2)) ] &&
     [ "$(awk -F, 'NR > 1 && (m == "" || $3 < m) { m = $3; e = $1 } END { print e }' e.csv)" = "$best" ]; then
    pass early_stopping_stops
  else fail early_stopping_stops "$(cat out.txt)" "$(cat e.csv)"; fi
  if [ "$("$dump" e.ckpt W | cut -d' ' -f2-)" = "$("$dump" e.ckpt best.W | cut -d' ' -f2-)" ]; then
    pass early_stopping_restores_best
  else fail early_stopping_restores_best "W and best.W differ"; fi
fi
expect_error early_stopping_needs_validation "early_stopping needs a validation set" \
  "$prog" train "${T[@]}" --early-stopping 2
expect_error resume_after_early_stop "stopped early" "$prog" train --resume e.ckpt --epochs 50

# ---- folds ----
if run folds 0 "$prog" train "${T[@]}" --epochs 2 --folds 3; then
  if [ "$(grep -c '^fold [123]/3  val loss [0-9.]*  val acc [0-9.]*%  (300 samples)$' out.txt)" = 3 ] &&
     grep -q '^cross-validation, 3 folds: val loss [0-9.]* +- [0-9.]*  val acc [0-9.]*% +- [0-9.]*%' out.txt; then
    pass folds
  else fail folds "$(cat out.txt)"; fi
fi
expect_error folds_and_save "does not combine with --save" "$prog" train "${T[@]}" --folds 3 --save x.ckpt

# ---- options ----
if run schedule 0 "$prog" train "${T[@]}" --epochs 3 --lr-schedule 'step(every=2, gamma=0.5)' &&
   [ "$(sed -n 's/^epoch .*  lr \([0-9.e-]*\)  .*/\1/p' out.txt | tr '\n' ' ')" = "0.1 0.1 0.05 " ]; then
  pass lr_schedule_override
else fail lr_schedule_override "$(cat out.txt)"; fi
run cosine 0 "$prog" train "${T[@]}" --epochs 2 --lr_schedule 'cosine(min_lr=0.02)' --lr=0.2 &&
  [ "$(sed -n 's/^epoch .*  lr \([0-9.e-]*\)  .*/\1/p' out.txt | tr '\n' ' ')" = "0.2 0.11 " ] &&
  pass cosine_and_equals_syntax || fail cosine_and_equals_syntax "$(cat out.txt)"
run datacall 0 "$prog" train --data 'csv(train.csv, label_column = -1)' --epochs 1 --quiet &&
  pass data_call_syntax
run l2 0 "$prog" train "${T[@]}" --epochs 1 --l2 0.01 --momentum 0.5 --batch 32 --save l2.ckpt --quiet &&
  "$dump" l2.ckpt | grep -q '^# hyper.l2 = 0.01$' && "$dump" l2.ckpt | grep -q '^# opt.batch = 32$' &&
  pass hyper_overrides || fail hyper_overrides "$("$dump" l2.ckpt | grep '^#')"
expect_error unknown_hyper "--beta1: the model was compiled without 'beta1'" "$prog" train "${T[@]}" --beta1 0.5
expect_error momentum_range "momentum: 1.5 is out of range" "$prog" train "${T[@]}" --momentum 1.5
expect_error other_optimizer "the model was compiled with sgd" "$prog" train "${T[@]}" --optimizer 'adam(lr=0.1)'
expect_error bad_schedule "unknown lr_schedule 'linear'" "$prog" train "${T[@]}" --lr-schedule 'linear(1)'
expect_error unknown_flag "unknown flag '--frobnicate'" "$prog" train "${T[@]}" --frobnicate 1
expect_error no_data "no training data" "$prog" train
expect_error no_train_entry "model 'fake' has no train step" "$fwd" train
expect_error no_eval_entry "model 'fake' has no eval entry" "$fwd" eval --weights x.ckpt

# ---- eval ----
if run eval 0 "$prog" eval --weights a.ckpt --test-path test.csv; then
  if grep -q '^eval: 300 samples$' out.txt && grep -q '^accuracy [0-9.]*% ([0-9]*/300)$' out.txt &&
     grep -q '^confusion matrix (rows: true class, columns: predicted class)$' out.txt &&
     [ "$(grep -c '^  [012] ' out.txt)" = 3 ] &&
     [ "$(awk '/^  [012] / { s += $2 + $3 + $4 } END { print s }' out.txt)" = 300 ]; then
    pass eval_confusion_matrix
  else fail eval_confusion_matrix "$(cat out.txt)"; fi
fi
expect_error eval_no_data "no test data" "$prog" eval --weights a.ckpt

# ---- info and predict with the trained weights ----
if run info 0 "$prog" info && grep -q '^entries    forward eval train$' out.txt &&
   grep -q '^  momentum.W  *f32 \[4, 3\]$' out.txt && grep -q '^  momentum  *0.9$' out.txt &&
   grep -q '^  optimizer  *sgd(lr=0.1, momentum=0.9)$' out.txt &&
   grep -q '^  train  *128 + 32\*N$' out.txt && grep -q '^  total  *N=1: 288    N=64: 2304 ' out.txt; then
  pass info_entries_state_hypers
else fail info_entries_state_hypers "$(cat out.txt)"; fi
printf '\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x04\x02\x00\x00\x00\x00\x00\x02\x00' >two.idx
run predict 0 "$prog" predict --weights a.ckpt --input two.idx &&
  grep -q '^0: class 0 ' out.txt && grep -q '^1: class 2 ' out.txt && pass predict_forward_entry ||
  fail predict_forward_entry "$(cat out.txt)"
expect_error predict_unread_input "the forward entry does not read input 'y'" \
  "$prog" predict --weights a.ckpt --input two.idx --input y=two.idx

# ---- bad data and divergence ----
sed '5s/^\([^,]*\),[^,]*/\1,abc/' train.csv >badfield.csv
expect_error csv_bad_field "badfield.csv:5:9: field 2: 'abc' is not a number" \
  "$prog" train --data-path badfield.csv
sed '7s/,[^,]*$//' train.csv >short.csv
expect_error csv_field_count "short.csv:7: 4 fields, but line 1 has 5" "$prog" train --data-path short.csv
sed '4s/,[0-9]$/,3/' train.csv >range.csv
expect_error label_out_of_range "range.csv: label 3 of sample 3 is not a class 0..2" \
  "$prog" train --data-path range.csv
sed '2s/,[0-9]$/,1.5/' train.csv >frac.csv
expect_error label_not_integer "frac.csv: element 1 (1.5) is not an integer" "$prog" train --data-path frac.csv
cut -d, -f1-3,5 train.csv >narrow.csv
expect_error wrong_sample_size "narrow.csv: 4 columns (features and a label), but input 'x' needs 4" \
  "$prog" train --data-path narrow.csv
expect_error missing_file "nope.csv: cannot open" "$prog" train --data-path nope.csv
expect_error diverges "loss is \(nan\|inf\) at epoch 1 step [0-9]" "$prog" train "${T[@]}" --lr 1e30

[ "$fails" -eq 0 ]
