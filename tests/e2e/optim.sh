#!/usr/bin/env bash
# Every optimizer and learning-rate schedule against PyTorch: 5 full-batch steps of y = xW + b with MSE
# on a fixed data set, from W = 0.1 and b = 0; the final weights must match
# torch.optim's (tests/train/optim.golden, made by optim_golden.py) to 1e-5
# relative.
set -u
cd "$(dirname "$0")/../.."
D=$(mktemp -d "${TMPROOT:-/tmp}/optim.XXXXXX")
awk 'BEGIN { for (n = 0; n < 8; n++) {
  for (i = 0; i < 4; i++) printf "%.9g,", ((3 * n + 2 * i) % 7) / 7.0 - 0.4
  printf "%.9g\n", ((5 * n + 3) % 7) / 5.0 - 0.3 } }' >"$D/data.csv"
grep -v '^#' tests/train/optim.golden | while IFS='|' read -r name opt sched W b; do
  name=$(echo $name)
  cat >"$D/$name.dlm" <<DLM
input x: f32[N, 4]
label t: f32[N, 1]
param W: f32[4, 1] init const(0.1)
param b: f32[1] init zeros
y = matmul(x, W) + b
output y
train {
  loss = mse(y, t)
  optimizer = $opt
  lr_schedule = $sched
  batch = 8
  epochs = 5
  data = csv("$D/data.csv", label_column = -1, skip_header = false)
}
DLM
  if ! "$DLC" build "$D/$name.dlm" -o "$D/$name" >"$D/$name.log" 2>&1 ||
     ! (cd "$D" && "./$name" train --save "$name.ckpt" --threads 1 --quiet) >>"$D/$name.log" 2>&1; then
    echo "FAIL optim/$name"; tail -5 "$D/$name.log"; continue
  fi
  got=$("$TOOLS/ckptdump" "$D/$name.ckpt" W b | cut -d' ' -f2- | tr '\n' ' ')
  if awk -v got="$got" -v want="$W $b" 'BEGIN {
      n = split(got, g, " "); m = split(want, w, " "); if (n != m || n != 5) exit 1
      for (i = 1; i <= n; i++) { d = g[i] - w[i]; if (d < 0) d = -d
        s = w[i] < 0 ? -w[i] : w[i]; if (d > 1e-5 * (s > 0.01 ? s : 0.01)) exit 1 } }'; then
    echo "PASS optim/$name"
  else
    echo "FAIL optim/$name"; echo "    want $W$b"; echo "    got  $got"
  fi
done
rm -rf "$D"
