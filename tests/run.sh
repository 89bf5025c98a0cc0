#!/usr/bin/env bash
# run.sh — run every test of dlc and print one line per test:
#   PASS name | FAIL name | SKIP name (why)
# and, last, exactly "N passed, N failed" (", N skipped" when any).
#
# Test kinds (tests/README.md says more):
#   build/unit/*, build/rt/*  C test programs; each prints PASS/FAIL/SKIP lines
#   tests/parse/*.dlm         `dlc check` diagnostics against the .err golden
#   tests/ir/*.{ir,dlm}       RUN:/CHECK: lines run through LLVM's FileCheck
#   tests/e2e/*.sh            end-to-end scripts; each prints PASS/FAIL lines
set -u
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build}
export DLC="$PWD/$BUILD/dlc"
export TOOLS="$PWD/$BUILD/tools"
export DLC_ROOT="$PWD"
export FILECHECK=${FILECHECK:-$(command -v FileCheck || echo /usr/lib/llvm-$(llvm-config --version | cut -d. -f1)/bin/FileCheck)}
export TMPROOT=$(mktemp -d "${TMPDIR:-/tmp}/dlc-test.XXXXXX")
trap 'rm -rf "$TMPROOT"' EXIT
log="$TMPROOT/results"
: >"$log"

emit() { echo "$1" | tee -a "$log"; }

# C test programs.
for t in "$BUILD"/unit/* "$BUILD"/rt/*; do
  [ -x "$t" ] && [ -f "$t" ] || continue
  case "$t" in *.d|*.o) continue;; esac
  abs="$PWD/$t"; out=$(cd "$TMPROOT" && "$abs" 2>&1); rc=$?
  lines=$(printf '%s\n' "$out" | grep -E '^(PASS|FAIL|SKIP) ')
  [ -n "$lines" ] && printf '%s\n' "$lines" | tee -a "$log"
  if [ $rc -ne 0 ] && ! printf '%s\n' "$lines" | grep -q '^FAIL '; then
    emit "FAIL $(basename "$t") (exit $rc)"
    printf '%s\n' "$out" | tail -20 | sed 's/^/    /'
  elif printf '%s\n' "$lines" | grep -q '^FAIL '; then
    printf '%s\n' "$out" | grep -v -E '^(PASS|SKIP) ' | tail -30 | sed 's/^/    /'
  fi
done

# Diagnostics goldens: stderr of `dlc check` must equal the .err file, and
# the exit code must be 1.
for src in tests/parse/*.dlm; do
  [ -f "$src" ] || continue
  name="parse/$(basename "$src" .dlm)"
  want="${src%.dlm}.err"
  got=$(cd tests/parse && "$DLC" check "$(basename "$src")" 2>&1 >/dev/null); rc=$?
  if [ ! -f "$want" ]; then emit "FAIL $name (no golden $want)"; continue; fi
  if [ $rc -ne 1 ]; then emit "FAIL $name (exit $rc, want 1)"; printf '%s\n' "$got" | sed 's/^/    /'; continue; fi
  if [ "$got" == "$(cat "$want")" ]; then emit "PASS $name"
  else emit "FAIL $name"; diff <(printf '%s\n' "$got") "$want" | head -20 | sed 's/^/    /'; fi
done

# FileCheck tests: each RUN: line is a shell command with %s (this file),
# %dlc (the compiler), %t (a temporary path) and %FileCheck substituted.
for src in tests/ir/*.ir tests/ir/*.dlm; do
  [ -f "$src" ] || continue
  name="ir/$(basename "$src")"
  runs=$(sed -n 's/^.*RUN: *//p' "$src")
  if [ -z "$runs" ]; then emit "FAIL $name (no RUN line)"; continue; fi
  ok=1; i=0
  while IFS= read -r cmd; do
    i=$((i+1))
    cmd=${cmd//%s/$PWD/$src}; cmd=${cmd//%dlc/$DLC}; cmd=${cmd//%FileCheck/$FILECHECK}
    cmd=${cmd//%t/$TMPROOT/$(basename "$src").tmp}
    if ! out=$(bash -o pipefail -c "$cmd" 2>&1); then
      ok=0; emit "FAIL $name"; echo "    RUN: $cmd"; printf '%s\n' "$out" | head -20 | sed 's/^/    /'; break
    fi
  done <<<"$runs"
  [ $ok = 1 ] && emit "PASS $name"
done

# End-to-end scripts.
for t in tests/e2e/*.sh; do
  [ -f "$t" ] || continue
  out=$(bash "$t" 2>&1); rc=$?
  lines=$(printf '%s\n' "$out" | grep -E '^(PASS|FAIL|SKIP) ')
  [ -n "$lines" ] && printf '%s\n' "$lines" | tee -a "$log"
  if [ $rc -ne 0 ] && ! printf '%s\n' "$lines" | grep -q '^FAIL '; then
    emit "FAIL $(basename "$t") (exit $rc)"; printf '%s\n' "$out" | tail -20 | sed 's/^/    /'
  elif printf '%s\n' "$lines" | grep -q '^FAIL '; then
    printf '%s\n' "$out" | grep -v -E '^(PASS|SKIP) ' | tail -30 | sed 's/^/    /'
  fi
done

p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log"); s=$(grep -c '^SKIP ' "$log")
if [ "$s" -gt 0 ]; then echo "$p passed, $f failed, $s skipped"; else echo "$p passed, $f failed"; fi
[ "$f" -eq 0 ] && [ "$p" -gt 0 ]
