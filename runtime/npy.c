/* npy.c — NumPy .npy files: read v1/v2/v3 as f32 or i32, write v1 f32/i32.
 *
 * The one idea: the header is a Python dict literal written by a program we
 * do not control, so it is parsed as a small grammar (a dict of exactly the
 * keys descr, fortran_order and shape) rather than searched for substrings,
 * and the data that follows must be exactly as long as the header says.
 * Every error names the file and the byte offset where the reader gave up.
 *
 *   file   = "\x93NUMPY" major minor hlen header data
 *   hlen   = u16 (v1) | u32 (v2, v3), little-endian
 *   header = "{" (key ":" value ",")* "}" spaces "\n"
 *
 * Element types read: <f4 <f8 (to f32), <i4 <i8 |u1 <u1 |b1 (to i32,
 * range-checked). Big-endian and Fortran-order files are refused.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dlrt.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c reads little-endian data in host order"
#endif

enum { MAX_HEADER = 1 << 20 };

typedef enum { E_F4, E_F8, E_I4, E_I8, E_U1, E_B1, E_COUNT } Elem;

static const struct {
  const char *descr;
  Elem e;
  int size;
  const char *src;   /* dlrt_array.src_type */
} descrs[] = {
  {"<f4", E_F4, 4, "f32"}, {"<f8", E_F8, 8, "f64"}, {"<i4", E_I4, 4, "i32"},
  {"<i8", E_I8, 8, "i64"}, {"|u1", E_U1, 1, "u8"},  {"<u1", E_U1, 1, "u8"},
  {"|b1", E_B1, 1, "bool"},
};

/* The reader's state; `at` is the file offset of hdr[0]. */
typedef struct Npy {
  const char *path;
  char *err;
  const char *hdr;   /* NUL-terminated header text */
  size_t pos;        /* parse position in hdr */
  uint64_t at;
  int descr;         /* index into descrs, -1 until seen */
  int fortran;       /* -1 until seen */
  bool have_shape;
  dlrt_array *a;
} Npy;

__attribute__((format(printf, 3, 4)))
static bool nfail(Npy *r, uint64_t off, const char *fmt, ...) {
  va_list ap;
  int n = snprintf(r->err, DLRT_ERR_LEN, "%s: byte %llu: ", r->path,
                   (unsigned long long)off);
  va_start(ap, fmt);
  if (n >= 0 && n < DLRT_ERR_LEN)
    vsnprintf(r->err + n, DLRT_ERR_LEN - (size_t)n, fmt, ap);
  va_end(ap);
  return false;
}

/* Fail at the current header position. */
#define HFAIL(r, ...) nfail((r), (r)->at + (r)->pos, __VA_ARGS__)

/* ---- the header dict --------------------------------------------------- */

static void skip_space(Npy *r) {
  while (r->hdr[r->pos] == ' ' || r->hdr[r->pos] == '\t' || r->hdr[r->pos] == '\n')
    r->pos++;
}

static bool expect(Npy *r, char c) {
  skip_space(r);
  if (r->hdr[r->pos] != c)
    return HFAIL(r, "header: expected '%c', found '%.10s'", c, r->hdr + r->pos);
  r->pos++;
  return true;
}

/* A Python string literal in single or double quotes, no escapes. */
static bool parse_string(Npy *r, char *dst, size_t cap) {
  skip_space(r);
  char q = r->hdr[r->pos];
  if (q != '\'' && q != '"')
    return HFAIL(r, "header: expected a quoted string, found '%.10s'", r->hdr + r->pos);
  size_t start = ++r->pos, n = 0;
  while (r->hdr[r->pos] && r->hdr[r->pos] != q && r->hdr[r->pos] != '\\')
    r->pos++, n++;
  if (r->hdr[r->pos] != q)
    return nfail(r, r->at + start - 1, "header: unterminated or escaped string");
  if (n >= cap)
    return nfail(r, r->at + start, "header: string too long");
  memcpy(dst, r->hdr + start, n);
  dst[n] = 0;
  r->pos++;
  return true;
}

static bool parse_bool(Npy *r, int *out) {
  skip_space(r);
  const char *s = r->hdr + r->pos;
  if (strncmp(s, "True", 4) == 0 || strncmp(s, "False", 5) == 0) {
    *out = s[0] == 'T';
    r->pos += *out ? 4 : 5;
    return true;
  }
  return HFAIL(r, "header: expected True or False, found '%.10s'", s);
}

static bool parse_dim(Npy *r, int64_t *out) {
  skip_space(r);
  const char *s = r->hdr + r->pos;
  int64_t v = 0;
  size_t n = 0;
  for (; s[n] >= '0' && s[n] <= '9'; n++)
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[n] - '0', &v))
      return HFAIL(r, "header: dimension '%.20s' is too large", s);
  if (n == 0)
    return HFAIL(r, "header: expected a dimension, found '%.10s'", s);
  r->pos += n + (s[n] == 'L');   /* Python 2 wrote long ints as 3L */
  *out = v;
  return true;
}

/* "(" [dim ("," dim)* [","]] ")" */
static bool parse_shape(Npy *r) {
  dlrt_array *a = r->a;
  if (!expect(r, '('))
    return false;
  a->rank = 0;
  for (;;) {
    skip_space(r);
    if (r->hdr[r->pos] == ')')
      break;
    if (a->rank == DLRT_MAX_RANK)
      return HFAIL(r, "header: shape has more than %d dimensions", DLRT_MAX_RANK);
    if (!parse_dim(r, &a->dim[a->rank++]))
      return false;
    skip_space(r);
    if (r->hdr[r->pos] == ',')
      r->pos++;
    else if (r->hdr[r->pos] != ')')
      return HFAIL(r, "header: expected ',' or ')' in the shape");
  }
  r->pos++;
  r->have_shape = true;
  return true;
}

static bool parse_value(Npy *r, const char *key, size_t key_at) {
  char s[32];
  if (strcmp(key, "descr") == 0 && r->descr < 0) {
    skip_space(r);
    size_t at = r->pos;
    if (!parse_string(r, s, sizeof s))
      return false;
    for (size_t i = 0; i < sizeof descrs / sizeof descrs[0]; i++)
      if (strcmp(s, descrs[i].descr) == 0)
        r->descr = (int)i;
    if (r->descr < 0)
      return nfail(r, r->at + at, "unsupported dtype '%s' (want <f4 <f8 <i4 "
                   "<i8 |u1 |b1, little-endian)", s);
    return true;
  }
  if (strcmp(key, "fortran_order") == 0 && r->fortran < 0)
    return parse_bool(r, &r->fortran);
  if (strcmp(key, "shape") == 0 && !r->have_shape)
    return parse_shape(r);
  return nfail(r, r->at + key_at, "header: unexpected or repeated key '%s'", key);
}

/* The whole dict, then only spaces and the final newline. */
static bool parse_header(Npy *r) {
  if (!expect(r, '{'))
    return false;
  for (;;) {
    skip_space(r);
    if (r->hdr[r->pos] == '}')
      break;
    char key[32];
    size_t key_at = r->pos;
    if (!parse_string(r, key, sizeof key) || !expect(r, ':') ||
        !parse_value(r, key, key_at))
      return false;
    skip_space(r);
    if (r->hdr[r->pos] == ',')
      r->pos++;
    else if (r->hdr[r->pos] != '}')
      return HFAIL(r, "header: expected ',' or '}'");
  }
  r->pos++;
  skip_space(r);
  if (r->hdr[r->pos])
    return HFAIL(r, "header: unexpected text after the dict");
  if (r->descr < 0 || r->fortran < 0 || !r->have_shape)
    return nfail(r, r->at, "header: missing key '%s'", r->descr < 0 ? "descr"
                 : r->fortran < 0 ? "fortran_order" : "shape");
  if (r->fortran)
    return nfail(r, r->at, "Fortran-order arrays are not supported "
                 "(save with np.ascontiguousarray)");
  return true;
}

/* ---- the data ---------------------------------------------------------- */

/* Convert n elements of kind e from raw to out (f32 for float kinds, i32
 * for integer kinds); first is the index of raw[0] in the array. */
static bool convert(Npy *r, Elem e, const unsigned char *raw, size_t n,
                    void *out, int64_t first, uint64_t off) {
  float *f = out;
  int32_t *o = out;
  for (size_t i = 0; i < n; i++) {
    switch (e) {
    case E_F4: memcpy(&f[i], raw + 4 * i, 4); break;
    case E_I4: memcpy(&o[i], raw + 4 * i, 4); break;
    case E_U1: o[i] = raw[i]; break;
    case E_B1: o[i] = raw[i] != 0; break;
    case E_F8: {
      double d;
      memcpy(&d, raw + 8 * i, 8);
      if (isfinite(d) && fabs(d) > FLT_MAX)
        return nfail(r, off + 8 * i, "element %lld (%g) is out of the f32 range",
                     (long long)(first + (int64_t)i), d);
      f[i] = (float)d;
      break;
    }
    case E_I8: {
      int64_t v;
      memcpy(&v, raw + 8 * i, 8);
      if (v < INT32_MIN || v > INT32_MAX)
        return nfail(r, off + 8 * i, "element %lld (%lld) is out of the i32 range",
                     (long long)(first + (int64_t)i), (long long)v);
      o[i] = (int32_t)v;
      break;
    }
    case E_COUNT: break;
    }
  }
  return true;
}

/* Read numel elements starting at file offset off into a->data. */
static bool read_data(Npy *r, FILE *f, uint64_t off, int64_t numel) {
  Elem e = descrs[r->descr].e;
  size_t size = (size_t)descrs[r->descr].size, chunk = (1 << 16) / size;
  unsigned char *raw = malloc(chunk * size);
  r->a->data = malloc(numel ? (size_t)numel * 4 : 4);
  if (!raw || !r->a->data) {
    free(raw);
    return nfail(r, off, "out of memory (%lld elements)", (long long)numel);
  }
  bool ok = true;
  for (int64_t i = 0; ok && i < numel; i += (int64_t)chunk) {
    size_t n = numel - i < (int64_t)chunk ? (size_t)(numel - i) : chunk;
    if (fread(raw, size, n, f) != n)
      ok = nfail(r, off, "read error");
    else
      ok = convert(r, e, raw, n, (char *)r->a->data + 4 * i, i, off);
    off += n * size;
  }
  free(raw);
  return ok;
}

/* Magic, version and header length; leaves f at the header text. */
static bool read_preamble(Npy *r, FILE *f, uint64_t size, uint64_t *hlen,
                          uint64_t *hstart) {
  unsigned char b[12];
  size_t n = size < 8 ? (size_t)size : 8;
  if (fread(b, 1, n, f) != n)
    return nfail(r, 0, "read error");
  if (memcmp(b, "\x93NUMPY", n < 6 ? n : 6) != 0)
    return nfail(r, 0, "not an NPY file (wrong magic bytes)");
  if (n < 8)
    return nfail(r, n, "truncated: the file has only %llu bytes", (unsigned long long)size);
  if (b[6] < 1 || b[6] > 3 || b[7] != 0)
    return nfail(r, 6, "unsupported NPY version %d.%d (want 1.0, 2.0 or 3.0)", b[6], b[7]);
  size_t lb = b[6] == 1 ? 2 : 4;
  if (size < 8 + lb)
    return nfail(r, 8, "truncated: header length needs %zu bytes", lb);
  if (fread(b + 8, 1, lb, f) != lb)
    return nfail(r, 8, "read error");
  *hlen = b[8] | (uint64_t)b[9] << 8;
  if (lb == 4)
    *hlen |= (uint64_t)b[10] << 16 | (uint64_t)b[11] << 24;
  *hstart = 8 + lb;
  if (*hlen > size - *hstart)
    return nfail(r, 8, "truncated: header length %llu exceeds the %llu bytes "
                 "after it", (unsigned long long)*hlen,
                 (unsigned long long)(size - *hstart));
  if (*hlen > MAX_HEADER)
    return nfail(r, 8, "header length %llu is absurd", (unsigned long long)*hlen);
  return true;
}

static bool load_header(Npy *r, FILE *f, uint64_t size, uint64_t *data_off) {
  uint64_t hlen = 0, hstart = 0;
  if (!read_preamble(r, f, size, &hlen, &hstart))
    return false;
  char *h = malloc(hlen + 1);
  if (!h)
    return nfail(r, hstart, "out of memory");
  bool ok = fread(h, 1, hlen, f) == hlen;
  h[hlen] = 0;
  r->hdr = h;
  r->at = hstart;
  if (!ok)
    ok = nfail(r, hstart, "read error");
  else if (strlen(h) != hlen)
    ok = nfail(r, hstart + strlen(h), "header contains a NUL byte");
  else
    ok = parse_header(r);
  free(h);
  r->hdr = NULL;
  *data_off = hstart + hlen;
  return ok;
}

/* Header, size checks and data of the open file f. */
static bool load_file(Npy *r, FILE *f) {
  dlrt_array *a = r->a;
  struct stat st;
  uint64_t data_off = 0, need = 0;
  int64_t numel = 1;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
    return nfail(r, 0, "not a regular file");
  uint64_t size = (uint64_t)st.st_size;
  if (!load_header(r, f, size, &data_off))
    return false;
  uint64_t have = size - data_off;
  for (int i = 0; i < a->rank; i++)
    if (__builtin_mul_overflow(numel, a->dim[i], &numel))
      return nfail(r, data_off, "shape overflows");
  if (__builtin_mul_overflow((uint64_t)numel, (uint64_t)descrs[r->descr].size, &need) ||
      need > have)
    return nfail(r, data_off, "truncated: the shape needs %llu bytes of data, "
                 "the file has %llu after the header",
                 (unsigned long long)need, (unsigned long long)have);
  if (need < have)
    return nfail(r, data_off + need, "%llu unexpected bytes after the data",
                 (unsigned long long)(have - need));
  a->dtype = descrs[r->descr].e <= E_F8 ? DLRT_F32 : DLRT_I32;
  strcpy(a->src_type, descrs[r->descr].src);
  return read_data(r, f, data_off, numel);
}

/* Contract in dlrt.h. On failure a is empty. */
bool dlrt_npy_load(const char *path, dlrt_array *a, char *err) {
  Npy r = {.path = path, .err = err, .descr = -1, .fortran = -1, .a = a};
  memset(a, 0, sizeof *a);
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, DLRT_ERR_LEN, "%s: cannot open: %s", path, strerror(errno));
    return false;
  }
  bool ok = load_file(&r, f);
  fclose(f);
  if (!ok)
    dlrt_array_free(a);
  return ok;
}

/* ---- writing ----------------------------------------------------------- */

/* Contract in dlrt.h: a v1.0 file, header padded with spaces to make the
 * data start at a multiple of 64 bytes, ending in '\n'. A partial file is
 * removed on failure. */
bool dlrt_npy_save(const char *path, const dlrt_array *a, char *err) {
  char h[512];
  int n = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                   a->dtype == DLRT_I32 ? "<i4" : "<f4");
  int64_t numel = 1;
  if (a->rank < 0 || a->rank > DLRT_MAX_RANK) {
    snprintf(err, DLRT_ERR_LEN, "%s: cannot save: rank %d", path, a->rank);
    return false;
  }
  for (int i = 0; i < a->rank; i++) {
    if (a->dim[i] < 0 || __builtin_mul_overflow(numel, a->dim[i], &numel)) {
      snprintf(err, DLRT_ERR_LEN, "%s: cannot save: bad dimension %lld", path,
               (long long)a->dim[i]);
      return false;
    }
    n += snprintf(h + n, sizeof h - (size_t)n, "%lld%s", (long long)a->dim[i],
                  a->rank == 1 ? "," : i + 1 < a->rank ? ", " : "");
  }
  n += snprintf(h + n, sizeof h - (size_t)n, "), }");
  while ((10 + n + 1) % 64 != 0)
    h[n++] = ' ';
  h[n++] = '\n';
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                           (unsigned char)(n & 0xff), (unsigned char)(n >> 8)};
  FILE *f = fopen(path, "wb");
  if (!f) {
    snprintf(err, DLRT_ERR_LEN, "%s: cannot create: %s", path, strerror(errno));
    return false;
  }
  bool ok = fwrite(pre, 1, 10, f) == 10 && fwrite(h, 1, (size_t)n, f) == (size_t)n &&
            (numel == 0 || fwrite(a->data, 4, (size_t)numel, f) == (size_t)numel);
  int e = errno;
  if (fclose(f) != 0 && ok) {
    ok = false;
    e = errno;
  }
  if (!ok) {
    snprintf(err, DLRT_ERR_LEN, "%s: cannot write: %s", path, strerror(e));
    remove(path);
  }
  return ok;
}
