#!/usr/bin/env bash
# fuzz_regress.sh — replay the fuzzers' inputs through the fuzz targets
# built without libFuzzer (build/fuzzrun/<target>, see tests/fuzz/fuzz.h):
# every seed of tests/fuzz/<target>/ (one line per target) and every input
# that once crashed, tests/fuzz/regress/<target>/<name> (one line each).
# An input passes when the target returns: it was refused or accepted
# cleanly, with no crash, sanitizer report or hang.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
for dir in tests/fuzz/*/; do
  t=$(basename "$dir")
  [ "$t" = regress ] && continue
  bin=$BUILD/fuzzrun/$t
  if [ ! -x "$bin" ]; then echo "FAIL fuzz_seeds_$t (build $bin first: make test)"; continue; fi
  if out=$(timeout 60 "$bin" "$dir"* 2>&1); then echo "PASS fuzz_seeds_$t"
  else echo "FAIL fuzz_seeds_$t"; printf '%s\n' "$out" | tail -20 | sed 's/^/    /'; fi
done
for f in tests/fuzz/regress/*/*; do
  [ -f "$f" ] || continue
  t=$(basename "$(dirname "$f")")
  bin=$BUILD/fuzzrun/$t
  if out=$(timeout 20 "$bin" "$f" 2>&1); then echo "PASS fuzz_regress_$t/$(basename "$f")"
  else echo "FAIL fuzz_regress_$t/$(basename "$f") (exit $?)"; printf '%s\n' "$out" | tail -20 | sed 's/^/    /'; fi
done
