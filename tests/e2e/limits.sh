#!/usr/bin/env bash
# limits.sh — `dlc build --max-memory BYTES`: a model whose memory at the
# train batch size (weights + optimizer state + the activation block)
# exceeds the limit is refused before code generation, with the sizes in
# the message; exactly enough memory builds. Prints one PASS/FAIL line
# per check. (A malformed option value exits 2, like every usage error.)
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
dlc=$PWD/$BUILD/dlc
tmp=$(mktemp -d "${TMPROOT:-/tmp}/limits.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# check NAME WANT_RC WANT_STDERR CMD...
check() {
  local name=$1 want=$2 msg=$3; shift 3
  got=$(timeout 120 "$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -eq "$want" ] && [ "$got" == "$msg" ]; then echo "PASS limits_$name"
  else echo "FAIL limits_$name (exit $rc, want $want)"; diff <(printf '%s\n' "$got") <(printf '%s\n' "$msg") | sed 's/^/    /'; fi
}

# The figure itself depends on the passes; it is read from the first
# refusal, checked to be the sum of its parts, and then the limit is set
# one byte short of it and exactly to it.
msg=$("$dlc" build models/mlp.dlm -o "$tmp/mlp" --max-memory 1M 2>&1 >/dev/null); rc=$?
re="^dlc: error: model 'mlp' needs ([0-9]+) bytes at batch 64, more than --max-memory 1048576: weights ([0-9]+), optimizer state ([0-9]+), activations ([0-9]+) \\(the train entry\\)"
if [ $rc -eq 1 ] && [[ $msg =~ $re ]] && \
   [ $((BASH_REMATCH[2] + BASH_REMATCH[3] + BASH_REMATCH[4])) -eq "${BASH_REMATCH[1]}" ] && \
   [ "${BASH_REMATCH[2]}" -eq 940608 ] && [ "${BASH_REMATCH[3]}" -eq 940608 ]; then
  echo "PASS limits_refused"; need=${BASH_REMATCH[1]}
else
  echo "FAIL limits_refused (exit $rc)"; printf '%s\n' "$msg" | sed 's/^/    /'; need=0
fi
hint="hint: a smaller batch (train section: batch = ...) needs less"
check one_byte_short 1 "dlc: error: model 'mlp' needs $need bytes at batch 64, more than --max-memory $((need - 1)): weights 940608, optimizer state 940608, activations $((need - 2 * 940608)) (the train entry)
$hint" \
  "$dlc" build models/mlp.dlm -o "$tmp/mlp" --max-memory $((need - 1))
check bad_value 2 "dlc: error: --max-memory needs a byte count (suffix k, M or G for 2^10, 2^20, 2^30), not '1T'" \
  "$dlc" build models/mlp.dlm -o "$tmp/mlp" --max-memory 1T
check too_large_value 2 "dlc: error: --max-memory needs a byte count (suffix k, M or G for 2^10, 2^20, 2^30), not '9999999999G'" \
  "$dlc" build models/mlp.dlm -o "$tmp/mlp" --max-memory 9999999999G
check exact_fits 0 "" "$dlc" build models/mlp.dlm -o "$tmp/mlp" -O0 --max-memory "$need"
