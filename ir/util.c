/* util.c — arenas, growable strings, files, hashing, fatal errors.
 *
 * The compiler allocates from arenas and frees whole arenas; nothing inside
 * a pass calls free. Allocation failure is fatal: a compiler that runs out
 * of memory cannot produce anything useful.
 */
#include "ir.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

noreturn void die_at(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  fflush(stdout);
  fprintf(stderr, "%s:%d: internal compiler error: ", file, line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  abort();
}

/* ---- arenas ---- */

typedef struct Chunk {
  struct Chunk *next;
  size_t used, cap;
  _Alignas(16) unsigned char mem[];
} Chunk;

struct Arena {
  Chunk *head;
};

#ifdef DLC_SMALL_ARENA
enum { CHUNK_SIZE = 256 };  /* test builds: make growth paths run */
#else
enum { CHUNK_SIZE = 1 << 16 };
#endif

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) die("out of memory (%zu bytes)", n);
  return p;
}

Arena *arena_new(void) {
  Arena *a = xmalloc(sizeof *a);
  a->head = NULL;
  return a;
}

void arena_free(Arena *a) {
  if (!a) return;
  for (Chunk *c = a->head, *next; c; c = next) {
    next = c->next;
    free(c);
  }
  free(a);
}

void *arena_alloc(Arena *a, size_t size) {
  size = (size + 15) & ~(size_t)15;
  Chunk *c = a->head;
  if (!c || c->cap - c->used < size) {
    size_t cap = size > CHUNK_SIZE ? size : CHUNK_SIZE;
    c = xmalloc(sizeof *c + cap);
    c->cap = cap;
    c->used = 0;
    c->next = a->head;
    a->head = c;
  }
  void *p = c->mem + c->used;
  c->used += size;
  memset(p, 0, size);
  return p;
}

char *arena_strndup(Arena *a, const char *s, size_t n) {
  char *p = arena_alloc(a, n + 1);
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

char *arena_strdup(Arena *a, const char *s) {
  return arena_strndup(a, s, strlen(s));
}

char *arena_printf(Arena *a, const char *fmt, ...) {
  Str b = {0};
  va_list ap;
  va_start(ap, fmt);
  str_vprintf(&b, fmt, ap);
  va_end(ap);
  char *p = arena_strndup(a, b.s, b.len);
  str_free(&b);
  return p;
}

void arena_grow(Arena *a, void **p, int *cap, int need, size_t elem) {
  if (need <= *cap) return;
  int ncap = *cap ? *cap : 4;
#ifdef DLC_SMALL_ARENA
  ncap = *cap ? *cap : 1;
#endif
  while (ncap < need) ncap *= 2;
  void *np = arena_alloc(a, (size_t)ncap * elem);
  if (*p && *cap) memcpy(np, *p, (size_t)*cap * elem);
  *p = np;
  *cap = ncap;
}

/* ---- strings ---- */

void str_vprintf(Str *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) die("bad format %s", fmt);
  if (b->len + (size_t)n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + (size_t)n + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) die("out of memory");
    b->s = s;
    b->cap = cap;
  }
  vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
}

void str_printf(Str *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  str_vprintf(b, fmt, ap);
  va_end(ap);
}

void str_putc(Str *b, char c) { str_printf(b, "%c", c); }

void str_free(Str *b) {
  free(b->s);
  b->s = NULL;
  b->len = b->cap = 0;
}

/* ---- files ---- */

char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t n = 0, cap = 1 << 14;
  char *buf = xmalloc(cap);
  for (;;) {
    n += fread(buf + n, 1, cap - n - 1, f);
    if (n < cap - 1) break;
    cap *= 2;
    char *nb = realloc(buf, cap);
    if (!nb) die("out of memory reading %s", path);
    buf = nb;
  }
  int err = ferror(f);
  fclose(f);
  if (err) {
    free(buf);
    errno = EIO;
    return NULL;
  }
  buf[n] = 0;
  if (len) *len = n;
  return buf;
}

bool write_file_atomic(const char *path, const void *data, size_t len) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >=
      (int)sizeof tmp) {
    errno = ENAMETOOLONG;
    return false;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return false;
  const char *p = data;
  size_t left = len;
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      goto fail;
    }
    p += w;
    left -= (size_t)w;
  }
  if (fsync(fd) != 0) goto fail;
  if (close(fd) != 0) {
    fd = -1;
    goto fail;
  }
  if (rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    errno = e;
    return false;
  }
  return true;
fail:;
  int e = errno;
  if (fd >= 0) close(fd);
  unlink(tmp);
  errno = e;
  return false;
}

uint64_t hash_bytes(uint64_t h, const void *p, size_t n) {
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++) {
    h ^= s[i];
    h *= 0x100000001b3ull;
  }
  return h;
}
