/* text.c — fuzz target: a text corpus through dlrt_text_load, whole and
 * in parts whose fractions and vocabulary come from the first bytes, with
 * the loader's claims checked: a part holds every byte of its range and
 * only bytes below the vocabulary; a refusal names the file. */
#include "dlrt.h"
#include "fuzz.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void load(const char *path, size_t size, double lo, double hi, int vocab) {
  dlrt_text t;
  char err[DLRT_ERR_LEN] = "";
  if (!dlrt_text_load(&t, path, lo, hi, vocab, err)) {
    if (t.bytes || !strstr(err, path))
      abort();
    return;
  }
  int64_t want = (int64_t)floor(hi * (double)size) - (int64_t)floor(lo * (double)size);
  if (t.n != want || t.nfiles != 1)
    abort();
  for (int64_t i = 0; i < t.n; i++)
    if (t.bytes[i] >= vocab)
      abort();
  fuzz_touch(t.bytes, (size_t)t.n);
  dlrt_text_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file(data, size, ".txt");
  int vocab = size > 0 ? data[0] + 1 : 128;
  double lo = size > 1 ? data[1] / 256.0 : 0, hi = size > 2 ? (data[2] + 1) / 256.0 : 1;
  load(path, size, 0, 1, 256);
  load(path, size, 0, 1, 128);
  load(path, size, lo, hi, vocab);
  return 0;
}
