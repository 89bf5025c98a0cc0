/* parse.c — the IR text format, reading side (doc/ir.txt specifies it).
 *
 * The one idea: the parser is a thin scanner over the graph builders. Each
 * line is scanned by hand and its node rebuilt with ir_add_shaped, ir_input,
 * ir_param, ir_const, ir_state or ir_hyper, so the shape rules that check
 * the frontend check the text too, and the written type must equal the
 * inferred one.
 *
 * Errors use panic mode per line: fail_at() reports at the offending token
 * and longjmps back to the line loop, which goes on with the next line. A
 * name whose line failed is poisoned, so its uses fail quietly instead of
 * cascading. The input is untrusted (it is fuzzed): reads stay inside the
 * current line, numbers are bounded and overflow-checked, and every scan
 * advances, so any input ends in linear time.
 */
#include "ir.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

enum {
  MAX_OPERANDS = 4096, /* keeps concat's summed dims far from overflow */
  MAX_NUM_LEN = 64,    /* longest number token */
  POISON = -2,         /* value of a %name whose line failed */
};
#define MAX_DIM ((int64_t)1 << 40)  /* bound on a dim and on an element count */
#define MAX_IATTR ((int64_t)1 << 62) /* bound on |int attribute| */

/* ---- name maps ----
 * Open addressing from byte strings to ints. Keys point into the parsed text
 * or the graph's arena, both of which outlive the map. */

typedef struct Entry {
  const char *key;
  size_t len;
  int val;
} Entry;

typedef struct NameMap {
  Entry *e;
  size_t cap, n; /* cap: 0 or a power of two */
} NameMap;

static Entry *map_slot(Entry *e, size_t cap, const char *key, size_t len) {
  size_t i = (size_t)hash_bytes(HASH_INIT, key, len) & (cap - 1);
  while (e[i].key && !(e[i].len == len && memcmp(e[i].key, key, len) == 0))
    i = (i + 1) & (cap - 1);
  return &e[i];
}

static int *map_get(NameMap *m, const char *key, size_t len) {
  if (!m->cap) return NULL;
  Entry *s = map_slot(m->e, m->cap, key, len);
  return s->key ? &s->val : NULL;
}

static void map_put(NameMap *m, const char *key, size_t len, int val) {
  if (2 * (m->n + 1) > m->cap) {
    size_t cap = m->cap ? 2 * m->cap : 64;
    Entry *e = calloc(cap, sizeof *e);
    if (!e) die("out of memory");
    for (size_t i = 0; i < m->cap; i++)
      if (m->e[i].key) *map_slot(e, cap, m->e[i].key, m->e[i].len) = m->e[i];
    free(m->e);
    m->e = e;
    m->cap = cap;
  }
  Entry *s = map_slot(m->e, m->cap, key, len);
  if (!s->key) m->n++;
  *s = (Entry){key, len, val};
}

static void map_free(NameMap *m) {
  free(m->e);
  *m = (NameMap){0};
}

/* ---- the parser state ---- */

typedef struct Parser {
  const char *file;          /* interned */
  const char *line, *end;    /* the current line is [line, end) */
  const char *p;             /* cursor, line <= p <= end */
  int lineno;
  Graph *g;
  NameMap vals;              /* %name -> node index, or POISON */
  NameMap inputs, params, states, outputs; /* names in use */
  const char *def;           /* %name this line defines (poisoned on failure) */
  size_t deflen;
  bool model_seen, loss_seen;
  int nerr;
  Str buf;                   /* string being decoded */
  double *data;              /* const data being read */
  int64_t ndata, capdata;
  int in[MAX_OPERANDS];      /* operands being read */
  char found[64];            /* describe() result */
  jmp_buf fail;
} Parser;

static Loc loc_at(const Parser *P, const char *at) {
  ptrdiff_t col = at - P->line + 1;
  return (Loc){P->file, P->lineno, col > INT_MAX ? INT_MAX : (int)col};
}

__attribute__((format(printf, 3, 4)))
static void error_at(Parser *P, const char *at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_verror(loc_at(P, at), fmt, ap);
  va_end(ap);
  P->nerr++;
}

/* Give up on this line; the error has been reported (maybe on an earlier
 * line, for a poisoned name). */
noreturn static void abandon(Parser *P) { longjmp(P->fail, 1); }

/* Report an error at `at` and give up on this line. */
__attribute__((format(printf, 3, 4)))
noreturn static void fail_at(Parser *P, const char *at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_verror(loc_at(P, at), fmt, ap);
  va_end(ap);
  P->nerr++;
  abandon(P);
}

/* ---- scanning ---- */

static void skip_ws(Parser *P) {
  while (P->p < P->end && (*P->p == ' ' || *P->p == '\t' || *P->p == '\r'))
    P->p++;
  if (P->p < P->end && *P->p == '#') P->p = P->end; /* comment to end of line */
}

static bool at_eol(Parser *P) {
  skip_ws(P);
  return P->p >= P->end;
}

static bool peek(Parser *P, char c) {
  skip_ws(P);
  return P->p < P->end && *P->p == c;
}

static bool accept(Parser *P, char c) {
  if (!peek(P, c)) return false;
  P->p++;
  return true;
}

/* What the cursor is looking at, for "expected X, found Y". */
static const char *describe(Parser *P) {
  if (at_eol(P)) return "end of line";
  const char *e = P->p;
  while (e < P->end && e - P->p < 24 && !isspace((unsigned char)*e)) e++;
  snprintf(P->found, sizeof P->found, "'%.*s'", (int)(e - P->p), P->p);
  return P->found;
}

static void expect(Parser *P, char c, const char *what) {
  if (!accept(P, c)) fail_at(P, P->p, "expected %s, found %s", what, describe(P));
}

static bool is_word_char(char c) {
  return isalnum((unsigned char)c) || c == '_';
}

/* An identifier [A-Za-z_][A-Za-z0-9_]*; its length (0 if none). */
static size_t word(Parser *P, const char **start) {
  skip_ws(P);
  *start = P->p;
  if (P->p < P->end && (isalpha((unsigned char)*P->p) || *P->p == '_'))
    while (P->p < P->end && is_word_char(*P->p)) P->p++;
  return (size_t)(P->p - *start);
}

static bool word_is(const char *w, size_t n, const char *s) {
  return strlen(s) == n && memcmp(w, s, n) == 0;
}

/* Digits at the cursor as a magnitude, saturating above INT64_MAX. */
static int64_t digits(Parser *P) {
  uint64_t v = 0;
  while (P->p < P->end && isdigit((unsigned char)*P->p)) {
    unsigned d = (unsigned)(*P->p++ - '0');
    v = v > ((uint64_t)INT64_MAX - d) / 10 ? (uint64_t)INT64_MAX : v * 10 + d;
  }
  return (int64_t)v;
}

/* A decimal integer in [lo, hi] (|bounds| < INT64_MAX); what names it. */
static int64_t integer(Parser *P, int64_t lo, int64_t hi, const char *what) {
  skip_ws(P);
  const char *s = P->p;
  bool neg = P->p < P->end && *P->p == '-';
  if (neg || (P->p < P->end && *P->p == '+')) P->p++;
  if (P->p >= P->end || !isdigit((unsigned char)*P->p)) {
    P->p = s;
    fail_at(P, s, "expected %s, found %s", what, describe(P));
  }
  int64_t v = digits(P);
  if (P->p < P->end && (is_word_char(*P->p) || *P->p == '.')) {
    P->p = s;
    fail_at(P, s, "expected %s, found %s", what, describe(P));
  }
  if (neg) v = -v;
  if (v < lo || v > hi)
    fail_at(P, s, "out of range: %.*s is not in [%lld, %lld] for %s",
            (int)(P->p - s > 32 ? 32 : P->p - s), s, (long long)lo, (long long)hi,
            what);
  return v;
}

/* A floating-point number as strtod reads it, including inf and nan. */
static double number(Parser *P, const char *what) {
  skip_ws(P);
  const char *s = P->p;
  while (P->p < P->end && (isalnum((unsigned char)*P->p) || *P->p == '.' ||
                           *P->p == '+' || *P->p == '-'))
    P->p++;
  size_t n = (size_t)(P->p - s);
  char buf[MAX_NUM_LEN + 1];
  if (n == 0 || n > MAX_NUM_LEN) {
    P->p = s;
    fail_at(P, s, "expected %s, found %s", what, describe(P));
  }
  memcpy(buf, s, n);
  buf[n] = 0;
  char *e;
  errno = 0;
  double v = strtod(buf, &e);
  if (e != buf + n) fail_at(P, s, "expected %s, found '%s'", what, buf);
  if (errno == ERANGE && isinf(v)) fail_at(P, s, "number out of range: %s", buf);
  return v;
}

static int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The character an escape after '\' stands for. */
static char escape(Parser *P) {
  const char *s = P->p - 1;
  char c = P->p < P->end ? *P->p++ : 0;
  switch (c) {
  case '"': return '"';
  case '\\': return '\\';
  case 'n': return '\n';
  case 't': return '\t';
  case 'r': return '\r';
  case 'x': {
    int hi = P->p < P->end ? hex(P->p[0]) : -1;
    int lo = P->p + 1 < P->end ? hex(P->p[1]) : -1;
    if (hi < 0 || lo < 0) fail_at(P, s, "\\x needs two hex digits");
    if (hi == 0 && lo == 0) fail_at(P, s, "strings cannot contain \\x00");
    P->p += 2;
    return (char)(hi * 16 + lo);
  }
  default:
    fail_at(P, s, "unknown escape sequence in string");
  }
}

/* A quoted string with escapes, copied into the graph's arena. */
static const char *string(Parser *P, const char *what) {
  skip_ws(P);
  const char *s = P->p;
  if (!accept(P, '"')) fail_at(P, s, "expected %s, found %s", what, describe(P));
  P->buf.len = 0;
  for (;;) {
    if (P->p >= P->end) fail_at(P, s, "unterminated string");
    char c = *P->p++;
    if (c == '"') break;
    str_putc(&P->buf, c == '\\' ? escape(P) : c);
  }
  return arena_strndup(P->g->arena, P->buf.s ? P->buf.s : "", P->buf.len);
}

/* "%name" with name in [A-Za-z0-9_.]+; returns the name after '%'. */
static size_t ref_name(Parser *P, const char **name) {
  skip_ws(P);
  const char *s = P->p;
  if (!accept(P, '%'))
    fail_at(P, s, "expected a %%name, found %s", describe(P));
  *name = P->p;
  while (P->p < P->end && (is_word_char(*P->p) || *P->p == '.')) P->p++;
  if (P->p == *name) fail_at(P, s, "expected a name after '%%'");
  return (size_t)(P->p - *name);
}

/* An operand: a %name defined on an earlier line. */
static int operand(Parser *P) {
  const char *name;
  size_t n = ref_name(P, &name);
  int *v = map_get(&P->vals, name, n);
  if (!v)
    fail_at(P, name - 1, "use of undefined value %%%.*s", (int)(n > 40 ? 40 : n),
            name);
  if (*v == POISON) abandon(P); /* its own line reported the error */
  return *v;
}

/* One dimension: k, N or kN, with 1 <= k <= 2^40. */
static int64_t dim(Parser *P) {
  skip_ws(P);
  if (P->p < P->end && *P->p == 'N' &&
      !(P->p + 1 < P->end && is_word_char(P->p[1]))) {
    P->p++;
    return -1;
  }
  const char *s = P->p;
  if (P->p >= P->end || !isdigit((unsigned char)*P->p))
    fail_at(P, s, "expected a dimension (k, N or kN), found %s", describe(P));
  int64_t k = digits(P);
  bool sym = P->p < P->end && *P->p == 'N';
  if (sym) P->p++;
  if (P->p < P->end && (is_word_char(*P->p) || *P->p == '.')) {
    P->p = s;
    fail_at(P, s, "expected a dimension (k, N or kN), found %s", describe(P));
  }
  if (k < 1 || k > MAX_DIM)
    fail_at(P, s, "dimension out of range: %.*s (1 to 2^40)",
            (int)(P->p - s > 32 ? 32 : P->p - s), s);
  return sym ? -k : k;
}

/* A type "f32[N,10]"; *at gets where it starts (for mismatch errors). The
 * element count, symbolic or not, is at most 2^40. */
static void type(Parser *P, DType *t, Shape *s, const char **at) {
  const char *w;
  size_t n = word(P, &w);
  *at = w;
  int k = 0;
  while (k < DT_COUNT && !word_is(w, n, dtype_name[k])) k++;
  if (k == DT_COUNT) {
    P->p = w;
    fail_at(P, w, "expected an element type (f32 or i32), found %s", describe(P));
  }
  *t = (DType)k;
  *s = (Shape){0};
  expect(P, '[', "'['");
  int64_t numel = 1;
  if (accept(P, ']')) return;
  do {
    skip_ws(P);
    const char *ds = P->p;
    if (s->rank == MAX_RANK) fail_at(P, ds, "rank exceeds %d", MAX_RANK);
    int64_t d = dim(P);
    int64_t mag = d < 0 ? -d : d;
    if (numel > MAX_DIM / mag) fail_at(P, ds, "shape has more than 2^40 elements");
    numel *= mag;
    s->d[s->rank++] = d;
  } while (accept(P, ','));
  expect(P, ']', "',' or ']'");
}

static int nsym(const Shape *s) {
  int k = 0;
  for (int i = 0; i < s->rank; i++) k += s->d[i] < 0;
  return k;
}

/* An optional location suffix @"file":line:col; line 0 (no position) when
 * absent, so that printing gives back the same text. */
static Loc opt_loc(Parser *P) {
  if (!accept(P, '@')) return (Loc){0};
  const char *f = string(P, "a quoted file name");
  expect(P, ':', "':' after the file name");
  int line = (int)integer(P, 1, INT_MAX, "a line number");
  expect(P, ':', "':' after the line number");
  int col = (int)integer(P, 0, INT_MAX, "a column number");
  return (Loc){intern(f), line, col};
}

static void end_of_line(Parser *P) {
  if (!at_eol(P)) fail_at(P, P->p, "unexpected %s at end of line", describe(P));
}

/* ---- attributes ---- */

/* The next "name=" of an attribute list, as an index into names[n]; -1 at
 * ':' or the end of the line. Unknown and repeated names are errors. */
static int next_attr(Parser *P, const char *owner, const char *const *names,
                     int n, bool *seen) {
  if (peek(P, ':') || at_eol(P)) return -1;
  const char *w;
  size_t len = word(P, &w);
  if (!len) fail_at(P, P->p, "expected an attribute or ':', found %s", describe(P));
  int k = 0;
  while (k < n && !word_is(w, len, names[k])) k++;
  if (k == n) {
    error_at(P, w, "%s: unknown attribute '%.*s'", owner, (int)(len > 40 ? 40 : len), w);
    Str b = {0};
    for (int j = 0; j < n; j++) str_printf(&b, "%s%s", j ? ", " : "", names[j]);
    diag_hint("%s takes %s", owner, n ? b.s : "no attributes");
    str_free(&b);
    abandon(P);
  }
  if (seen[k]) fail_at(P, w, "%s: attribute '%s' given twice", owner, names[k]);
  seen[k] = true;
  expect(P, '=', "'=' after the attribute name");
  return k;
}

/* "[v,...]" of at most max ints into v; the count. */
static int int_list(Parser *P, int64_t *v, int max, const char *field) {
  int n = 0;
  expect(P, '[', "'['");
  if (accept(P, ']')) return 0;
  do {
    skip_ws(P);
    if (n == max) fail_at(P, P->p, "too many values for %s (at most %d)", field, max);
    v[n++] = integer(P, -MAX_IATTR, MAX_IATTR, "an integer");
  } while (accept(P, ','));
  expect(P, ']', "',' or ']'");
  return n;
}

/* The ints and floats of a non-source op, per its ops.def spec. Fixed
 * fields are required; a list may be left out (empty). */
static void op_attrs(Parser *P, Op op, Attrs *a) {
  AttrField fi[MAX_INTS], ff[MAX_FLOATS];
  int nfi = ir_attr_fields(op, false, fi), nff = ir_attr_fields(op, true, ff);
  const char *names[MAX_INTS + MAX_FLOATS];
  int pos[MAX_INTS], nfixed = 0, nlist = 0;
  bool seen[MAX_INTS + MAX_FLOATS] = {0};
  for (int k = 0; k < nfi; k++) {
    names[k] = fi[k].name;
    pos[k] = nfixed;
    nfixed += fi[k].count > 0 ? fi[k].count : 0;
  }
  for (int k = 0; k < nff; k++) names[nfi + k] = ff[k].name;
  const char *opname = op_info[op].name;
  for (int k; (k = next_attr(P, opname, names, nfi + nff, seen)) >= 0;) {
    if (k >= nfi) {
      a->f[k - nfi] = number(P, "a number");
    } else if (fi[k].count == 1) {
      a->ints[pos[k]] = integer(P, -MAX_IATTR, MAX_IATTR, "an integer");
    } else if (fi[k].count > 1) {
      const char *s = P->p;
      int got = int_list(P, a->ints + pos[k], fi[k].count, fi[k].name);
      if (got != fi[k].count)
        fail_at(P, s, "%s: %s takes %d values, got %d", opname, fi[k].name,
                fi[k].count, got);
    } else {
      nlist = int_list(P, a->ints + nfixed, MAX_INTS - nfixed, fi[k].name);
    }
  }
  for (int k = 0; k < nfi + nff; k++)
    if (!seen[k] && (k >= nfi || fi[k].count > 0))
      fail_at(P, P->p, "%s: missing attribute '%s'", opname, names[k]);
  a->nints = nfixed + nlist;
}

/* ---- lines ---- */

/* Checks the written type against the one the shape rule inferred. */
static void check_type(Parser *P, int i, DType t, const Shape *s, const char *at) {
  const Node *n = &P->g->node[i];
  if (n->dtype == t && shape_equal(&n->shape, s)) return;
  char w[128], f[128];
  shape_str(w, sizeof w, t, s);
  shape_str(f, sizeof f, n->dtype, &n->shape);
  fail_at(P, at, "type mismatch: written %s, inferred %s", w, f);
}

/* "op %a, %b attrs : type loc" for every op that is not a source. */
static int op_node(Parser *P, Op op, const char *opw) {
  int nin = 0;
  if (peek(P, '%')) {
    do {
      if (nin == MAX_OPERANDS)
        fail_at(P, P->p, "too many operands (at most %d)", MAX_OPERANDS);
      P->in[nin++] = operand(P);
    } while (accept(P, ','));
  }
  Attrs a = {0};
  op_attrs(P, op, &a);
  expect(P, ':', "':' before the type");
  DType t;
  Shape s;
  const char *tat;
  type(P, &t, &s, &tat);
  Loc loc = opt_loc(P);
  end_of_line(P);
  char why[256];
  int i = ir_add_shaped(P->g, op, P->in, nin, &a, t, s, loc, why);
  if (i < 0) fail_at(P, opw, "%s", why);
  check_type(P, i, t, &s, tat);
  return i;
}

/* ": type loc" ending a source line; a source shape may depend on N at
 * most once. *tat gets where the type starts (NULL: not wanted). */
static Loc source_type(Parser *P, DType *t, Shape *s, const char **at) {
  expect(P, ':', "':' before the type");
  const char *tat;
  type(P, t, s, &tat);
  if (at) *at = tat;
  if (nsym(s) > 1)
    fail_at(P, tat, "only one dimension may depend on the batch size N");
  Loc loc = opt_loc(P);
  end_of_line(P);
  return loc;
}

/* A name for an input or param, unique among its kind. */
static const char *source_name(Parser *P, NameMap *used, const char *kind) {
  skip_ws(P);
  const char *at = P->p;
  const char *name = string(P, "a quoted name");
  if (!*name) fail_at(P, at, "%s: the name is empty", kind);
  if (map_get(used, name, strlen(name)))
    fail_at(P, at, "duplicate %s name \"%s\"", kind, name);
  return name;
}

static int input_node(Parser *P) {
  const char *name = source_name(P, &P->inputs, "input");
  const char *w;
  size_t n = word(P, &w);
  if (!word_is(w, n, "data") && !word_is(w, n, "label")) {
    P->p = w;
    fail_at(P, w, "expected 'data' or 'label', found %s", describe(P));
  }
  InputKind kind = word_is(w, n, "label") ? IN_LABEL : IN_DATA;
  static const char *const names[] = {"classes"};
  bool seen[1] = {0};
  int64_t classes = 0;
  while (next_attr(P, "input", names, 1, seen) >= 0)
    classes = integer(P, 0, MAX_DIM, "a class count");
  DType t;
  Shape s;
  Loc loc = source_type(P, &t, &s, NULL);
  int i = ir_input(P->g, name, t, s, kind, classes, loc);
  map_put(&P->inputs, name, strlen(name), i);
  return i;
}

static InitKind init_kind(Parser *P) {
  const char *w;
  size_t n = word(P, &w);
  for (int k = 0; k < INIT_COUNT; k++)
    if (word_is(w, n, init_name[k])) return (InitKind)k;
  P->p = w;
  error_at(P, w, "unknown initializer %s", describe(P));
  Str b = {0};
  for (int k = 0; k < INIT_COUNT; k++) str_printf(&b, "%s%s", k ? ", " : "", init_name[k]);
  diag_hint("initializers are %s", b.s);
  str_free(&b);
  abandon(P);
}

/* param "name" init=K a=x b=y fan_in=i fan_out=o: init is required, the
 * others default to 0. */
static int param_node(Parser *P) {
  const char *name = source_name(P, &P->params, "param");
  static const char *const names[] = {"init", "a", "b", "fan_in", "fan_out"};
  bool seen[5] = {0};
  Init init = {0};
  for (int k; (k = next_attr(P, "param", names, 5, seen)) >= 0;) {
    switch (k) {
    case 0: init.kind = init_kind(P); break;
    case 1: init.a = number(P, "a number"); break;
    case 2: init.b = number(P, "a number"); break;
    case 3: init.fan_in = integer(P, 0, MAX_DIM, "a fan-in"); break;
    default: init.fan_out = integer(P, 0, MAX_DIM, "a fan-out"); break;
    }
  }
  if (!seen[0]) fail_at(P, P->p, "param: missing attribute 'init'");
  DType t;
  Shape s;
  Loc loc = source_type(P, &t, &s, NULL);
  int i = ir_param(P->g, name, t, s, init, loc);
  map_put(&P->params, name, strlen(name), i);
  return i;
}

/* state "name" : f32[...] — optimiser state, zero before the first step. */
static int state_node(Parser *P) {
  const char *name = source_name(P, &P->states, "state");
  DType t;
  Shape s;
  const char *tat;
  Loc loc = source_type(P, &t, &s, &tat);
  if (t != DT_F32) fail_at(P, tat, "state: optimizer state is f32, not %s", dtype_name[t]);
  int i = ir_state(P->g, name, s, loc);
  map_put(&P->states, name, strlen(name), i);
  return i;
}

/* hyper ["name"] [slot=K] : f32[] — a runtime scalar; the name and the
 * slot each say which, and must agree when both are written. */
static int hyper_node(Parser *P) {
  skip_ws(P);
  const char *nat = P->p, *name = peek(P, '"') ? string(P, "a quoted name") : NULL;
  int slot = -1;
  if (name) {
    for (int k = 0; k < H_COUNT; k++)
      if (strcmp(name, hyper_name[k]) == 0) slot = k;
    if (slot < 0) {
      error_at(P, nat, "hyper: unknown hyper-parameter \"%.40s\"", name);
      Str b = {0};
      for (int k = 0; k < H_COUNT; k++) str_printf(&b, "%s%s", k ? ", " : "", hyper_name[k]);
      diag_hint("the hyper-parameters are %s", b.s);
      str_free(&b);
      abandon(P);
    }
  }
  static const char *const names[] = {"slot"};
  bool seen[1] = {0};
  if (next_attr(P, "hyper", names, 1, seen) >= 0) {
    skip_ws(P);
    const char *sat = P->p;
    int k = (int)integer(P, 0, H_COUNT - 1, "a hyper-parameter slot");
    if (name && k != slot)
      fail_at(P, sat, "hyper: slot %d is \"%s\", not \"%s\"", k, hyper_name[k], name);
    slot = k;
  }
  if (slot < 0) fail_at(P, P->p, "hyper: needs a name or slot=K");
  DType t;
  Shape s;
  const char *tat;
  Loc loc = source_type(P, &t, &s, &tat);
  int i = ir_hyper(P->g, (HyperSlot)slot, loc);
  check_type(P, i, t, &s, tat);
  return i;
}

/* "data=[v,...]" into P->data. */
static void const_data(Parser *P) {
  P->ndata = 0;
  expect(P, '[', "'['");
  if (accept(P, ']')) return;
  do {
    if (P->ndata == P->capdata) {
      P->capdata = P->capdata ? 2 * P->capdata : 64;
      P->data = realloc(P->data, sizeof(double) * (size_t)P->capdata);
      if (!P->data) die("out of memory");
    }
    P->data[P->ndata++] = number(P, "a number");
  } while (accept(P, ','));
  expect(P, ']', "',' or ']'");
}

/* const value=v data=[...]: at least one of the two. */
static int const_node(Parser *P) {
  static const char *const names[] = {"value", "data"};
  bool seen[2] = {0};
  double value = 0;
  const char *at = P->p;
  for (int k; (k = next_attr(P, "const", names, 2, seen)) >= 0;) {
    if (k == 0)
      value = number(P, "a number");
    else
      const_data(P);
  }
  if (!seen[0] && !seen[1])
    fail_at(P, P->p, "const: needs value=v or data=[...]");
  DType t;
  Shape s;
  Loc loc = source_type(P, &t, &s, NULL);
  if (seen[1]) {
    Size z = shape_numel(&s);
    if (z.sym) fail_at(P, at, "const: data needs a static shape");
    if (z.k != P->ndata)
      fail_at(P, at, "const: %lld data values for a shape of %lld elements",
              (long long)P->ndata, (long long)z.k);
  }
  return ir_const(P->g, t, s, value, seen[1] ? P->data : NULL, loc);
}

static int edit_distance(const char *a, size_t na, const char *b) {
  int row[64];
  size_t nb = strlen(b);
  if (na >= 63 || nb >= 63) return 99;
  for (size_t j = 0; j <= nb; j++) row[j] = (int)j;
  for (size_t i = 1; i <= na; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= nb; j++) {
      int up = row[j];
      int best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[nb];
}

noreturn static void unknown_op(Parser *P, const char *w, size_t n) {
  error_at(P, w, "unknown op '%.*s'", (int)(n > 40 ? 40 : n), w);
  int best = -1, bestd = 3;
  for (int k = 0; k < OP_COUNT; k++) {
    int d = edit_distance(w, n, op_info[k].name);
    if (d < bestd && (size_t)d < n) best = k, bestd = d;
  }
  if (best >= 0) diag_hint("did you mean '%s'?", op_info[best].name);
  abandon(P);
}

/* %name = op ... */
static void node_line(Parser *P) {
  const char *name;
  size_t len = ref_name(P, &name);
  if (map_get(&P->vals, name, len))
    fail_at(P, name - 1, "redefinition of %%%.*s", (int)(len > 40 ? 40 : len), name);
  P->def = name;
  P->deflen = len;
  expect(P, '=', "'=' after the name");
  const char *w;
  size_t n = word(P, &w);
  if (!n) fail_at(P, w, "expected an op name, found %s", describe(P));
  char opname[32];
  if (n >= sizeof opname) unknown_op(P, w, n);
  memcpy(opname, w, n);
  opname[n] = 0;
  int op = op_lookup(opname);
  if (op < 0) unknown_op(P, w, n);
  int i = op == OP_INPUT ? input_node(P)
        : op == OP_PARAM ? param_node(P)
        : op == OP_CONST ? const_node(P)
        : op == OP_STATE ? state_node(P)
        : op == OP_HYPER ? hyper_node(P)
        : op_node(P, (Op)op, w);
  map_put(&P->vals, name, len, i);
  P->def = NULL;
}

static void output_line(Parser *P) {
  skip_ws(P);
  const char *at = P->p;
  const char *name = string(P, "a quoted output name");
  if (!*name) fail_at(P, at, "output: the name is empty");
  if (map_get(&P->outputs, name, strlen(name)))
    fail_at(P, at, "duplicate output name \"%s\"", name);
  int node = operand(P);
  Loc loc = opt_loc(P);
  end_of_line(P);
  ir_output(P->g, name, node, loc);
  map_put(&P->outputs, name, strlen(name), node);
}

/* loss %x [loc]: the location printed is the loss node's; on input it is
 * optional and not kept (the node has its own). */
static void loss_line(Parser *P, const char *w) {
  skip_ws(P);
  const char *at = P->p;
  int node = operand(P);
  int len = (int)(P->p - at > 40 ? 40 : P->p - at);
  opt_loc(P);
  end_of_line(P);
  if (P->loss_seen) fail_at(P, w, "the loss is given twice");
  const Node *n = &P->g->node[node];
  if (n->dtype != DT_F32 || n->shape.rank != 0) {
    char b[128];
    shape_str(b, sizeof b, n->dtype, &n->shape);
    fail_at(P, at, "the loss must be a scalar f32 node, %.*s is %s", len, at, b);
  }
  P->loss_seen = true;
  P->g->loss = node;
}

static void train_line(Parser *P) {
  const char *key = string(P, "a quoted key");
  const char *value = string(P, "a quoted value");
  Loc loc = opt_loc(P);
  end_of_line(P);
  ir_train_kv(P->g, key, value, loc);
}

static void model_line(Parser *P, const char *w) {
  const char *name = string(P, "a quoted model name");
  end_of_line(P);
  if (P->model_seen) fail_at(P, w, "the model name is given twice");
  P->model_seen = true;
  P->g->name = name;
}

static void parse_line(Parser *P) {
  if (at_eol(P)) return;
  if (peek(P, '%')) {
    node_line(P);
    return;
  }
  const char *w;
  size_t n = word(P, &w);
  if (word_is(w, n, "model"))
    model_line(P, w);
  else if (word_is(w, n, "output"))
    output_line(P);
  else if (word_is(w, n, "loss"))
    loss_line(P, w);
  else if (word_is(w, n, "train"))
    train_line(P);
  else {
    P->p = w;
    fail_at(P, w, "expected %%name, 'model', 'output', 'loss' or 'train', found %s",
            describe(P));
  }
}

/* diag_add_source keeps a pointer to the text, and Locs into this file may
 * be reported long after the caller's buffer is gone, so keep a copy per
 * file name for the life of the process (replaced when the file is parsed
 * again). Past the table's size the caller's text is used as it is. */
static const char *keep_source(const char *file, const char *text) {
  static struct {
    const char *file;
    char *text;
  } kept[64];
  static int nkept;
  int k = 0;
  while (k < nkept && kept[k].file != file) k++;
  if (k == 64) return text;
  char *copy = strdup(text);
  if (!copy) die("out of memory");
  diag_add_source(file, copy);
  free(kept[k].text);
  kept[k].file = file;
  kept[k].text = copy;
  if (k == nkept) nkept++;
  return copy;
}

static void free_parser(Parser *P) {
  map_free(&P->vals);
  map_free(&P->inputs);
  map_free(&P->params);
  map_free(&P->states);
  map_free(&P->outputs);
  str_free(&P->buf);
  free(P->data);
  free(P);
}

Graph *ir_parse(const char *file, const char *text) {
  Parser *P = calloc(1, sizeof *P);
  if (!P) die("out of memory");
  P->file = intern(file ? file : "<ir>");
  const char *l = keep_source(P->file, text ? text : "");
  P->g = ir_new_graph(NULL);
  for (;;) {
    const char *e = strchr(l, '\n');
    if (!e) e = l + strlen(l);
    P->line = P->p = l;
    P->end = e;
    if (P->lineno < INT_MAX) P->lineno++;
    if (setjmp(P->fail) == 0)
      parse_line(P);
    else if (P->def)
      map_put(&P->vals, P->def, P->deflen, POISON);
    P->def = NULL;
    if (!*e) break;
    l = e + 1;
  }
  Graph *g = P->g;
  if (P->nerr) {
    ir_free_graph(g);
    g = NULL;
  }
  free_parser(P);
  return g;
}
