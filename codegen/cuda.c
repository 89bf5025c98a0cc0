/* cuda.c — the GPU backend: the kernel IR printed as CUDA C, compiled to
 * PTX by NVRTC, and a small host program that launches it.
 *
 * The one idea: this is a third printer of the kernel IR, beside llvm.c
 * and header.c, and it maps the IR's one parallel loop onto CUDA threads:
 *
 *   plain kernel      one thread per value of v0; the inner loops of the
 *                     body run in that thread, as they do on a CPU core
 *   KGemm kernel      the product as a tiled shared-memory kernel
 *                     (64 x 64 tiles of C, 16-deep slices of K, 256
 *                     threads computing 4 x 4 elements each), then its
 *                     epilogue, if any, as a second kernel: codegen.h lets
 *                     a backend run the epilogue after the whole product.
 *                     An epilogue whose body is scalar set-up then one
 *                     loop over the rows of C (every fused elementwise
 *                     chain lowers so) gets a thread per (panel, row).
 *   KReduce kernel    when the reduced range is long, a block reduction:
 *                     a block per output, or per 32 columns, partials
 *                     combined in shared memory in a fixed order (see
 *                     "reductions as blocks"); else a plain kernel.
 *
 * Every kernel takes the frame by value (struct dlc_frame, field for
 * field runtime/dlrt.h's dlrt_frame, with device addresses in base[]), so
 * buffer addresses are computed as llvm.c computes them. Each kernel has a
 * launch rule, grid and block sizes as kernel-IR expressions of the batch
 * size N (Launch, launch_of), printed into the host program and evaluated
 * by the tests (cg_cuda_launch) against the device limits it assumes.
 *
 * The host program is C: the manifest, the PTX as a string, and the three
 * entries (dlrt_forward ...), each a list of copies and launches through
 * runtime/cuda.c, which loads the CUDA driver with dlopen. NVRTC
 * (nvrtc.c) is loaded with dlopen too, when a CUDA build asks for it, so
 * dlc needs no CUDA to build or to compile for the CPU.
 */
#include "codegen.h"
#include "dlrt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Limits the launch rules assume (every CUDA device of compute capability
 * 5.0 or later has them); cg_cuda_launch's callers check against them. */
enum {
  THREADS = 256,           /* threads per block of every kernel */
  GEMM_TM = 64,            /* rows of C per block */
  GEMM_TN = 64,            /* columns of C per block */
  GEMM_TK = 16,            /* depth of the shared-memory slices */
  GRID_YZ_MAX = 65535,
};

typedef struct Cu {
  Str *b;
  const Kernel *k;
  const bool *read;   /* per variable: read somewhere in the kernel; a set
                         of a variable never read is left out */
} Cu;

/* ---- expressions ---- */

static const char *cutype(KType t) {
  switch (t) {
  case KT_F32: return "float";
  case KT_I32: return "int";
  case KT_I64: return "long long";
  case KT_BOOL: return "bool";
  case KT_COUNT: break;
  }
  die("bad ktype");
}

/* A float literal that reads back as the same float; infinities and NaN
 * by their bits, since CUDA C has no HUGE_VALF without headers. */
static void put_float(Str *b, double v) {
  float f = (float)v;
  if (isnan(f)) {
    str_printf(b, "__int_as_float(0x7fffffff)");
    return;
  }
  if (isinf(f)) {
    str_printf(b, f < 0 ? "(-__int_as_float(0x7f800000))" : "__int_as_float(0x7f800000)");
    return;
  }
  char s[40];
  snprintf(s, sizeof s, "%.9g", (double)f);
  const char *dot = strpbrk(s, ".e") ? "" : ".0";
  if (signbit(f)) str_printf(b, "(%s%sf)", s, dot);
  else str_printf(b, "%s%sf", s, dot);
}

static void put_int(Str *b, int64_t v, KType t) {
  if (t == KT_I32) str_printf(b, "((int)%lld)", (long long)v);
  else if (t == KT_BOOL) str_printf(b, "%s", v ? "true" : "false");
  else if (v == INT64_MIN) str_printf(b, "(-9223372036854775807LL - 1)");
  else str_printf(b, v < 0 ? "(%lldLL)" : "%lldLL", (long long)v);
}

static void put_expr(Cu *c, const KExpr *e);

static void put_call(Cu *c, const char *fn, const KExpr *x, const KExpr *y) {
  str_printf(c->b, "%s(", fn);
  put_expr(c, x);
  if (y) {
    str_printf(c->b, ", ");
    put_expr(c, y);
  }
  str_putc(c->b, ')');
}

static void put_binary(Cu *c, const KExpr *e) {
  static const char *const sym[K_COUNT] = {[K_ADD] = "+", [K_SUB] = "-", [K_MUL] = "*",
                                           [K_DIV] = "/", [K_REM] = "%", [K_LT] = "<",
                                           [K_LE] = "<=", [K_EQ] = "==", [K_XOR] = "^"};
  bool f = e->a->type == KT_F32;
  if (e->op == K_MAX || e->op == K_MIN) {
    put_call(c, e->op == K_MAX ? "dlc_max" : "dlc_min", e->a, e->b);
    return;
  }
  if (e->op == K_REM && f) {
    put_call(c, "fmodf", e->a, e->b);
    return;
  }
  if (e->op == K_SHR) { /* logical: through unsigned */
    str_printf(c->b, "((long long)((unsigned long long)");
    put_expr(c, e->a);
    str_printf(c->b, " >> ");
    put_expr(c, e->b);
    str_printf(c->b, "))");
    return;
  }
  if (!sym[e->op]) die("cuda: kir op %d is not binary", (int)e->op);
  str_putc(c->b, '(');
  put_expr(c, e->a);
  str_printf(c->b, " %s ", sym[e->op]);
  put_expr(c, e->b);
  str_putc(c->b, ')');
}

static void put_expr(Cu *c, const KExpr *e) {
  Str *b = c->b;
  switch (e->op) {
  case K_CONST:
    if (e->type == KT_F32) put_float(b, e->f);
    else put_int(b, e->i, e->type);
    return;
  case K_VAR: str_printf(b, "v%d", e->var); return;
  case K_N: str_printf(b, "f.N"); return;
  case K_HYPER: str_printf(b, "f.hyper[%lld]", (long long)e->i); return;
  case K_STEP: str_printf(b, "f.step"); return;
  case K_SEED: str_printf(b, "((long long)f.seed)"); return;
  case K_ITER: str_printf(b, "f.iter"); return;
  case K_SIGMOID: /* as llvm.c: 1 / (1 + e^-a) */
    str_printf(b, "(1.0f / (1.0f + expf(-");
    put_expr(c, e->a);
    str_printf(b, ")))");
    return;
  case K_LOAD:
    str_printf(b, "b%d[", e->buf);
    put_expr(c, e->a);
    str_putc(b, ']');
    return;
  case K_NEG:
    str_printf(b, "(-");
    put_expr(c, e->a);
    str_putc(b, ')');
    return;
  case K_EXP: put_call(c, "expf", e->a, NULL); return;
  case K_LOG: put_call(c, "logf", e->a, NULL); return;
  case K_SQRT: put_call(c, "sqrtf", e->a, NULL); return;
  case K_ABS: put_call(c, "fabsf", e->a, NULL); return;
  case K_TANH: put_call(c, "tanhf", e->a, NULL); return;
  case K_SELECT:
    str_putc(b, '(');
    put_expr(c, e->a);
    str_printf(b, " ? ");
    put_expr(c, e->b);
    str_printf(b, " : ");
    put_expr(c, e->c);
    str_putc(b, ')');
    return;
  case K_CAST:
    str_printf(b, "((%s)", cutype(e->type));
    put_expr(c, e->a);
    str_putc(b, ')');
    return;
  case K_FMA: /* llvm.fmuladd: fused or not, as the compiler chooses */
    str_putc(b, '(');
    put_expr(c, e->a);
    str_printf(b, " * ");
    put_expr(c, e->b);
    str_printf(b, " + ");
    put_expr(c, e->c);
    str_putc(b, ')');
    return;
  default: put_binary(c, e); return;
  }
}

/* ---- what a body uses ---- */

static void mark_expr(const KExpr *e, bool *read, bool *bufs) {
  if (!e) return;
  if (e->op == K_VAR) read[e->var] = true;
  if (e->op == K_LOAD) bufs[e->buf] = true;
  mark_expr(e->a, read, bufs);
  mark_expr(e->b, read, bufs);
  mark_expr(e->c, read, bufs);
}

/* Variables read and written, buffers touched, by statements s. */
static void mark_stmts(KStmt *const *s, int n, bool *read, bool *written, bool *bufs) {
  for (int i = 0; i < n; i++) {
    mark_expr(s[i]->lo, read, bufs);
    mark_expr(s[i]->hi, read, bufs);
    mark_expr(s[i]->idx, read, bufs);
    mark_expr(s[i]->val, read, bufs);
    if (s[i]->kind == KS_STORE) {
      bufs[s[i]->buf] = true;
      continue;
    }
    written[s[i]->var] = true;
    if (s[i]->kind == KS_LOOP) {
      read[s[i]->var] = true;
      mark_stmts(s[i]->body, s[i]->nbody, read, written, bufs);
    }
  }
}

static bool reads_any(const KExpr *e, const bool *written) {
  if (!e) return false;
  if (e->op == K_VAR && written[e->var]) return true;
  return reads_any(e->a, written) || reads_any(e->b, written) || reads_any(e->c, written);
}

/* ---- statements ---- */

static void indent(Str *b, int depth) { str_printf(b, "%*s", 2 * depth, ""); }

static void put_stmts(Cu *c, KStmt *const *s, int n, int depth);

/* for (v = lo; v < hi; v += step): hi is evaluated once, as llvm.c
 * evaluates it, into a local when the body could change its value. */
static void put_loop(Cu *c, const KStmt *st, const char *start, const char *step, int depth) {
  Str *b = c->b;
  bool *written = calloc((size_t)c->k->nvar + 1, 1), *read = calloc((size_t)c->k->nvar + 1, 1);
  bool *bufs = calloc((size_t)c->k->nbuf + 1, 1);
  written[st->var] = true;
  mark_stmts(st->body, st->nbody, read, written, bufs);
  bool hoist = reads_any(st->hi, written);
  free(written);
  free(read);
  free(bufs);
  indent(b, depth);
  if (hoist) {
    str_printf(b, "{\n");
    indent(b, ++depth);
    str_printf(b, "const long long e%d = ", st->var);
    put_expr(c, st->hi);
    str_printf(b, ";\n");
    indent(b, depth);
  }
  str_printf(b, "for (v%d = ", st->var);
  if (start) {
    str_printf(b, "%s", start);
  } else {
    put_expr(c, st->lo);
  }
  str_printf(b, "; v%d < ", st->var);
  if (hoist) str_printf(b, "e%d", st->var);
  else put_expr(c, st->hi);
  if (step) str_printf(b, "; v%d += %s) {\n", st->var, step);
  else str_printf(b, "; v%d++) {\n", st->var);
  put_stmts(c, st->body, st->nbody, depth + 1);
  indent(b, depth);
  str_printf(b, "}\n");
  if (hoist) {
    indent(b, depth - 1);
    str_printf(b, "}\n");
  }
}

static void put_stmts(Cu *c, KStmt *const *s, int n, int depth) {
  for (int i = 0; i < n; i++) {
    const KStmt *st = s[i];
    switch (st->kind) {
    case KS_LOOP: put_loop(c, st, NULL, NULL, depth); continue;
    case KS_STORE:
      indent(c->b, depth);
      str_printf(c->b, "b%d[", st->buf);
      put_expr(c, st->idx);
      str_printf(c->b, "] = ");
      break;
    case KS_SET:
      if (c->read && !c->read[st->var]) continue;
      indent(c->b, depth);
      str_printf(c->b, "v%d = ", st->var);
      break;
    }
    put_expr(c, st->val);
    str_printf(c->b, ";\n");
  }
}

/* ---- launch rules ---- */

/* L_RED_BLOCK, L_RED_COLS: a KReduce as a block reduction */
typedef enum LaunchKind {
  L_PLAIN, L_GEMM, L_ROWS, L_FLAT, L_NEST, L_RED_BLOCK, L_RED_COLS, L_COUNT
} LaunchKind;

/* A perfect nest of loops below the parallel loop run as threads of
 * their own (L_NEST; see "collapsing a nest of loops" below). */
enum { NEST_MAX = 6 };

typedef struct NestPlan {
  int m;                       /* collapsed loops below v0 */
  const KStmt *loop[NEST_MAX];
  int64_t ext[NEST_MAX];       /* their extents */
} NestPlan;

/* A reduction's axes with size-1 ones dropped and neighbours of one kind
 * (both reduced or both kept) merged into one, of their product size and
 * the inner one's stride: the fewest digits to split an index into. */
typedef struct RedAxes {
  int n;                       /* merged axes, outermost first */
  bool red[MAX_RANK];
  Size size[MAX_RANK], stride[MAX_RANK];
  Size count, outputs;         /* reduced elements per output; outputs */
} RedAxes;

/* How one __global__ function is launched: grid[3] and THREADS threads
 * per block, expressions of N. */
typedef struct Launch {
  LaunchKind kind;
  KExpr *grid[3];
  KExpr *threads;      /* total threads the kernel needs (L_PLAIN, L_ROWS) */
  NestPlan nest;       /* L_NEST: the loops collapsed */
  RedAxes red;         /* L_RED_BLOCK, L_RED_COLS: x's axes */
} Launch;

/* An epilogue of the form  set*; for row in [lo, hi) { ... }  whose loop
 * runs over the rows of C: a thread per (panel, row) is safe, because the
 * epilogue of an elementwise chain touches each element of C alone. */
static bool rows_epilogue(const Kernel *k) {
  if (!k->gemm || !k->nbody || k->body[k->nbody - 1]->kind != KS_LOOP) return false;
  for (int i = 0; i + 1 < k->nbody; i++)
    if (k->body[i]->kind != KS_SET) return false;
  return true;
}

static bool same_var(const KExpr *e, int var) { return e->op == K_VAR && e->var == var; }

/* Whether every load in e of a buffer in written[] is at index [v]. */
static bool loads_own(const KExpr *e, const bool *written, int v) {
  if (!e) return true;
  if (e->op == K_LOAD && written[e->buf] && !same_var(e->a, v)) return false;
  return loads_own(e->a, written, v) && loads_own(e->b, written, v) && loads_own(e->c, written, v);
}

/* The block size C of a flat elementwise kernel (lower.c's FLAT_BLOCK):
 *
 *   parallel v0 { for v in [v0 * C, min(...)) { b[v] = ...; ... } }
 *
 * where every statement stores at [v] and reads what the kernel writes
 * only at [v]: its iterations touch disjoint elements, so each can be a
 * thread of its own. 0 for any other kernel. */
static int64_t flat_block(const Kernel *k) {
  if (k->gemm || k->nbody != 1 || k->body[0]->kind != KS_LOOP) return 0;
  const KStmt *l = k->body[0];
  const KExpr *lo = l->lo;
  if (lo->op != K_MUL || !same_var(lo->a, 0) || lo->b->op != K_CONST || lo->b->i < 1) return 0;
  bool *written = calloc((size_t)k->nbuf + 1, 1);
  for (int i = 0; i < k->nbuf; i++) written[i] = k->buf[i].written;
  bool ok = true;
  for (int i = 0; i < l->nbody && ok; i++) {
    const KStmt *st = l->body[i];
    ok = st->kind == KS_STORE && same_var(st->idx, l->var) && loads_own(st->val, written, l->var);
  }
  free(written);
  return ok ? lo->b->i : 0;
}

/* ---- collapsing a nest of loops into threads ----
 *
 * A kernel whose parallel loop is the batch (pooling, im2col, a recurrent
 * cell) would run only N threads on a GPU. When the parallel body is a
 * perfect nest of loops over constant ranges,
 *
 *   parallel v0 { for v1 in [0, E1) { ... for vm in [0, Em) { body } } }
 *
 * each (v0, v1, ..., vm) can be a thread of its own if the iterations are
 * independent. That is proved, not assumed:
 *   - every access to a buffer the kernel writes is at an affine index
 *     c0 v0 + c1 v1 + ... + cm vm + R, with the same c for every access to
 *     that buffer, where R (the constant and the terms of inner loop
 *     variables, bounded by interval arithmetic on their ranges) is >= 0;
 *     the values of R of one access lie in one period P = cm Em, below
 *     cm in it (the gates of a recurrent cell at v1, H + v1, 2H + v1 ...
 *     qualify); c(m-1) > cm (Em - 1) + R; and c(i) >= c(i+1) E(i+1)
 *     above: then two tuples never reach the same element;
 *   - every local the body reads is set earlier in the body (or is a loop
 *     variable): nothing flows from one iteration to the next.
 * Otherwise the nest is tried one loop shorter, down to none. */
static bool const_int(const KExpr *e, int64_t *v) {
  int64_t a, b;
  switch (e->op) {
  case K_CONST: if (e->type == KT_F32) return false; *v = e->i; return true;
  case K_CAST: return e->type != KT_F32 && e->type != KT_BOOL && const_int(e->a, v);
  case K_ADD: if (!const_int(e->a, &a) || !const_int(e->b, &b)) return false; *v = a + b; return true;
  case K_SUB: if (!const_int(e->a, &a) || !const_int(e->b, &b)) return false; *v = a - b; return true;
  case K_MUL: if (!const_int(e->a, &a) || !const_int(e->b, &b)) return false; *v = a * b; return true;
  default: return false;
  }
}

/* e as scale * (sum coef[v] v + coef[-1] iter + *c0); false when it is
 * not affine in the kernel's variables and the iteration of its loop
 * (the same for every thread of a launch) with constant coefficients. */
static bool affine(const KExpr *e, int64_t scale, int64_t *coef, int64_t *c0) {
  int64_t k;
  if (const_int(e, &k)) {
    *c0 += scale * k;
    return true;
  }
  switch (e->op) {
  case K_VAR: coef[e->var] += scale; return true;
  case K_ITER: coef[-1] += scale; return true;
  case K_CAST: return e->type != KT_F32 && e->type != KT_BOOL && affine(e->a, scale, coef, c0);
  case K_ADD: return affine(e->a, scale, coef, c0) && affine(e->b, scale, coef, c0);
  case K_SUB: return affine(e->a, scale, coef, c0) && affine(e->b, -scale, coef, c0);
  case K_MUL:
    if (const_int(e->b, &k)) return affine(e->a, scale * k, coef, c0);
    if (const_int(e->a, &k)) return affine(e->b, scale * k, coef, c0);
    return false;
  default: return false;
  }
}

typedef struct NestCheck {
  const Kernel *k;
  const NestPlan *np;
  bool *collapsed;             /* by variable */
  bool *defined;               /* by variable: set before this point */
  bool *bounded;               /* by variable: an inner loop with constant range */
  int64_t *lo, *hi;            /* its range [lo, hi) */
  int64_t **sig;               /* by buffer: the collapsed coefficients, or NULL */
  int64_t *coef;               /* scratch, by variable; coef[-1]: of the iteration */
  bool ok;
} NestCheck;

/* The range [*lo, *hi] of integer expression e over the loop variables'
 * ranges; false when unknown (v0, a local, a load). */
static bool interval(const NestCheck *c, const KExpr *e, int64_t *lo, int64_t *hi) {
  int64_t a0, a1, b0, b1;
  switch (e->op) {
  case K_CONST:
    if (e->type == KT_F32) return false;
    *lo = *hi = e->i;
    return true;
  case K_VAR:
    if (!c->bounded[e->var]) return false;
    *lo = c->lo[e->var], *hi = c->hi[e->var] - 1;
    return true;
  case K_CAST: return e->type != KT_F32 && e->type != KT_BOOL && interval(c, e->a, lo, hi);
  case K_SELECT:
    if (!interval(c, e->b, &a0, &a1) || !interval(c, e->c, &b0, &b1)) return false;
    *lo = a0 < b0 ? a0 : b0, *hi = a1 > b1 ? a1 : b1;
    return true;
  default: break;
  }
  if (!e->a || !e->b || !interval(c, e->a, &a0, &a1) || !interval(c, e->b, &b0, &b1)) return false;
  switch (e->op) {
  case K_ADD: *lo = a0 + b0, *hi = a1 + b1; return true;
  case K_SUB: *lo = a0 - b1, *hi = a1 - b0; return true;
  case K_MIN: *lo = a0 < b0 ? a0 : b0, *hi = a1 < b1 ? a1 : b1; return true;
  case K_MAX: *lo = a0 > b0 ? a0 : b0, *hi = a1 > b1 ? a1 : b1; return true;
  case K_MUL: {
    int64_t p[4] = {a0 * b0, a0 * b1, a1 * b0, a1 * b1};
    *lo = *hi = p[0];
    for (int i = 1; i < 4; i++) {
      if (p[i] < *lo) *lo = p[i];
      if (p[i] > *hi) *hi = p[i];
    }
    return true;
  }
  case K_DIV: /* by a positive constant: truncation is monotonic */
    if (b0 != b1 || b0 < 1) return false;
    *lo = a0 / b0, *hi = a1 / b0;
    return true;
  default: return false;
  }
}

/* An access to buf at idx: disjoint between tuples (see above). */
static void nest_access(NestCheck *c, int buf, const KExpr *idx) {
  const Kernel *k = c->k;
  const NestPlan *np = c->np;
  memset(c->coef - 1, 0, sizeof *c->coef * (size_t)(k->nvar + 1));
  int64_t c0 = 0, rlo, rhi;
  if (!affine(idx, 1, c->coef, &c0)) { c->ok = false; return; }
  rlo = rhi = c0;
  for (int v = 0; v < k->nvar; v++) {
    int64_t a = c->coef[v];
    if (!a || c->collapsed[v]) continue;
    if (!c->bounded[v]) { c->ok = false; return; }
    int64_t x = a * c->lo[v], y = a * (c->hi[v] - 1);
    rlo += x < y ? x : y;
    rhi += x < y ? y : x;
  }
  /* the digits: v0, then the collapsed loops that take more than one
     value (a loop over [0, 1) is v = 0), with their coefficients */
  int64_t cv[NEST_MAX + 1], ext[NEST_MAX + 1];
  int m = 0;
  cv[0] = c->coef[0];
  for (int i = 0; i < np->m; i++)
    if (np->ext[i] > 1) {
      m++;
      cv[m] = c->coef[np->loop[i]->var];
      ext[m] = np->ext[i];
    }
  if (m == 0) { c->ok = false; return; }
  /* the innermost digit: R's values lie in one period P of it, below its
     coefficient (so that c_m v_m + R never meets another v_m's) */
  int64_t cm = cv[m], P = cm * ext[m];
  if (cm < 1 || rlo < 0 || rlo / P != rhi / P || rhi % P >= cm) { c->ok = false; return; }
  /* the digits above: each spans more than everything below it */
  if (cv[m - 1] <= cm * (ext[m] - 1) + rhi) { c->ok = false; return; }
  for (int i = 0; i + 1 < m; i++)
    if (cv[i] < cv[i + 1] * ext[i + 1]) { c->ok = false; return; }
  /* every access to the buffer with the same coefficients, iteration's too */
  cv[m + 1] = c->coef[-1];
  if (!c->sig[buf]) {
    c->sig[buf] = calloc(NEST_MAX + 2, sizeof **c->sig);
    memcpy(c->sig[buf], cv, sizeof *cv * (size_t)(m + 2));
  } else if (memcmp(c->sig[buf], cv, sizeof *cv * (size_t)(m + 2))) {
    c->ok = false;
  }
}

static void nest_expr(NestCheck *c, const KExpr *e) {
  if (!e || !c->ok) return;
  if (e->op == K_VAR && !c->defined[e->var]) c->ok = false;
  if (e->op == K_LOAD && c->k->buf[e->buf].written) nest_access(c, e->buf, e->a);
  nest_expr(c, e->a);
  nest_expr(c, e->b);
  nest_expr(c, e->c);
}

static void nest_stmts(NestCheck *c, KStmt *const *s, int n) {
  for (int i = 0; i < n && c->ok; i++) {
    const KStmt *st = s[i];
    switch (st->kind) {
    case KS_STORE:
      nest_expr(c, st->idx);
      nest_expr(c, st->val);
      nest_access(c, st->buf, st->idx);
      break;
    case KS_SET:
      nest_expr(c, st->val);
      c->defined[st->var] = true;
      break;
    case KS_LOOP: {
      nest_expr(c, st->lo);
      nest_expr(c, st->hi);
      /* the variable's range when the loop runs: [min lo, max hi); a
         loop that never runs touches nothing */
      int64_t lo, hi, x;
      c->bounded[st->var] = interval(c, st->lo, &lo, &x) && interval(c, st->hi, &x, &hi);
      if (c->bounded[st->var] && lo >= hi) break;
      if (c->bounded[st->var]) c->lo[st->var] = lo, c->hi[st->var] = hi;
      /* what the loop body sets does not count as set after it */
      bool *saved = malloc((size_t)c->k->nvar);
      memcpy(saved, c->defined, (size_t)c->k->nvar);
      c->defined[st->var] = true;
      nest_stmts(c, st->body, st->nbody);
      memcpy(c->defined, saved, (size_t)c->k->nvar);
      free(saved);
      break;
    }
    }
  }
}

static bool nest_safe(const Kernel *k, const NestPlan *np) {
  size_t nv = (size_t)k->nvar + 1;
  NestCheck c = {.k = k, .np = np, .collapsed = calloc(nv, 1), .defined = calloc(nv, 1),
                 .bounded = calloc(nv, 1), .lo = calloc(nv, sizeof(int64_t)),
                 .hi = calloc(nv, sizeof(int64_t)),
                 .sig = calloc((size_t)k->nbuf + 1, sizeof(int64_t *)),
                 .coef = (int64_t *)calloc(nv + 1, sizeof(int64_t)) + 1, .ok = true};
  c.collapsed[0] = c.defined[0] = true;
  for (int i = 0; i < np->m; i++) {
    int v = np->loop[i]->var;
    c.collapsed[v] = c.defined[v] = c.bounded[v] = true;
    c.hi[v] = np->ext[i];
  }
  const KStmt *inner = np->loop[np->m - 1];
  nest_stmts(&c, inner->body, inner->nbody);
  bool ok = c.ok;
  for (int i = 0; i < k->nbuf; i++) free(c.sig[i]);
  free(c.sig), free(c.collapsed), free(c.defined), free(c.bounded), free(c.lo), free(c.hi);
  free(c.coef - 1);
  return ok;
}

/* The longest safe nest below the parallel loop of k (m = 0: none). */
static NestPlan nest_plan(const Kernel *k) {
  NestPlan np = {0};
  if (k->gemm || k->nbody != 1) return np;
  const KStmt *s = k->body[0];
  int64_t lo, hi;
  while (np.m < NEST_MAX && s->kind == KS_LOOP && const_int(s->lo, &lo) && lo == 0 &&
         const_int(s->hi, &hi) && hi > 0) {
    np.loop[np.m] = s;
    np.ext[np.m++] = hi;
    if (s->nbody != 1) break;
    s = s->body[0];
  }
  while (np.m > 0 && !nest_safe(k, &np)) np.m--;
  return np;
}

static int64_t nest_threads(const NestPlan *np) {
  int64_t t = 1;
  for (int i = 0; i < np->m; i++) t *= np->ext[i];
  return t;
}

static KExpr *ceil_div(Program *p, KExpr *a, int64_t d) {
  return kir_bin(p, K_DIV, kir_iadd(p, a, kir_const_i(p, d - 1)), kir_const_i(p, d));
}

/* ---- reductions as blocks ----
 *
 * A kernel with a KReduce description whose reduced range is long (it
 * grows with N, or holds THREADS elements or more) runs as a block
 * reduction; the choice is static, from x's shape (RedAxes):
 *
 *   columns   the reduced axes, merged, are one run R followed by P >=
 *             RED_COLS_MIN contiguous kept columns, kept axes S before it
 *             or none: [S,] R, P (a bias gradient sums [N, P] over N).
 *             A block per 32 columns (per S), its 256 threads 32 columns
 *             x 8 row groups: thread (c, g) combines rows g, g + 8, ... of
 *             column c, so a warp reads 32 neighbouring floats; then one
 *             __syncthreads, and thread (c, 0) combines the 8 partials of
 *             column c in order of g.
 *   block     any other long reduction (mean over N of [N], sum over axes
 *             0, 2, 3 of [N, C, H, W]): a block per output. Thread t
 *             combines reduced elements t, t + 256, ... (the innermost
 *             reduced axis fastest, so a warp's loads are neighbours);
 *             partials to shared memory, __syncthreads, threads 0..15
 *             combine partials t, t + 16, ..., t + 240, __syncthreads,
 *             thread 0 combines those 16 in order and stores.
 *
 * A short reduced range, a constant below THREADS (a max over a small H x
 * W while the outputs, N x C, scale with N), keeps the kernel's body: a
 * thread per output, as for any kernel. Orders are fixed and there are
 * no atomics, so a result is the same on every run. max starts from -inf
 * and combines with dlc_max (as K_MAX prints), the accumulator first. */
enum {
  RED_COLS = 32,                     /* columns per block */
  RED_GROUPS = THREADS / RED_COLS,   /* row groups per column */
  RED_COLS_MIN = 16,                 /* fewer columns would leave more than
                                        half the block idle; a block per
                                        output keeps it busy */
  RED_FAN = 16,                      /* partials per thread at each level */
};
_Static_assert(RED_FAN * RED_FAN == THREADS, "two levels of RED_FAN cover a block");

static bool block_reduction(LaunchKind k) { return k == L_RED_BLOCK || k == L_RED_COLS; }

static Size size_mul(Size a, Size b) { return (Size){a.k * b.k, a.sym || b.sym}; }

/* r's merged axes; false when x has two dimensions of N (a size would be
 * N^2). */
static bool red_axes(const KReduce *r, RedAxes *a) {
  RedAxes in = {0}; /* innermost first */
  Size stride = {1, false};
  int nsym = 0, n = 0;
  *a = (RedAxes){.count = {1, false}, .outputs = {1, false}};
  for (int i = r->shape.rank - 1; i >= 0; i--) {
    int64_t d = r->shape.d[i];
    Size s = {d < 0 ? -d : d, d < 0};
    nsym += s.sym;
    if (s.k == 1 && !s.sym) continue;
    if (n && in.red[n - 1] == r->red[i]) in.size[n - 1] = size_mul(in.size[n - 1], s);
    else in.red[n] = r->red[i], in.size[n] = s, in.stride[n++] = stride;
    stride = size_mul(stride, s);
    if (r->red[i]) a->count = size_mul(a->count, s);
    else a->outputs = size_mul(a->outputs, s);
  }
  a->n = n;
  for (int i = 0, j = n - 1; i < n; i++, j--)
    a->red[i] = in.red[j], a->size[i] = in.size[j], a->stride[i] = in.stride[j];
  return nsym <= 1;
}

/* How kernel k's reduction runs (see above): L_PLAIN for its body. */
static LaunchKind reduce_kind(const Kernel *k, RedAxes *a) {
  const KReduce *r = k->reduce;
  if (!r || k->gemm || k->buf[r->x].type != KT_F32 || !red_axes(r, a)) return L_PLAIN;
  if (!a->count.sym && a->count.k < THREADS) return L_PLAIN;
  int n = a->n;
  if ((n == 2 || n == 3) && a->red[n - 2] && !a->red[n - 1] && !a->size[n - 1].sym &&
      a->size[n - 1].k >= RED_COLS_MIN)
    return L_RED_COLS;
  return L_RED_BLOCK;
}

static KExpr *size_expr(Program *p, Size s) {
  return kir_imul(p, s.sym ? kir_n(p) : kir_const_i(p, 1), kir_const_i(p, s.k));
}

/* The launch of a block reduction: a block per output, or per 32
 * columns (per S). threads: those the work needs, a whole block per
 * output; a thread per (column, row group). */
static void launch_reduce(Program *p, Launch *l) {
  const RedAxes *a = &l->red;
  KExpr *one = kir_const_i(p, 1);
  l->grid[1] = l->grid[2] = one;
  if (l->kind == L_RED_BLOCK) {
    l->grid[0] = size_expr(p, a->outputs);
    l->threads = kir_imul(p, l->grid[0], kir_const_i(p, THREADS));
    return;
  }
  int64_t P = a->size[a->n - 1].k;
  KExpr *outer = a->n == 3 ? size_expr(p, a->size[0]) : one;
  l->grid[0] = kir_imul(p, outer, kir_const_i(p, (P + RED_COLS - 1) / RED_COLS));
  l->threads = kir_imul(p, outer, kir_const_i(p, P * RED_GROUPS));
}

/* part 0: the kernel (the product for a gemm kernel); part 1: the
 * epilogue of a gemm kernel. */
static Launch launch_of(const Program *cp, const Kernel *k, int part) {
  Program *p = (Program *)cp; /* builds expressions in its arena only */
  Launch l = {.kind = L_PLAIN};
  KExpr *one = kir_const_i(p, 1);
  if (k->gemm && part == 0) {
    const KGemm *gm = k->gemm;
    l.kind = L_GEMM;
    l.grid[0] = ceil_div(p, gm->M, GEMM_TM);
    l.grid[1] = ceil_div(p, gm->N, GEMM_TN);
    l.grid[2] = kir_bin(p, K_MIN, gm->batch, kir_const_i(p, GRID_YZ_MAX));
    l.threads = kir_imul(p, kir_imul(p, l.grid[0], l.grid[1]), kir_const_i(p, THREADS));
    return l;
  }
  if ((l.kind = reduce_kind(k, &l.red)) != L_PLAIN) {
    launch_reduce(p, &l);
    return l;
  }
  l.threads = k->extent;
  if (flat_block(k)) {
    l.kind = L_FLAT;
    l.threads = kir_imul(p, k->extent, kir_const_i(p, flat_block(k)));
  } else if (k->gemm && rows_epilogue(k)) {
    l.kind = L_ROWS;
    l.threads = kir_imul(p, k->extent, k->gemm->M);
  } else if (!k->gemm && (l.nest = nest_plan(k)).m) {
    l.kind = L_NEST;
    l.threads = kir_imul(p, k->extent, kir_const_i(p, nest_threads(&l.nest)));
  }
  l.grid[0] = ceil_div(p, l.threads, THREADS);
  l.grid[1] = l.grid[2] = one;
  return l;
}

static int64_t eval_n(const KExpr *e, int64_t N) {
  switch (e->op) {
  case K_CONST: return e->i;
  case K_N: return N;
  case K_ADD: return eval_n(e->a, N) + eval_n(e->b, N);
  case K_SUB: return eval_n(e->a, N) - eval_n(e->b, N);
  case K_MUL: return eval_n(e->a, N) * eval_n(e->b, N);
  case K_DIV: return eval_n(e->a, N) / eval_n(e->b, N);
  case K_REM: return eval_n(e->a, N) % eval_n(e->b, N);
  case K_MIN: { int64_t a = eval_n(e->a, N), b = eval_n(e->b, N); return a < b ? a : b; }
  case K_MAX: { int64_t a = eval_n(e->a, N), b = eval_n(e->b, N); return a > b ? a : b; }
  default: die("cuda: a launch size is not an integer expression of N");
  }
}

int cg_cuda_nparts(const Kernel *k) { return k->gemm && k->nbody ? 2 : 1; }

void cg_cuda_launch(const Program *p, const Kernel *k, int part, int64_t N, CudaLaunch *out) {
  Launch l = launch_of(p, k, part);
  for (int i = 0; i < 3; i++) out->grid[i] = eval_n(l.grid[i], N);
  out->block = THREADS;
  out->shared = l.kind == L_GEMM ? (int64_t)sizeof(float) * GEMM_TK * (GEMM_TM + GEMM_TN + 8)
                : block_reduction(l.kind) ? (int64_t)sizeof(float) * THREADS
                                          : 0;
  out->threads = eval_n(l.threads, N);
  out->sync = l.kind == L_GEMM || block_reduction(l.kind);
}

/* ---- kernels ---- */

/* The symbol of part `part` of kernel k of an entry. */
static void kernel_symbol(char *buf, size_t n, const char *entry, const Kernel *k, int part) {
  snprintf(buf, n, "%s_%s%s", entry, k->name, part ? "_epi" : "");
}

/* Constant data, once per kernel that reads it: a __device__ array. */
static void put_const(Str *b, const char *sym, int i, const KBuf *kb) {
  str_printf(b, "static __device__ const %s %s_c%d[%lld] = {", cutype(kb->type), sym, i,
             (long long)(kb->numel ? kb->numel : 1));
  for (int64_t j = 0; j < kb->numel; j++) {
    if (j % 8 == 0) str_printf(b, "\n ");
    str_putc(b, ' ');
    if (kb->type == KT_I32) str_printf(b, "%lld", (long long)kb->data[j]);
    else put_float(b, kb->data[j]);
    str_putc(b, ',');
  }
  str_printf(b, "%s};\n", kb->numel ? "\n" : "0");
}

/* The pointer of each buffer in use: frame base + offset, or a constant. */
static void put_buffers(Str *b, const Kernel *k, const char *sym, const bool *use) {
  for (int i = 0; i < k->nbuf; i++) {
    if (!use[i]) continue;
    const KBuf *kb = &k->buf[i];
    const char *t = cutype(kb->type), *cst = kb->written ? "" : "const ";
    if (kb->region == R_NONE) {
      str_printf(b, "  const %s *b%d = %s_c%d;\n", t, i, sym, i);
      continue;
    }
    str_printf(b, "  %s%s *const b%d = (%s%s *)(f.base[%d] + %lldLL%s);\n", cst, t, i, cst, t,
               (int)kb->region, (long long)kb->off, kb->region == R_ACTN ? " * f.N" : "");
  }
}

/* Locals of the body: those read, zeroed (no path reads one unset, but
 * the compiler cannot always see that). */
static void put_locals(Str *b, const Kernel *k, const bool *read) {
  for (KType t = 0; t < KT_COUNT; t++) {
    int n = 0;
    for (int v = 1; v < k->nvar; v++)
      if (k->vartype[v] == t && read[v])
      {
        if (n++) str_printf(b, ", v%d = 0", v);
        else str_printf(b, "  %s v%d = 0", cutype(t), v);
      }
    if (n) str_printf(b, ";\n");
  }
}

static void put_comment(Str *b, const Kernel *k, const Launch *l, const char *what) {
  Cu c = {b, k, NULL};
  str_printf(b, "/* %s%s: %%%d", k->name, what, k->node);
  if (k->loc.line) str_printf(b, " @ %s:%d:%d", k->loc.file, k->loc.line, k->loc.col);
  str_printf(b, "\n   launch: grid (");
  for (int i = 0; i < 3; i++) {
    if (i) str_printf(b, ", ");
    put_expr(&c, l->grid[i]);
  }
  str_printf(b, ") x %d threads */\n", THREADS);
}

/* A plain kernel, or the epilogue of a gemm kernel (part 1). */
static void put_body_kernel(Str *b, const Program *p, const Kernel *k, const char *entry,
                            int part) {
  char sym[256];
  kernel_symbol(sym, sizeof sym, entry, k, part);
  bool *read = calloc((size_t)k->nvar + 1, 1), *written = calloc((size_t)k->nvar + 1, 1);
  bool *use = calloc((size_t)k->nbuf + 1, 1);
  mark_stmts(k->body, k->nbody, read, written, use);
  for (int i = 0; i < k->nbuf; i++)
    if (use[i] && k->buf[i].region == R_NONE) put_const(b, sym, i, &k->buf[i]);
  Launch l = launch_of(p, k, part);
  if (l.kind == L_NEST) { /* the collapsed loops' own reads are gone */
    const KStmt *in = l.nest.loop[l.nest.m - 1];
    memset(read, 0, (size_t)k->nvar + 1);
    mark_stmts(in->body, in->nbody, read, written, use);
  }
  put_comment(b, k, &l, part ? " (epilogue)" : "");
  Cu c = {b, k, read};
  str_printf(b, "extern \"C\" __global__ void __launch_bounds__(%d) %s(const dlc_frame f) {\n",
             THREADS, sym);
  str_printf(b, "  const long long t = (long long)blockIdx.x * %d + threadIdx.x;\n", THREADS);
  str_printf(b, "  if (t >= ");
  put_expr(&c, l.threads);
  str_printf(b, ") return;\n");
  put_buffers(b, k, sym, use);
  put_locals(b, k, read);
  if (l.kind == L_FLAT) { /* t = v0 * C + the element's place in the block */
    const KStmt *loop = k->body[0];
    int64_t C = flat_block(k);
    str_printf(b, "  const long long v0 = t / %lldLL;\n  (void)v0;\n", (long long)C);
    str_printf(b, "  v%d = t;\n  if (v%d < ", loop->var, loop->var);
    put_expr(&c, loop->hi);
    str_printf(b, ") {\n");
    put_stmts(&c, loop->body, loop->nbody, 2);
    str_printf(b, "  }\n");
  } else if (l.kind == L_ROWS) { /* t = panel * M + row; rows step by M */
    const KGemm *gm = k->gemm;
    str_printf(b, "  const long long rows = ");
    put_expr(&c, gm->M);
    str_printf(b, ";\n");
    if (read[0]) str_printf(b, "  const long long v0 = t / rows;\n");
    put_stmts(&c, k->body, k->nbody - 1, 1);
    const KStmt *loop = k->body[k->nbody - 1];
    Str start = {0};
    Cu cs = {&start, k, read};
    str_printf(&start, "(");
    put_expr(&cs, loop->lo);
    str_printf(&start, ") + t %% rows");
    put_loop(&c, loop, start.s, "rows", 1);
    str_free(&start);
  } else if (l.kind == L_NEST) { /* t = ((v0 * E1 + v1) * E2 + v2) ... */
    const NestPlan *np = &l.nest;
    int64_t inner = nest_threads(np);
    if (read[0]) str_printf(b, "  const long long v0 = t / %lldLL;\n", (long long)inner);
    for (int i = 0; i < np->m; i++) {
      inner /= np->ext[i];
      int v = np->loop[i]->var;
      if (read[v]) str_printf(b, "  v%d = t / %lldLL %% %lldLL;\n", v, (long long)inner, (long long)np->ext[i]);
    }
    const KStmt *in = np->loop[np->m - 1];
    put_stmts(&c, in->body, in->nbody, 1);
  } else {
    if (read[0]) str_printf(b, "  const long long v0 = t;\n");
    put_stmts(&c, k->body, k->nbody, 1);
  }
  str_printf(b, "}\n\n");
  free(read);
  free(written);
  free(use);
}

/* The product of a gemm kernel: dlc_gemm_tile over one 64 x 64 tile of C
 * per block, batches along grid z. */
static void put_gemm_kernel(Str *b, const Program *p, const Kernel *k, const char *entry) {
  const KGemm *gm = k->gemm;
  char sym[256];
  kernel_symbol(sym, sizeof sym, entry, k, 0);
  bool *use = calloc((size_t)k->nbuf + 1, 1);
  use[gm->a] = use[gm->b] = use[gm->c] = true;
  for (int i = 0; i < k->nbuf; i++)
    if (use[i] && k->buf[i].region == R_NONE) put_const(b, sym, i, &k->buf[i]);
  Launch l = launch_of(p, k, 0);
  put_comment(b, k, &l, " (product)");
  Cu c = {b, k, NULL};
  str_printf(b, "extern \"C\" __global__ void __launch_bounds__(%d) %s(const dlc_frame f) {\n",
             THREADS, sym);
  put_buffers(b, k, sym, use);
  free(use);
  static const char *const names[] = {"M", "N", "K", "ars", "aks", "ldb", "bns", "ldc",
                                      "batch", "sa", "sb", "sc"};
  const KExpr *vals[] = {gm->M, gm->N, gm->K, gm->a_rs, gm->a_ks, gm->ldb, gm->b_ns, gm->ldc,
                         gm->batch, gm->sa, gm->sb, gm->sc};
  for (int i = 0; i < 12; i++) {
    str_printf(b, "  const long long %s = ", names[i]);
    put_expr(&c, vals[i]);
    str_printf(b, ";\n");
  }
  /* where C, A and B start: an offset of the iteration (one step of a
     recurrent layer) when the product has one */
  const KExpr *offs[3] = {gm->c_off, gm->a_off, gm->b_off};
  int bufs[3] = {gm->c, gm->a, gm->b};
  static const char *const off_names[] = {"oc", "oa", "ob"}, *const strides[] = {"sc", "sa", "sb"};
  for (int i = 0; i < 3; i++)
    if (offs[i]) {
      str_printf(b, "  const long long %s = ", off_names[i]);
      put_expr(&c, offs[i]);
      str_printf(b, ";\n");
    }
  str_printf(b, "  for (long long bt = blockIdx.z; bt < batch; bt += gridDim.z)\n    dlc_gemm_tile(");
  for (int i = 0; i < 3; i++)
    str_printf(b, "b%d%s%s + bt * %s, ", bufs[i], offs[i] ? " + " : "", offs[i] ? off_names[i] : "",
               strides[i]);
  str_printf(b, "M, N, K, ars, aks, ldb, bns, ldc);\n}\nDLC_BLOCK_SYNC(%s)\n\n", sym);
}

/* ---- block reductions (see "reductions as blocks") ---- */

/* "acc = acc + v;" or "acc = dlc_max(acc, v);" at indent depth. */
static void put_combine(Str *b, const KReduce *r, int depth, const char *v) {
  indent(b, depth);
  if (r->op == K_MAX) str_printf(b, "acc = dlc_max(acc, %s);\n", v);
  else str_printf(b, "acc = acc + %s;\n", v);
}

static void put_factor(Cu *c, Program *p, const char *op, Size s) {
  str_printf(c->b, "%s", op);
  put_expr(c, size_expr(p, s));
}

/* The offset in x of index ix over the merged axes of one kind (red):
 * the sum of (ix / inner % size) * stride, outermost first and without
 * the % (ix is below the whole count); "0LL" when there are none. */
static void put_digits(Cu *c, Program *p, const RedAxes *a, bool red, const char *ix) {
  Size inner[MAX_RANK], in = {1, false};
  int top = -1, terms = 0;
  for (int i = a->n - 1; i >= 0; i--)
    if (a->red[i] == red) {
      inner[i] = in;
      in = size_mul(in, a->size[i]);
      top = i;
    }
  for (int i = top; i >= 0 && i < a->n; i++) {
    if (a->red[i] != red) continue;
    bool div = inner[i].k != 1 || inner[i].sym, mod = i != top;
    str_printf(c->b, "%s%s%s", terms++ ? " + " : "", div || mod ? "(" : "", ix);
    if (div) put_factor(c, p, " / ", inner[i]);
    if (mod) put_factor(c, p, " % ", a->size[i]);
    str_printf(c->b, "%s", div || mod ? ")" : "");
    if (a->stride[i].k != 1 || a->stride[i].sym) put_factor(c, p, " * ", a->stride[i]);
  }
  if (!terms) str_printf(c->b, "0LL");
}

/* The result in acc stored at y[at] (divided by count n for a mean). */
static void put_red_store(Str *b, const KReduce *r, const char *at, const char *n) {
  const char *div = r->mean ? " / (float)" : "";
  str_printf(b, "    b%d[%s] = acc%s%s;\n  }\n", r->y, at, div, r->mean ? n : "");
}

/* A block per output: blockIdx.x is the output o. */
static void put_red_block(Cu *c, Program *p, const KReduce *r, const RedAxes *a) {
  Str *b = c->b, v = {0};
  str_printf(b, "  const long long o = blockIdx.x, count = ");
  put_expr(c, size_expr(p, a->count));
  str_printf(b, ";\n  const float *const x = b%d + ", r->x);
  put_digits(c, p, a, false, "o");
  str_printf(b, ";\n  for (long long j = t; j < count; j += %d)\n", THREADS);
  Cu cv = {&v, c->k, NULL};
  str_printf(&v, "x[");
  put_digits(&cv, p, a, true, "j");
  str_printf(&v, "]");
  put_combine(b, r, 2, v.s);
  str_free(&v);
  str_printf(b, "  part[t] = acc;\n  __syncthreads();\n  if (t < %d) {\n", RED_FAN);
  str_printf(b, "    for (int i = %d; i < %d; i += %d)\n", RED_FAN, THREADS, RED_FAN);
  put_combine(b, r, 3, "part[t + i]");
  str_printf(b, "    part[t] = acc;\n  }\n  __syncthreads();\n  if (t == 0) {\n");
  str_printf(b, "    for (int i = 1; i < %d; i++)\n", RED_FAN);
  put_combine(b, r, 3, "part[i]");
  put_red_store(b, r, "o", "count");
}

/* A block per 32 columns (per S): thread (c, g) = (t % 32, t / 32). */
static void put_red_cols(Cu *c, Program *p, const KReduce *r, const RedAxes *a) {
  Str *b = c->b;
  int n = a->n;
  int64_t P = a->size[n - 1].k, blocks = (P + RED_COLS - 1) / RED_COLS;
  str_printf(b, "  const int c = t %% %d, g = t / %d;\n  const long long rows = ", RED_COLS, RED_COLS);
  put_expr(c, size_expr(p, a->count));
  str_printf(b, ", col = blockIdx.x %% %lldLL * %d + c", (long long)blocks, RED_COLS);
  if (n == 3) str_printf(b, ", s = blockIdx.x / %lldLL", (long long)blocks);
  str_printf(b, ";\n  if (col < %lldLL) {\n    const float *const x = b%d + col", (long long)P, r->x);
  if (n == 3) put_factor(c, p, " + s * ", a->stride[0]);
  str_printf(b, ";\n    for (long long i = g; i < rows; i += %d)\n", RED_GROUPS);
  put_combine(b, r, 3, arena_printf(p->arena, "x[i * %lldLL]", (long long)a->stride[n - 2].k));
  str_printf(b, "  }\n  part[t] = acc;\n  __syncthreads();\n  if (g == 0 && col < %lldLL) {\n",
             (long long)P);
  str_printf(b, "    for (int i = 1; i < %d; i++)\n", RED_GROUPS);
  put_combine(b, r, 3, arena_printf(p->arena, "part[c + i * %d]", RED_COLS));
  put_red_store(b, r, n == 3 ? arena_printf(p->arena, "s * %lldLL + col", (long long)P) : "col",
                "rows");
}

/* A kernel with a KReduce description as a block reduction (l). */
static void put_reduce_kernel(Str *b, const Program *cp, const Kernel *k, const char *entry,
                              const Launch *l) {
  Program *p = (Program *)cp; /* builds expressions in its arena only */
  const KReduce *r = k->reduce;
  char sym[256];
  kernel_symbol(sym, sizeof sym, entry, k, 0);
  bool *use = calloc((size_t)k->nbuf + 1, 1);
  use[r->x] = use[r->y] = true;
  for (int i = 0; i < k->nbuf; i++)
    if (use[i] && k->buf[i].region == R_NONE) put_const(b, sym, i, &k->buf[i]);
  put_comment(b, k, l, l->kind == L_RED_COLS ? " (a block per 32 columns)" : " (a block per output)");
  str_printf(b, "extern \"C\" __global__ void __launch_bounds__(%d) %s(const dlc_frame f) {\n",
             THREADS, sym);
  str_printf(b, "  __shared__ float part[%d];\n", THREADS);
  put_buffers(b, k, sym, use);
  free(use);
  str_printf(b, "  const int t = threadIdx.x;\n  float acc = ");
  put_float(b, r->op == K_MAX ? -HUGE_VAL : 0.0);
  str_printf(b, ";\n");
  Cu c = {b, k, NULL};
  if (l->kind == L_RED_COLS) put_red_cols(&c, p, r, &l->red);
  else put_red_block(&c, p, r, &l->red);
  str_printf(b, "}\nDLC_BLOCK_SYNC(%s)\n\n", sym);
}

/* What every module starts with: the frame, max and min, the gemm tile. */
static const char prelude[] =
    "/* The frame: runtime/dlrt.h's dlrt_frame, field for field, with device\n"
    "   addresses in base[]. */\n"
    "typedef struct dlc_frame {\n"
    "  char *base[@R];\n"
    "  long long N;\n"
    "  float hyper[@H];\n"
    "  long long step;\n"
    "  unsigned long long seed;\n"
    "  long long iter;\n"
    "  unsigned long long version;\n"
    "} dlc_frame;\n"
    "\n"
    "/* As llvm.c builds them (select of ogt/olt), so NaN handling matches. */\n"
    "__device__ __forceinline__ float dlc_max(float a, float b) { return a > b ? a : b; }\n"
    "__device__ __forceinline__ float dlc_min(float a, float b) { return a < b ? a : b; }\n"
    "__device__ __forceinline__ long long dlc_max(long long a, long long b) { return a > b ? a : b; }\n"
    "__device__ __forceinline__ long long dlc_min(long long a, long long b) { return a < b ? a : b; }\n"
    "__device__ __forceinline__ int dlc_max(int a, int b) { return a > b ? a : b; }\n"
    "__device__ __forceinline__ int dlc_min(int a, int b) { return a < b ? a : b; }\n"
    "\n"
    "/* C = A'B for one TM x TN tile of C (blockIdx.x: rows, blockIdx.y:\n"
    "   columns), A'(i, k) = A[i * ars + k * aks], B(k, j) = B[k * ldb + j * bns],\n"
    "   C row-major with row stride ldc. Slices of TK values of k are staged in\n"
    "   shared memory, read along the operand's contiguous dimension; each of\n"
    "   the 256 threads accumulates 4 x 4 elements of C, rows ty + 16r and\n"
    "   columns tx + 16c, so that a warp reads distinct banks. */\n"
    "#define TM @TM\n"
    "#define TN @TN\n"
    "#define TK @TK\n"
    "__device__ void dlc_gemm_tile(float *C, const float *A, const float *B, long long M,\n"
    "                              long long N, long long K, long long ars, long long aks,\n"
    "                              long long ldb, long long bns, long long ldc) {\n"
    "  __shared__ float As[TK][TM + 4];\n"
    "  __shared__ float Bs[TK][TN + 4];\n"
    "  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;\n"
    "  const long long i0 = (long long)blockIdx.x * TM, j0 = (long long)blockIdx.y * TN;\n"
    "  float acc[4][4];\n"
    "  for (int r = 0; r < 4; r++)\n"
    "    for (int c = 0; c < 4; c++) acc[r][c] = 0.0f;\n"
    "  for (long long k0 = 0; k0 < K; k0 += TK) {\n"
    "    for (int e = tid; e < TK * TM; e += 256) {\n"
    "      const int kk = aks == 1 ? e % TK : e / TM, ii = aks == 1 ? e / TK : e % TM;\n"
    "      const long long i = i0 + ii, k = k0 + kk;\n"
    "      As[kk][ii] = i < M && k < K ? A[i * ars + k * aks] : 0.0f;\n"
    "    }\n"
    "    for (int e = tid; e < TK * TN; e += 256) {\n"
    "      const int kk = bns == 1 ? e / TN : e % TK, jj = bns == 1 ? e % TN : e / TK;\n"
    "      const long long j = j0 + jj, k = k0 + kk;\n"
    "      Bs[kk][jj] = j < N && k < K ? B[k * ldb + j * bns] : 0.0f;\n"
    "    }\n"
    "    __syncthreads();\n"
    "#pragma unroll\n"
    "    for (int kk = 0; kk < TK; kk++) {\n"
    "      float a[4], b[4];\n"
    "      for (int r = 0; r < 4; r++) a[r] = As[kk][ty + 16 * r];\n"
    "      for (int c = 0; c < 4; c++) b[c] = Bs[kk][tx + 16 * c];\n"
    "      for (int r = 0; r < 4; r++)\n"
    "        for (int c = 0; c < 4; c++) acc[r][c] = fmaf(a[r], b[c], acc[r][c]);\n"
    "    }\n"
    "    __syncthreads();\n"
    "  }\n"
    "  for (int r = 0; r < 4; r++)\n"
    "    for (int c = 0; c < 4; c++) {\n"
    "      const long long i = i0 + ty + 16 * r, j = j0 + tx + 16 * c;\n"
    "      if (i < M && j < N) C[i * ldc + j] = acc[r][c];\n"
    "    }\n"
    "}\n"
    "#undef TM\n#undef TN\n#undef TK\n\n"
    "/* Names each kernel that synchronises its blocks (__syncthreads): a CPU\n"
    "   emulation of this code (tests/tools/cudaemu.h) must run their threads\n"
    "   at once. */\n"
    "#ifndef DLC_BLOCK_SYNC\n#define DLC_BLOCK_SYNC(kernel)\n#endif\n\n";

/* prelude with @R, @H, @TM, @TN, @TK replaced. */
static void put_prelude(Str *b) {
  for (const char *t = prelude; *t; t++) {
    if (*t != '@') {
      str_putc(b, *t);
      continue;
    }
    int v = 0, len = 2;
    if (strncmp(t, "@R", 2) == 0) v = DLRT_REGIONS;
    else if (strncmp(t, "@H", 2) == 0) v = DLRT_HYPERS;
    else if (strncmp(t, "@TM", 3) == 0) v = GEMM_TM, len = 3;
    else if (strncmp(t, "@TN", 3) == 0) v = GEMM_TN, len = 3;
    else if (strncmp(t, "@TK", 3) == 0) v = GEMM_TK, len = 3;
    else die("cuda: bad prelude template at %.8s", t);
    str_printf(b, "%d", v);
    t += len - 1;
  }
}

_Static_assert((int)DLRT_REGIONS == (int)R_COUNT, "frame regions are the compiler's regions");
_Static_assert(THREADS == 256 && GEMM_TM == 64 && GEMM_TN == 64,
               "dlc_gemm_tile's 16 x 16 threads of 4 x 4 elements cover 64 x 64");

char *cg_cuda_source(const Entry *e, int n) {
  Str b = {0};
  str_printf(&b, "/* CUDA C generated by dlc %s for model %s: %d entries. */\n\n", DLC_VERSION,
             n ? e[0].g->name : "?", n);
  put_prelude(&b);
  for (int j = 0; j < n; j++) {
    const Program *p = e[j].p;
    const char *entry = entry_name[e[j].kind];
    str_printf(&b, "/* ---- entry %s: %d kernels ---- */\n\n", entry, p->nk);
    for (int i = 0; i < p->nk; i++) {
      const Kernel *k = p->k[i];
      Launch l = {0};
      if (k->reduce) l = launch_of(p, k, 0);
      if (block_reduction(l.kind)) {
        put_reduce_kernel(&b, p, k, entry, &l);
        continue;
      }
      if (k->gemm) put_gemm_kernel(&b, p, k, entry);
      if (!k->gemm || k->nbody) put_body_kernel(&b, p, k, entry, k->gemm ? 1 : 0);
    }
  }
  return b.s;
}

/* ---- the host program ---- */

/* text as a C string literal, a line of source per line of text. */
static void put_cstring(Str *b, const char *text) {
  str_printf(b, "\"");
  for (const char *c = text; *c; c++) {
    if (*c == '\n') str_printf(b, c[1] ? "\\n\"\n\"" : "\\n");
    else if (*c == '"' || *c == '\\') str_printf(b, "\\%c", *c);
    else if (*c == '\t') str_printf(b, "\\t");
    else if ((unsigned char)*c < 32 || (unsigned char)*c > 126) str_printf(b, "\\%03o", (unsigned char)*c);
    else str_putc(b, *c);
  }
  str_printf(b, "\"");
}

/* An integer expression of N in host C. */
static void put_host_int(Str *b, const KExpr *e) {
  switch (e->op) {
  case K_CONST: str_printf(b, "(int64_t)%lldLL", (long long)e->i); return;
  case K_N: str_printf(b, "N"); return;
  case K_MIN: case K_MAX:
    str_printf(b, "dlc_%s(", e->op == K_MIN ? "min" : "max");
    put_host_int(b, e->a);
    str_printf(b, ", ");
    put_host_int(b, e->b);
    str_printf(b, ")");
    return;
  case K_ADD: case K_SUB: case K_MUL: case K_DIV: case K_REM: {
    static const char sym[K_COUNT] = {[K_ADD] = '+', [K_SUB] = '-', [K_MUL] = '*',
                                      [K_DIV] = '/', [K_REM] = '%'};
    str_printf(b, "(");
    put_host_int(b, e->a);
    str_printf(b, " %c ", sym[e->op]);
    put_host_int(b, e->b);
    str_printf(b, ")");
    return;
  }
  default: die("cuda: a launch size is not an integer expression of N");
  }
}

/* A copy between the host frame and the device arena of node n's tensor. */
static void put_copy(Str *b, const Node *n, bool to_device) {
  Size s = shape_numel(&n->shape);
  str_printf(b, "  dlrt_cuda_copy(f, %d, %d, %lldLL%s, %lldLL%s);  /* %s */\n", to_device,
             (int)n->region, (long long)n->off, n->region == R_ACTN ? " * N" : "",
             (long long)(s.k * 4), s.sym ? " * N" : "", n->name ? n->name : "");
}

/* Whether a kernel of p writes region r. */
static bool writes_region(const Program *p, Region r) {
  for (int i = 0; i < p->nk; i++)
    for (int b = 0; b < p->k[i]->nbuf; b++)
      if (p->k[i]->buf[b].written && p->k[i]->buf[b].region == r) return true;
  return false;
}

/* One entry: weights and state in (unless the device holds them), inputs
 * in, the launches, outputs out; an entry that writes weights or state
 * leaves them on the device and marks the host's copy stale
 * (runtime/cuda.c, "Residency"). */
static void put_host_entry(Str *b, const Entry *e, int64_t weights, int64_t state, int *fn) {
  const Graph *g = e->g;
  const Program *p = e->p;
  const char *entry = entry_name[e->kind];
  str_printf(b, "void %s(const dlrt_frame *f) {\n  const int64_t N = f->N;\n", entry_symbol[e->kind]);
  str_printf(b, "  dlrt_cuda_enter(f, \"%s\", dlc_ptx, DLC_CUDA_FUNCTIONS, %lldLL, %lldLL, %lldLL, "
                "%lldLL);\n",
             entry, (long long)weights, (long long)state,
             (long long)g->region_k[R_ACT], (long long)g->region_n[R_ACTN]);
  str_printf(b, "  dlrt_cuda_params_in(f, %lldLL, %lldLL);\n", (long long)weights, (long long)state);
  for (int i = 0; i < g->nnode; i++)
    if (g->node[i].op == OP_INPUT) put_copy(b, &g->node[i], true);
  /* the kernels of a KRepeat run count times, the frame's iter counting
     (in a copy: the runtime's frame is read-only) */
  if (p->nloop) str_printf(b, "  dlrt_frame fl = *f;\n  int64_t it;\n");
  for (int i = 0, li = 0; i < p->nk; i++) {
    const Kernel *k = p->k[i];
    const KRepeat *lp = li < p->nloop ? &p->loop[li] : NULL;
    bool in = lp && i >= lp->first && i < lp->last;
    if (lp && lp->first == i)
      str_printf(b, "  for (it = 0; it < %lldLL; it++) {\n    fl.iter = it;\n", (long long)lp->count);
    for (int part = 0; part < cg_cuda_nparts(k); part++) {
      char sym[256];
      kernel_symbol(sym, sizeof sym, entry, k, part);
      Launch l = launch_of(p, k, part);
      str_printf(b, in ? "    dlrt_cuda_launch(&fl, %d, \"%s\", " : "  dlrt_cuda_launch(f, %d, \"%s\", ",
                 (*fn)++, sym);
      for (int d = 0; d < 3; d++) {
        put_host_int(b, l.grid[d]);
        str_printf(b, ", ");
      }
      str_printf(b, "%d);\n", THREADS);
    }
    if (lp && lp->last == i + 1) {
      str_printf(b, "  }\n");
      li++;
    }
  }
  str_printf(b, "  dlrt_cuda_sync(f);\n");
  for (int o = 0; o < g->nout; o++) put_copy(b, &g->node[g->out[o].node], false);
  if (writes_region(p, R_WEIGHT) || writes_region(p, R_STATE))
    str_printf(b, "  dlrt_cuda_params_out(f);\n");
  str_printf(b, "}\n\n");
}

/* The declarations the host program shares with runtime/dlrt.h, written
 * out so that the program needs no header: the frame (as llvm.c mirrors
 * it) and the runtime's CUDA calls (runtime/cuda.c). */
static const char host_prelude[] =
    "#include <stdint.h>\n\n"
    "typedef struct dlrt_frame {\n"
    "  char *base[%d];\n"
    "  int64_t N;\n"
    "  float hyper[%d];\n"
    "  int64_t step;\n"
    "  uint64_t seed;\n"
    "  int64_t iter;\n"
    "  uint64_t version;\n"
    "} dlrt_frame;\n\n"
    "void dlrt_cuda_enter(const dlrt_frame *f, const char *entry, const char *ptx, int functions,\n"
    "                     int64_t weight_bytes, int64_t state_bytes, int64_t act_k, int64_t act_n);\n"
    "void dlrt_cuda_copy(const dlrt_frame *f, int to_device, int region, int64_t off, int64_t bytes);\n"
    "void dlrt_cuda_launch(const dlrt_frame *f, int index, const char *name, int64_t gx, int64_t gy,\n"
    "                      int64_t gz, int threads);\n"
    "void dlrt_cuda_sync(const dlrt_frame *f);\n"
    "void dlrt_cuda_params_in(const dlrt_frame *f, int64_t weight_bytes, int64_t state_bytes);\n"
    "void dlrt_cuda_params_out(const dlrt_frame *f);\n\n"
    "static int64_t dlc_min(int64_t a, int64_t b) { return a < b ? a : b; }\n"
    "static int64_t dlc_max(int64_t a, int64_t b) { return a > b ? a : b; }\n\n";

char *cg_cuda_host(const Entry *e, int n, const char *manifest, const char *ptx, int arch) {
  Str b = {0};
  int nfn = 0;
  for (int j = 0; j < n; j++)
    for (int i = 0; i < e[j].p->nk; i++) nfn += cg_cuda_nparts(e[j].p->k[i]);
  str_printf(&b, "/* The host program of model %s for CUDA (PTX for compute_%d), generated by "
                 "dlc %s. */\n", n ? e[0].g->name : "?", arch, DLC_VERSION);
  str_printf(&b, host_prelude, DLRT_REGIONS, DLRT_HYPERS);
  str_printf(&b, "#define DLC_CUDA_FUNCTIONS %d\n\nconst char dlrt_manifest[] =\n", nfn);
  put_cstring(&b, manifest);
  str_printf(&b, ";\n\nstatic const char dlc_ptx[] =\n");
  put_cstring(&b, ptx);
  str_printf(&b, ";\n\n");
  const Graph *train = NULL;
  for (int j = 0; j < n; j++)
    if (e[j].kind == ENT_TRAIN) train = e[j].g;
  int64_t weights = e[0].g->region_k[R_WEIGHT], state = train ? train->region_k[R_STATE] : 0;
  int fn = 0;
  for (int j = 0; j < n; j++) put_host_entry(&b, &e[j], weights, state, &fn);
  return b.s;
}

bool cg_cuda_build(const Entry *e, int n, const char *manifest, const CudaOptions *o,
                   BuildStats *st) {
  char *src = cg_cuda_source(e, n), *ptx = NULL;
  char path[4096], src_path[4096];
  snprintf(src_path, sizeof src_path, "%s.cu", o->output);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  bool ok = cg_cuda_compile(src, o->arch, src_path, &ptx);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (ok && o->emit_cuda) ok = cg_write_file(o->emit_cuda, src);
  if (ok && o->emit_ptx) ok = cg_write_file(o->emit_ptx, ptx);
  if (ok) {
    char *host = cg_cuda_host(e, n, manifest, ptx, o->arch);
    if (o->keep_host) snprintf(path, sizeof path, "%s", o->keep_host);
    else snprintf(path, sizeof path, "%s.host.%ld.c", o->output, (long)getpid());
    ok = cg_write_file(path, host) && cg_link(path, o->output, st ? &st->t_link : NULL);
    if (!o->keep_host) unlink(path);
    free(host);
  }
  if (st) {
    st->t_codegen = 0;
    st->t_opt = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    st->nkernels = 0;
    for (int j = 0; j < n; j++) st->nkernels += e[j].p->nk;
    st->code_bytes = ptx ? (int64_t)strlen(ptx) : 0;
  }
  free(ptx);
  free(src);
  return ok;
}
