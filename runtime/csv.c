/* csv.c — numeric CSV files (optionally gzip-compressed) as an f32 table.
 *
 * The one idea: a CSV file is typed by hand or exported by another tool,
 * so every defect is reported where an editor would show it, as
 * `PATH:LINE:COLUMN: ...` (1-based, columns in bytes), and the first line
 * with a different number of fields names both lines. The grammar is the
 * numeric subset of RFC 4180:
 *
 *   file   = { line }         empty lines (spaces only) are skipped
 *   line   = field { "," field } [ CR ] LF
 *   field  = spaces ( number | '"' number '"' ) spaces
 *
 * A number is what strtod reads, finite and within the f32 range. An
 * optional first (header) line is skipped unread.
 */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dlrt.h"

typedef struct Csv {
  const char *path;
  char *err;
  int line;            /* 1-based number of the current line */
  int64_t cols;        /* fields per line, from the first data line */
  int first_line;      /* where cols was set */
  float *v;            /* rows * cols values */
  int64_t n, cap;
} Csv;

__attribute__((format(printf, 3, 4)))
static bool cfail(Csv *c, int col, const char *fmt, ...) {
  va_list ap;
  int n = col > 0 ? snprintf(c->err, DLRT_ERR_LEN, "%s:%d:%d: ", c->path, c->line, col)
                  : snprintf(c->err, DLRT_ERR_LEN, "%s:%d: ", c->path, c->line);
  va_start(ap, fmt);
  if (n >= 0 && n < DLRT_ERR_LEN)
    vsnprintf(c->err + n, DLRT_ERR_LEN - (size_t)n, fmt, ap);
  va_end(ap);
  return false;
}

/* The whole file, decompressed, NUL-terminated; NULL after a message. */
static char *read_all(const char *path, size_t *len, char *err) {
  errno = 0;
  gzFile g = gzopen(path, "rb");
  if (!g) {
    snprintf(err, DLRT_ERR_LEN, "%s: cannot open: %s", path,
             errno ? strerror(errno) : "out of memory");
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  int got = 1, e = Z_OK;
  while (buf && got > 0) {
    if (cap - n < (1 << 15)) {
      char *nb = realloc(buf, cap *= 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
    }
    size_t room = cap - n - 1;
    got = gzread(g, buf + n, (unsigned)(room > (1u << 30) ? (1u << 30) : room));
    n += got > 0 ? (size_t)got : 0;
  }
  const char *msg = gzerror(g, &e);
  if (buf && (got < 0 || (e != Z_OK && e != Z_BUF_ERROR))) {
    snprintf(err, DLRT_ERR_LEN, "%s: cannot read: %s", path,
             e == Z_ERRNO ? strerror(errno) : msg);
    free(buf);
    buf = NULL;
  } else if (!buf) {
    snprintf(err, DLRT_ERR_LEN, "%s: out of memory", path);
  } else if (e == Z_BUF_ERROR) {
    snprintf(err, DLRT_ERR_LEN, "%s: truncated: the gzip stream ends early", path);
    free(buf);
    buf = NULL;
  }
  gzclose(g);
  if (buf)
    buf[n] = 0;
  *len = n;
  return buf;
}

static bool push(Csv *c, float v) {
  if (c->n == c->cap) {
    int64_t nc = c->cap ? c->cap * 2 : 1024;
    float *nv = realloc(c->v, (size_t)nc * sizeof *nv);
    if (!nv)
      return cfail(c, 0, "out of memory");
    c->v = nv;
    c->cap = nc;
  }
  c->v[c->n++] = v;
  return true;
}

/* One field starting at *s (the line starts at line0); leaves *s at the
 * ',' or the end of the line. */
static bool field(Csv *c, const char **s, const char *line0, int64_t k) {
  const char *p = *s;
  while (*p == ' ' || *p == '\t')
    p++;
  const char *start = p;
  bool q = *p == '"';
  p += q;
  char *end;
  errno = 0;
  double v = strtod(p, &end);
  int col = (int)(start - line0) + 1;
  if (end == p || isspace((unsigned char)*p)) {
    size_t w = strcspn(start, ",\r\n");
    if (w == 0 || strspn(start, " \t") == w)
      return cfail(c, col, "field %lld is empty", (long long)k + 1);
    return cfail(c, col, "field %lld: '%.*s' is not a number", (long long)k + 1,
                 (int)(w > 40 ? 40 : w), start);
  }
  if (!isfinite(v) || fabs(v) > FLT_MAX)
    return cfail(c, col, "field %lld: %.*s is not a finite f32 number", (long long)k + 1,
                 (int)(end - p), p);
  p = end;
  if (q && *p != '"')
    return cfail(c, (int)(p - line0) + 1, "field %lld: missing closing '\"'",
                 (long long)k + 1);
  p += q;
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p && *p != ',' && *p != '\r' && *p != '\n')
    return cfail(c, (int)(p - line0) + 1, "field %lld: unexpected '%c' after the number",
                 (long long)k + 1, *p);
  *s = p;
  return push(c, (float)v);
}

/* One line at s (not empty); *next is where the following line starts. */
static bool parse_line(Csv *c, const char *s, const char **next) {
  const char *line0 = s;
  int64_t k = 0;
  for (;;) {
    if (!field(c, &s, line0, k++))
      return false;
    if (*s != ',')
      break;
    s++;
  }
  if (*s == '\r')
    s++;
  *next = *s == '\n' ? s + 1 : s;
  if (c->cols == 0) {
    c->cols = k;
    c->first_line = c->line;
  } else if (k != c->cols) {
    return cfail(c, 0, "%lld fields, but line %d has %lld", (long long)k,
                 c->first_line, (long long)c->cols);
  }
  return true;
}

static bool blank(const char *s) {
  while (*s == ' ' || *s == '\t' || *s == '\r')
    s++;
  return *s == '\n' || !*s;
}

static bool parse_text(Csv *c, const char *s, bool skip_header) {
  for (c->line = 1; *s; c->line++) {
    const char *eol = strchr(s, '\n');
    if (blank(s) || (skip_header && c->line == 1)) {
      s = eol ? eol + 1 : s + strlen(s);
      continue;
    }
    if (!parse_line(c, s, &s))
      return false;
  }
  if (c->n == 0)
    return cfail(c, 0, "no data lines");
  return true;
}

/* Contract in dlrt.h. */
bool dlrt_csv_load(const char *path, bool skip_header, dlrt_array *a,
                   char *err) {
  Csv c = {.path = path, .err = err};
  size_t len;
  memset(a, 0, sizeof *a);
  char *text = read_all(path, &len, err);
  if (!text)
    return false;
  if (strlen(text) != len) {
    c.line = 1;
    for (const char *p = text; *p; p++)
      c.line += *p == '\n';
    free(text);
    return cfail(&c, 0, "a NUL byte: not a text file");
  }
  bool ok = parse_text(&c, text, skip_header);
  free(text);
  if (!ok) {
    free(c.v);
    return false;
  }
  a->dtype = DLRT_F32;
  a->rank = 2;
  a->dim[0] = c.n / c.cols;
  a->dim[1] = c.cols;
  a->data = c.v;
  strcpy(a->src_type, "csv");
  return true;
}
