/* fuzz_util.c — scratch files and text copies for the fuzz targets. */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char scratch[64];

static void remove_scratch(void) { unlink(scratch); }

const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix) {
  if (!scratch[0]) {
    const char *dir = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/dlc-fuzz-%ld%s", dir && strlen(dir) < 32 ? dir : "/tmp",
             (long)getpid(), suffix);
    atexit(remove_scratch);
  }
  FILE *f = fopen(scratch, "wb");
  if (!f) {
    perror(scratch);
    abort();
  }
  if (size && fwrite(data, 1, size, f) != size) abort();
  if (fclose(f) != 0) abort();
  return scratch;
}

char *fuzz_text(const uint8_t *data, size_t size) {
  if (memchr(data, 0, size)) return NULL;
  char *t = malloc(size + 1);
  if (!t) abort();
  if (size) memcpy(t, data, size);
  t[size] = 0;
  return t;
}

static volatile unsigned sink;

void fuzz_touch(const void *p, size_t n) {
  const unsigned char *b = p;
  unsigned s = 0;
  for (size_t i = 0; i < n; i++) s += b[i];
  sink += s;
}
