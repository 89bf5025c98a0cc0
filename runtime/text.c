/* text.c — a plain-text corpus as bytes, for character models.
 *
 * The one idea: a corpus is a file, or every regular file of a folder
 * read in name order, each file once, and a part of it is the same
 * fraction [lo, hi) of every file, joined in order into one text. Taking
 * the fraction per file rather than of the joined text keeps a held-out
 * part representative of the whole corpus (the last tenth of every file,
 * not the last files), and two parts with disjoint fractions share no
 * byte. Characters are bytes; a model with V classes reads bytes 0..V-1,
 * and any other byte is refused with its file and offset, wherever it is
 * in the file (so the training and the held-out part agree on what a
 * valid corpus is).
 *
 * Each file once: a folder often holds links to its own files (GPL ->
 * GPL-3 among the licences of base-files). Files are identified by device
 * and inode after following links; an entry whose file is also reached
 * through an entry that is no link is skipped, as is every entry after the
 * first that reaches a file only through links. Hidden entries (names
 * starting with a dot) and subfolders are skipped; the folder is not
 * searched recursively.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dlrt.h"

enum { MAX_FILES = 4096 };

/* A file is at most this big: a corpus is read whole into memory. */
#define MAX_TEXT_BYTES ((int64_t)1 << 32)

typedef struct Entry {
  char *path;
  dev_t dev;
  ino_t ino;
  bool link;
} Entry;

static int cmp_entry(const void *a, const void *b) {
  return strcmp(((const Entry *)a)->path, ((const Entry *)b)->path);
}

void dlrt_text_free(dlrt_text *t) {
  free(t->bytes);
  for (int i = 0; i < t->nfiles; i++)
    free(t->files[i]);
  free(t->files);
  memset(t, 0, sizeof *t);
}

/* Append path to t's file list. */
static bool add_file(dlrt_text *t, const char *path, char *err) {
  char **f = realloc(t->files, sizeof *f * (size_t)(t->nfiles + 1));
  if (!f)
    return dlrt_fail(err, "%s: out of memory", path);
  t->files = f;
  if (!(f[t->nfiles] = strdup(path)))
    return dlrt_fail(err, "%s: out of memory", path);
  t->nfiles++;
  return true;
}

/* Whether entry i of e[0..n) is the one through which its file is read:
 * the first entry that is no link, or, when every entry reaching the file
 * is a link, the first of them. */
static bool chosen(const Entry *e, int n, int i) {
  for (int j = 0; j < n; j++) {
    if (j == i || e[j].dev != e[i].dev || e[j].ino != e[i].ino)
      continue;
    if (e[i].link && !e[j].link)
      return false;
    if (j < i && e[j].link == e[i].link)
      return false;
  }
  return true;
}

/* The regular files of folder dir, in name order, each once. */
static bool list_folder(dlrt_text *t, const char *dir, char *err) {
  DIR *d = opendir(dir);
  Entry *e = NULL;
  int n = 0;
  bool ok = true;
  if (!d)
    return dlrt_fail(err, "%s: cannot open: %s", dir, strerror(errno));
  for (struct dirent *de; ok && (de = readdir(d));) {
    struct stat st, lst;
    if (de->d_name[0] == '.')
      continue;
    if (n == MAX_FILES) {
      ok = dlrt_fail(err, "%s: more than %d files", dir, MAX_FILES);
      break;
    }
    char *path = malloc(strlen(dir) + strlen(de->d_name) + 2);
    Entry *grown = n % 64 ? e : realloc(e, sizeof *e * (size_t)(n + 64));
    if (!path || !grown) {
      free(path);
      ok = dlrt_fail(err, "%s: out of memory", dir);
      break;
    }
    e = grown;
    sprintf(path, "%s/%s", dir, de->d_name);
    if (lstat(path, &lst) != 0 || stat(path, &st) != 0) {
      ok = dlrt_fail(err, "%s: cannot open: %s", path, strerror(errno));
      free(path);
      break;
    }
    if (!S_ISREG(st.st_mode)) {
      free(path);
      continue;
    }
    e[n++] = (Entry){.path = path, .dev = st.st_dev, .ino = st.st_ino,
                     .link = S_ISLNK(lst.st_mode)};
  }
  closedir(d);
  if (n > 1)
    qsort(e, (size_t)n, sizeof *e, cmp_entry);
  for (int i = 0; ok && i < n; i++)
    if (chosen(e, n, i))
      ok = add_file(t, e[i].path, err);
  for (int i = 0; i < n; i++)
    free(e[i].path);
  free(e);
  if (ok && t->nfiles == 0)
    return dlrt_fail(err, "%s: the folder holds no regular file", dir);
  return ok;
}

/* Read file path whole into *buf (*len bytes). */
static bool read_file(const char *path, unsigned char **buf, int64_t *len,
                      char *err) {
  FILE *f = fopen(path, "rb");
  struct stat st;
  *buf = NULL;
  if (!f)
    return dlrt_fail(err, "%s: cannot open: %s", path, strerror(errno));
  if (fstat(fileno(f), &st) != 0 || st.st_size > MAX_TEXT_BYTES) {
    fclose(f);
    return dlrt_fail(err, "%s: cannot read or larger than %" PRId64 " bytes", path,
                     MAX_TEXT_BYTES);
  }
  *buf = malloc((size_t)st.st_size + 1);
  *len = *buf ? (int64_t)fread(*buf, 1, (size_t)st.st_size, f) : 0;
  bool ok = *buf && !ferror(f) && *len == (int64_t)st.st_size;
  fclose(f);
  if (!ok) {
    free(*buf);
    *buf = NULL;
    return dlrt_fail(err, "%s: cannot read%s", path, *len ? "" : " (out of memory?)");
  }
  return true;
}

/* Append the part [lo, hi) of file path to t, after checking every byte
 * of the file against the vocabulary. */
static bool add_part(dlrt_text *t, const char *path, double lo, double hi,
                     int vocab, char *err) {
  unsigned char *b;
  int64_t len = 0;
  if (!read_file(path, &b, &len, err))
    return false;
  for (int64_t i = 0; i < len; i++)
    if (b[i] >= vocab) {
      int c = b[i];
      free(b);
      return dlrt_fail(err, "%s: byte offset %" PRId64 ": byte %d (0x%02x) is not a "
                       "character of the model's %d (0..%d)", path, i, c, c, vocab,
                       vocab - 1);
    }
  int64_t from = (int64_t)floor(lo * (double)len), to = (int64_t)floor(hi * (double)len);
  unsigned char *grown = realloc(t->bytes, (size_t)(t->n + to - from) + 1);
  if (!grown) {
    free(b);
    return dlrt_fail(err, "%s: out of memory", path);
  }
  t->bytes = grown;
  memcpy(t->bytes + t->n, b + from, (size_t)(to - from));
  t->n += to - from;
  free(b);
  return true;
}

bool dlrt_text_load(dlrt_text *t, const char *path, double lo, double hi,
                    int vocab, char *err) {
  struct stat st;
  memset(t, 0, sizeof *t);
  if (!(lo >= 0 && lo < hi && hi <= 1))
    return dlrt_fail(err, "%s: the part [%g, %g] is not a range within [0, 1]", path,
                     lo, hi);
  if (vocab < 1 || vocab > 256)
    return dlrt_fail(err, "%s: %d characters: a text model reads bytes, at most 256",
                     path, vocab);
  if (stat(path, &st) != 0)
    return dlrt_fail(err, "%s: cannot open: %s", path, strerror(errno));
  bool ok = S_ISDIR(st.st_mode) ? list_folder(t, path, err) : add_file(t, path, err);
  for (int i = 0; ok && i < t->nfiles; i++)
    ok = add_part(t, t->files[i], lo, hi, vocab, err);
  if (!ok)
    dlrt_text_free(t);
  return ok;
}
