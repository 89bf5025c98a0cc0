#!/usr/bin/env bash
# dlc gradcheck on every model with a loss: autodiff's gradients of the
# whole model against central differences on the reference interpreter.
set -u
cd "$(dirname "$0")/../.."
for m in models/*.dlm; do
  b=$(basename "$m" .dlm)
  grep -q '^ *loss *=' "$m" || continue
  if out=$("$DLC" gradcheck "$m" --samples 6 2>&1); then
    echo "PASS gradcheck/$b"
  else
    echo "FAIL gradcheck/$b"; printf '%s\n' "$out" | tail -12
  fi
done
