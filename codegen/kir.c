/* kir.c — the kernel IR: builders and the text printer.
 *
 * Expressions are trees (no sharing is assumed by the backends, though it
 * is allowed); statements are loops, stores and assignments to scalar
 * locals. Integer index arithmetic is folded as it is built, so a tensor
 * access prints as `x[i0 * 784 + i1]`, not a tower of multiplications by 1.
 */
#include "codegen.h"

#include <string.h>

static const char *const ktype_name[KT_COUNT] = {"f32", "i32", "i64", "bool"};

Kernel *kir_kernel(Program *p, const char *what, int node, Loc loc) {
  Kernel *k = arena_alloc(p->arena, sizeof *k);
  k->name = arena_printf(p->arena, "k%d_%s", p->nk, what);
  k->node = node;
  k->loc = loc;
  kir_var(p, k, KT_I64); /* variable 0: the parallel loop */
  k->extent = kir_const_i(p, 1);
  arena_grow(p->arena, (void **)&p->k, &p->capk, p->nk + 1, sizeof *p->k);
  p->k[p->nk++] = k;
  return k;
}

int kir_buf(Program *p, Kernel *k, int node, bool written) {
  for (int b = 0; b < k->nbuf; b++)
    if (k->buf[b].node == node) {
      k->buf[b].written |= written;
      return b;
    }
  /* A view (reshape) shares its operand's storage: find the root. */
  const Node *n = &p->g->node[ir_view_root(p->g, node)];
  arena_grow(p->arena, (void **)&k->buf, &k->capbuf, k->nbuf + 1, sizeof *k->buf);
  KBuf *b = &k->buf[k->nbuf];
  *b = (KBuf){.node = node, .type = n->dtype == DT_I32 ? KT_I32 : KT_F32,
              .region = n->region, .off = n->off, .written = written};
  if (n->op == OP_CONST) {
    b->region = R_NONE;
    b->numel = numel_eval(&n->shape, 1);
    b->data = n->data;
    if (!n->data) { /* a fill constant read as a tensor */
      double *d = arena_alloc(p->arena, sizeof(double) * (size_t)b->numel);
      for (int64_t i = 0; i < b->numel; i++) d[i] = n->a.f[0];
      b->data = d;
    }
  } else if (n->region == R_NONE) {
    die("kernel %s reads node %d, which has no storage", k->name, node);
  }
  return k->nbuf++;
}

int kir_var(Program *p, Kernel *k, KType t) {
  arena_grow(p->arena, (void **)&k->vartype, &k->capvar, k->nvar + 1, sizeof(KType));
  k->vartype[k->nvar] = t;
  return k->nvar++;
}

static KExpr *expr(Program *p, KOp op, KType t) {
  KExpr *e = arena_alloc(p->arena, sizeof *e);
  e->op = op;
  e->type = t;
  return e;
}

KExpr *kir_const_f(Program *p, double f) {
  KExpr *e = expr(p, K_CONST, KT_F32);
  e->f = f;
  return e;
}

KExpr *kir_const_i(Program *p, int64_t i) {
  KExpr *e = expr(p, K_CONST, KT_I64);
  e->i = i;
  return e;
}

KExpr *kir_var_ref(Program *p, Kernel *k, int var) {
  KExpr *e = expr(p, K_VAR, k->vartype[var]);
  e->var = var;
  return e;
}

KExpr *kir_n(Program *p) { return expr(p, K_N, KT_I64); }

KExpr *kir_frame(Program *p, KOp op, int64_t slot) {
  KExpr *e = expr(p, op, op == K_HYPER ? KT_F32 : KT_I64);
  e->i = slot;
  return e;
}

KExpr *kir_load(Program *p, Kernel *k, int buf, KExpr *idx) {
  KExpr *e = expr(p, K_LOAD, k->buf[buf].type);
  e->buf = buf;
  e->a = idx;
  return e;
}

KExpr *kir_bin(Program *p, KOp op, KExpr *a, KExpr *b) {
  if (a->type != b->type) die("kir: %s operands of types %s and %s", "binary",
                              ktype_name[a->type], ktype_name[b->type]);
  KType t = (op == K_LT || op == K_LE || op == K_EQ) ? KT_BOOL : a->type;
  KExpr *e = expr(p, op, t);
  e->a = a;
  e->b = b;
  return e;
}

KExpr *kir_un(Program *p, KOp op, KExpr *a) {
  KExpr *e = expr(p, op, a->type);
  e->a = a;
  return e;
}

KExpr *kir_select(Program *p, KExpr *c, KExpr *a, KExpr *b) {
  if (c->type != KT_BOOL || a->type != b->type) die("kir: bad select");
  KExpr *e = expr(p, K_SELECT, a->type);
  e->a = c;
  e->b = a;
  e->c = b;
  return e;
}

KExpr *kir_cast(Program *p, KType t, KExpr *a) {
  if (a->type == t) return a;
  KExpr *e = expr(p, K_CAST, t);
  e->a = a;
  return e;
}

KExpr *kir_fma(Program *p, KExpr *a, KExpr *b, KExpr *c) {
  KExpr *e = expr(p, K_FMA, a->type);
  e->a = a;
  e->b = b;
  e->c = c;
  return e;
}

static bool is_iconst(const KExpr *e, int64_t v) {
  return e->op == K_CONST && e->type != KT_F32 && e->i == v;
}

KExpr *kir_iadd(Program *p, KExpr *a, KExpr *b) {
  if (is_iconst(a, 0)) return b;
  if (is_iconst(b, 0)) return a;
  if (a->op == K_CONST && b->op == K_CONST) return kir_const_i(p, a->i + b->i);
  KExpr *e = kir_bin(p, K_ADD, a, b);
  e->nsw = true;
  return e;
}

KExpr *kir_imul(Program *p, KExpr *a, KExpr *b) {
  if (is_iconst(a, 0) || is_iconst(b, 0)) return kir_const_i(p, 0);
  if (is_iconst(a, 1)) return b;
  if (is_iconst(b, 1)) return a;
  if (a->op == K_CONST && b->op == K_CONST) return kir_const_i(p, a->i * b->i);
  KExpr *e = kir_bin(p, K_MUL, a, b);
  e->nsw = true;
  return e;
}

KExpr *kir_dim(Program *p, int64_t d) {
  if (d > 0) return kir_const_i(p, d);
  return kir_imul(p, kir_const_i(p, -d), kir_n(p));
}

static void push(Program *p, Kernel *k, KStmt *parent, KStmt *s) {
  if (parent) {
    arena_grow(p->arena, (void **)&parent->body, &parent->capbody,
               parent->nbody + 1, sizeof(KStmt *));
    parent->body[parent->nbody++] = s;
  } else {
    arena_grow(p->arena, (void **)&k->body, &k->capbody, k->nbody + 1,
               sizeof(KStmt *));
    k->body[k->nbody++] = s;
  }
}

KStmt *kir_loop(Program *p, Kernel *k, KStmt *parent, int var, KExpr *lo,
                KExpr *hi) {
  KStmt *s = arena_alloc(p->arena, sizeof *s);
  s->kind = KS_LOOP;
  s->var = var;
  s->lo = lo;
  s->hi = hi;
  push(p, k, parent, s);
  return s;
}

void kir_store(Program *p, Kernel *k, KStmt *parent, int buf, KExpr *idx,
               KExpr *val) {
  KStmt *s = arena_alloc(p->arena, sizeof *s);
  s->kind = KS_STORE;
  s->buf = buf;
  s->idx = idx;
  s->val = val;
  k->buf[buf].written = true;
  push(p, k, parent, s);
}

void kir_set(Program *p, Kernel *k, KStmt *parent, int var, KExpr *val) {
  KStmt *s = arena_alloc(p->arena, sizeof *s);
  s->kind = KS_SET;
  s->var = var;
  s->val = val;
  push(p, k, parent, s);
}

void kir_repeat(Program *p, int first, int64_t count) {
  ASSERT(first < p->nk && count > 0);
  ASSERT(p->nloop == 0 || p->loop[p->nloop - 1].last <= first);
  arena_grow(p->arena, (void **)&p->loop, &p->caploop, p->nloop + 1, sizeof *p->loop);
  p->loop[p->nloop++] = (KRepeat){first, p->nk, count};
}

/* ---- printing ---- */

static const char *const kop_name[K_COUNT] = {
    [K_ADD] = "+", [K_SUB] = "-", [K_MUL] = "*", [K_DIV] = "/", [K_REM] = "%",
    [K_MAX] = "max", [K_MIN] = "min", [K_NEG] = "-", [K_EXP] = "exp",
    [K_LOG] = "log", [K_SQRT] = "sqrt", [K_ABS] = "abs", [K_TANH] = "tanh", [K_SIGMOID] = "sigmoid",
    [K_LT] = "<", [K_LE] = "<=", [K_EQ] = "==", [K_XOR] = "^", [K_SHR] = ">>",
};

static void print_expr(FILE *f, const Kernel *k, const KExpr *e) {
  switch (e->op) {
  case K_CONST:
    if (e->type == KT_F32) fprintf(f, "%.9g", e->f);
    else fprintf(f, "%lld", (long long)e->i);
    break;
  case K_VAR: fprintf(f, "v%d", e->var); break;
  case K_N: fprintf(f, "N"); break;
  case K_HYPER: fprintf(f, "hyper[%lld]", (long long)e->i); break;
  case K_STEP: fprintf(f, "step"); break;
  case K_SEED: fprintf(f, "seed"); break;
  case K_ITER: fprintf(f, "iter"); break;
  case K_LOAD:
    fprintf(f, "b%d[", e->buf);
    print_expr(f, k, e->a);
    fprintf(f, "]");
    break;
  case K_ADD: case K_SUB: case K_MUL: case K_DIV: case K_REM:
  case K_LT: case K_LE: case K_EQ: case K_XOR: case K_SHR:
    fprintf(f, "(");
    print_expr(f, k, e->a);
    fprintf(f, " %s ", kop_name[e->op]);
    print_expr(f, k, e->b);
    fprintf(f, ")");
    break;
  case K_MAX: case K_MIN:
    fprintf(f, "%s(", kop_name[e->op]);
    print_expr(f, k, e->a);
    fprintf(f, ", ");
    print_expr(f, k, e->b);
    fprintf(f, ")");
    break;
  case K_NEG: case K_EXP: case K_LOG: case K_SQRT: case K_ABS: case K_TANH: case K_SIGMOID:
    fprintf(f, "%s(", kop_name[e->op]);
    print_expr(f, k, e->a);
    fprintf(f, ")");
    break;
  case K_SELECT:
    fprintf(f, "select(");
    print_expr(f, k, e->a);
    fprintf(f, ", ");
    print_expr(f, k, e->b);
    fprintf(f, ", ");
    print_expr(f, k, e->c);
    fprintf(f, ")");
    break;
  case K_CAST:
    fprintf(f, "%s(", ktype_name[e->type]);
    print_expr(f, k, e->a);
    fprintf(f, ")");
    break;
  case K_FMA:
    fprintf(f, "fma(");
    print_expr(f, k, e->a);
    fprintf(f, ", ");
    print_expr(f, k, e->b);
    fprintf(f, ", ");
    print_expr(f, k, e->c);
    fprintf(f, ")");
    break;
  case K_COUNT: die("bad kir op");
  }
}

static void print_stmt(FILE *f, const Kernel *k, const KStmt *s, int depth) {
  fprintf(f, "%*s", 2 * depth, "");
  switch (s->kind) {
  case KS_LOOP:
    fprintf(f, "for v%d in [", s->var);
    print_expr(f, k, s->lo);
    fprintf(f, ", ");
    print_expr(f, k, s->hi);
    fprintf(f, ") {\n");
    for (int i = 0; i < s->nbody; i++) print_stmt(f, k, s->body[i], depth + 1);
    fprintf(f, "%*s}\n", 2 * depth, "");
    break;
  case KS_STORE:
    fprintf(f, "b%d[", s->buf);
    print_expr(f, k, s->idx);
    fprintf(f, "] = ");
    print_expr(f, k, s->val);
    fprintf(f, "\n");
    break;
  case KS_SET:
    fprintf(f, "v%d = ", s->var);
    print_expr(f, k, s->val);
    fprintf(f, "\n");
    break;
  }
}

static const char *const region_name[R_COUNT] = {"const", "weight", "act", "actN",
                                                 "state", "tile"};

static void print_offsets(FILE *f, const Kernel *k, const KGemm *gm) {
  KExpr *off[3] = {gm->a_off, gm->b_off, gm->c_off};
  for (int i = 0; i < 3; i++) {
    if (!off[i]) continue;
    fprintf(f, " %c_off=", "abc"[i]);
    print_expr(f, k, off[i]);
  }
}

/* "reduce b1 = mean b0 f32[N,16,10,10] over axes (0, 2, 3)" */
static void print_reduce(FILE *f, const Kernel *k, const KReduce *r) {
  char s[160];
  shape_str(s, sizeof s, DT_F32, &r->shape); /* its dims; the type is the buffer's */
  fprintf(f, "  reduce b%d = %s b%d %s%s over axes (", r->y,
          r->mean ? "mean" : r->op == K_MAX ? "max" : "sum", r->x, ktype_name[k->buf[r->x].type],
          strchr(s, '['));
  for (int i = 0, n = 0; i < r->shape.rank; i++)
    if (r->red[i]) fprintf(f, "%s%d", n++ ? ", " : "", i);
  fprintf(f, ")\n");
}

void kir_print(FILE *f, const Program *p) {
  for (int i = 0, l = 0; i < p->nk; i++) {
    const Kernel *k = p->k[i];
    if (l < p->nloop && p->loop[l].last == i) {
      fprintf(f, "}  # repeat\n\n");
      l++;
    }
    if (l < p->nloop && p->loop[l].first == i)
      fprintf(f, "repeat iter in [0, %lld) {\n\n", (long long)p->loop[l].count);
    fprintf(f, "kernel %s  # %%%d", k->name, k->node);
    if (k->loc.line) fprintf(f, " @\"%s\":%d:%d", k->loc.file, k->loc.line, k->loc.col);
    if (k->per_sample) fprintf(f, "  [per sample %lld]", (long long)k->per_sample);
    fprintf(f, "\n");
    for (int b = 0; b < k->nbuf; b++) {
      const KBuf *kb = &k->buf[b];
      fprintf(f, "  b%d: %s %%%d %s", b, ktype_name[kb->type], kb->node,
              region_name[kb->region]);
      if (kb->region != R_NONE) fprintf(f, "+%lld", (long long)kb->off);
      fprintf(f, "%s\n", kb->written ? " (out)" : "");
    }
    if (k->pool) {
      const KPool *kp = k->pool;
      fprintf(f, "  pool%s b%d = ", kp->dy >= 0 ? " gradient" : "", kp->y);
      if (kp->dy >= 0) fprintf(f, "b%d at the first maximum of ", kp->dy);
      fprintf(f, "b%d: windows %lldx2 of planes %lldx%lld\n", kp->x, (long long)kp->KH,
              (long long)kp->H, (long long)kp->W);
    }
    if (k->cols)
      fprintf(f, "  columns b%d = b%d: vector runs of %lld\n", k->cols->col, k->cols->x,
              (long long)k->cols->OW);
    if (k->reduce) print_reduce(f, k, k->reduce);
    if (k->gemm) {
      const KGemm *gm = k->gemm;
      fprintf(f, "  gemm b%d = b%d x b%d: M=", gm->c, gm->a, gm->b);
      print_expr(f, k, gm->M);
      fprintf(f, " N=");
      print_expr(f, k, gm->N);
      fprintf(f, " K=");
      print_expr(f, k, gm->K);
      fprintf(f, " a_strides=(");
      print_expr(f, k, gm->a_rs);
      fprintf(f, ", ");
      print_expr(f, k, gm->a_ks);
      fprintf(f, ") b_strides=(");
      print_expr(f, k, gm->ldb);
      fprintf(f, ", ");
      print_expr(f, k, gm->b_ns);
      fprintf(f, ") batch=");
      print_expr(f, k, gm->batch);
      print_offsets(f, k, gm);
      fprintf(f, "\n  panels of %d columns: ", gm->nr);
      print_expr(f, k, k->extent);
      fprintf(f, "\n");
      if (!k->nbody) {
        fprintf(f, "\n");
        continue;
      }
      fprintf(f, "  after panel v0 {\n");
      for (int s = 0; s < k->nbody; s++) print_stmt(f, k, k->body[s], 2);
      fprintf(f, "  }\n\n");
      continue;
    }
    fprintf(f, "  parallel v0 in [0, ");
    print_expr(f, k, k->extent);
    fprintf(f, ") {\n");
    for (int s = 0; s < k->nbody; s++) print_stmt(f, k, k->body[s], 2);
    fprintf(f, "  }\n\n");
  }
  if (p->nloop && p->loop[p->nloop - 1].last == p->nk) fprintf(f, "}  # repeat\n\n");
}
