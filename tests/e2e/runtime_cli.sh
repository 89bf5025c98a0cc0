#!/usr/bin/env bash
# runtime_cli.sh — the command line of a generated program, end to end,
# without the compiler: build/rtprog/fake_prog is the runtime's main()
# linked with a hand-written model (tests/rt/prog/fake_model.c: y = 2x + w,
# w = 0.25). Checks info, init and predict, and that every bad input ends
# in "error: ..." naming the file and exit status 1 (never a crash).
# Prints one PASS/FAIL line per check.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
prog=$PWD/$BUILD/rtprog/fake_prog
other=$PWD/$BUILD/rtprog/fake_other
if [ ! -x "$prog" ] || [ ! -x "$other" ]; then
  echo "FAIL runtime_cli (build $BUILD/rtprog/fake_prog and fake_other first: make $BUILD/rtprog/fake_prog $BUILD/rtprog/fake_other)"
  exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dlrt-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fails=0

pass() { echo "PASS cli_$1"; }
fail() { echo "FAIL cli_$1"; shift; for l in "$@"; do echo "    $l"; done; fails=$((fails + 1)); }

# run NAME WANT_RC CMD...: run, keep stdout in out.txt and stderr in err.txt.
run() {
  local name=$1 want=$2; shift 2
  "$@" >out.txt 2>err.txt; rc=$?
  if [ "$rc" -ne "$want" ]; then
    fail "$name" "exit $rc, want $want: $*" "$(head -c 600 err.txt)"; return 1
  fi
  return 0
}

# expect_error NAME PATTERN CMD...: exit 1, and stderr is "error: ..." matching PATTERN.
expect_error() {
  local name=$1 pat=$2; shift 2
  run "$name" 1 "$@" || return
  if head -1 err.txt | grep -q '^error: ' && grep -q -- "$pat" err.txt; then pass "$name"
  else fail "$name" "stderr does not match '$pat':" "$(head -c 600 err.txt)"; fi
}

# expect_out NAME FILE: out.txt equals FILE.
expect_out() {
  if cmp -s out.txt "$2"; then pass "$1"; else fail "$1" "stdout differs:" "$(diff out.txt "$2" | head -10)"; fi
}

# Data: 7 samples of 4 bytes (IDX u8, scaled by 1/255 by the model's data.scale).
printf '\x00\x00\x08\x02\x00\x00\x00\x07\x00\x00\x00\x04' >x.idx
printf '\xff\x00\x33\x66\x00\xff\x00\x00\x00\x00\xff\x00\x00\x00\x00\xff\x80\x00\x00\x00\x00\x80\x00\x00\x10\x20\x30\x40' >>x.idx
gzip -c x.idx >x.idx.gz
printf '\x00\x00\x08\x01\x00\x00\x00\x07\x00\x01\x02\x03\x00\x01\x00' >labels.idx
printf '\x00\x00\x08\x01\x00\x00\x00\x07\x00\x01\x02\x09\x00\x01\x00' >badlabels.idx
printf '\x00\x00\x08\x02\x00\x00\x00\x07\x00\x00\x00\x05' >x5.idx
head -c 35 /dev/zero >>x5.idx
cat >want.txt <<'WANT'
0: class 0  (value 2.25)
1: class 1  (value 2.25)
2: class 2  (value 2.25)
3: class 3  (value 2.25)
4: class 0  (value 1.25392)
5: class 1  (value 1.25392)
6: class 3  (value 0.751961)
WANT

# ---- help and info ----
run help 0 "$prog" help && grep -q '^usage: ' out.txt && pass help || fail help "$(head -3 out.txt)"
run no_args 0 "$prog" && grep -q '^usage: ' out.txt && pass no_args
run unknown_command 2 "$prog" frobnicate && grep -q "^error: unknown command 'frobnicate'" err.txt &&
  pass unknown_command || fail unknown_command "$(head -2 err.txt)"
if run info 0 "$prog" info && grep -q '^signature  0123456789abcdef$' out.txt &&
   grep -q '^entries    forward$' out.txt && grep -q '^  forward  *64 + 36\*N$' out.txt &&
   grep -q '^  total  *f32 \[4\]$' out.txt &&
   grep -q '^  x  *f32 \[N, 4\]$' out.txt && grep -q '^  s  *f32 \[2, 3\]  *6  xavier_uniform$' out.txt &&
   grep -q 'total  *10 values, 40 bytes' out.txt && grep -q 'N=1: 164    N=64: 2432' out.txt; then
  pass info
else fail info "$(cat out.txt)"; fi

# ---- init ----
run init 0 "$prog" init --seed 7 -o w.ckpt && [ -s w.ckpt ] && pass init
run init_again 0 "$prog" init --seed=7 -o w2.ckpt && cmp -s w.ckpt w2.ckpt && pass init_is_deterministic ||
  fail init_is_deterministic "same seed, different files"
run init_seed 0 "$prog" init --seed 8 -o w3.ckpt && ! cmp -s w.ckpt w3.ckpt && pass init_seed_matters ||
  fail init_seed_matters "seeds 7 and 8 give the same file"
run init_default 0 "$prog" init -o w1.ckpt && grep -q 'seed 1' out.txt && pass init_default_seed
expect_error init_needs_output "-o FILE is required" "$prog" init
expect_error init_bad_seed "--seed: 'x1' is not a non-negative integer" "$prog" init --seed x1 -o a.ckpt
expect_error init_negative_seed "not a non-negative integer" "$prog" init --seed -3 -o a.ckpt
expect_error init_unwritable "nodir/a.ckpt" "$prog" init -o nodir/a.ckpt

# ---- predict ----
run predict 0 "$prog" predict --weights w.ckpt --input x.idx && expect_out predict_idx_scaled_argmax want.txt
run predict_gz 0 "$prog" predict --weights w.ckpt --input x=x.idx.gz && expect_out predict_gzip_named_input want.txt
run predict_batch 0 "$prog" predict --weights w.ckpt --input x.idx --batch 3 --threads 3 &&
  expect_out predict_partial_batches_and_threads want.txt
run predict_limit 0 "$prog" predict --weights w.ckpt --input x.idx --limit 2 &&
  head -2 want.txt >want2.txt && expect_out predict_limit want2.txt
run predict_labels 0 "$prog" predict --weights w.ckpt --input x.idx --labels labels.idx --batch 2
if grep -q '^accuracy: 0.8571 (6/7)$' out.txt; then pass predict_accuracy; else fail predict_accuracy "$(tail -2 out.txt)"; fi
if run predict_npy 0 "$prog" predict --weights w.ckpt --input x.idx -o out.npy &&
   [ "$(head -c 6 out.npy | od -An -c | tr -d ' ')" = '223NUMPY' ] &&
   [ "$(wc -c <out.npy)" -eq $((128 + 7 * 16)) ] && grep -aq "'shape': (7, 4)" out.npy &&
   [ "$(od -An -t f4 -j 128 -N 16 out.npy | tr -s ' ')" = " 2.25 0.25 0.65 1.05" ]; then
  pass predict_writes_npy
else fail predict_writes_npy "$(od -An -c out.npy | head -5)" "$(od -An -t f4 -j 128 -N 16 out.npy)"; fi
# The NPY output read back as input (f32, not scaled): y = 2 * 2.25 + 0.25 = 4.75.
run predict_npy_in 0 "$prog" predict --weights w.ckpt --input out.npy --limit 1 &&
  grep -q '^0: class 0  (value 4.75)$' out.txt && pass predict_npy_input || fail predict_npy_input "$(cat out.txt)"

# An output that is not one row per sample (the sum over the batch) runs as
# one batch; column 0: 7 * 0.25 + 2 * (1 + 128/255 + 16/255) = 4.87941...
run predict_whole 0 "$prog" predict --weights w.ckpt --input x.idx --output total &&
  grep -q '^0: 4.87941 5.0049 4.52647 5.05196$' out.txt && pass predict_whole_batch_output ||
  fail predict_whole_batch_output "$(cat out.txt)"
run predict_whole_npy 0 "$prog" predict --weights w.ckpt --input x.idx --output total -o total.npy &&
  grep -aq "'shape': (4,)" total.npy && [ "$(wc -c <total.npy)" -eq $((128 + 16)) ] &&
  pass predict_whole_batch_npy || fail predict_whole_batch_npy "$(head -c 80 total.npy | tr -d '\0')"
expect_error whole_with_batch "output 'total' \[4\] is not one row per sample" \
  "$prog" predict --weights w.ckpt --input x.idx --output total --batch 2

# ---- predict: bad input, each a clear error naming the file ----
expect_error missing_weights "nope.ckpt: cannot open" "$prog" predict --weights nope.ckpt --input x.idx
expect_error missing_input "nope.idx: cannot open" "$prog" predict --weights w.ckpt --input nope.idx
cp w.ckpt bad.ckpt
printf '\x42' | dd of=bad.ckpt bs=1 seek=140 conv=notrunc 2>/dev/null
expect_error corrupted_checkpoint "bad.ckpt: byte .*checksum" "$prog" predict --weights bad.ckpt --input x.idx
head -c 100 w.ckpt >cut.ckpt
expect_error truncated_checkpoint "cut.ckpt: byte .*truncated" "$prog" predict --weights cut.ckpt --input x.idx
expect_error not_a_checkpoint "x.idx: byte 0: not a dlc checkpoint" "$prog" predict --weights x.idx --input x.idx
"$other" init -o other.ckpt >/dev/null
expect_error other_model "other.ckpt: the checkpoint is for model 'other' (signature fedcba9876543210), but this program is model 'fake'" \
  "$prog" predict --weights other.ckpt --input x.idx
expect_error wrong_input_size "x5.idx: shape \[7, 5\] does not hold samples of input 'x' \[N, 4\]" \
  "$prog" predict --weights w.ckpt --input x5.idx
expect_error input_not_data "w.ckpt: byte 0: not an IDX file" "$prog" predict --weights w.ckpt --input w.ckpt
expect_error label_out_of_range "badlabels.idx: label 9 of sample 3 is not a class 0..3" \
  "$prog" predict --weights w.ckpt --input x.idx --labels badlabels.idx
expect_error batch_not_number "--batch: 'abc' is not an integer" "$prog" predict --weights w.ckpt --input x.idx --batch abc
expect_error batch_zero "--batch: 0 is out of range" "$prog" predict --weights w.ckpt --input x.idx --batch 0
expect_error batch_huge "--batch: '99999999999999999999' is not an integer" "$prog" predict --weights w.ckpt --input x.idx --batch 99999999999999999999
expect_error threads_not_number "--threads: '2x' is not an integer" "$prog" predict --weights w.ckpt --input x.idx --threads 2x
expect_error limit_negative "--limit: -3 is out of range" "$prog" predict --weights w.ckpt --input x.idx --limit -3
expect_error unknown_flag "unknown flag '--frobs'" "$prog" predict --weights w.ckpt --input x.idx --frobs 1
expect_error stray_argument "unknown argument 'extra'" "$prog" predict --weights w.ckpt --input x.idx extra
expect_error flag_without_value "--weights needs a value" "$prog" predict --input x.idx --weights
expect_error flag_twice "--batch is given twice" "$prog" predict --weights w.ckpt --input x.idx --batch 2 --batch 3
expect_error no_weights "--weights FILE is required" "$prog" predict --input x.idx
expect_error no_input "--input FILE is required" "$prog" predict --weights w.ckpt
expect_error unknown_output "no output 'z'" "$prog" predict --weights w.ckpt --input x.idx --output z
expect_error too_many_inputs "more --input files than the model has data inputs" \
  "$prog" predict --weights w.ckpt --input x.idx --input x.idx
expect_error unwritable_output "nodir/out.npy: cannot create" "$prog" predict --weights w.ckpt --input x.idx -o nodir/out.npy

# Random junk as every file argument: an error, never a crash.
head -c 3000 /dev/urandom >junk.bin
crashes=0
for args in "--weights junk.bin --input x.idx" "--weights w.ckpt --input junk.bin" \
            "--weights w.ckpt --input x.idx --labels junk.bin"; do
  # shellcheck disable=SC2086
  "$prog" predict $args >/dev/null 2>err.txt; rc=$?
  [ "$rc" -eq 1 ] && head -1 err.txt | grep -q '^error: ' || crashes=$((crashes + 1))
done
[ "$crashes" -eq 0 ] && pass junk_files_refused || fail junk_files_refused "$crashes runs did not end in 'error: ...' and exit 1"

[ "$fails" -eq 0 ]
