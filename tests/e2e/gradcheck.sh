#!/usr/bin/env bash
# dlc gradcheck on every model with a loss: autodiff's gradients of the
# whole model against central differences on the reference interpreter.
# The CNNs with batch norm run at a batch of 2 with 2 elements per
# parameter: the interpreter's convolutions are plain loops, and the
# gradient of every op they use is checked closely in tests/unit/test_grad.c.
# So do the Transformer and the character model (an LSTM over 64 steps),
# whose layers are checked closely in tests/e2e/seq_ops.sh.
set -u
cd "$(dirname "$0")/../.."
for m in models/*.dlm; do
  b=$(basename "$m" .dlm)
  grep -q '^ *loss *=' "$m" || continue
  args=(--samples 6)
  case $b in vgg_small|resnet_small|transformer|char_lm) args=(--samples 2 --limit 2);; esac
  if out=$("$DLC" gradcheck "$m" "${args[@]}" 2>&1); then
    echo "PASS gradcheck/$b"
  else
    echo "FAIL gradcheck/$b"; printf '%s\n' "$out" | tail -12
  fi
done
