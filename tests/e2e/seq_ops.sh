#!/usr/bin/env bash
# The sequence layers (tests/seq/*.dlm: embedding, layernorm, gelu,
# attention, multihead_attention with positional encodings): autodiff
# against central differences on the reference interpreter, and the
# compiled executable against the interpreter on seeded random inputs
# (ids drawn past the table's rows, so clamping is compared too) at
# N = 1 and N = 33.
set -u
cd "$(dirname "$0")/../.."
D=$(mktemp -d "${TMPROOT:-/tmp}/seq.XXXXXX")
for m in tests/seq/*.dlm; do
  b=$(basename "$m" .dlm)
  if out=$("$DLC" gradcheck "$m" --samples 12 2>&1); then
    echo "PASS gradcheck/seq-$b"
  else
    echo "FAIL gradcheck/seq-$b"; printf '%s\n' "$out" | tail -12
  fi
  # the first input's type, e.g. "ids i32 5" for "input ids: i32[N, 5]"
  decl=$(sed -n 's/^input \([a-z]*\): \(i32\|f32\)\[N, *\([0-9, ]*\)\].*/\1 \2 \3/p' "$m" | head -1 | tr -d ,)
  set -- $decl
  name=$1 dtype=$2; shift 2
  ok=1
  if "$DLC" build "$m" -o "$D/$b" && "$D/$b" init --seed 4 -o "$D/$b.ckpt" >/dev/null; then
    for N in 1 33; do
      "$TOOLS/seqdata" rand "$D/$b.x.npy" "$dtype" $N "$@" --max 13 --seed $N &&
      "$D/$b" predict --weights "$D/$b.ckpt" --input "$name=$D/$b.x.npy" -o "$D/$b.got.npy" >/dev/null 2>&1 &&
      "$DLC" run "$m" --weights "$D/$b.ckpt" --input "$name=$D/$b.x.npy" -o "$D/$b.want.npy" &&
      "$TOOLS/npycmp" "$D/$b.got.npy" "$D/$b.want.npy" || { ok=0; echo "  N=$N"; }
    done
  else
    ok=0
  fi
  if [ $ok = 1 ]; then echo "PASS compiled/seq-$b"; else echo "FAIL compiled/seq-$b"; fi
done
