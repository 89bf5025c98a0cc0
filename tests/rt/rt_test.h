/* rt_test.h — the small harness shared by the runtime's test programs.
 *
 * The one idea: a test program prints one line per check, "PASS name" or
 * "FAIL name" followed by a few indented lines of detail, and a summary
 * line; its exit status is non-zero when any check failed. Files go to a
 * private scratch folder that is removed at the end.
 *
 * Everything here is static inline: each test includes it once.
 */
#ifndef RT_TEST_H
#define RT_TEST_H

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlrt.h"

static int t_pass, t_fail;
static char t_dir[256];

/* Record one check; on failure print the detail (printf format). */
__attribute__((format(printf, 3, 4)))
static inline bool check(const char *name, bool ok, const char *fmt, ...) {
  if (ok) {
    printf("PASS %s\n", name);
    t_pass++;
  } else {
    va_list ap;
    printf("FAIL %s\n    ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    t_fail++;
  }
  fflush(stdout);
  return ok;
}

static inline void skip(const char *name, const char *why) {
  printf("SKIP %s (%s)\n", name, why);
}

/* Path of a file in the scratch folder (one of 4 rotating buffers). */
static inline const char *tpath(const char *name) {
  static char buf[4][512];
  static int i;
  i = (i + 1) % 4;
  snprintf(buf[i], sizeof buf[i], "%s/%s", t_dir, name);
  return buf[i];
}

static inline void t_begin(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(t_dir, sizeof t_dir, "%s/dlrt-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(t_dir)) {
    perror("mkdtemp");
    exit(2);
  }
}

static inline int t_rm(const char *path, const struct stat *st, int flag,
                       struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  remove(path);
  return 0;
}

static inline int t_end(void) {
  nftw(t_dir, t_rm, 16, FTW_DEPTH | FTW_PHYS);
  printf("%d passed, %d failed\n", t_pass, t_fail);
  return t_fail ? 1 : 0;
}

static inline bool write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  bool ok = f && fwrite(data, 1, n, f) == n;
  if (f)
    ok = fclose(f) == 0 && ok;
  return ok;
}

/* Whole file into a malloc'd buffer; NULL on failure. */
static inline unsigned char *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  *n = 0;
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(len > 0 ? (size_t)len : 1);
  if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
    free(b);
    b = NULL;
  }
  fclose(f);
  *n = (size_t)len;
  return b;
}

/* An error message names the file and a byte offset. */
static inline bool names_offset(const char *err, const char *path) {
  return strstr(err, path) && strstr(err, ": byte ");
}

#endif
