#!/usr/bin/env bash
# header.sh — `dlc header` end to end, for models/mlp.dlm (trained briefly),
# models/lenet5.dlm and models/lstm_rows.dlm (seeded initial weights; the
# LSTM's steps are a loop in the header too): the header compiles
# warning-free as C99 with gcc and clang (-pedantic) and as C++17, and
# tests/e2e/header_test.c, which includes it, agrees with `./m predict` on
# 300 Fashion-MNIST test images within 1e-5; two contexts taking turns and
# two threads with a context each give the same bytes as one context; the
# program is clean under AddressSanitizer + UBSan and under valgrind; a
# header of another batch size agrees too, and one with int8 weights within
# their rounding; the header of models/ops.dlm (every operator, several
# inputs and outputs) agrees with ./ops predict; every model's header
# compiles; --seed gives the weights of
# `./m init --seed`; two headers share a translation unit. Errors: a
# checkpoint of another model, a damaged one, no --weights, a bad prefix
# are refused with a clear message, and no header is written.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
FM=/usr/share/datasets/fashion-mnist
DLC=${DLC:-$PWD/build/dlc}
TOOLS=${TOOLS:-$PWD/build/tools}
if [ ! -f "$FM/t10k-images-idx3-ubyte.gz" ]; then
  echo "SKIP header (Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist)"; exit 0
fi
tmp=$(mktemp -d "${TMPROOT:-/tmp}/header.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fails=0
pass() { echo "PASS header_$1"; }
fail() { echo "FAIL header_$1"; shift; for l in "$@"; do echo "    $l"; done; fails=$((fails + 1)); }
COUNT=300
TEST=$ROOT/tests/e2e/header_test.c
CFLAGS=(-Wall -Wextra -Werror -pedantic -O2)
gzip -dc "$FM/t10k-images-idx3-ubyte.gz" >t10k.idx

# compile NAME HEADER CC FLAGS...: the test program against HEADER.
compile() {
  local name=$1 header=$2; shift 2
  if "$@" "${CFLAGS[@]}" -DNET_HEADER="\"$header\"" -I. "$TEST" -o "$name" -lm -pthread >cc.txt 2>&1; then
    return 0
  fi
  fail "compile_$name" "$*" "$(head -c 800 cc.txt)"; return 1
}

# agree NAME GOT WANT: within 1e-5 of ./m predict, element by element.
agree() {
  if "$TOOLS/npycmp" --rtol 0 --atol 1e-5 "$2" "$3" >cmp.txt 2>&1; then pass "$1 ($(sed 's/.*(worst/worst/; s/)$//' cmp.txt))"
  else fail "$1" "$(head -12 cmp.txt)"; fi
}

for m in mlp lenet5 lstm_rows; do
  if ! "$DLC" build "$ROOT/models/$m.dlm" -o "$m" >build.txt 2>&1; then
    fail "${m}_build" "$(head -20 build.txt)"; continue
  fi
  if [ $m = mlp ]; then
    ./$m train --limit 2000 --epochs 1 --threads 2 --quiet --save $m.ckpt >train.txt 2>&1 ||
      fail "${m}_train" "$(tail -5 train.txt)"
  else
    ./$m init --seed 5 -o $m.ckpt >/dev/null
  fi
  ./$m predict --weights $m.ckpt --input t10k.idx --limit $COUNT -o want.npy >/dev/null 2>&1 ||
    { fail "${m}_predict"; continue; }

  # The header, its statistics, the default prefix.
  if "$DLC" header "$ROOT/models/$m.dlm" --weights $m.ckpt -o net.h --prefix net --stats 2>stats.txt &&
     grep -q "^dlc: $m: [0-9]* kernels, header [0-9]* bytes" stats.txt &&
     grep -q "^dlc: weights [0-9]* bytes" stats.txt && grep -q "^dlc: context [0-9]* bytes" stats.txt; then
    pass "${m}_stats"
  else fail "${m}_stats" "$(cat stats.txt)"; continue; fi
  if "$DLC" header "$ROOT/models/$m.dlm" --weights $m.ckpt -o $m.h &&
     grep -q "^static inline int ${m}_predict(${m}_ctx \*ctx, const float \*in, float \*out) {" $m.h &&
     grep -q "^#define ${m^^}_SIGNATURE \"$(./$m info | sed -n 's/^signature *//p')\"" $m.h; then
    pass "${m}_api"
  else fail "${m}_api" "$(grep -n 'predict\|SIGNATURE' $m.h | head -5)"; fi

  # gcc, clang (C99) and g++ (C++17): each agrees with predict.
  compile t_gcc net.h gcc -std=c99 && ./t_gcc t10k.idx $COUNT gcc.npy && agree "${m}_gcc_c99" gcc.npy want.npy
  compile t_clang net.h clang -std=c99 && ./t_clang t10k.idx $COUNT clang.npy &&
    agree "${m}_clang_c99" clang.npy want.npy
  compile t_cxx net.h g++ -std=c++17 -x c++ && ./t_cxx t10k.idx $COUNT cxx.npy &&
    agree "${m}_gxx_cxx17" cxx.npy want.npy

  # Re-entrancy: contexts taking turns, and two threads, give the same bytes.
  if [ -f gcc.npy ] && ./t_gcc t10k.idx $COUNT two.npy two && cmp -s gcc.npy two.npy &&
     ./t_gcc t10k.idx $COUNT threads.npy threads && cmp -s gcc.npy threads.npy; then
    pass "${m}_contexts"
  else fail "${m}_contexts"; fi

  # AddressSanitizer + UBSan, and valgrind.
  if compile t_asan net.h gcc -std=c99 -g -fsanitize=address,undefined -fno-sanitize-recover=all &&
     ./t_asan t10k.idx $COUNT asan.npy threads >asan.txt 2>&1 && cmp -s gcc.npy asan.npy; then
    pass "${m}_asan"
  else fail "${m}_asan" "$(head -20 asan.txt 2>/dev/null)"; fi
  if ! command -v valgrind >/dev/null; then
    echo "SKIP header_${m}_valgrind (valgrind is not installed: apt-get install valgrind)"
  elif valgrind -q --error-exitcode=3 --leak-check=full --errors-for-leak-kinds=all \
       ./t_gcc t10k.idx 60 vg.npy two >vg.txt 2>&1; then
    pass "${m}_valgrind"
  else fail "${m}_valgrind" "$(head -20 vg.txt)"; fi

  # int8 weights for the matrix products: a quarter of the bytes, outputs
  # within the rounding of the weights (0.05 of a probability).
  if "$DLC" header "$ROOT/models/$m.dlm" --weights $m.ckpt -o q.h --prefix net --quantize int8 --stats 2>q.txt &&
     [ "$(sed -n 's/^dlc: weights \([0-9]*\) bytes.*/\1/p' q.txt)" -lt \
       "$(sed -n 's/^dlc: weights \([0-9]*\) bytes.*/\1/p' stats.txt)" ] &&
     compile t_q q.h gcc -std=c99 && compile t_qxx q.h g++ -std=c++17 -x c++ && ./t_q t10k.idx $COUNT q.npy &&
     ./t_qxx t10k.idx $COUNT qxx.npy && "$TOOLS/npycmp" --rtol 0 --atol 0.05 q.npy want.npy >cmp.txt 2>&1 &&
     "$TOOLS/npycmp" --rtol 0 --atol 1e-5 qxx.npy q.npy >>cmp.txt 2>&1; then
    pass "${m}_int8 ($(sed -n 's/^dlc: weights //p' q.txt))"
  else fail "${m}_int8" "$(cat q.txt)" "$(head -5 cmp.txt 2>/dev/null)"; fi

  # Another batch size: 7 samples per call, the last call padded.
  if "$DLC" header "$ROOT/models/$m.dlm" --weights $m.ckpt -o net7.h --prefix net --batch 7 &&
     grep -q '^#define NET_BATCH 7 ' net7.h && compile t_b7 net7.h gcc -std=c99 &&
     ./t_b7 t10k.idx $COUNT b7.npy; then
    agree "${m}_batch7" b7.npy want.npy
  else fail "${m}_batch7"; fi
done

# models/ops.dlm: every operator, three inputs (one i32), four outputs (one
# a scalar), batch 4: each output within 1e-5 of ./ops predict's.
ops_ok=0
if "$DLC" build "$ROOT/models/ops.dlm" -o ops >build.txt 2>&1 && ./ops init --seed 1 -o ops.ckpt >/dev/null &&
   "$DLC" header "$ROOT/models/ops.dlm" --weights ops.ckpt --batch 4 -o ops.h &&
   gcc -std=c99 "${CFLAGS[@]}" -I. "$ROOT/tests/e2e/header_ops.c" -o hops -lm 2>cc.txt &&
   g++ -std=c++17 "${CFLAGS[@]}" -I. -x c++ "$ROOT/tests/e2e/header_ops.c" -o hops_cxx -lm 2>>cc.txt &&
   gcc -std=c99 "${CFLAGS[@]}" -g -fsanitize=address,undefined -fno-sanitize-recover=all -I. \
     "$ROOT/tests/e2e/header_ops.c" -o hops_asan -lm 2>>cc.txt &&
   mkdir -p o1 o2 o3 && ./hops o1 && ./hops_cxx o2 && ./hops_asan o3; then
  ops_ok=1
  for o in probs logp stats losses; do
    if ./ops predict --weights ops.ckpt --input x=o1/x.npy --input seq=o1/seq.npy --input y=o1/y.npy \
         --output $o -o o1/want_$o.npy >/dev/null 2>&1 &&
       "$TOOLS/npycmp" --rtol 1e-5 --atol 1e-5 o1/got_$o.npy o1/want_$o.npy >cmp.txt 2>&1 &&
       cmp -s o1/got_$o.npy o3/got_$o.npy && "$TOOLS/npycmp" --rtol 1e-5 --atol 1e-5 o2/got_$o.npy o1/want_$o.npy >/dev/null; then
      pass "ops_$o"
    else fail "ops_$o" "$(head -10 cmp.txt)"; fi
  done
fi
[ $ops_ok = 1 ] || fail ops "$(head -20 build.txt cc.txt 2>/dev/null)"

# Every model's header is valid C99 and C++17 without a warning.
for src in "$ROOT"/models/*.dlm; do
  b=$(basename "$src" .dlm)
  printf '#include "%s.h"\nint main(void) { return 0; }\n' "h_$b" >use.c
  if "$DLC" header "$src" --seed 1 --batch 3 -o "h_$b.h" >cc.txt 2>&1 &&
     gcc -std=c99 "${CFLAGS[@]}" -fsyntax-only use.c >>cc.txt 2>&1 &&
     g++ -std=c++17 "${CFLAGS[@]}" -x c++ -fsyntax-only use.c >>cc.txt 2>&1; then
    pass "compiles_$b"
  else fail "compiles_$b" "$(head -10 cc.txt)"; fi
done

# --seed S embeds the weights of ./mlp init --seed S: the same header but
# for the line that names where the weights came from.
if ./mlp init --seed 11 -o init11.ckpt >/dev/null &&
   "$DLC" header "$ROOT/models/mlp.dlm" --seed 11 -o s.h && "$DLC" header "$ROOT/models/mlp.dlm" --weights init11.ckpt -o c.h &&
   [ "$(diff s.h c.h | grep -c '^[<>]')" -le 4 ] && grep -qF 'untrained, as `./mlp init --seed 11`' s.h &&
   cmp -s <(sed -n '/^static const float/,$p' s.h) <(sed -n '/^static const float/,$p' c.h); then
  pass seed
else fail seed "$(diff s.h c.h | head -10)"; fi

# Two headers in one translation unit, neither used: no clash, no warning
# (C99 and C++).
printf '#include "mlp.h"\n#include "lenet5.h"\n#include "mlp.h"\nint main(void) { return MLP_BATCH - LENET5_BATCH; }\n' >both.c
if gcc -std=c99 "${CFLAGS[@]}" -c both.c -o both.o 2>both.txt && clang -std=c99 "${CFLAGS[@]}" -c both.c -o both.o 2>>both.txt &&
   g++ -std=c++17 "${CFLAGS[@]}" -x c++ -c both.c -o both.o 2>>both.txt; then
  pass two_headers
else fail two_headers "$(head -20 both.txt)"; fi

# Errors: a clear message, exit 1, no header written.
expect_error() {
  local name=$1 pat=$2; shift 2
  rm -f err.h
  "$@" >out.txt 2>err.txt; local rc=$?
  if [ $rc -eq 1 ] && grep -q -- "$pat" err.txt && [ ! -e err.h ]; then pass "$name"
  else fail "$name" "exit $rc, want 1 and '$pat' (and no err.h):" "$(head -c 600 err.txt)"; fi
}
expect_error error_other_model "checkpoint is for model 'lenet5'" \
  "$DLC" header "$ROOT/models/mlp.dlm" --weights lenet5.ckpt -o err.h
expect_error error_no_weights "header needs --weights W.ckpt" "$DLC" header "$ROOT/models/mlp.dlm" -o err.h
expect_error error_no_output "header needs -o FILE.h" "$DLC" header "$ROOT/models/mlp.dlm" --weights mlp.ckpt
cp mlp.ckpt bad.ckpt
printf '\x55' | dd of=bad.ckpt bs=1 seek=5000 conv=notrunc 2>/dev/null
expect_error error_checksum "bad.ckpt: byte [0-9]*: checksum mismatch" \
  "$DLC" header "$ROOT/models/mlp.dlm" --weights bad.ckpt -o err.h
expect_error error_missing_file "nothing.ckpt: cannot open" \
  "$DLC" header "$ROOT/models/mlp.dlm" --weights nothing.ckpt -o err.h
expect_error error_quantize "--quantize must be int8 or none, not 'int4'" \
  "$DLC" header "$ROOT/models/mlp.dlm" --weights mlp.ckpt --quantize int4 -o err.h
expect_error error_prefix "--prefix '9lives' is not a C identifier" \
  "$DLC" header "$ROOT/models/mlp.dlm" --weights mlp.ckpt --prefix 9lives -o err.h
exit $((fails > 0))
