/* header.c — the C header backend: the forward entry as one dependency-free
 * C99 header (dlc header), weights included.
 *
 * The one idea: this is a second printer of the kernel IR. Each kernel
 * becomes a C function over restrict pointers, written the way llvm.c
 * builds its IR (the same loops, the same expressions, the same buffers),
 * so the two backends can only differ in rounding. Where llvm.c has its
 * own implementation of a construct, so does this file: a KGemm becomes a
 * blocked matrix product in plain C with literal bounds, whose inner loops
 * compilers vectorize. The planned activation arena becomes the caller's
 * context struct, the checkpoint's parameters become constant arrays, and
 * the entry becomes one function, <prefix>_predict, that runs the kernels
 * in order for a fixed batch size. Nothing is allocated and nothing global
 * is written, so the code is re-entrant.
 *
 * The checkpoint is read and checked by the runtime's own code (the
 * manifest of the entry, parsed by runtime/manifest.c, then
 * dlrt_ckpt_check_model and dlrt_ckpt_get_params), so `dlc header` accepts
 * exactly the checkpoints that `./m predict` accepts.
 */
#include "codegen.h"
#include "dlrt.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { VALUES_PER_LINE = 8 };   /* of weights and constants */

typedef struct Arg {     /* a pointer argument of <prefix>_predict */
  int node;              /* input or output node of the graph */
  char name[80];         /* C parameter name */
  char macro[80];        /* macro infix: "IN", "IN_IMAGE", "OUT", ... */
} Arg;

typedef struct H {
  const Graph *g;
  const Program *p;
  const HeaderOptions *o;
  char pfx[64], PFX[64];   /* symbol prefix, lower and upper case */
  int64_t B;               /* batch size of the header */
  int64_t actn_base;       /* bytes: where region ACTN starts in the arena */
  int64_t arena_bytes;
  const char *wblock;      /* weights laid out as the planned region */
  char **wname;            /* per node: C name of a param's array, or NULL */
  bool *quant;             /* per node: a param stored as int8 (--quantize int8) */
  bool *cdone;             /* per node: constant array written */
  Arg in[16], out[16];
  int nin, nout;
  bool use_maxf, use_minf, use_maxi, use_mini;
  int64_t weight_bytes, nparams, nquant;
  int64_t data_lines;      /* lines of weight and constant values */
} H;

static bool fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "dlc: error: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  return false;
}

/* ---- names ---- */

static bool is_ident(const char *s) {
  if (!*s || !(isalpha((unsigned char)*s) || *s == '_')) return false;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '_') return false;
  return true;
}

/* s as a C identifier fragment: letters, digits and '_', others as '_'. */
static void sanitize(char *dst, size_t cap, const char *s) {
  size_t n = 0;
  for (; *s && n + 1 < cap; s++)
    dst[n++] = isalnum((unsigned char)*s) ? *s : '_';
  dst[n] = 0;
}

static void upper(char *dst, size_t cap, const char *s) {
  size_t n = 0;
  for (; *s && n + 1 < cap; s++) dst[n++] = (char)toupper((unsigned char)*s);
  dst[n] = 0;
}

/* The prefix: --prefix, or the model's name made a lower-case identifier. */
static bool fill_prefix(H *h, const char *model) {
  if (h->o->prefix) {
    if (!is_ident(h->o->prefix) || strlen(h->o->prefix) > 40)
      return fail("--prefix '%s' is not a C identifier (letters, digits and '_', "
                  "not starting with a digit, at most 40 characters)", h->o->prefix);
    snprintf(h->pfx, sizeof h->pfx, "%s", h->o->prefix);
  } else {
    char s[48];
    sanitize(s, sizeof s, model);
    for (char *c = s; *c; c++) *c = (char)tolower((unsigned char)*c);
    snprintf(h->pfx, sizeof h->pfx, "%s%s", isdigit((unsigned char)s[0]) || !s[0] ? "m" : "", s);
  }
  upper(h->PFX, sizeof h->PFX, h->pfx);
  return true;
}

/* ---- the weights ---- */

/* The weight block of the entry's model, laid out as the planned region:
 * from the checkpoint (checked as the runtime checks it) or seeded initial
 * values (as `./m init --seed S`). Heap block, or NULL after a message. */
static char *load_weights(const Entry *e, const HeaderOptions *o) {
  char *manifest = cg_manifest(e, 1), err[DLRT_ERR_LEN];
  dlrt_model m = {0};
  dlrt_ckpt c = {0};
  char *block = NULL;
  if (!dlrt_manifest_parse(&m, manifest, err)) die("own manifest does not parse: %s", err);
  free(manifest);
  block = calloc(1, (size_t)m.weight_bytes + 64);
  if (!block) die("out of memory");
  if (o->weights) {
    if (!dlrt_ckpt_load(o->weights, &c, err) || !dlrt_ckpt_check_model(&m, &c, o->weights, err) ||
        !dlrt_ckpt_get_params(&m, &c, "", block, o->weights, err)) {
      fail("%s", err);
      free(block);
      block = NULL;
    }
    dlrt_ckpt_free(&c);
  } else {
    dlrt_frame f = {0};
    f.base[DLRT_R_WEIGHT] = block;
    dlrt_init_weights(&f, &m, o->seed);
  }
  dlrt_model_free(&m);
  return block;
}

/* The node whose storage node i shares (views share their operand's). */
static int root_of(const Graph *g, int i) {
  while (op_info[g->node[i].op].flags & F_VIEW) i = g->node[i].in[0];
  return i;
}

/* Name the arrays of the params: <prefix>_w_<name>_, or by index when two
 * names sanitize alike. Refuse what the header cannot hold. */
static bool name_params(H *h) {
  const Graph *g = h->g;
  for (int i = 0; i < g->nnode; i++) {
    const Node *n = &g->node[i];
    if (n->op != OP_PARAM) continue;
    if (n->dtype != DT_F32)
      return fail("parameter '%s' is %s: dlc header supports f32 parameters only", n->name,
                  dtype_name[n->dtype]);
    char s[64], name[160];
    sanitize(s, sizeof s, n->name);
    snprintf(name, sizeof name, "%s_w_%s_", h->pfx, s);
    for (int j = 0; j < i; j++)
      if (h->wname[j] && strcmp(h->wname[j], name) == 0)
        snprintf(name, sizeof name, "%s_w%d_", h->pfx, i);
    h->wname[i] = arena_strdup(g->arena, name);
    const float *v = (const float *)(h->wblock + n->off);
    int64_t numel = numel_eval(&n->shape, 1);
    for (int64_t k = 0; k < numel; k++)
      if (!isfinite(v[k]))
        return fail("%s: parameter '%s' has a non-finite value (%g) at element %lld; "
                    "a header cannot embed it (was the training run diverging?)",
                    h->o->weights ? h->o->weights : "seeded weights", n->name, (double)v[k],
                    (long long)k);
    h->nparams += numel;
  }
  return true;
}

/* ---- C text ---- */

/* A float literal that reads back as the same float (9 significant
 * digits), with a suffix; infinities and NaN through <math.h>. In an
 * expression a negative literal is parenthesised; in an initializer list
 * (bare) it is not. */
static void put_float(Str *b, double v, bool bare) {
  float f = (float)v;
  if (isnan(f)) {
    str_printf(b, "NAN");
    return;
  }
  if (isinf(f)) {
    str_printf(b, bare || f > 0 ? "%sHUGE_VALF" : "(%sHUGE_VALF)", f < 0 ? "-" : "");
    return;
  }
  char s[40];
  snprintf(s, sizeof s, "%.9g", (double)f);
  const char *dot = strpbrk(s, ".e") ? "" : ".0";
  if (!bare && signbit(f)) str_printf(b, "(%s%sf)", s, dot);
  else str_printf(b, "%s%sf", s, dot);
}

static void put_int(Str *b, int64_t v) {
  if (v >= -2147483647 && v <= 2147483647) str_printf(b, v < 0 ? "(%lld)" : "%lld", (long long)v);
  else str_printf(b, "((int64_t)%lldLL)", (long long)v);
}

static const char *ctype_of(KType t) {
  switch (t) {
  case KT_F32: return "float";
  case KT_I32: return "int32_t";
  case KT_I64: return "int64_t";
  case KT_BOOL: return "int";
  case KT_COUNT: break;
  }
  die("bad ktype");
}

static void put_expr(H *h, Str *b, const KExpr *e);

static void put_call(H *h, Str *b, const char *fn, const KExpr *x, const KExpr *y) {
  str_printf(b, "%s(", fn);
  put_expr(h, b, x);
  if (y) {
    str_printf(b, ", ");
    put_expr(h, b, y);
  }
  str_putc(b, ')');
}

static void put_binary(H *h, Str *b, const KExpr *e) {
  static const char *const sym[K_COUNT] = {[K_ADD] = "+", [K_SUB] = "-", [K_MUL] = "*",
                                           [K_DIV] = "/", [K_REM] = "%", [K_LT] = "<",
                                           [K_LE] = "<=", [K_EQ] = "=="};
  bool f = e->a->type == KT_F32;
  if (e->op == K_MAX || e->op == K_MIN) {
    char fn[96];
    bool mx = e->op == K_MAX;
    snprintf(fn, sizeof fn, "%s_%s%s_", h->pfx, mx ? "max" : "min", f ? "f" : "i");
    *(f ? (mx ? &h->use_maxf : &h->use_minf) : (mx ? &h->use_maxi : &h->use_mini)) = true;
    if (e->type == KT_I32) str_printf(b, "(int32_t)");
    put_call(h, b, fn, e->a, e->b);
    return;
  }
  if (e->op == K_REM && f) {
    put_call(h, b, "fmodf", e->a, e->b);
    return;
  }
  if (!sym[e->op]) die("dlc header: kir op %d in an inference kernel", (int)e->op);
  str_putc(b, '(');
  put_expr(h, b, e->a);
  str_printf(b, " %s ", sym[e->op]);
  put_expr(h, b, e->b);
  str_putc(b, ')');
}

static void put_expr(H *h, Str *b, const KExpr *e) {
  switch (e->op) {
  case K_CONST:
    if (e->type == KT_F32) put_float(b, e->f, false);
    else put_int(b, e->i);
    return;
  case K_VAR: str_printf(b, "v%d", e->var); return;
  case K_N: str_printf(b, "%lld", (long long)h->B); return;
  case K_HYPER: put_float(b, h->g->hyper[e->i], false); return;
  case K_LOAD:
    str_printf(b, "b%d[", e->buf);
    put_expr(h, b, e->a);
    str_putc(b, ']');
    return;
  case K_NEG:
    str_printf(b, "(-");
    put_expr(h, b, e->a);
    str_putc(b, ')');
    return;
  case K_EXP: put_call(h, b, "expf", e->a, NULL); return;
  case K_LOG: put_call(h, b, "logf", e->a, NULL); return;
  case K_SQRT: put_call(h, b, "sqrtf", e->a, NULL); return;
  case K_ABS: put_call(h, b, "fabsf", e->a, NULL); return;
  case K_TANH: put_call(h, b, "tanhf", e->a, NULL); return;
  case K_SIGMOID:
    str_printf(b, "(1.0f / (1.0f + expf(-");
    put_expr(h, b, e->a);
    str_printf(b, ")))");
    return;
  case K_SELECT:
    str_putc(b, '(');
    put_expr(h, b, e->a);
    str_printf(b, " ? ");
    put_expr(h, b, e->b);
    str_printf(b, " : ");
    put_expr(h, b, e->c);
    str_putc(b, ')');
    return;
  case K_CAST:
    str_printf(b, "((%s)", ctype_of(e->type));
    put_expr(h, b, e->a);
    str_putc(b, ')');
    return;
  case K_FMA: /* llvm.fmuladd: fused or not, as the compiler chooses */
    str_putc(b, '(');
    put_expr(h, b, e->a);
    str_printf(b, " * ");
    put_expr(h, b, e->b);
    str_printf(b, " + ");
    put_expr(h, b, e->c);
    str_putc(b, ')');
    return;
  case K_ITER: str_printf(b, "iter"); return; /* the kernel's parameter (in_loop) */
  case K_STEP: case K_SEED: case K_XOR: case K_SHR:
    /* dropout's mask: the inference pipeline removes dropout */
    die("dlc header: training-only kir op %d in an inference kernel", (int)e->op);
  default: put_binary(h, b, e); return;
  }
}

/* Whether e reads a variable that written[] marks. */
static bool reads_any(const KExpr *e, const bool *written) {
  if (!e) return false;
  if (e->op == K_VAR && written[e->var]) return true;
  return reads_any(e->a, written) || reads_any(e->b, written) || reads_any(e->c, written);
}

/* Mark the variables that statements s write (loop variables included). */
static void mark_written(KStmt *const *s, int n, bool *written) {
  for (int i = 0; i < n; i++) {
    if (s[i]->kind == KS_STORE) continue;
    written[s[i]->var] = true;
    if (s[i]->kind == KS_LOOP) mark_written(s[i]->body, s[i]->nbody, written);
  }
}

static void mark_read_expr(const KExpr *e, bool *read) {
  if (!e) return;
  if (e->op == K_VAR) read[e->var] = true;
  mark_read_expr(e->a, read);
  mark_read_expr(e->b, read);
  mark_read_expr(e->c, read);
}

static void mark_read(KStmt *const *s, int n, bool *read) {
  for (int i = 0; i < n; i++) {
    mark_read_expr(s[i]->lo, read);
    mark_read_expr(s[i]->hi, read);
    mark_read_expr(s[i]->idx, read);
    mark_read_expr(s[i]->val, read);
    if (s[i]->kind == KS_LOOP) {
      read[s[i]->var] = true; /* by its own condition */
      mark_read(s[i]->body, s[i]->nbody, read);
    }
  }
}

static void indent(Str *b, int depth) { str_printf(b, "%*s", 2 * depth, ""); }

static void put_stmts(H *h, Str *b, const Kernel *k, KStmt *const *s, int n, int depth);

/* for (v = lo; v < hi; v++): hi is evaluated once, as llvm.c evaluates it,
 * into a local when the body could change its value. */
static void put_loop(H *h, Str *b, const Kernel *k, int var, const KExpr *lo, const KExpr *hi,
                     KStmt *const *body, int nbody, int depth) {
  bool *written = calloc((size_t)k->nvar + 1, 1);
  written[var] = true;
  mark_written(body, nbody, written);
  bool hoist = reads_any(hi, written);
  free(written);
  indent(b, depth);
  if (hoist) {
    str_printf(b, "{\n");
    indent(b, ++depth);
    str_printf(b, "const int64_t e%d = ", var);
    put_expr(h, b, hi);
    str_printf(b, ";\n");
    indent(b, depth);
  }
  str_printf(b, "for (v%d = ", var);
  put_expr(h, b, lo);
  str_printf(b, "; v%d < ", var);
  if (hoist) str_printf(b, "e%d", var);
  else put_expr(h, b, hi);
  str_printf(b, "; v%d++) {\n", var);
  put_stmts(h, b, k, body, nbody, depth + 1);
  indent(b, depth);
  str_printf(b, "}\n");
  if (hoist) {
    indent(b, depth - 1);
    str_printf(b, "}\n");
  }
}

static void put_stmts(H *h, Str *b, const Kernel *k, KStmt *const *s, int n, int depth) {
  for (int i = 0; i < n; i++) {
    const KStmt *st = s[i];
    switch (st->kind) {
    case KS_LOOP:
      put_loop(h, b, k, st->var, st->lo, st->hi, st->body, st->nbody, depth);
      continue;
    case KS_STORE:
      indent(b, depth);
      str_printf(b, "b%d[", st->buf);
      put_expr(h, b, st->idx);
      str_printf(b, "] = ");
      break;
    case KS_SET:
      indent(b, depth);
      str_printf(b, "v%d = ", st->var);
      break;
    }
    put_expr(h, b, st->val);
    str_printf(b, ";\n");
  }
}

/* ---- kernels ---- */

/* Constant data a kernel reads, once per graph node (a view's, under the
 * name of the constant it views: put_addr names it so). */
static void put_const(H *h, Str *b, const KBuf *kb) {
  int r = root_of(h->g, kb->node);
  if (h->cdone[r]) return;
  h->cdone[r] = true;
  str_printf(b, "static const %s %s_c%d_[%lld] = {", kb->type == KT_I32 ? "int32_t" : "float",
             h->pfx, r, (long long)(kb->numel ? kb->numel : 1));
  for (int64_t i = 0; i < kb->numel; i++) {
    if (i % VALUES_PER_LINE == 0) {
      str_printf(b, "\n ");
      h->data_lines++;
    }
    str_putc(b, ' ');
    if (kb->type == KT_I32) put_int(b, (int64_t)kb->data[i]);
    else put_float(b, kb->data[i], true);
    str_putc(b, ',');
  }
  str_printf(b, "%s};\n\n", kb->numel ? "\n" : "0");
}

/* The kernel's parameters: one restrict pointer per buffer, const unless
 * the kernel writes it. */
/* The KRepeat kernel i of the program runs in, or NULL. */
static const KRepeat *loop_of(const H *h, int i) {
  for (int l = 0; l < h->p->nloop; l++)
    if (i >= h->p->loop[l].first && i < h->p->loop[l].last) return &h->p->loop[l];
  return NULL;
}

/* The buffers, and the iteration (K_ITER) for a kernel of a loop. */
static void put_params(H *h, Str *b, const Kernel *k, bool iter) {
  for (int i = 0; i < k->nbuf; i++) {
    const KBuf *kb = &k->buf[i];
    bool q = h->quant[root_of(h->g, kb->node)];
    str_printf(b, "%s%s%s *%s_R b%d", i ? ", " : "", kb->written ? "" : "const ",
               q ? "int8_t" : ctype_of(kb->type), h->PFX, i);
  }
  if (iter) str_printf(b, "%sint64_t iter", k->nbuf ? ", " : "");
}

/* The value of an integer expression of the batch size (gemm dimensions
 * and strides): every one is a constant once N is. */
static int64_t ival(const H *h, const KExpr *e) {
  switch (e->op) {
  case K_CONST: return e->i;
  case K_N: return h->B;
  case K_ADD: return ival(h, e->a) + ival(h, e->b);
  case K_SUB: return ival(h, e->a) - ival(h, e->b);
  case K_MUL: return ival(h, e->a) * ival(h, e->b);
  case K_DIV: return ival(h, e->a) / ival(h, e->b);
  default: die("dlc header: gemm dimension is not an integer expression of N");
  }
}

/* (v + d) * stride, without the parts that are 0 or 1. */
static void put_lin(Str *b, const char *v, int d, int64_t stride) {
  if (d) str_printf(b, "(%s + %d)", v, d);
  else str_printf(b, "%s", v);
  if (stride != 1) str_printf(b, " * %lld", (long long)stride);
}

typedef struct Gemm {   /* a KGemm with the batch size applied */
  int64_t M, N, K, ars, aks, ldb, ldc, bns;
} Gemm;

enum { GEMM_ROWS = 4, GEMM_KU = 4 };  /* rows of C and steps of k per j loop */

/* One k loop of rows [i, i + R) of C, U steps of k per pass over a row:
 *
 *   for k in [k0, k1) by U:  a_ru = A'(i + r, k + u)
 *     for j < N:  C[i + r][j] = C[i + r][j] + a_r0 B[k][j] + ... + a_r(U-1) B[k+U-1][j]
 *
 * The sum runs in the order of k, as a plain loop over k would; the j loop
 * has a constant trip count and unit stride, so it vectorizes (at gcc -O2
 * too when N is a multiple of the vector width), and each element of C is
 * loaded and stored once per U products. */
static void put_gemm_block(Str *b, const Gemm *g, int R, int U, int64_t k0, int64_t k1, bool q) {
  if (k1 <= k0) return;
  str_printf(b, "    for (k = %lld; k < %lld; ", (long long)k0, (long long)k1);
  str_printf(b, U == 1 ? "k++) {\n" : "k += %d) {\n", U);
  for (int r = 0; r < R; r++) {
    str_printf(b, "      const float");
    for (int u = 0; u < U; u++) {
      str_printf(b, "%s a%d%d = A[", u ? "," : "", r, u);
      put_lin(b, "i", r, g->ars);
      str_printf(b, " + ");
      put_lin(b, "k", u, g->aks);
      str_printf(b, "]");
    }
    str_printf(b, ";\n");
  }
  str_printf(b, "      for (j = 0; j < %lld; j++) {\n", (long long)g->N);
  for (int r = 0; r < R; r++) {
    Str row = {0};
    str_printf(&row, "C[");
    put_lin(&row, "i", r, g->ldc);
    str_printf(&row, " + j]");
    str_printf(b, "        %s = %s", row.s, row.s);
    for (int u = 0; u < U; u++) {
      str_printf(b, q ? " + a%d%d * (float)B[" : " + a%d%d * B[", r, u);
      put_lin(b, "k", u, g->ldb);
      str_printf(b, g->bns == 1 ? " + j]" : " + j * %lld]", (long long)g->bns);
    }
    str_printf(b, ";\n");
    str_free(&row);
  }
  str_printf(b, "      }\n    }\n");
}

/* Rows [i0, i1) of C in blocks of R: every k, U at a time, then the rest. */
static void put_gemm_rows(Str *b, const Gemm *g, int R, int64_t i0, int64_t i1, bool q) {
  if (i1 <= i0) return;
  int64_t ku = g->K / GEMM_KU * GEMM_KU;
  str_printf(b, "  for (i = %lld; i < %lld; ", (long long)i0, (long long)i1);
  str_printf(b, R == 1 ? "i++) {\n" : "i += %d) {\n", R);
  put_gemm_block(b, g, R, GEMM_KU, 0, ku, q);
  put_gemm_block(b, g, R, 1, ku, g->K, q);
  str_printf(b, "  }\n");
}

/* A KGemm as C: C = 0, then rows of C four at a time (each element of B
 * loaded feeds four rows), the remaining rows one at a time. Every bound
 * is a literal: the batch size is fixed. */
static void put_gemm(H *h, Str *b, const Kernel *k) {
  const KGemm *gm = k->gemm;
  Gemm g = {ival(h, gm->M), ival(h, gm->N), ival(h, gm->K), ival(h, gm->a_rs), ival(h, gm->a_ks),
            ival(h, gm->ldb), ival(h, gm->ldc), ival(h, gm->b_ns)};
  int64_t batch = ival(h, gm->batch);
  int qb = root_of(h->g, k->buf[gm->b].node);
  bool q = h->quant[qb];
  str_printf(b, "  /* C = A'B: C %lld x %lld, K = %lld, A'(i, k) = A[i * %lld + k * %lld],\n"
                "     B(k, j) = B[k * %lld + j * %lld]%s */\n",
             (long long)g.M, (long long)g.N, (long long)g.K, (long long)g.ars, (long long)g.aks,
             (long long)g.ldb, (long long)g.bns,
             q ? ",\n     B int8, times a scale per column at the end" : "");
  const KExpr *off[3] = {gm->a_off, gm->b_off, gm->c_off};
  int buf[3] = {gm->a, gm->b, gm->c};
  const char *decl[3] = {"const float *A", q ? "const int8_t *B" : "const float *B", "float *C"};
  for (int i = 0; i < 3; i++) { /* where each starts: an offset of the iteration */
    str_printf(b, "  %s = b%d", decl[i], buf[i]);
    if (off[i]) {
      str_printf(b, " + ");
      put_expr(h, b, off[i]);
    }
    str_printf(b, ";\n");
  }
  str_printf(b, "  int64_t i, j, k;\n");
  if (batch > 1) { /* one product after another; each starts where the last ended */
    str_printf(b, "  int64_t t;\n  for (t = 0; t < %lld; t++, A += %lld, B += %lld, C += %lld) {\n",
               (long long)batch, (long long)ival(h, gm->sa), (long long)ival(h, gm->sb),
               (long long)ival(h, gm->sc));
  }
  str_printf(b, "  for (i = 0; i < %lld; i++)\n    for (j = 0; j < %lld; j++) C[i * %lld + j] = "
                "0.0f;\n", (long long)g.M, (long long)g.N, (long long)g.ldc);
  int64_t m4 = g.M / GEMM_ROWS * GEMM_ROWS;
  put_gemm_rows(b, &g, GEMM_ROWS, 0, m4, q);
  put_gemm_rows(b, &g, 1, m4, g.M, q);
  if (q)
    str_printf(b, "  for (i = 0; i < %lld; i++)\n    for (j = 0; j < %lld; j++) C[i * %lld + j] *= "
                  "%sscale_[j];\n", (long long)g.M, (long long)g.N, (long long)g.ldc, h->wname[qb]);
  if (batch > 1) str_printf(b, "  }\n");
}

static void put_kernel(H *h, Str *b, const Kernel *k, bool iter) {
  for (int i = 0; i < k->nbuf; i++)
    if (k->buf[i].region == R_NONE) put_const(h, b, &k->buf[i]);
  str_printf(b, "/* %s: %%%d", k->name, k->node);
  if (k->loc.line) str_printf(b, ", %s:%d:%d", k->loc.file, k->loc.line, k->loc.col);
  str_printf(b, " */\nstatic void %s_%s_(", h->pfx, k->name);
  put_params(h, b, k, iter);
  str_printf(b, ") {\n");
  if (k->gemm) put_gemm(h, b, k);
  /* the body: a kernel's loops, or a product's epilogue, run for each of
   * its panels once the whole product is done (codegen.h allows this) */
  if (!k->gemm || k->nbody) {
    if (k->gemm) str_printf(b, "  {\n");
    bool *read = calloc((size_t)k->nvar + 1, 1), *written = calloc((size_t)k->nvar + 1, 1);
    read[0] = written[0] = true;
    mark_read(k->body, k->nbody, read);
    mark_written(k->body, k->nbody, written);
    for (KType t = 0; t < KT_COUNT; t++) {
      int n = 0;
      for (int v = 0; v < k->nvar; v++)
        if (k->vartype[v] == t && (read[v] || written[v])) {
          if (n++) str_printf(b, ", v%d", v);
          else str_printf(b, "  %s v%d", ctype_of(t), v);
        }
      if (n) {
        str_printf(b, ";\n");
      }
    }
    for (int v = 0; v < k->nvar; v++)
      if (written[v] && !read[v]) {
        str_printf(b, "  (void)v%d;\n", v); /* set but never read */
      }
    free(read);
    free(written);
    static const KExpr zero = {.op = K_CONST, .type = KT_I64};
    put_loop(h, b, k, 0, &zero, k->extent, k->body, k->nbody, 1);
    if (k->gemm) str_printf(b, "  }\n");
  }
  str_printf(b, "}\n\n");
}

/* ---- max and min ---- */

/* Write text with "@p" replaced by the prefix and "@P" by its upper case. */
static void put_template(H *h, Str *b, const char *t) {
  for (; *t; t++) {
    if (t[0] == '@' && (t[1] == 'p' || t[1] == 'P')) {
      str_printf(b, "%s", t[1] == 'p' ? h->pfx : h->PFX);
      t++;
    } else {
      str_putc(b, *t);
    }
  }
}

/* Comparisons as llvm.c builds them (select of ogt/olt), so NaN handling
 * is the same in both backends. */
static const char maxf_f[] =
    "static inline float @p_maxf_(float a, float b) { return a > b ? a : b; }\n";
static const char minf_f[] =
    "static inline float @p_minf_(float a, float b) { return a < b ? a : b; }\n";
static const char maxi_f[] =
    "static inline int64_t @p_maxi_(int64_t a, int64_t b) { return a > b ? a : b; }\n";
static const char mini_f[] =
    "static inline int64_t @p_mini_(int64_t a, int64_t b) { return a < b ? a : b; }\n";

static void put_minmax(H *h, Str *b) {
  if (h->use_maxf) put_template(h, b, maxf_f);
  if (h->use_minf) put_template(h, b, minf_f);
  if (h->use_maxi) put_template(h, b, maxi_f);
  if (h->use_mini) put_template(h, b, mini_f);
  if (h->use_maxf || h->use_minf || h->use_maxi || h->use_mini) put_template(h, b, "\n");
}

/* ---- weights ---- */

/* n values, VALUES_PER_LINE a line, each after a space and before a comma. */
static void put_values(H *h, Str *b, const float *v, const int8_t *q, int64_t n) {
  for (int64_t k = 0; k < n; k++) {
    if (k % VALUES_PER_LINE == 0) {
      str_printf(b, "\n ");
      h->data_lines++;
    }
    str_putc(b, ' ');
    if (q) str_printf(b, "%d", q[k]);
    else put_float(b, v[k], true);
    str_putc(b, ',');
  }
  str_printf(b, "%s};\n\n", n ? "\n" : "0");
}

/* Param [K, N] as int8 with a scale per column, symmetric:
 * w[k][j] ~ q[k][j] * scale[j], scale[j] = max over k of |w[k][j]| / 127. */
static void put_quantized(H *h, Str *b, const Node *n, int i, const float *v) {
  int64_t K = n->shape.d[0], N = n->shape.d[1];
  int8_t *q = malloc((size_t)(K * N) + 1);
  float *scale = calloc((size_t)N + 1, sizeof *scale);
  for (int64_t k = 0; k < K; k++)
    for (int64_t j = 0; j < N; j++)
      if (fabsf(v[k * N + j]) > scale[j]) scale[j] = fabsf(v[k * N + j]);
  for (int64_t j = 0; j < N; j++) scale[j] /= 127;
  for (int64_t k = 0; k < K; k++)
    for (int64_t j = 0; j < N; j++)
      q[k * N + j] = (int8_t)(scale[j] > 0 ? lrintf(v[k * N + j] / scale[j]) : 0);
  str_printf(b, "static const int8_t %s[%lld] = {", h->wname[i], (long long)(K * N));
  put_values(h, b, NULL, q, K * N);
  str_printf(b, "static const float %sscale_[%lld] = {", h->wname[i], (long long)N);
  put_values(h, b, scale, NULL, N);
  h->weight_bytes += K * N + 4 * N;
  h->nquant += K * N;
  free(q);
  free(scale);
}

static void put_weights(H *h, Str *b) {
  const Graph *g = h->g;
  for (int i = 0; i < g->nnode; i++) {
    const Node *n = &g->node[i];
    if (n->op != OP_PARAM) continue;
    char dims[96];
    shape_str(dims, sizeof dims, n->dtype, &n->shape);
    int64_t numel = numel_eval(&n->shape, 1);
    const float *v = (const float *)(h->wblock + n->off);
    str_printf(b, "/* %s %s%s */\n", n->name, dims, h->quant[i] ? " as int8" : "");
    if (h->quant[i]) {
      put_quantized(h, b, n, i, v);
      continue;
    }
    str_printf(b, "static const float %s[%lld] = {", h->wname[i], (long long)(numel ? numel : 1));
    put_values(h, b, v, NULL, numel);
    h->weight_bytes += 4 * numel;
  }
}

/* --quantize int8: which params to store as int8. A param qualifies when
 * every kernel reads it as the right operand of an unbatched matrix
 * product: it is then a [K, N] matrix whose columns scale the result. */
static void fill_quant(H *h) {
  const Graph *g = h->g;
  h->quant = calloc((size_t)g->nnode + 1, 1);
  if (!h->o->int8) return;
  bool *bad = calloc((size_t)g->nnode + 1, 1);
  for (int i = 0; i < h->p->nk; i++) {
    const Kernel *k = h->p->k[i];
    for (int j = 0; j < k->nbuf; j++) {
      int r = root_of(g, k->buf[j].node);
      if (g->node[r].op != OP_PARAM) continue;
      bool rhs = k->gemm && j == k->gemm->b && j != k->gemm->a && ival(h, k->gemm->batch) == 1 &&
                 ival(h, k->gemm->b_ns) == 1 && g->node[r].shape.rank == 2;
      if (rhs) h->quant[r] = true;
      else bad[r] = true;
    }
  }
  for (int i = 0; i < g->nnode; i++) h->quant[i] &= !bad[i];
  free(bad);
}

/* ---- the API ---- */

/* Address of node i's storage inside <prefix>_predict, as C text. */
static void put_addr(H *h, Str *b, int i, KType t) {
  const Graph *g = h->g;
  int r = root_of(g, i);
  const Node *n = &g->node[r];
  for (int j = 0; j < h->nin; j++)
    if (h->in[j].node == r) {
      str_printf(b, "%s", h->in[j].name);
      return;
    }
  switch (n->region) {
  case R_WEIGHT: str_printf(b, "%s", h->wname[r]); return;
  case R_ACT: case R_ACTN: {
    int64_t off = n->region == R_ACT ? n->off : h->actn_base + n->off * h->B;
    if (t == KT_I32) str_printf(b, "(int32_t *)(void *)");
    str_printf(b, "m + %lld", (long long)(off / 4));
    return;
  }
  case R_NONE:
    if (n->op == OP_CONST) {
      str_printf(b, "%s_c%d_", h->pfx, r);
      return;
    }
    break;
  default: break;
  }
  die("dlc header: node %d has no storage the header can name", i);
}

/* The pointer arguments: every input some kernel reads, then every output.
 * False after a message when there are too many. */
static bool fill_args(H *h) {
  const Graph *g = h->g;
  bool *read = calloc((size_t)g->nnode + 1, 1);
  for (int i = 0; i < h->p->nk; i++)
    for (int j = 0; j < h->p->k[i]->nbuf; j++) read[root_of(g, h->p->k[i]->buf[j].node)] = true;
  for (int o = 0; o < g->nout; o++) read[root_of(g, g->out[o].node)] = true;
  int max = (int)(sizeof h->in / sizeof h->in[0]);
  for (int i = 0; i < g->nnode; i++)
    if (g->node[i].op == OP_INPUT && read[i] && h->nin++ < max) h->in[h->nin - 1].node = i;
  free(read);
  if (h->nin > max || g->nout > max)
    return fail("model '%s' has %d inputs and %d outputs; a header takes at most %d of each",
                g->name, h->nin, g->nout, max);
  for (int o = 0; o < g->nout; o++) h->out[h->nout++].node = g->out[o].node;
  for (int s = 0; s < 2; s++) {
    Arg *a = s ? h->out : h->in;
    int n = s ? h->nout : h->nin;
    for (int j = 0; j < n; j++) {
      char id[64], up[64];
      const char *name = s ? g->out[j].name : g->node[a[j].node].name;
      sanitize(id, sizeof id, name);
      upper(up, sizeof up, id);
      if (n == 1) {
        snprintf(a[j].name, sizeof a[j].name, "%s", s ? "out" : "in");
        snprintf(a[j].macro, sizeof a[j].macro, "%s", s ? "OUT" : "IN");
      } else {
        snprintf(a[j].name, sizeof a[j].name, "%s_%s", s ? "out" : "in", id);
        snprintf(a[j].macro, sizeof a[j].macro, "%s_%s", s ? "OUT" : "IN", up);
        for (int q = 0; q < j; q++)
          if (strcmp(a[q].name, a[j].name) == 0) {
            snprintf(a[j].name, sizeof a[j].name, "%s%d", s ? "out" : "in", j);
            snprintf(a[j].macro, sizeof a[j].macro, "%s%d", s ? "OUT" : "IN", j);
          }
      }
    }
  }
  return true;
}

static const Node *arg_node(const H *h, const Arg *a) { return &h->g->node[a->node]; }

static const char *arg_ctype(const H *h, const Arg *a) {
  return arg_node(h, a)->dtype == DT_I32 ? "int32_t" : "float";
}

static void put_shape_macros(H *h, Str *b, const Arg *a, const char *what, const char *name) {
  const Node *n = arg_node(h, a);
  str_printf(b, "#define %s_%s_NAME \"%s\"\n", h->PFX, a->macro, name);
  str_printf(b, "#define %s_%s_SIZE %lld  /* %s values of %s '%s' per call */\n", h->PFX,
             a->macro, (long long)numel_eval(&n->shape, h->B), arg_ctype(h, a), what, name);
  str_printf(b, "#define %s_%s_RANK %d\n", h->PFX, a->macro, n->shape.rank);
  if (n->shape.rank == 0) return; /* a scalar: {} would not be a valid initializer */
  str_printf(b, "#define %s_%s_SHAPE {", h->PFX, a->macro);
  for (int i = 0; i < n->shape.rank; i++)
    str_printf(b, "%s%lld", i ? ", " : "", (long long)dim_eval(n->shape.d[i], h->B));
  str_printf(b, "}\n");
}

static void put_signature(H *h, Str *b) {
  str_printf(b, "int %s_predict(%s_ctx *ctx", h->pfx, h->pfx);
  for (int j = 0; j < h->nin; j++)
    str_printf(b, ", const %s *%s", arg_ctype(h, &h->in[j]), h->in[j].name);
  for (int j = 0; j < h->nout; j++)
    str_printf(b, ", %s *%s", arg_ctype(h, &h->out[j]), h->out[j].name);
  str_printf(b, ")");
}

/* One line per pointer argument of <prefix>_predict. */
static void put_doc_args(H *h, Str *b, const char *scale) {
  const Graph *g = h->g;
  for (int s = 0; s < 2; s++)
    for (int j = 0; j < (s ? h->nout : h->nin); j++) {
      const Arg *a = s ? &h->out[j] : &h->in[j];
      char dims[96];
      Shape sh = arg_node(h, a)->shape;
      for (int i = 0; i < sh.rank; i++) sh.d[i] = dim_eval(sh.d[i], h->B);
      dims_str(dims, sizeof dims, &sh);
      str_printf(b, " *   %-6s %s '%s' %s: %s_%s_SIZE values\n", a->name, s ? "output" : "input",
                 s ? g->out[j].name : arg_node(h, a)->name, dims, h->PFX, a->macro);
      if (s || j > 0) continue;
      /* the first input is the data: scaled (and normalised) as ./m predict does */
      if (scale) str_printf(b, " *          as in training: raw pixel bytes times %s_INPUT_SCALE\n", h->PFX);
      const char *ms[2] = {"0", "1"};
      bool norm = false;
      for (int t = 0; t < g->ntrain; t++)
        for (int k = 0; k < 2; k++)
          if (!strcmp(g->train[t].key, k ? "data.std" : "data.mean")) {
            ms[k] = g->train[t].value;
            norm = true;
          }
      if (norm)
        str_printf(b, " *          normalised per channel c: (x - mean[c]) / std[c], mean %s, std %s\n",
                   ms[0], ms[1]);
    }
}

/* The opening comment: what the file is and how to use it. */
static void put_doc(H *h, Str *b, uint64_t sig, const char *scale) {
  const Graph *g = h->g;
  const char *src = h->o->source ? h->o->source : g->name;
  str_printf(b, "/* %s.h — model '%s' (%s) as dependency-free C, generated by dlc %s.\n"
                " * Do not edit; regenerate with `dlc header`.\n *\n", h->pfx, g->name, src,
             DLC_VERSION);
  if (h->o->weights)
    str_printf(b, " * Weights: %s", h->o->weights);
  else
    str_printf(b, " * Weights: untrained, as `./%s init --seed %llu`", g->name,
               (unsigned long long)h->o->seed);
  str_printf(b, " (model signature %016llx),\n * %lld parameters, %lld bytes.\n",
             (unsigned long long)sig, (long long)h->nparams, (long long)h->weight_bytes);
  if (h->nquant)
    str_printf(b, " * %lld of them as int8 (--quantize int8): the weights of matrix products, with\n"
                  " * a float scale per column, so results differ from ./%s predict by the\n"
                  " * rounding of the weights.\n", (long long)h->nquant, g->name);
  str_printf(b, " *\n");
  str_printf(b, " * Usage:\n *\n *   #include \"%s.h\"\n *   %s_ctx ctx;    working memory, %lld "
                "bytes; no setup\n *   ", h->pfx, h->pfx, (long long)h->arena_bytes);
  put_signature(h, b);
  str_printf(b, ";\n *\n");
  put_doc_args(h, b, scale);
  str_printf(b, " *\n * runs the network on %s_BATCH (%lld) sample%s, a batch fixed by `dlc header "
                "--batch`,\n * and returns 0, or -1 when a pointer is NULL. It allocates nothing "
                "and writes\n * only *ctx and the outputs: calls with different contexts may run "
                "at the same\n * time, on any threads. A context holds nothing between calls.\n",
             h->PFX, (long long)h->B, h->B == 1 ? "" : "s");
  str_printf(b, " *\n * Every symbol is static: include this file where the network is called. "
                "Compile\n * as C99 or later, or as C++, at -O2 or -O3 (with -march=native for "
                "the host's\n * vector width); link with -lm.\n */\n");
}

static void put_api(H *h, Str *b, uint64_t sig, const char *scale) {
  const Graph *g = h->g;
  str_printf(b, "#ifndef %s_H_INCLUDED\n#define %s_H_INCLUDED\n\n", h->PFX, h->PFX);
  str_printf(b, "#include <math.h>\n#include <stdint.h>\n#include <string.h>\n\n");
  str_printf(b, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
  str_printf(b, "#define %s_DLC_VERSION \"%s\"\n", h->PFX, DLC_VERSION);
  str_printf(b, "#define %s_SIGNATURE \"%016llx\"  /* the model's; checkpoints carry it */\n",
             h->PFX, (unsigned long long)sig);
  str_printf(b, "#define %s_BATCH %lld  /* samples per call */\n", h->PFX, (long long)h->B);
  if (scale)
    str_printf(b, "#define %s_INPUT_SCALE %s  /* data.scale: raw pixel bytes times this */\n",
               h->PFX, scale);
  str_printf(b, "#define %s_WEIGHT_BYTES %lld\n", h->PFX, (long long)h->weight_bytes);
  str_printf(b, "#define %s_CTX_BYTES %lld  /* the planned activation arena */\n\n", h->PFX,
             (long long)h->arena_bytes);
  for (int j = 0; j < h->nin; j++) put_shape_macros(h, b, &h->in[j], "input", arg_node(h, &h->in[j])->name);
  for (int j = 0; j < h->nout; j++) put_shape_macros(h, b, &h->out[j], "output", g->out[j].name);
  str_printf(b, "\n/* Working memory of one call: pass a pointer to %s_predict. */\n", h->pfx);
  str_printf(b, "typedef struct %s_ctx {\n  float mem[%lld];\n} %s_ctx;\n\n", h->pfx,
             (long long)(h->arena_bytes / 4), h->pfx);
  str_printf(b, "/* ---- the implementation; names ending in '_' are internal ---- */\n\n");
  str_printf(b, "#if defined(__cplusplus) || !defined(__STDC_VERSION__) || "
                "__STDC_VERSION__ < 199901L\n#define %s_R __restrict\n#else\n#define %s_R "
                "restrict\n#endif\n\n", h->PFX, h->PFX);
}

static void put_predict(H *h, Str *b) {
  str_printf(b, "/* The forward entry: every kernel in order, then the outputs out of the "
                "arena. */\nstatic inline ");
  put_signature(h, b);
  str_printf(b, " {\n  float *m;\n  if (!ctx");
  for (int j = 0; j < h->nin; j++) str_printf(b, " || !%s", h->in[j].name);
  for (int j = 0; j < h->nout; j++) str_printf(b, " || !%s", h->out[j].name);
  str_printf(b, ")\n    return -1;\n  m = ctx->mem;\n  (void)m;\n");
  if (h->p->nloop) str_printf(b, "  int64_t iter;\n");
  for (int i = 0; i < h->p->nk; i++) {
    const Kernel *k = h->p->k[i];
    const KRepeat *l = loop_of(h, i);
    if (l && l->first == i) /* the steps of a recurrent layer */
      str_printf(b, "  for (iter = 0; iter < %lld; iter++) {\n", (long long)l->count);
    str_printf(b, l ? "    %s_%s_(" : "  %s_%s_(", h->pfx, k->name);
    for (int j = 0; j < k->nbuf; j++) {
      if (j) str_printf(b, ", ");
      put_addr(h, b, k->buf[j].node, k->buf[j].type);
    }
    str_printf(b, l ? "%siter);\n" : ");\n", k->nbuf ? ", " : "");
    if (l && l->last == i + 1) str_printf(b, "  }\n");
  }
  for (int j = 0; j < h->nout; j++) {
    const Node *n = arg_node(h, &h->out[j]);
    str_printf(b, "  memcpy(%s, ", h->out[j].name);
    put_addr(h, b, h->out[j].node, n->dtype == DT_I32 ? KT_I32 : KT_F32);
    str_printf(b, ", sizeof(%s) * %s_%s_SIZE);\n", arg_ctype(h, &h->out[j]), h->PFX,
               h->out[j].macro);
  }
  str_printf(b, "  return 0;\n}\n\n");
  str_printf(b, "#ifdef __cplusplus\n}\n#endif\n\n#endif /* %s_H_INCLUDED */\n", h->PFX);
}

/* The model's data.scale as a C literal, or NULL. */
static const char *data_scale(const Graph *g, char *buf, size_t cap) {
  for (int t = 0; t < g->ntrain; t++)
    if (strcmp(g->train[t].key, "data.scale") == 0) {
      double v;
      if (!dlrt_parse_number(g->train[t].value, &v) || !isfinite(v)) return NULL;
      snprintf(buf, cap, "%.17g", v);
      if (!strpbrk(buf, ".e")) strcat(buf, ".0");
      return buf;
    }
  return NULL;
}

/* Print the header into out (the parts in the order a reader wants
 * them, each written when what it needs is known). */
static void put_header(H *h, Str *out) {
  Str code = {0}, weights = {0};
  char scalebuf[40];
  const char *scale = data_scale(h->g, scalebuf, sizeof scalebuf);
  uint64_t sig = ir_signature(h->g);
  fill_quant(h);
  put_weights(h, &weights);
  for (int i = 0; i < h->p->nk; i++) put_kernel(h, &code, h->p->k[i], loop_of(h, i) != NULL);
  put_doc(h, out, sig, scale);
  put_api(h, out, sig, scale);
  str_printf(out, "%s", weights.s ? weights.s : "");
  put_minmax(h, out);
  str_printf(out, "%s", code.s ? code.s : "");
  put_predict(h, out);
  str_free(&code);
  str_free(&weights);
}

bool cg_header(const char *path, const Entry *e, const HeaderOptions *o, HeaderStats *st) {
  const Graph *g = e->g;
  H h = {.g = g, .p = e->p, .o = o, .B = o->batch > 0 ? o->batch : 1};
  if (h.B > DLRT_MAX_BATCH) return fail("--batch %lld is too large", (long long)h.B);
  if (!fill_prefix(&h, g->name)) return false;
  char *wblock = load_weights(e, o);
  if (!wblock) return false;
  h.wblock = wblock;
  h.wname = calloc((size_t)g->nnode + 1, sizeof *h.wname);
  h.cdone = calloc((size_t)g->nnode + 1, 1);
  h.actn_base = (g->region_k[R_ACT] + 63) / 64 * 64;
  h.arena_bytes = h.actn_base + g->region_n[R_ACTN] * h.B;
  if (h.arena_bytes < 64) h.arena_bytes = 64;
  Str out = {0};
  bool ok = name_params(&h) && fill_args(&h);
  if (ok) {
    put_header(&h, &out);
    if (!write_file_atomic(path, out.s, out.len))
      ok = fail("cannot write %s: %s", path, strerror(errno));
  }
  if (ok && st) {
    st->nkernels = e->p->nk;
    st->header_bytes = (int64_t)out.len;
    st->lines = 0;
    for (size_t i = 0; i < out.len; i++) st->lines += out.s[i] == '\n';
    st->code_lines = st->lines - h.data_lines;
    st->weight_bytes = h.weight_bytes;
    st->nparams = h.nparams;
    st->nquant = h.nquant;
    st->arena_bytes = h.arena_bytes;
  }
  str_free(&out);
  free(h.wname);
  free(h.cdone);
  free(h.quant);
  free(wblock);
  return ok;
}
