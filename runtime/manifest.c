/* manifest.c — parse the model description a generated program carries.
 *
 * The one idea: the manifest is the whole contract between the compiler
 * and the runtime (what to allocate, where each tensor lives, how to
 * initialise each parameter), so it is checked as strictly as a file from
 * a stranger: every line against its grammar, the lines' order, every
 * tensor against the region it claims to live in, every size for
 * overflow. An error names the line and what is wrong. The format is
 * specified in doc/manifest.txt.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dlrt.h"

enum { MAX_LINE = 1024, MAX_TOK = 32 };

/* Line kinds in the order they must appear. An entry is a block: its
 * `entry` line, then its `in` lines, then its `out` lines; blocks repeat
 * (see check_order). */
typedef enum {
  L_HEADER, L_MODEL, L_SIGNATURE, L_DLC, L_WEIGHTS, L_STATE, L_INPUT,
  L_PARAM, L_STATE_TENSOR, L_HYPER, L_ENTRY, L_IN, L_OUT, L_TRAIN, L_END,
  L_COUNT
} LineKind;

static const char *const line_word[L_COUNT] = {
  "dlc-manifest", "model", "signature", "dlc", "weights", "state", "input",
  "param", "state_tensor", "hyper", "entry", "in", "out", "train", "end",
};

/* Hyper-parameter names the runtime knows how to fill (doc/manifest.txt). */
static const char *const hyper_names[] = {
  "lr", "momentum", "beta1", "beta2", "rho", "eps", "weight_decay", "l1",
  "l2", "clip_norm", "bias_correction1", "bias_correction2",
};

static const char *const entry_names[DLRT_ENTRIES] = {"forward", "eval", "train"};

typedef struct Parser {
  dlrt_model *m;
  int line;                   /* 1-based number of the current line */
  char *err;
  LineKind last;              /* kind of the previous line */
  bool seen[L_COUNT];
  dlrt_entry *cur;            /* the entry whose block is open, or NULL */
  int cur_kind;
  char *tok[MAX_TOK];
  int ntok;
  int cap_in, cap_param, cap_state, cap_hyper, cap_train, cap_ein, cap_eout;
} Parser;

__attribute__((format(printf, 2, 3)))
static bool fail(Parser *p, const char *fmt, ...) {
  va_list ap;
  int n = snprintf(p->err, DLRT_ERR_LEN, "manifest line %d: ", p->line);
  va_start(ap, fmt);
  if (n >= 0 && n < DLRT_ERR_LEN)
    vsnprintf(p->err + n, DLRT_ERR_LEN - (size_t)n, fmt, ap);
  va_end(ap);
  return false;
}

const char *dlrt_dtype_name(dlrt_dtype t) {
  return t == DLRT_I32 ? "i32" : "f32";
}

const char *dlrt_entry_name(int kind) {
  return kind >= 0 && kind < DLRT_ENTRIES ? entry_names[kind] : "?";
}

/* ---- tokens ---------------------------------------------------------- */

static bool parse_i64(Parser *p, const char *tok, const char *what,
                      int64_t lo, int64_t hi, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(tok, &end, 10);
  if (end == tok || *end || errno == ERANGE || !(isdigit((unsigned char)*tok) || *tok == '-'))
    return fail(p, "%s: '%s' is not an integer", what, tok);
  if (v < lo || v > hi)
    return fail(p, "%s: %lld is out of range %lld..%lld", what, v,
                (long long)lo, (long long)hi);
  *out = v;
  return true;
}

static bool parse_f64(Parser *p, const char *tok, const char *what,
                      double *out) {
  char *end;
  double v = strtod(tok, &end);
  if (end == tok || *end || !isfinite(v))
    return fail(p, "%s: '%s' is not a finite number", what, tok);
  *out = v;
  return true;
}

static bool copy_name(Parser *p, char *dst, size_t cap, const char *tok,
                      const char *what) {
  if (strlen(tok) >= cap)
    return fail(p, "%s '%.40s...' is longer than %zu characters", what, tok,
                cap - 1);
  strcpy(dst, tok);
  return true;
}

static bool want_tokens(Parser *p, int n) {
  if (p->ntok != n)
    return fail(p, "'%s' line has %d fields, want %d", p->tok[0], p->ntok, n);
  return true;
}

/* Split the line in buf into whitespace-separated tokens. */
static bool tokenize(Parser *p, char *buf) {
  p->ntok = 0;
  for (char *s = buf; *s;) {
    while (*s == ' ' || *s == '\t')
      *s++ = 0;
    if (!*s)
      break;
    if (p->ntok == MAX_TOK)
      return fail(p, "more than %d fields", MAX_TOK);
    p->tok[p->ntok++] = s;
    while (*s && *s != ' ' && *s != '\t')
      s++;
  }
  return true;
}

static bool grow(Parser *p, void **arr, int *cap, int n, size_t size) {
  if (n < *cap)
    return true;
  int nc = *cap ? *cap * 2 : 8;
  void *q = realloc(*arr, (size_t)nc * size);
  if (!q)
    return fail(p, "out of memory");
  *arr = q;
  *cap = nc;
  return true;
}

/* ---- tensors --------------------------------------------------------- */

int64_t dlrt_numel(const dlrt_tensor *t, int64_t N) {
  int64_t n = 1;
  for (int i = 0; i < t->rank; i++)
    n *= t->dim[i] < 0 ? -t->dim[i] * N : t->dim[i];
  return n;
}

int64_t dlrt_tensor_bytes(const dlrt_tensor *t, int64_t N) {
  return dlrt_numel(t, N) * 4;
}

/* Bytes of t at batch size N, false on overflow. */
static bool checked_bytes(const dlrt_tensor *t, int64_t N, int64_t *out) {
  int64_t n = 4;
  for (int i = 0; i < t->rank; i++) {
    int64_t d = t->dim[i];
    if (d < 0 && __builtin_mul_overflow(-d, N, &d))
      return false;
    if (__builtin_mul_overflow(n, d, &n))
      return false;
  }
  *out = n;
  return true;
}

static int batch_dims(const dlrt_tensor *t) {
  int k = 0;
  for (int i = 0; i < t->rank; i++)
    k += t->dim[i] < 0;
  return k;
}

/* Fields: dtype (the token dt), then from tok[*i]: rank d0 ... d(rank-1).
 * want_base is the number of fields the line has besides the dims. */
static bool parse_shape(Parser *p, const char *dt, int *i, dlrt_tensor *t,
                        int want_base) {
  if (strcmp(dt, "f32") == 0)
    t->dtype = DLRT_F32;
  else if (strcmp(dt, "i32") == 0)
    t->dtype = DLRT_I32;
  else
    return fail(p, "dtype '%s' of '%s': want f32 or i32", dt, t->name);
  int64_t rank;
  if (!parse_i64(p, p->tok[(*i)++], "rank", 0, DLRT_MAX_RANK, &rank) ||
      !want_tokens(p, want_base + (int)rank))
    return false;
  t->rank = (int)rank;
  for (int d = 0; d < t->rank; d++) {
    if (!parse_i64(p, p->tok[(*i)++], "dimension", -((int64_t)1 << 40),
                   (int64_t)1 << 40, &t->dim[d]))
      return false;
    if (t->dim[d] == 0)
      return fail(p, "dimension %d of '%s' is 0", d, t->name);
  }
  if (batch_dims(t) > 1)
    return fail(p, "'%s' has more than one batch (negative) dimension",
                t->name);
  int64_t bytes;
  if (!checked_bytes(t, DLRT_MAX_BATCH, &bytes))
    return fail(p, "size of '%s' overflows at batch size %lld", t->name,
                (long long)DLRT_MAX_BATCH);
  return true;
}

/* Bytes region r offers for tensors: fixed k and per sample n. ACT and
 * ACTN belong to the open entry. */
static void region_size(const Parser *p, int r, int64_t *k, int64_t *n) {
  *k = *n = 0;
  if (r == DLRT_R_WEIGHT)
    *k = p->m->weight_bytes;
  else if (r == DLRT_R_STATE)
    *k = p->m->state_bytes;
  else if (r == DLRT_R_ACT && p->cur)
    *k = p->cur->act_k;
  else if (r == DLRT_R_ACTN && p->cur)
    *n = p->cur->act_n;
}

/* Place t at (r, off) and check that it lies inside its region for every
 * batch size N >= 1: in ACTN (size n*N) a tensor occupies [off*N,
 * off*N + bytes(N)), so it needs off + b1 <= n, b1 its bytes at N = 1;
 * elsewhere off + bytes <= k and no batch dimension. */
static bool place(Parser *p, dlrt_tensor *t, int64_t r, int64_t off) {
  int64_t b1 = 0, end, k, n;
  t->region = (int)r;
  t->off = off;
  checked_bytes(t, 1, &b1);  /* cannot overflow: checked at a larger N */
  region_size(p, (int)r, &k, &n);
  bool batched = batch_dims(t) == 1;
  if (r != DLRT_R_ACTN && batched)
    return fail(p, "'%s' has a batch dimension but region %lld is "
                "batch-independent", t->name, (long long)r);
  bool fits = !__builtin_add_overflow(off, b1, &end) &&
              (r == DLRT_R_ACTN ? end <= n : end <= k);
  if (!fits)
    return fail(p, "'%s' (%lld bytes at offset %lld) does not fit in region "
                "%lld (%lld + %lld*N bytes)", t->name, (long long)b1,
                (long long)off, (long long)r, (long long)k, (long long)n);
  return true;
}

/* Fields from tok[*i]: region off, for an entry's in and out lines. */
static bool parse_place(Parser *p, int *i, dlrt_tensor *t) {
  int64_t r, off;
  if (!parse_i64(p, p->tok[(*i)++], "region", 1, DLRT_REGIONS - 1, &r) ||
      !parse_i64(p, p->tok[(*i)++], "offset", 0, (int64_t)1 << 50, &off))
    return false;
  return place(p, t, r, off);
}

/* Field tok[i]: the offset of a tensor in region r (params, state). */
static bool parse_off(Parser *p, int i, dlrt_tensor *t, int r) {
  int64_t off;
  return parse_i64(p, p->tok[i], "offset", 0, (int64_t)1 << 50, &off) &&
         place(p, t, r, off);
}

static bool check_unique(Parser *p, const dlrt_tensor *ts, int n,
                         const char *name, const char *kind) {
  for (int i = 0; i < n; i++)
    if (strcmp(ts[i].name, name) == 0)
      return fail(p, "duplicate %s '%s'", kind, name);
  return true;
}

/* ---- model lines ----------------------------------------------------- */

static bool line_header(Parser *p) {
  int64_t v;
  if (!want_tokens(p, 2) ||
      !parse_i64(p, p->tok[1], "manifest version", 0, INT32_MAX, &v))
    return false;
  if (v != DLRT_MANIFEST_VERSION)
    return fail(p, "unsupported manifest version %lld (this runtime reads "
                "version %d)", (long long)v, DLRT_MANIFEST_VERSION);
  return true;
}

static bool line_signature(Parser *p) {
  if (!want_tokens(p, 2))
    return false;
  const char *s = p->tok[1];
  size_t n = strlen(s);
  if (n < 1 || n > 16 || strspn(s, "0123456789abcdefABCDEF") != n)
    return fail(p, "signature '%s' is not 1 to 16 hex digits", s);
  p->m->signature = strtoull(s, NULL, 16);
  return true;
}

/* weights <bytes> | state <bytes> */
static bool line_bytes(Parser *p, int64_t *out) {
  return want_tokens(p, 2) &&
         parse_i64(p, p->tok[1], "bytes", 0, (int64_t)1 << 50, out);
}

/* input <name> <dtype> <data|label> <classes> <rank> <dims> */
static bool line_input(Parser *p) {
  dlrt_model *m = p->m;
  dlrt_tensor t = {0};
  int i = 5;
  if (p->ntok < 6)
    return fail(p, "'input' line is too short");
  const char *kind = p->tok[3];
  if (!copy_name(p, t.name, sizeof t.name, p->tok[1], "input name"))
    return false;
  if (strcmp(kind, "data") != 0 && strcmp(kind, "label") != 0)
    return fail(p, "input kind '%s': want data or label", kind);
  t.label = kind[0] == 'l';
  if (!parse_i64(p, p->tok[4], "classes", 0, INT32_MAX, &t.classes) ||
      !parse_shape(p, p->tok[2], &i, &t, 6) ||
      !check_unique(p, m->inputs, m->ninputs, t.name, "input") ||
      !grow(p, (void **)&m->inputs, &p->cap_in, m->ninputs, sizeof t))
    return false;
  m->inputs[m->ninputs++] = t;
  return true;
}

static bool parse_init(Parser *p, int i, dlrt_tensor *t) {
  if (!copy_name(p, t->init, sizeof t->init, p->tok[i], "init kind"))
    return false;
  if (!dlrt_init_known(t->init))
    return fail(p, "unknown init '%s' for param '%s'", t->init, t->name);
  if (!parse_f64(p, p->tok[i + 1], "init a", &t->init_a) ||
      !parse_f64(p, p->tok[i + 2], "init b", &t->init_b) ||
      !parse_i64(p, p->tok[i + 3], "fan_in", 0, INT64_MAX / 4, &t->fan_in) ||
      !parse_i64(p, p->tok[i + 4], "fan_out", 0, INT64_MAX / 4, &t->fan_out))
    return false;
  bool fans = strncmp(t->init, "xavier", 6) == 0 || strncmp(t->init, "he_", 3) == 0;
  if (fans && (t->fan_in < 1 || (t->init[0] == 'x' && t->fan_out < 1)))
    return fail(p, "init '%s' of '%s' needs fans >= 1 (got fan_in %lld, "
                "fan_out %lld)", t->init, t->name, (long long)t->fan_in,
                (long long)t->fan_out);
  return true;
}

/* param <name> <dtype> <rank> <dims> <off> <init> <a> <b> <fan_in>
 *       <fan_out>  (region: weights) */
static bool line_param(Parser *p) {
  dlrt_model *m = p->m;
  dlrt_tensor t = {0};
  int i = 3;
  if (p->ntok < 10)
    return fail(p, "'param' line is too short");
  if (!copy_name(p, t.name, sizeof t.name, p->tok[1], "param name") ||
      !parse_shape(p, p->tok[2], &i, &t, 10))
    return false;
  if (batch_dims(&t) > 0)
    return fail(p, "param '%s' has a batch dimension", t.name);
  if (!parse_off(p, i, &t, DLRT_R_WEIGHT) || !parse_init(p, i + 1, &t) ||
      !check_unique(p, m->params, m->nparams, t.name, "param") ||
      !grow(p, (void **)&m->params, &p->cap_param, m->nparams, sizeof t))
    return false;
  m->params[m->nparams++] = t;
  return true;
}

/* state_tensor <name> <dtype> <rank> <dims> <off>  (region: state) */
static bool line_state_tensor(Parser *p) {
  dlrt_model *m = p->m;
  dlrt_tensor t = {0};
  int i = 3;
  if (p->ntok < 5)
    return fail(p, "'state_tensor' line is too short");
  if (!copy_name(p, t.name, sizeof t.name, p->tok[1], "state tensor name") ||
      !parse_shape(p, p->tok[2], &i, &t, 5))
    return false;
  if (batch_dims(&t) > 0)
    return fail(p, "state tensor '%s' has a batch dimension", t.name);
  if (!parse_off(p, i, &t, DLRT_R_STATE) ||
      !check_unique(p, m->states, m->nstates, t.name, "state tensor") ||
      !grow(p, (void **)&m->states, &p->cap_state, m->nstates, sizeof t))
    return false;
  m->states[m->nstates++] = t;
  return true;
}

/* hyper <slot> <name> <default> */
static bool line_hyper(Parser *p) {
  dlrt_model *m = p->m;
  dlrt_hyper h = {0};
  int64_t slot;
  bool known = false;
  if (!want_tokens(p, 4) ||
      !parse_i64(p, p->tok[1], "hyper slot", 0, DLRT_HYPERS - 1, &slot) ||
      !copy_name(p, h.name, sizeof h.name, p->tok[2], "hyper name") ||
      !parse_f64(p, p->tok[3], "hyper default", &h.value))
    return false;
  h.slot = (int)slot;
  for (size_t k = 0; k < sizeof hyper_names / sizeof hyper_names[0]; k++)
    known |= strcmp(h.name, hyper_names[k]) == 0;
  if (!known)
    return fail(p, "unknown hyper-parameter '%s' (this runtime fills lr, "
                "momentum, beta1, beta2, rho, eps, weight_decay, l1, l2, "
                "clip_norm, bias_correction1, bias_correction2)", h.name);
  for (int k = 0; k < m->nhypers; k++)
    if (m->hypers[k].slot == h.slot || strcmp(m->hypers[k].name, h.name) == 0)
      return fail(p, "duplicate hyper slot %d or name '%s'", h.slot, h.name);
  if (!grow(p, (void **)&m->hypers, &p->cap_hyper, m->nhypers, sizeof h))
    return false;
  m->hypers[m->nhypers++] = h;
  return true;
}

/* ---- entry blocks ---------------------------------------------------- */

/* End the open entry block: eval and train must leave the scalar loss. */
static bool close_entry(Parser *p) {
  const dlrt_entry *e = p->cur;
  p->cur = NULL;
  if (!e || p->cur_kind == DLRT_E_FORWARD)
    return true;
  const dlrt_tensor *loss = dlrt_entry_output(e, "loss");
  if (!loss || loss->dtype != DLRT_F32 || loss->rank != 0)
    return fail(p, "entry %s has no scalar output 'loss' (out loss f32 0 "
                "<region> <off>) before this line", entry_names[p->cur_kind]);
  return true;
}

/* entry <forward|eval|train> <act bytes fixed> <act bytes per sample> */
static bool line_entry(Parser *p) {
  int64_t k, n;
  int kind = -1;
  if (!close_entry(p) || !want_tokens(p, 4))
    return false;
  for (int j = 0; j < DLRT_ENTRIES; j++)
    if (strcmp(p->tok[1], entry_names[j]) == 0)
      kind = j;
  if (kind < 0)
    return fail(p, "entry kind '%.40s': want forward, eval or train", p->tok[1]);
  dlrt_entry *e = &p->m->entry[kind];
  if (e->present)
    return fail(p, "duplicate entry '%s'", entry_names[kind]);
  if (!parse_i64(p, p->tok[2], "fixed bytes", 0, (int64_t)1 << 50, &k) ||
      !parse_i64(p, p->tok[3], "bytes per sample", 0, (int64_t)1 << 50, &n))
    return false;
  if (n > (INT64_MAX - k - 64) / DLRT_MAX_BATCH)
    return fail(p, "entry %s: activation size overflows at batch size %lld",
                entry_names[kind], (long long)DLRT_MAX_BATCH);
  e->present = true;
  e->act_k = k;
  e->act_n = n;
  p->cur = e;
  p->cur_kind = kind;
  p->cap_ein = p->cap_eout = 0;
  return true;
}

/* in <input name> <region> <off> */
static bool line_in(Parser *p) {
  dlrt_entry *e = p->cur;
  const dlrt_tensor *src = NULL;
  int i = 2;
  if (!want_tokens(p, 4))
    return false;
  for (int k = 0; k < p->m->ninputs; k++)
    if (strcmp(p->m->inputs[k].name, p->tok[1]) == 0)
      src = &p->m->inputs[k];
  if (!src)
    return fail(p, "'in' names '%.64s', which is not an input", p->tok[1]);
  dlrt_tensor t = *src;
  if (!parse_place(p, &i, &t) ||
      !check_unique(p, e->in, e->nin, t.name, "'in' of this entry for input") ||
      !grow(p, (void **)&e->in, &p->cap_ein, e->nin, sizeof t))
    return false;
  e->in[e->nin++] = t;
  return true;
}

/* out <name> <dtype> <rank> <dims> <region> <off> */
static bool line_out(Parser *p) {
  dlrt_entry *e = p->cur;
  dlrt_tensor t = {0};
  int i = 3;
  if (p->ntok < 6)
    return fail(p, "'out' line is too short");
  if (!copy_name(p, t.name, sizeof t.name, p->tok[1], "output name") ||
      !parse_shape(p, p->tok[2], &i, &t, 6) || !parse_place(p, &i, &t) ||
      !check_unique(p, e->out, e->nout, t.name, "output") ||
      !grow(p, (void **)&e->out, &p->cap_eout, e->nout, sizeof t))
    return false;
  e->out[e->nout++] = t;
  return true;
}

/* train <key> <value>: the value is the rest of the raw line after the
 * key and one space (it may contain spaces, or be empty). buf is the
 * tokenized copy of raw. */
static bool line_train(Parser *p, const char *raw, const char *buf) {
  dlrt_model *m = p->m;
  dlrt_kv kv = {{0}, {0}};
  if (p->ntok < 2)
    return fail(p, "'train' line has no key");
  if (!copy_name(p, kv.key, sizeof kv.key, p->tok[1], "train key"))
    return false;
  const char *v = raw + (p->tok[1] - buf) + strlen(kv.key);
  v += *v == ' ' || *v == '\t';
  if (!copy_name(p, kv.value, sizeof kv.value, v, "train value"))
    return false;
  for (int i = 0; i < m->ntrain; i++)
    if (strcmp(m->train[i].key, kv.key) == 0)
      return fail(p, "duplicate train key '%s'", kv.key);
  if (!grow(p, (void **)&m->train, &p->cap_train, m->ntrain, sizeof kv))
    return false;
  m->train[m->ntrain++] = kv;
  return true;
}

/* ---- the file -------------------------------------------------------- */

static LineKind find_kind(const char *word) {
  for (int k = 0; k < L_COUNT; k++)
    if (strcmp(word, line_word[k]) == 0)
      return (LineKind)k;
  return L_COUNT;
}

/* Check that a line of kind k may come now: kinds in order, singletons
 * once, the required singletons before anything that follows them; an
 * `entry` line may follow the in/out lines of the previous entry, and
 * in/out lines need an entry. A `train` or `end` line closes the last
 * entry block. */
static bool check_order(Parser *p, LineKind k) {
  bool repeats = k == L_INPUT || k == L_PARAM || k == L_STATE_TENSOR ||
                 k == L_HYPER || k == L_ENTRY || k == L_IN || k == L_OUT ||
                 k == L_TRAIN;
  if (!p->seen[L_HEADER] && k != L_HEADER)
    return fail(p, "expected 'dlc-manifest %d' as the first line, got '%s'",
                DLRT_MANIFEST_VERSION, line_word[k]);
  if (p->seen[k] && !repeats)
    return fail(p, "duplicate '%s' line", line_word[k]);
  bool new_block = k == L_ENTRY && (p->last == L_IN || p->last == L_OUT);
  if (k < p->last && !new_block)
    return fail(p, "'%s' line after '%s' lines (see doc/manifest.txt for the "
                "order)", line_word[k], line_word[p->last]);
  for (int r = L_MODEL; r <= L_STATE; r++)
    if (r < (int)k && !p->seen[r])
      return fail(p, "missing '%s' line before this '%s' line", line_word[r],
                  line_word[k]);
  if ((k == L_IN || k == L_OUT) && !p->cur)
    return fail(p, "'%s' line outside an entry block", line_word[k]);
  if ((k == L_TRAIN || k == L_END) && !close_entry(p))
    return false;
  if (k > L_OUT && !p->m->entry[DLRT_E_FORWARD].present)
    return fail(p, "no 'entry forward' block before this '%s' line", line_word[k]);
  p->seen[k] = true;
  p->last = k;
  return true;
}

static bool parse_line(Parser *p, const char *raw) {
  char buf[MAX_LINE];
  strcpy(buf, raw);
  if (!tokenize(p, buf))
    return false;
  if (p->ntok == 0)
    return true;
  LineKind k = find_kind(p->tok[0]);
  if (k == L_COUNT)
    return fail(p, "unknown line kind '%.40s'", p->tok[0]);
  if (!check_order(p, k))
    return false;
  dlrt_model *m = p->m;
  switch (k) {
  case L_HEADER: return line_header(p);
  case L_MODEL:
    return want_tokens(p, 2) && copy_name(p, m->name, sizeof m->name, p->tok[1], "model name");
  case L_SIGNATURE: return line_signature(p);
  case L_DLC:
    return want_tokens(p, 2) &&
           copy_name(p, m->dlc_version, sizeof m->dlc_version, p->tok[1], "dlc version");
  case L_WEIGHTS: return line_bytes(p, &m->weight_bytes);
  case L_STATE: return line_bytes(p, &m->state_bytes);
  case L_INPUT: return line_input(p);
  case L_PARAM: return line_param(p);
  case L_STATE_TENSOR: return line_state_tensor(p);
  case L_HYPER: return line_hyper(p);
  case L_ENTRY: return line_entry(p);
  case L_IN: return line_in(p);
  case L_OUT: return line_out(p);
  case L_TRAIN: return line_train(p, raw, buf);
  case L_END: return want_tokens(p, 1);
  case L_COUNT: break;
  }
  return fail(p, "internal error: line kind %d", (int)k);
}

/* Contract in dlrt.h. On failure m is left empty (freed). Parsing stops
 * at the 'end' line; what follows it is ignored. */
bool dlrt_manifest_parse(dlrt_model *m, const char *text, char *err) {
  Parser p = {.m = m, .err = err};
  memset(m, 0, sizeof *m);
  err[0] = 0;
  const char *s = text;
  bool ok = true;
  while (ok && *s && !p.seen[L_END]) {
    p.line++;
    size_t n = strcspn(s, "\n");
    char raw[MAX_LINE];
    if (n >= MAX_LINE) {
      ok = fail(&p, "line longer than %d characters", MAX_LINE - 1);
      break;
    }
    memcpy(raw, s, n);
    raw[n] = 0;
    if (n > 0 && raw[n - 1] == '\r')
      raw[n - 1] = 0;
    ok = parse_line(&p, raw);
    s += n + (s[n] == '\n');
  }
  if (ok && !p.seen[L_END]) {
    p.line++;
    ok = fail(&p, "missing 'end' line (manifest truncated?)");
  }
  ok = ok && dlrt_decode_parse(m, err);
  if (!ok)
    dlrt_model_free(m);
  return ok;
}

void dlrt_model_free(dlrt_model *m) {
  free(m->inputs);
  free(m->params);
  free(m->states);
  free(m->hypers);
  for (int e = 0; e < DLRT_ENTRIES; e++) {
    free(m->entry[e].in);
    free(m->entry[e].out);
  }
  free(m->train);
  memset(m, 0, sizeof *m);
}

const char *dlrt_train_get(const dlrt_model *m, const char *key) {
  for (int i = 0; i < m->ntrain; i++)
    if (strcmp(m->train[i].key, key) == 0)
      return m->train[i].value;
  return NULL;
}

bool dlrt_train_set(dlrt_model *m, const char *key, const char *value,
                    char *err) {
  dlrt_kv *kv = NULL;
  if (strlen(key) >= sizeof kv->key || strlen(value) >= sizeof kv->value) {
    snprintf(err, DLRT_ERR_LEN, "train key '%.64s': the key or its value is "
             "too long (at most 63 and 255 characters)", key);
    return false;
  }
  for (int i = 0; i < m->ntrain && !kv; i++)
    if (strcmp(m->train[i].key, key) == 0)
      kv = &m->train[i];
  if (!kv) {
    dlrt_kv *t = realloc(m->train, sizeof *t * ((size_t)m->ntrain + 1));
    if (!t) {
      snprintf(err, DLRT_ERR_LEN, "out of memory");
      return false;
    }
    m->train = t;
    kv = &m->train[m->ntrain++];
    strcpy(kv->key, key);
  }
  strcpy(kv->value, value);
  return true;
}

static const dlrt_tensor *find_tensor(const dlrt_tensor *t, int n,
                                      const char *name) {
  for (int i = 0; i < n; i++)
    if (strcmp(t[i].name, name) == 0)
      return &t[i];
  return NULL;
}

const dlrt_tensor *dlrt_entry_input(const dlrt_entry *e, const char *name) {
  return find_tensor(e->in, e->nin, name);
}

const dlrt_tensor *dlrt_entry_output(const dlrt_entry *e, const char *name) {
  return find_tensor(e->out, e->nout, name);
}

const dlrt_hyper *dlrt_model_hyper(const dlrt_model *m, const char *name) {
  for (int i = 0; i < m->nhypers; i++)
    if (strcmp(m->hypers[i].name, name) == 0)
      return &m->hypers[i];
  return NULL;
}
