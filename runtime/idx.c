/* idx.c — IDX files (the MNIST format), raw or gzip-compressed; the
 * dispatch of array files by name.
 *
 * The one idea: zlib's gzread reads gzip and raw files alike, so there is
 * one reader; since the uncompressed size is unknown until the data has
 * been read, the buffer grows with the data actually delivered and a
 * header that promises more than the stream holds costs nothing before it
 * is refused. Offsets in messages count uncompressed bytes.
 *
 *   file = 0x00 0x00 type ndim dim[ndim] data
 *   dim  = u32 big-endian; data big-endian, row-major
 *   type = 0x08 u8 | 0x09 i8 | 0x0B i16 | 0x0C i32 | 0x0D f32 | 0x0E f64
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dlrt.h"

typedef struct IdxType {
  unsigned char code;
  int size;
  const char *name;   /* dlrt_array.src_type */
} IdxType;

static const IdxType idx_types[] = {
  {0x08, 1, "u8"}, {0x09, 1, "i8"}, {0x0B, 2, "i16"},
  {0x0C, 4, "i32"}, {0x0D, 4, "f32"}, {0x0E, 8, "f64"},
};

typedef struct Idx {
  const char *path;
  char *err;
  gzFile g;
  uint64_t off;   /* uncompressed bytes consumed */
  bool cut;       /* the compressed stream ended early */
} Idx;

__attribute__((format(printf, 3, 4)))
static bool ifail(Idx *r, uint64_t off, const char *fmt, ...) {
  va_list ap;
  int n = snprintf(r->err, DLRT_ERR_LEN, "%s: byte %llu: ", r->path,
                   (unsigned long long)off);
  va_start(ap, fmt);
  if (n >= 0 && n < DLRT_ERR_LEN)
    vsnprintf(r->err + n, DLRT_ERR_LEN - (size_t)n, fmt, ap);
  va_end(ap);
  return false;
}

/* Read up to n bytes; returns how many arrived, or -1 after reporting a
 * gzip or I/O error. A compressed stream that ends early is not an error
 * here (r->cut is set): the caller reports the truncation with what it
 * expected. */
static int64_t gz_read(Idx *r, void *buf, uint64_t n) {
  uint64_t got = 0;
  while (got < n) {
    unsigned k = n - got > (1u << 30) ? (1u << 30) : (unsigned)(n - got);
    int m = gzread(r->g, (char *)buf + got, k), e;
    const char *msg = gzerror(r->g, &e);
    if (e == Z_BUF_ERROR)
      r->cut = true;
    else if (e != Z_OK) {
      size_t np = strlen(r->path);   /* zlib's message repeats the path */
      if (strncmp(msg, r->path, np) == 0 && msg[np] == ':')
        msg += np + 1 + (msg[np + 1] == ' ');
      ifail(r, r->off + got, "cannot read: %s", e == Z_ERRNO ? strerror(errno) : msg);
      return -1;
    }
    if (m <= 0)
      break;
    got += (uint64_t)m;
  }
  r->off += got;
  return (int64_t)got;
}

static uint32_t be32(const unsigned char *b) {
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Magic, type and dimensions into a; the element type into *t. */
static bool read_header(Idx *r, dlrt_array *a, const IdxType **t) {
  unsigned char b[4 * 255];
  int64_t got = gz_read(r, b, 4);
  if (got < 0)
    return false;
  if (got >= 2 && (b[0] || b[1]))
    return ifail(r, 0, "not an IDX file (wrong magic bytes)");
  if (got < 4)
    return ifail(r, (uint64_t)got, "truncated: the header needs 4 bytes, the "
                 "file has %lld", (long long)got);
  *t = NULL;
  for (size_t i = 0; i < sizeof idx_types / sizeof idx_types[0]; i++)
    if (idx_types[i].code == b[2])
      *t = &idx_types[i];
  if (!*t)
    return ifail(r, 2, "unknown IDX element type 0x%02x", b[2]);
  if (b[3] > DLRT_MAX_RANK)
    return ifail(r, 3, "%d dimensions; at most %d are supported", b[3], DLRT_MAX_RANK);
  a->rank = b[3];
  got = gz_read(r, b, 4 * (uint64_t)a->rank);
  if (got < 0)
    return false;
  if (got < 4 * a->rank)
    return ifail(r, 4 + (uint64_t)got, "truncated: the dimensions need %d bytes",
                 4 * a->rank);
  for (int i = 0; i < a->rank; i++)
    a->dim[i] = be32(b + 4 * i);
  return true;
}

/* Read exactly n bytes of data into a buffer grown as the data arrives. */
static bool read_raw(Idx *r, uint64_t n, unsigned char **out) {
  uint64_t start = r->off, have = 0, cap = n < (1u << 16) ? n : (1u << 16);
  unsigned char *buf = malloc(cap ? cap : 1);
  while (buf && have < n) {
    if (have == cap) {
      cap = cap * 2 < n ? cap * 2 : n;
      unsigned char *nb = realloc(buf, cap);
      if (!nb)
        break;
      buf = nb;
    }
    int64_t got = gz_read(r, buf + have, cap - have);
    if (got < 0) {
      free(buf);
      return false;
    }
    have += (uint64_t)got;
    if (got == 0 && have < n) {
      free(buf);
      return ifail(r, start + have, "truncated: the data needs %llu bytes from "
                   "byte %llu, the file has %llu", (unsigned long long)n,
                   (unsigned long long)start, (unsigned long long)have);
    }
  }
  if (!buf || have < n) {
    free(buf);
    return ifail(r, start, "out of memory (%llu bytes)", (unsigned long long)n);
  }
  *out = buf;
  return true;
}

/* Element i of big-endian raw data of type t as a double (exact for every
 * IDX type). */
static double element(const IdxType *t, const unsigned char *raw, int64_t i) {
  const unsigned char *p = raw + (size_t)i * (size_t)t->size;
  uint32_t u;
  switch (t->code) {
  case 0x08: return p[0];
  case 0x09: return (int8_t)p[0];
  case 0x0B: return (int16_t)(uint16_t)(p[0] << 8 | p[1]);
  case 0x0C: return (int32_t)be32(p);
  case 0x0D: {
    float f;
    u = be32(p);
    memcpy(&f, &u, 4);
    return f;
  }
  default: {
    uint64_t v = (uint64_t)be32(p) << 32 | be32(p + 4);
    double d;
    memcpy(&d, &v, 8);
    return d;
  }
  }
}

/* raw (numel elements of t) to a->data: i32 when as_int, else f32. */
static bool convert(Idx *r, const IdxType *t, const unsigned char *raw,
                    int64_t numel, bool as_int, dlrt_array *a, uint64_t off) {
  a->data = malloc(numel ? (size_t)numel * 4 : 4);
  if (!a->data)
    return ifail(r, off, "out of memory (%lld elements)", (long long)numel);
  a->dtype = as_int ? DLRT_I32 : DLRT_F32;
  float *f = a->data;
  int32_t *o = a->data;
  if (t->code == 0x08) {   /* bytes, the common case: no checks needed */
    for (int64_t i = 0; i < numel; i++)
      if (as_int)
        o[i] = raw[i];
      else
        f[i] = raw[i];
    return true;
  }
  for (int64_t i = 0; i < numel; i++) {
    double v = element(t, raw, i);
    uint64_t at = off + (uint64_t)i * (uint64_t)t->size;
    if (as_int && (v != floor(v) || v < INT32_MIN || v > INT32_MAX))
      return ifail(r, at, "element %lld (%g) is not a 32-bit integer",
                   (long long)i, v);
    if (!as_int && isfinite(v) && fabs(v) > 3.4028234663852886e38)
      return ifail(r, at, "element %lld (%g) is out of the f32 range",
                   (long long)i, v);
    if (as_int)
      o[i] = (int32_t)v;
    else
      f[i] = (float)v;
  }
  return true;
}

static bool load_idx(Idx *r, bool as_int, dlrt_array *a) {
  const IdxType *t;
  if (!read_header(r, a, &t))
    return false;
  strcpy(a->src_type, t->name);
  int64_t numel = 1, bytes;
  for (int i = 0; i < a->rank; i++)
    if (__builtin_mul_overflow(numel, a->dim[i], &numel))
      return ifail(r, 4, "the dimensions overflow");
  if (__builtin_mul_overflow(numel, (int64_t)t->size, &bytes) ||
      __builtin_mul_overflow(numel, (int64_t)4, &bytes))
    return ifail(r, 4, "the dimensions overflow");
  uint64_t off = r->off;
  unsigned char *raw = NULL, extra;
  if (!read_raw(r, (uint64_t)numel * (uint64_t)t->size, &raw))
    return false;
  bool ok = convert(r, t, raw, numel, as_int, a, off);
  free(raw);
  int64_t more = ok ? gz_read(r, &extra, 1) : 0;
  if (more > 0)
    return ifail(r, r->off - 1, "unexpected bytes after the data");
  if (ok && r->cut)   /* all data there, but the gzip trailer is not */
    return ifail(r, r->off, "truncated: the gzip stream ends before its trailer");
  return ok && more == 0;
}

/* Contract in dlrt.h. On failure a is empty. */
bool dlrt_idx_load(const char *path, bool as_int, dlrt_array *a, char *err) {
  Idx r = {.path = path, .err = err};
  memset(a, 0, sizeof *a);
  errno = 0;
  r.g = gzopen(path, "rb");
  if (!r.g) {
    snprintf(err, DLRT_ERR_LEN, "%s: cannot open: %s", path,
             errno ? strerror(errno) : "out of memory");
    return false;
  }
  gzbuffer(r.g, 1 << 17);
  bool ok = load_idx(&r, as_int, a);
  gzclose(r.g);
  if (!ok)
    dlrt_array_free(a);
  return ok;
}

/* ---- any array file ------------------------------------------------------ */

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Contract in dlrt.h: NPY by the .npy extension or, whatever the name, by
 * its magic bytes; IDX (raw or gzip) otherwise. as_int applies to IDX only:
 * NPY integer kinds are always i32 and float kinds f32. */
bool dlrt_array_load(const char *path, bool as_int, dlrt_array *a, char *err) {
  bool npy = ends_with(path, ".npy");
  if (!npy) {
    FILE *f = fopen(path, "rb");
    char b[6];
    npy = f && fread(b, 1, 6, f) == 6 && memcmp(b, "\x93NUMPY", 6) == 0;
    if (f)
      fclose(f);
  }
  return npy ? dlrt_npy_load(path, a, err) : dlrt_idx_load(path, as_int, a, err);
}

void dlrt_array_free(dlrt_array *a) {
  free(a->data);
  memset(a, 0, sizeof *a);
}

int64_t dlrt_array_numel(const dlrt_array *a) {
  int64_t n = 1;
  for (int i = 0; i < a->rank; i++)
    n *= a->dim[i];
  return n;
}
