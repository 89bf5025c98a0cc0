#!/usr/bin/env bash
# Every model in models/: the IR text round-trips (print -> parse -> print is
# byte-identical, before and after the pass pipeline), the dot picture is
# produced, and the compiled executable agrees with the reference
# interpreter on seeded random weights.
set -u
cd "$(dirname "$0")/../.."
D=$(mktemp -d "${TMPROOT:-/tmp}/models.XXXXXX")
FM=/usr/share/datasets/fashion-mnist
for m in models/*.dlm; do
  b=$(basename "$m" .dlm)
  if "$DLC" dump "$m" >"$D/$b.a.ir" && "$DLC" dump "$D/$b.a.ir" >"$D/$b.b.ir" &&
     cmp -s "$D/$b.a.ir" "$D/$b.b.ir" &&
     "$DLC" opt --passes=shapes,fold,cse,dce "$m" >"$D/$b.c.ir" && "$DLC" opt "$D/$b.c.ir" >"$D/$b.d.ir" &&
     cmp -s "$D/$b.c.ir" "$D/$b.d.ir"; then
    echo "PASS roundtrip/$b"
  else
    echo "FAIL roundtrip/$b"; diff "$D/$b.a.ir" "$D/$b.b.ir" | head; diff "$D/$b.c.ir" "$D/$b.d.ir" | head
  fi
  if "$DLC" dump "$m" --format dot >"$D/$b.dot" && grep -q '^digraph' "$D/$b.dot" && grep -q -- '->' "$D/$b.dot"; then
    echo "PASS dot/$b"
  else
    echo "FAIL dot/$b"
  fi
done

# Compiled vs interpreter for models whose input is a Fashion-MNIST image.
for b in mlp mlp_explicit; do
  m=models/$b.dlm
  [ -f "$m" ] || { echo "FAIL compiled/$b (missing $m)"; continue; }
  if "$DLC" build "$m" -o "$D/$b" && "$D/$b" init --seed 3 -o "$D/$b.ckpt" >/dev/null &&
     "$D/$b" predict --weights "$D/$b.ckpt" --input $FM/t10k-images-idx3-ubyte.gz --limit 300 -o "$D/$b.got.npy" >/dev/null &&
     "$DLC" run "$m" --weights "$D/$b.ckpt" --input $FM/t10k-images-idx3-ubyte.gz --limit 300 -o "$D/$b.want.npy" &&
     "$TOOLS/npycmp" "$D/$b.got.npy" "$D/$b.want.npy"; then
    echo "PASS compiled/$b"
  else
    echo "FAIL compiled/$b"
  fi
done
