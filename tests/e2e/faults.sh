#!/usr/bin/env bash
# faults.sh — training survives being stopped. build/rtprog/fake_train (the
# runtime's main() with a hand-written softmax regression) trains on 30000
# CSV samples, so that an epoch takes a few milliseconds and a signal lands
# anywhere in the loop. Checks that SIGINT and SIGTERM save a checkpoint
# of where the run stopped and exit 130 and 143, that --resume from it
# computes bit for bit what the uninterrupted run computes, and that
# SIGKILL at 20 random moments always leaves a checkpoint that loads and
# resumes. (A non-finite loss is tested by train_cli.sh: "diverges".)
# Background runs are not wrapped in timeout(1): a signal must reach the
# trainer itself. Each is killed within a second anyway.
# Prints one PASS/FAIL line per check.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
prog=$PWD/$BUILD/rtprog/fake_train
cmp=$PWD/$BUILD/tools/ckptcmp
dump=$PWD/$BUILD/tools/ckptdump
for f in "$prog" "$cmp" "$dump"; do
  if [ ! -x "$f" ]; then echo "FAIL faults (build $f first: make test)"; exit 1; fi
done
tmp=$(mktemp -d "${TMPROOT:-/tmp}/faults.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

pass() { echo "PASS faults_$1"; }
fail() { echo "FAIL faults_$1"; shift; for l in "$@"; do echo "    $l"; done; }
meta() { "$dump" "$1" 2>/dev/null | sed -n "s/^# $2 = //p"; }

awk 'BEGIN { srand(3); for (i = 0; i < 30000; i++) { c = i % 3
  for (k = 0; k < 4; k++) printf "%.5f,", (k == c) * 1.2 + 2 * rand() - 1; printf "%d\n", c } }' >d.csv
T=(--data-path d.csv --seed 5 --threads 1 --quiet)

# started FILE PID: wait (at most 20 s) until the run has written FILE
# after its first epoch, so that it is in the loop (a slow sanitizer build
# still loads the data at first), then a moment more.
started() {
  for _ in $(seq 200); do [ -s "$1" ] || ! kill -0 "$2" 2>/dev/null && break; sleep 0.1; done
  sleep 0.2
}

# signal NAME SIG WANT_RC: start a long run, signal it once it trains, check
# the exit code, the message and that the checkpoint resumes bit for bit.
signal() {
  local name=$1 sig=$2 want=$3
  "$prog" train "${T[@]}" --epochs 100000 --save "$name.ckpt" >out.txt 2>err.txt &
  local pid=$!
  started "$name.ckpt" $pid
  kill -"$sig" $pid
  wait $pid; local rc=$?
  if [ $rc -ne "$want" ] || ! grep -q "^interrupted (SIG$sig) at epoch [0-9]* step [0-9]*; saved $name.ckpt: continue with --resume $name.ckpt$" err.txt; then
    fail "$name" "exit $rc, want $want" "$(head -c 600 err.txt)"; return
  fi
  pass "$name"
  local e; e=$(meta "$name.ckpt" epoch)
  e=$((e + 1))
  if timeout 60 "$prog" train --resume "$name.ckpt" --epochs $e --quiet >out.txt 2>err.txt &&
     timeout 60 "$prog" train "${T[@]}" --epochs $e --save "$name-ref.ckpt" >out.txt 2>>err.txt &&
     "$cmp" "$name.ckpt" "$name-ref.ckpt" >cmp.txt; then
    pass "${name}_resume_bit_identical"
  else fail "${name}_resume_bit_identical" "$(cat cmp.txt err.txt 2>/dev/null | head -c 600)"; fi
}
signal sigint INT 130
signal sigterm TERM 143

# Without --save, an interrupted run exits 130 and says so.
"$prog" train "${T[@]}" --epochs 100000 --log nosave.csv >out.txt 2>err.txt &
pid=$!; started nosave.csv $pid; kill -INT $pid; wait $pid; rc=$?
if [ $rc -eq 130 ] && grep -q "^interrupted (SIGINT) at epoch [0-9]* step [0-9]*$" err.txt; then pass sigint_no_save
else fail sigint_no_save "exit $rc" "$(head -c 600 err.txt)"; fi

# SIGKILL at 20 random moments of one run, each resumed from the last
# checkpoint: it always loads, its step never goes back, and training
# goes on from it.
bad=; last=0; RANDOM=7
for i in $(seq 20); do
  if [ -f k.ckpt ]; then "$prog" train --resume k.ckpt --epochs 100000 --quiet >out.txt 2>err.txt &
  else "$prog" train "${T[@]}" --epochs 100000 --save k.ckpt >out.txt 2>err.txt & fi
  pid=$!
  sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
  kill -KILL $pid 2>/dev/null; wait $pid 2>/dev/null
  [ -f k.ckpt ] || continue
  step=$(meta k.ckpt step)
  if [ -z "$step" ]; then bad="kill $i: k.ckpt does not load: $("$dump" k.ckpt 2>&1 | head -3)"; break; fi
  if [ "$step" -lt "$last" ]; then bad="kill $i: step went back from $last to $step"; break; fi
  last=$step
done
if [ -z "$bad" ] && [ -f k.ckpt ]; then
  e=$(($(meta k.ckpt epoch) + 1))
  if timeout 60 "$prog" train --resume k.ckpt --epochs $e --quiet >out.txt 2>err.txt; then pass sigkill_20_resume
  else fail sigkill_20_resume "resume after the kills failed" "$(head -c 600 err.txt)"; fi
else fail sigkill_20_resume "${bad:-no checkpoint was ever written}"; fi
