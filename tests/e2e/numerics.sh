#!/usr/bin/env bash
# numerics.sh — a non-finite value during training. Without flags, a loss
# that is nan or inf stops the run with the epoch and step; with
# --check-numerics every f32 tensor every kernel writes is checked, and
# the first nan or inf is traced to its op, kernel and source line, in
# the forward pass (log of 0) and in the backward pass (the gradient of
# sqrt at 0, which the relu's gradient would mask again: the check is
# strict and reports it anyway). Prints one PASS/FAIL line per check.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
dlc=$PWD/$BUILD/dlc
tmp=$(mktemp -d "${TMPROOT:-/tmp}/numerics.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

# 40 rows x1, x2, target; row 13 has x1 = 0.
awk 'BEGIN { for (i = 0; i < 40; i++) { a = i == 13 ? 0 : 1 + i % 5
  printf "%g,%g,%g\n", a, 2 + i % 3, a + 1 } }' >d.csv
model() {
  cat <<EOM
input x: f32[N, 2]
label t: f32[N, 1]
h = $1
output pred = dense(h, 1)
train {
  loss = mse(pred, t)
  optimizer = sgd(lr = 0.01)
  batch = 4
  epochs = 1
  seed = 1
  data = csv("d.csv", label_column = -1)
}
EOM
}
model "log(x)" >fwd.dlm
model "sqrt(relu(dense(x, 3)))" >bwd.dlm
for m in fwd bwd; do
  if ! "$dlc" build $m.dlm -o $m 2>err.txt; then echo "FAIL numerics_build_$m"; sed 's/^/    /' err.txt; exit 0; fi
done

# check NAME WANT_RC PATTERN CMD...: exit code and stderr (grep -x).
check() {
  local name=$1 want=$2 pat=$3; shift 3
  got=$(timeout 60 "$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -eq "$want" ] && printf '%s\n' "$got" | grep -qx -- "$pat"; then echo "PASS numerics_$name"
  else echo "FAIL numerics_$name (exit $rc, want $want)"; printf '%s\n' "$got" | sed 's/^/    /'; fi
}

check loss_names_step 1 'error: loss is inf at epoch 1 step [0-9]* (lr 0.01): training diverged; try a smaller --lr' \
  ./fwd train --quiet
check forward_names_op 1 'error: epoch 1 step [0-9]*: the first non-finite value: fwd.dlm:3:5: log (kernel k[0-9]*_log) wrote %[0-9]* f32\[N,2\] with -inf at flat index [0-9]* (the loss is inf)' \
  ./fwd train --quiet --check-numerics
check backward_unchecked_runs 0 '' ./bwd train --quiet
check backward_names_op 1 'error: epoch 1 step 1: the first non-finite value: bwd.dlm:3:[0-9]*: .* wrote %[0-9]* f32\[N,3\] with nan at flat index [0-9]* (the loss is [0-9.]*)' \
  ./bwd train --quiet --check-numerics
# the same step of both runs: the fault is found at the step whose loss
# first turns non-finite
s1=$(./fwd train --quiet 2>&1 | sed -n 's/.* step \([0-9]*\) .*/\1/p')
s2=$(./fwd train --quiet --check-numerics 2>&1 | sed -n 's/.* step \([0-9]*\): .*/\1/p')
if [ -n "$s1" ] && [ "$s1" = "$s2" ]; then echo "PASS numerics_same_step"
else echo "FAIL numerics_same_step ('$s1' vs '$s2')"; fi
