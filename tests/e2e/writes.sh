#!/usr/bin/env bash
# writes.sh — dlc and the programs it builds write only the paths they
# were asked to write: every command runs in an empty directory with
# TMPDIR pointing at another empty directory, and afterwards the files
# there are listed and compared with the expected list (temporary files
# must be gone, a failed build leaves nothing and keeps an existing output
# as it was). Prints one PASS/FAIL line per check.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
dlc=$PWD/$BUILD/dlc
tmp=$(mktemp -d "${TMPROOT:-/tmp}/writes.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# A small classifier trained on CSV data, so that every command is quick.
mkdir -p "$tmp/src"
awk 'BEGIN { srand(7); for (i = 0; i < 200; i++) { c = i % 3
  for (k = 0; k < 4; k++) printf "%.4f,", (k == c) + rand() - 0.5; printf "%d\n", c } }' >"$tmp/src/d.csv"
cat >"$tmp/src/m.dlm" <<'EOM'
input x: f32[N, 4]
label y: i32[N]
output p = softmax(dense(relu(dense(x, 8)), 3))
train {
  loss = cross_entropy(p, y)
  optimizer = sgd(lr = 0.1)
  batch = 16
  epochs = 2
  seed = 1
  data = csv("d.csv", label_column = -1)
}
EOM
printf 'input x: f32[N, 4]\noutput p = dense(x, 3) +\n' >"$tmp/src/bad.dlm"
# five samples of four zeros as IDX f32[5, 4]
{ printf '\0\0\015\002\0\0\0\005\0\0\0\004'; head -c 80 /dev/zero; } >"$tmp/src/x.idx"
printf '\0\0\010\001\0\0\0\005\0\001\002\0\001' >"$tmp/src/y.idx"

# inside NAME RC EXPECTED CMD...: run CMD in a fresh directory (the
# inputs copied in) with a fresh TMPDIR; it must exit with RC, and
# EXPECTED is the sorted list of new files, space-separated ("" for
# none).
n=0
inside() {
  local name=$1 wantrc=$2 want=$3; shift 3
  n=$((n + 1)); local d=$tmp/run$n
  mkdir -p "$d/cwd" "$d/tmpdir"
  cp "$tmp"/src/* "$d/cwd/"
  [ -e "$tmp/m" ] && cp "$tmp/m" "$tmp/w.ckpt" "$d/cwd/" 2>/dev/null
  (cd "$d/cwd" && find . -type f | sort) >"$d/before"
  (cd "$d/cwd" && TMPDIR=$d/tmpdir timeout 120 "$@" >/dev/null 2>&1)
  local rc=$?
  local got
  got=$( (cd "$d/cwd" && find . -type f | sort) | comm -13 "$d/before" - | sed 's|^\./||' | tr '\n' ' ' | sed 's/ $//')
  local left
  left=$(find "$d/tmpdir" -mindepth 1 | wc -l)
  if [ $rc -eq "$wantrc" ] && [ "$got" == "$want" ] && [ "$left" -eq 0 ]; then echo "PASS writes_$name"
  else echo "FAIL writes_$name: exit $rc (want $wantrc), new files '$got' (want '$want'), $left left in TMPDIR"; fi
}

inside build 0 "m" "$dlc" build m.dlm -o m
inside build_stats 0 "m" "$dlc" build m.dlm -o m --stats
inside check 0 "" "$dlc" check m.dlm
inside dump 0 "" "$dlc" dump m.dlm --emit kir
inside dump_out 0 "g.dot" "$dlc" dump m.dlm --format dot -o g.dot
inside build_error 1 "" "$dlc" build bad.dlm -o m
inside build_refused 1 "" "$dlc" build m.dlm -o m --max-memory 1k
inside gradcheck 0 "" "$dlc" gradcheck m.dlm --samples 2

# a failed build keeps an existing output byte for byte
mkdir -p "$tmp/keep" && cp "$tmp/src/"* "$tmp/keep/" && echo "old" >"$tmp/keep/m"
(cd "$tmp/keep" && "$dlc" build bad.dlm -o m >/dev/null 2>&1)
if [ "$(cat "$tmp/keep/m")" == "old" ]; then echo "PASS writes_failed_build_keeps_output"
else echo "FAIL writes_failed_build_keeps_output"; fi

# the program it builds
(cd "$tmp/src" && "$dlc" build m.dlm -o "$tmp/m" >/dev/null 2>&1 && "$tmp/m" train --quiet --epochs 1 --save "$tmp/w.ckpt" >/dev/null 2>&1) ||
  { echo "FAIL writes_program (build)"; exit 0; }
inside train 0 "" ./m train --quiet
inside train_save 0 "c.csv c.svg s.ckpt" ./m train --quiet --save s.ckpt --log c.csv --plot c.svg
inside train_resume 0 "" ./m train --quiet --resume w.ckpt --epochs 2
inside eval 0 "" ./m eval --weights w.ckpt --images x.idx --labels y.idx
inside predict 0 "o.npy" ./m predict --weights w.ckpt --input x.idx -o o.npy
inside header 0 "m.h" "$dlc" header m.dlm --weights w.ckpt -o m.h
