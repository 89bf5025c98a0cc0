#!/usr/bin/env bash
# bad_inputs.sh — the table of bad inputs: each tests/bad/NAME.EXT is one
# damaged or invalid file, and NAME.err the exact stderr it must produce;
# the exit code must be 1 (a clean refusal, never a crash, a sanitizer
# report or a hang). .dlm files have their own table in tests/parse/. The
# command depends on the kind of file:
#   *.ir           dlc check NAME.ir
#   *.ckpt         fake_prog predict --weights NAME.ckpt (a checkpoint)
#   *.idx, *.npy   fake_prog predict --input NAME (an input array)
#   *.csv          fake_train train --data-path NAME.csv (a training set)
#   train-*.idx, train-*.npy
#                  fake_train train --data-images NAME (training features)
# Messages name the file and a line:col or a byte offset where there is
# one. Regenerate a golden after a deliberate change of message with
# UPDATE=1 (then review the diff). Prints one PASS/FAIL line per file.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
root=$PWD
dlc=$root/$BUILD/dlc
prog=$root/$BUILD/rtprog/fake_prog
train=$root/$BUILD/rtprog/fake_train
for f in "$dlc" "$prog" "$train"; do
  if [ ! -x "$f" ]; then echo "FAIL bad_inputs (build $f first: make test)"; exit 1; fi
done
tmp=$(mktemp -d "${TMPROOT:-/tmp}/bad.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$prog" init -o "$tmp/w.ckpt" >/dev/null || { echo "FAIL bad_inputs (init)"; exit 1; }
# One sample of four zeros for the model's input x: f32[N, 4].
{ printf '\0\0\015\002\0\0\0\001\0\0\0\004'; head -c 16 /dev/zero; } >"$tmp/x.idx"
printf '\0\0\010\001\0\0\0\002\0\001' >"$tmp/labels.idx"

cd tests/bad
for f in *.*; do
  case "$f" in *.err) continue;; esac
  name=${f%.*}
  case "$f" in
    *.ir) cmd=("$dlc" check "$f");;
    *.ckpt) cmd=("$prog" predict --weights "$f" --input "$tmp/x.idx");;
    train-*) cmd=("$train" train --data-images "$f" --data-labels "$tmp/labels.idx" --epochs 1 --quiet);;
    *.idx|*.npy) cmd=("$prog" predict --weights "$tmp/w.ckpt" --input "$f");;
    *.csv) cmd=("$train" train --data-path "$f" --epochs 1 --quiet);;
    *) echo "FAIL bad/$f (no rule for this kind of file)"; continue;;
  esac
  got=$(timeout 20 "${cmd[@]}" 2>&1 >/dev/null); rc=$?
  if [ "${UPDATE:-}" = 1 ]; then printf '%s\n' "$got" >"$name.err"; fi
  if [ ! -f "$name.err" ]; then echo "FAIL bad/$f (no golden $name.err)"; continue; fi
  if [ $rc -ne 1 ]; then
    echo "FAIL bad/$f (exit $rc, want 1)"; printf '%s\n' "$got" | head -20 | sed 's/^/    /'
  elif [ "$got" == "$(cat "$name.err")" ]; then echo "PASS bad/$f"
  else echo "FAIL bad/$f"; diff <(printf '%s\n' "$got") "$name.err" | head -20 | sed 's/^/    /'; fi
done
