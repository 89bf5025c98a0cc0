/* lower.c — graph IR to kernel IR.
 *
 * Each graph node that computes something becomes one or more kernels, in
 * node order; sources and views (reshape) become none. The op table's
 * `lower` column names the function for each op, so adding an op means one
 * function here.
 *
 * Loop nests follow the output's shape, row-major, innermost dimension
 * contiguous, so the innermost loop is the one LLVM vectorizes. The
 * outermost loop is variable 0, split across threads by the runtime.
 */
#include "codegen.h"

#include <stdlib.h>
#include <string.h>

typedef void LowerFn(Program *p, int node);

/* Index variables of a loop nest over a shape, and the innermost statement
 * that the body goes into (NULL: the kernel's top level). */
typedef struct Nest {
  int var[MAX_RANK];
  int rank;
  KStmt *inner;
} Nest;

/* Loops over every dimension of s: dimension 0 is the parallel variable 0,
 * the rest nest inside it. A rank-0 shape runs once. */
static Nest nest_over(Program *p, Kernel *k, const Shape *s) {
  Nest n = {.rank = s->rank};
  if (s->rank == 0) return n;
  n.var[0] = 0;
  k->extent = kir_dim(p, s->d[0]);
  for (int i = 1; i < s->rank; i++) {
    n.var[i] = kir_var(p, k, KT_I64);
    n.inner = kir_loop(p, k, n.inner, n.var[i], kir_const_i(p, 0),
                       kir_dim(p, s->d[i]));
  }
  return n;
}

static KExpr *ivar(Program *p, Kernel *k, int v) { return kir_var_ref(p, k, v); }
static KExpr *ic(Program *p, int64_t i) { return kir_const_i(p, i); }

/* A new loop over [0, n) inside parent; its variable in *var. */
static KStmt *loop_to(Program *p, Kernel *k, KStmt *parent, int *var, KExpr *n) {
  *var = kir_var(p, k, KT_I64);
  return kir_loop(p, k, parent, *var, ic(p, 0), n);
}

/* Row-major strides of a shape, as expressions (they may involve N). */
static void strides(Program *p, const Shape *s, KExpr **st) {
  KExpr *acc = kir_const_i(p, 1);
  for (int i = s->rank - 1; i >= 0; i--) {
    st[i] = acc;
    acc = kir_imul(p, acc, kir_dim(p, s->d[i]));
  }
}

/* Linear index into a tensor of shape s that is broadcast to the nest's
 * shape (aligned at the right; size-1 dimensions do not move). */
static KExpr *bcast_index(Program *p, Kernel *k, const Shape *s, const Nest *n) {
  KExpr *st[MAX_RANK];
  strides(p, s, st);
  KExpr *idx = kir_const_i(p, 0);
  for (int i = 0; i < s->rank; i++) {
    int o = n->rank - s->rank + i;
    if (s->d[i] == 1) continue;
    idx = kir_iadd(p, idx, kir_imul(p, kir_var_ref(p, k, n->var[o]), st[i]));
  }
  return idx;
}

/* A node whose value is one scalar known without a load: a fill constant,
 * a runtime hyper-parameter, the batch size. NULL for anything else. */
static KExpr *scalar_source(Program *p, int j) {
  const Node *x = &p->g->node[j];
  if (x->op == OP_CONST && !x->data) return kir_const_f(p, x->a.f[0]);
  if (x->op == OP_HYPER) return kir_frame(p, K_HYPER, x->a.ints[0]);
  if (x->op == OP_BATCH) return kir_cast(p, KT_F32, kir_n(p));
  return NULL;
}

/* Value of operand node j at the nest's position: a scalar source, or a
 * load. */
static KExpr *operand(Program *p, Kernel *k, int j, const Nest *n) {
  KExpr *s = scalar_source(p, j);
  if (s) return s;
  const Node *x = &p->g->node[j];
  int b = kir_buf(p, k, j, false);
  return kir_load(p, k, b, bcast_index(p, k, &x->shape, n));
}

/* splitmix64's finaliser: a well-mixed 64-bit hash of z. */
static KExpr *mix64(Program *p, KExpr *z) {
  static const int64_t mul[2] = {(int64_t)0xbf58476d1ce4e5b9ull, (int64_t)0x94d049bb133111ebull};
  static const int shift[3] = {30, 27, 31};
  for (int r = 0; r < 3; r++) {
    z = kir_bin(p, K_XOR, z, kir_bin(p, K_SHR, z, kir_const_i(p, shift[r])));
    if (r < 2) z = kir_bin(p, K_MUL, z, kir_const_i(p, mul[r]));
  }
  return z;
}

/* Inverted dropout of x at linear element index idx: keep with
 * probability 1 - rate, scaled by 1 / (1 - rate). The mask bit is a hash
 * of (seed, step, salt, idx), the same in the interpreter
 * (ir/interp.c, ref_dropout) and in every backend. */
static KExpr *dropout(Program *p, const Node *nd, KExpr *x, KExpr *idx) {
  double rate = nd->a.f[0];
  KExpr *z = kir_bin(p, K_MUL, kir_frame(p, K_SEED, 0), kir_const_i(p, (int64_t)0x9e3779b97f4a7c15ull));
  z = kir_bin(p, K_ADD, z, kir_bin(p, K_MUL, kir_frame(p, K_STEP, 0),
                                   kir_const_i(p, (int64_t)0xd1b54a32d192ed03ull)));
  z = kir_bin(p, K_ADD, z, kir_const_i(p, nd->a.ints[0] * (int64_t)0x2545f4914f6cdd1dull));
  z = mix64(p, kir_bin(p, K_ADD, z, idx));
  KExpr *u = kir_bin(p, K_MUL, kir_cast(p, KT_F32, kir_bin(p, K_SHR, z, kir_const_i(p, 40))),
                     kir_const_f(p, 1.0 / 16777216.0));
  return kir_select(p, kir_bin(p, K_LT, u, kir_const_f(p, rate)), kir_const_f(p, 0),
                    kir_bin(p, K_MUL, x, kir_const_f(p, 1.0 / (1.0 - rate))));
}

/* The scalar function of an elementwise op; idx is the linear index of
 * the output element (dropout's mask depends on it). */
static KExpr *scalar_op(Program *p, const Node *nd, KExpr *a, KExpr *b, KExpr *idx) {
  KExpr *zero = kir_const_f(p, 0), *one = kir_const_f(p, 1);
  switch (nd->op) {
  case OP_GT: return kir_select(p, kir_bin(p, K_LT, b, a), one, zero);
  case OP_GE: return kir_select(p, kir_bin(p, K_LE, b, a), one, zero);
  case OP_DROPOUT: return dropout(p, nd, a, idx);
  case OP_NEG: return kir_un(p, K_NEG, a);
  case OP_EXP: return kir_un(p, K_EXP, a);
  case OP_LOG: return kir_un(p, K_LOG, a);
  case OP_SQRT: return kir_un(p, K_SQRT, a);
  case OP_ABS: return kir_un(p, K_ABS, a);
  case OP_TANH: return kir_un(p, K_TANH, a);
  case OP_RELU: return kir_bin(p, K_MAX, a, zero);
  case OP_LEAKY_RELU:
    return kir_select(p, kir_bin(p, K_LT, a, zero),
                      kir_bin(p, K_MUL, a, kir_const_f(p, nd->a.f[0])), a);
  case OP_SIGMOID:
    return kir_bin(p, K_DIV, one, kir_bin(p, K_ADD, one, kir_un(p, K_EXP, kir_un(p, K_NEG, a))));
  case OP_ADD: return kir_bin(p, K_ADD, a, b);
  case OP_SUB: return kir_bin(p, K_SUB, a, b);
  case OP_MUL: return kir_bin(p, K_MUL, a, b);
  case OP_DIV: return kir_bin(p, K_DIV, a, b);
  case OP_MAXIMUM: return kir_bin(p, K_MAX, a, b);
  case OP_MINIMUM: return kir_bin(p, K_MIN, a, b);
  case OP_BROADCAST: return a;
  case OP_RUNNING_STAT: return a; /* unresolved: its training value */
  default: die("%s is not elementwise", op_info[nd->op].name);
  }
}

/* Elementwise ops whose operands all have the output's shape (or are fill
 * constants) run as one flat loop in blocks: many threads even for a
 * [1, 4096] tensor, and one unit-stride loop for the vectorizer. */
enum { FLAT_BLOCK = 4096 };

/* Whether every value the kernel of nd loads (through fused operands, see
 * passes/fuse.c) has nd's shape or is a scalar: then one flat loop serves. */
static bool flat_ok(Program *p, const Node *nd) {
  for (int k = 0; k < nd->nin; k++) {
    const Node *x = &p->g->node[nd->in[k]];
    if (nd->op == OP_ASSIGN && k == 0) continue;
    if (x->into) {
      if (!flat_ok(p, x)) return false;
    } else if (!scalar_source(p, nd->in[k]) && !shape_equal(&x->shape, &nd->shape)) {
      return false;
    }
  }
  return true;
}

/* How a kernel indexes tensors: one flat index over equal shapes, or a loop
 * nest with broadcasting. */
typedef struct Access {
  KExpr *flat;     /* linear index, or NULL */
  const Nest *nest;
  int product;     /* a matmul absorbed by the kernel (fuse.c), or 0 */
  int cbuf;        /* the buffer holding its result, at the element's index */
} Access;

/* The value of node j at the access point: a fused node's expression
 * (recursively), a scalar source, or a load. idx is the linear index of
 * the element of the consumer's shape (dropout's mask position). */
static KExpr *value_at(Program *p, Kernel *k, int j, const Access *a, KExpr *idx) {
  const Node *x = &p->g->node[j];
  if (a->product && ir_view_root(p->g, j) == a->product) return kir_load(p, k, a->cbuf, idx);
  if (x->into) {
    KExpr *v[2] = {0};
    for (int m = 0; m < x->nin && m < 2; m++) v[m] = value_at(p, k, x->in[m], a, idx);
    return scalar_op(p, x, v[0], v[1], idx);
  }
  KExpr *s = scalar_source(p, j);
  if (s) return s;
  int b = kir_buf(p, k, j, false);
  return kir_load(p, k, b, a->flat ? a->flat : bcast_index(p, k, &x->shape, a->nest));
}

/* The value node computes at the access point, and the buffer it goes to:
 * its own, or for an assign the target's. */
static KExpr *result(Program *p, Kernel *k, int node, const Access *a, KExpr *idx, int *out) {
  const Node *nd = &p->g->node[node];
  if (nd->op == OP_ASSIGN) {
    *out = kir_buf(p, k, nd->in[0], true);
    return value_at(p, k, nd->in[1], a, idx);
  }
  KExpr *v[2] = {0};
  for (int j = 0; j < nd->nin && j < 2; j++) v[j] = value_at(p, k, nd->in[j], a, idx);
  *out = kir_buf(p, k, node, true);
  return scalar_op(p, nd, v[0], v[1], idx);
}

/* The block of a flat kernel over a tensor of shape s: FLAT_BLOCK, or for
 * a tensor of samples ([N, ...]) of at least FLAT_BLOCK / 8 elements
 * each, the largest divisor of the sample's size up to FLAT_BLOCK that is
 * at least that, so that blocks do not straddle samples (*per_sample:
 * blocks per sample; else 0). */
static int64_t flat_block(const Shape *s, int64_t *per_sample) {
  Size sz = shape_numel(s);
  *per_sample = 0;
  if (!sz.sym || s->rank == 0 || s->d[0] != -1) return FLAT_BLOCK;
  for (int64_t b = sz.k < FLAT_BLOCK ? sz.k : FLAT_BLOCK; b >= FLAT_BLOCK / 8; b--)
    if (sz.k % b == 0) {
      *per_sample = sz.k / b;
      return b;
    }
  return FLAT_BLOCK;
}

static void lower_flat(Program *p, Kernel *k, int node) {
  const Node *nd = &p->g->node[node];
  Size sz = shape_numel(&nd->shape);
  int64_t block = flat_block(&nd->shape, &k->per_sample);
  KExpr *numel = kir_imul(p, kir_const_i(p, sz.k), sz.sym ? kir_n(p) : kir_const_i(p, 1));
  k->extent = kir_bin(p, K_DIV, kir_iadd(p, numel, kir_const_i(p, block - 1)),
                      kir_const_i(p, block));
  KExpr *lo = kir_imul(p, kir_var_ref(p, k, 0), kir_const_i(p, block));
  KExpr *hi = kir_bin(p, K_MIN, kir_iadd(p, lo, kir_const_i(p, block)), numel);
  int i = kir_var(p, k, KT_I64);
  KStmt *loop = kir_loop(p, k, NULL, i, lo, hi);
  Access a = {.flat = kir_var_ref(p, k, i)};
  int out;
  KExpr *val = result(p, k, node, &a, a.flat, &out);
  kir_store(p, k, loop, out, a.flat, val);
  k->work = (double)block;
}

static int absorbed_product(const Graph *g, int node);
static void lower_epilogue(Program *p, int node, int product);

static void lower_elemwise(Program *p, int node) {
  const Node *nd = &p->g->node[node];
  int product = absorbed_product(p->g, node);
  if (product) {
    lower_epilogue(p, node, product);
    return;
  }
  Kernel *k = kir_kernel(p, op_info[nd->op].name, node, nd->loc);
  if (flat_ok(p, nd)) {
    lower_flat(p, k, node);
    return;
  }
  Nest n = nest_over(p, k, &nd->shape);
  Access ac = {.nest = &n};
  KExpr *idx = bcast_index(p, k, &nd->shape, &n);
  int out;
  KExpr *val = result(p, k, node, &ac, idx, &out);
  kir_store(p, k, n.inner, out, idx, val);
  k->work = (double)numel_eval(&nd->shape, 1) / (double)(nd->shape.rank ? llabs(nd->shape.d[0]) : 1);
  if (nd->shape.rank && nd->shape.d[0] == -1) k->per_sample = 1;
}

static void lower_broadcast(Program *p, int node) { lower_elemwise(p, node); }

/* sum / mean / max over axes: loops over the kept axes, then an inner nest
 * over the reduced ones accumulating into locals. */
enum { RED_LANES = 8 };

static KExpr *numel_of(Program *p, const Shape *s) {
  Size z = shape_numel(s);
  return kir_imul(p, kir_const_i(p, z.k), z.sym ? kir_n(p) : kir_const_i(p, 1));
}

/* Attach to reduction kernel k of node, reducing axes red[], its
 * description (codegen.h's KReduce). Called once the body is built, so
 * that it only looks up the body's buffers and numbers none of its own. */
static void describe_reduce(Program *p, Kernel *k, int node, const bool *red) {
  const Node *nd = &p->g->node[node];
  KReduce *r = arena_alloc(p->arena, sizeof *r);
  *r = (KReduce){.x = kir_buf(p, k, nd->in[0], false), .y = kir_buf(p, k, node, true),
                 .op = nd->op == OP_MAX ? K_MAX : K_ADD, .mean = nd->op == OP_MEAN,
                 .shape = p->g->node[nd->in[0]].shape};
  memcpy(r->red, red, sizeof r->red);
  k->reduce = r;
}

/* A sum over the leading axes that keeps the trailing ones, P contiguous
 * columns (the gradient of a bias over every row of a batch, or of every
 * step of a sequence): reading a column at a time strides through memory a
 * row apart for every element. Instead each unit of work owns a block of
 * RED_COLS columns of the output and adds the rows into it in memory
 * order, a unit-stride loop the vectorizer widens. The order of the sum
 * is fixed (row by row), so the result is as deterministic as the loop
 * above. Returns false (nothing built) for any other reduction. */
enum { RED_COLS = 64 };

static bool lower_sum_rows(Program *p, int node) {
  const Node *nd = &p->g->node[node];
  const Node *x = &p->g->node[nd->in[0]];
  int r = x->shape.rank, m = 0;
  if (nd->op != OP_SUM || nd->a.nints <= 1) return false;
  bool red[MAX_RANK] = {0};
  for (int j = 1; j < nd->a.nints; j++) red[nd->a.ints[j]] = true;
  while (m < r && red[m]) m++;
  int64_t P = 1;
  for (int i = m; i < r; i++) {
    if (red[i] || x->shape.d[i] < 0) return false;
    P *= x->shape.d[i];
  }
  if (m == 0 || m == r || P < 16) return false;
  Shape lead = {.rank = m};
  for (int i = 0; i < m; i++) lead.d[i] = x->shape.d[i];
  Kernel *k = kir_kernel(p, "sum_rows", node, nd->loc);
  int out = kir_buf(p, k, node, true), in = kir_buf(p, k, nd->in[0], false);
  k->extent = ic(p, (P + RED_COLS - 1) / RED_COLS);
  Size rows = shape_numel(&lead);
  k->work = (double)RED_COLS * (double)rows.k * (rows.sym ? 64 : 1);
  KExpr *c0 = kir_imul(p, ivar(p, k, 0), ic(p, RED_COLS));
  KExpr *width = kir_bin(p, K_MIN, ic(p, RED_COLS), kir_bin(p, K_SUB, ic(p, P), c0));
  int j, row, j2;
  KStmt *l = loop_to(p, k, NULL, &j, width);
  kir_store(p, k, l, out, kir_iadd(p, c0, ivar(p, k, j)), kir_const_f(p, 0));
  KStmt *lr = loop_to(p, k, NULL, &row, numel_of(p, &lead));
  l = loop_to(p, k, lr, &j2, width);
  KExpr *c = kir_iadd(p, c0, ivar(p, k, j2));
  KExpr *v = kir_load(p, k, in, kir_iadd(p, kir_imul(p, ivar(p, k, row), ic(p, P)), c));
  kir_store(p, k, l, out, c, kir_bin(p, K_ADD, kir_load(p, k, out, c), v));
  describe_reduce(p, k, node, red);
  return true;
}

static void lower_reduce(Program *p, int node) {
  if (lower_sum_rows(p, node)) return;
  const Node *nd = &p->g->node[node];
  const Node *x = &p->g->node[nd->in[0]];
  Kernel *k = kir_kernel(p, op_info[nd->op].name, node, nd->loc);
  bool red[MAX_RANK] = {0};
  if (nd->a.nints <= 1)
    for (int i = 0; i < x->shape.rank; i++) red[i] = true;
  for (int j = 1; j < nd->a.nints; j++) red[nd->a.ints[j]] = true;
  Shape kept = {0};
  int kept_axis[MAX_RANK];
  for (int i = 0; i < x->shape.rank; i++)
    if (!red[i]) {
      kept_axis[kept.rank] = i;
      kept.d[kept.rank++] = x->shape.d[i];
    }
  Nest n = nest_over(p, k, &kept);
  int var[MAX_RANK];
  for (int j = 0; j < kept.rank; j++) var[kept_axis[j]] = n.var[j];
  bool is_max = nd->op == OP_MAX;
  KOp op = is_max ? K_MAX : K_ADD;
  /* The innermost reduced axes, when contiguous and 2 * RED_LANES or more
   * elements long, are summed into RED_LANES partial results, element j of
   * the run into partial j mod RED_LANES, combined pairwise at the end: independent chains (which
   * the SLP vectoriser turns into one vector) instead of one chain
   * bound by the add's latency. A fixed order, so as deterministic as
   * one chain. */
  int last = x->shape.rank; /* the trailing run of reduced axes, [last, rank) */
  int64_t L = 1;            /* its length: contiguous in memory */
  while (last > 0 && red[last - 1] && x->shape.d[last - 1] > 0) L *= x->shape.d[--last];
  bool split = last < x->shape.rank && L >= 2 * RED_LANES;
  int lanes = split ? RED_LANES : 1, acc[RED_LANES];
  for (int u = 0; u < lanes; u++) {
    acc[u] = kir_var(p, k, KT_F32);
    kir_set(p, k, n.inner, acc[u], kir_const_f(p, is_max ? -__builtin_inf() : 0.0));
  }
  KStmt *inner = n.inner;
  KExpr *count = kir_const_i(p, 1);
  for (int i = 0; i < x->shape.rank; i++) {
    if (!red[i]) continue;
    count = kir_imul(p, count, kir_dim(p, x->shape.d[i]));
    if (split && i >= last) continue;
    var[i] = kir_var(p, k, KT_I64);
    inner = kir_loop(p, k, inner, var[i], kir_const_i(p, 0), kir_dim(p, x->shape.d[i]));
  }
  KExpr *st[MAX_RANK];
  strides(p, &x->shape, st);
  KExpr *base = kir_const_i(p, 0);
  for (int i = 0; i < x->shape.rank; i++)
    if (!(split && i >= last)) base = kir_iadd(p, base, kir_imul(p, kir_var_ref(p, k, var[i]), st[i]));
  int buf = kir_buf(p, k, nd->in[0], false);
  if (!split) {
    KExpr *v = kir_load(p, k, buf, base);
    kir_set(p, k, inner, acc[0], kir_bin(p, op, kir_var_ref(p, k, acc[0]), v));
  } else {
    int64_t body = L / RED_LANES * RED_LANES;
    int q, r;
    KStmt *l = loop_to(p, k, inner, &q, ic(p, L / RED_LANES));
    for (int u = 0; u < RED_LANES; u++) {
      KExpr *at = kir_iadd(p, base, kir_iadd(p, kir_imul(p, ivar(p, k, q), ic(p, RED_LANES)), ic(p, u)));
      kir_set(p, k, l, acc[u], kir_bin(p, op, kir_var_ref(p, k, acc[u]), kir_load(p, k, buf, at)));
    }
    r = kir_var(p, k, KT_I64);
    l = kir_loop(p, k, inner, r, ic(p, body), ic(p, L));
    kir_set(p, k, l, acc[0], kir_bin(p, op, kir_var_ref(p, k, acc[0]),
                                     kir_load(p, k, buf, kir_iadd(p, base, ivar(p, k, r)))));
  }
  KExpr *part[RED_LANES];
  for (int u = 0; u < lanes; u++) part[u] = kir_var_ref(p, k, acc[u]);
  for (int w = lanes; w > 1; w /= 2)
    for (int u = 0; u < w / 2; u++) part[u] = kir_bin(p, op, part[2 * u], part[2 * u + 1]);
  KExpr *res = part[0];
  if (nd->op == OP_MEAN)
    res = kir_bin(p, K_DIV, res, kir_cast(p, KT_F32, count));
  int out = kir_buf(p, k, node, true);
  KExpr *oidx = bcast_index(p, k, &kept, &n);
  kir_store(p, k, n.inner, out, oidx, res);
  k->work = (double)numel_eval(&x->shape, 1) / (double)(kept.rank ? llabs(kept.d[0]) : 1);
  describe_reduce(p, k, node, red);
}

/* softmax / log_softmax along one axis: per row, the max, the sum of
 * exponentials, then the result; three passes over the row. */
static void lower_softmax(Program *p, int node) {
  const Node *nd = &p->g->node[node];
  const Shape *s = &nd->shape;
  int axis = (int)nd->a.ints[0];
  Kernel *k = kir_kernel(p, op_info[nd->op].name, node, nd->loc);
  Shape outer = {0};
  int oaxis[MAX_RANK];
  for (int i = 0; i < s->rank; i++)
    if (i != axis) {
      oaxis[outer.rank] = i;
      outer.d[outer.rank++] = s->d[i];
    }
  Nest n = nest_over(p, k, &outer);
  int var[MAX_RANK];
  for (int j = 0; j < outer.rank; j++) var[oaxis[j]] = n.var[j];
  KExpr *st[MAX_RANK];
  strides(p, s, st);
  int in = kir_buf(p, k, nd->in[0], false), out = kir_buf(p, k, node, true);
  int mx = kir_var(p, k, KT_F32), sum = kir_var(p, k, KT_F32);
  kir_set(p, k, n.inner, mx, kir_const_f(p, -__builtin_inf()));
  kir_set(p, k, n.inner, sum, kir_const_f(p, 0));
  KStmt *loops[3];
  KExpr *idx[3];
  for (int pass = 0; pass < 3; pass++) {
    var[axis] = kir_var(p, k, KT_I64);
    loops[pass] = kir_loop(p, k, n.inner, var[axis], kir_const_i(p, 0), kir_dim(p, s->d[axis]));
    idx[pass] = kir_const_i(p, 0);
    for (int i = 0; i < s->rank; i++)
      idx[pass] = kir_iadd(p, idx[pass], kir_imul(p, kir_var_ref(p, k, var[i]), st[i]));
  }
  kir_set(p, k, loops[0], mx, kir_bin(p, K_MAX, kir_var_ref(p, k, mx), kir_load(p, k, in, idx[0])));
  KExpr *e1 = kir_un(p, K_EXP, kir_bin(p, K_SUB, kir_load(p, k, in, idx[1]), kir_var_ref(p, k, mx)));
  kir_set(p, k, loops[1], sum, kir_bin(p, K_ADD, kir_var_ref(p, k, sum), e1));
  KExpr *d = kir_bin(p, K_SUB, kir_load(p, k, in, idx[2]), kir_var_ref(p, k, mx));
  KExpr *r = nd->op == OP_LOG_SOFTMAX
                 ? kir_bin(p, K_SUB, d, kir_un(p, K_LOG, kir_var_ref(p, k, sum)))
                 : kir_bin(p, K_DIV, kir_un(p, K_EXP, d), kir_var_ref(p, k, sum));
  kir_store(p, k, loops[2], out, idx[2], r);
  k->work = 3.0 * (double)numel_eval(s, 1) / (double)(outer.rank ? llabs(outer.d[0]) : 1);
}

static void lower_transpose(Program *p, int node) {
  const Node *nd = &p->g->node[node];
  const Node *x = &p->g->node[nd->in[0]];
  Kernel *k = kir_kernel(p, "transpose", node, nd->loc);
  Nest n = nest_over(p, k, &nd->shape);
  KExpr *st[MAX_RANK];
  strides(p, &x->shape, st);
  KExpr *idx = kir_const_i(p, 0);
  for (int i = 0; i < nd->shape.rank; i++)
    idx = kir_iadd(p, idx, kir_imul(p, kir_var_ref(p, k, n.var[i]), st[nd->a.ints[i]]));
  KExpr *v = kir_load(p, k, kir_buf(p, k, nd->in[0], false), idx);
  kir_store(p, k, n.inner, kir_buf(p, k, node, true), bcast_index(p, k, &nd->shape, &n), v);
  k->work = (double)numel_eval(&nd->shape, 1) / (double)(nd->shape.rank ? llabs(nd->shape.d[0]) : 1);
}

/* concat: one copy kernel per operand into its slice of the output. */
static void lower_concat(Program *p, int node) {
  const Node *nd = &p->g->node[node];
  int axis = (int)nd->a.ints[0];
  KExpr *ost[MAX_RANK];
  int64_t start = 0;
  for (int j = 0; j < nd->nin; j++) {
    const Node *x = &p->g->node[nd->in[j]];
    Kernel *k = kir_kernel(p, "concat", node, nd->loc);
    strides(p, &nd->shape, ost);
    Nest n = nest_over(p, k, &x->shape);
    KExpr *idx = kir_const_i(p, 0);
    for (int i = 0; i < x->shape.rank; i++) {
      KExpr *v = kir_var_ref(p, k, n.var[i]);
      if (i == axis) v = kir_iadd(p, v, kir_dim(p, start));
      idx = kir_iadd(p, idx, kir_imul(p, v, ost[i]));
    }
    KExpr *val = operand(p, k, nd->in[j], &n);
    kir_store(p, k, n.inner, kir_buf(p, k, node, true), idx, val);
    start += x->shape.d[axis];
    k->work = (double)numel_eval(&x->shape, 1) / (double)(x->shape.rank ? llabs(x->shape.d[0]) : 1);
  }
}

/* matmul as a KGemm: a[..., M, K] x b[K, P] (rows of a flattened),
 * batched a[B..., M, K] x b[B..., K, P], or a[M, K] shared by a batch
 * b[B..., K, P]. An operand that is a transpose read in place
 * (ir_read_through) is read from the transpose's operand with swapped
 * strides. */
static KGemm *gemm_of(Program *p, Kernel *k, int node, int cbuf) {
  const Node *nd = &p->g->node[node];
  const Node *a = &p->g->node[nd->in[0]], *b = &p->g->node[nd->in[1]];
  KGemm *gm = arena_alloc(p->arena, sizeof *gm);
  k->gemm = gm;
  int ra = a->shape.rank, rb = b->shape.rank;
  int64_t K = a->shape.d[ra - 1], P = b->shape.d[rb - 1];
  gm->K = kir_dim(p, K);
  gm->N = kir_dim(p, P);
  gm->M = kir_dim(p, a->shape.d[ra - 2]);
  if (ir_read_through(p->g, nd->in[0])) { /* A' = X^T, X stored [K, M] */
    gm->a = kir_buf(p, k, a->in[0], false);
    gm->a_rs = kir_const_i(p, 1);
    gm->a_ks = gm->M;
  } else {
    gm->a = kir_buf(p, k, nd->in[0], false);
    gm->a_rs = gm->K;
    gm->a_ks = kir_const_i(p, 1);
  }
  if (ir_read_through(p->g, nd->in[1])) { /* B = X^T, X stored [.., P, K] */
    gm->b = kir_buf(p, k, b->in[0], false);
    gm->ldb = kir_const_i(p, 1);
    gm->b_ns = gm->K;
  } else {
    gm->b = kir_buf(p, k, nd->in[1], false);
    gm->ldb = gm->N;
    gm->b_ns = kir_const_i(p, 1);
  }
  gm->c = cbuf;
  gm->ldc = gm->N;
  if (rb > 2) {
    Shape bd = {.rank = rb - 2};
    for (int i = 0; i < rb - 2; i++) bd.d[i] = b->shape.d[i];
    gm->batch = numel_of(p, &bd);
    gm->sa = ra > 2 ? kir_imul(p, gm->M, gm->K) : kir_const_i(p, 0);
    gm->sb = kir_imul(p, gm->K, gm->N);
    gm->sc = kir_imul(p, gm->M, gm->N);
  } else {
    if (ra > 2) { /* every row of a's leading dimensions */
      Shape rows = a->shape;
      rows.rank--;
      gm->M = numel_of(p, &rows);
    }
    gm->batch = kir_const_i(p, 1);
    gm->sa = gm->sb = gm->sc = kir_const_i(p, 0);
  }
  gm->nr = cg_gemm_nr();
  KExpr *panels = kir_bin(p, K_DIV, kir_iadd(p, gm->N, kir_const_i(p, gm->nr - 1)),
                          kir_const_i(p, gm->nr));
  k->extent = kir_imul(p, gm->batch, panels);
  /* one product per sample (a convolution's), the other operand a sample's
   * too or batch-independent */
  if (rb == 3 && b->shape.d[0] == -1 && P > 0 &&
      (ra == 3 ? a->shape.d[0] == -1 : !shape_numel(&a->shape).sym))
    k->per_sample = (P + gm->nr - 1) / gm->nr;
  /* flops per panel, taking a batch-dependent M or K as 64 */
  int64_t m = gm->M->op == K_CONST ? gm->M->i : 64;
  k->work = 2.0 * (double)m * gm->nr * (double)(K < 0 ? 64 * -K : K);
  return gm;
}

static void lower_matmul(Program *p, int node) {
  Kernel *k = kir_kernel(p, "matmul", node, p->g->node[node].loc);
  gemm_of(p, k, node, kir_buf(p, k, node, true));
}

/* The matmul absorbed by the chain that node roots (passes/fuse.c), or 0. */
static int absorbed_product(const Graph *g, int node) {
  const Node *nd = &g->node[node];
  for (int i = 0; i < nd->nin; i++) {
    int j = nd->in[i], r = ir_view_root(g, j);
    if (g->node[r].op == OP_MATMUL && g->node[r].into) return r;
    if (g->node[j].into) {
      int m = absorbed_product(g, j);
      if (m) return m;
    }
  }
  return 0;
}

/* An elementwise chain with a product absorbed: the product of its panel
 * (var 0) is written into the chain's output, then the body runs over the
 * panel's elements, reading the product there and storing the chain's
 * value in place. Element (i, j) of panel t is at flat index
 * bt*sc + i*ldc + j0 + j of the output (bt = t / panels, j0 = (t mod
 * panels) * nr), decomposed into the output's dimensions for the chain's
 * broadcast operands. */
static void lower_epilogue(Program *p, int node, int product) {
  const Node *nd = &p->g->node[node];
  char what[64];
  snprintf(what, sizeof what, "matmul_%s", op_info[nd->op].name);
  Kernel *k = kir_kernel(p, what, node, nd->loc);
  int out = kir_buf(p, k, node, true);
  KGemm *gm = gemm_of(p, k, product, out);
  KExpr *nr = ic(p, gm->nr);
  KExpr *panels = kir_bin(p, K_DIV, kir_iadd(p, gm->N, ic(p, gm->nr - 1)), nr);
  KExpr *t = ivar(p, k, 0), *bt = kir_bin(p, K_DIV, t, panels);
  KExpr *j0 = kir_imul(p, kir_bin(p, K_REM, t, panels), nr);
  KExpr *nc = kir_bin(p, K_MIN, nr, kir_bin(p, K_SUB, gm->N, j0));
  const Shape *ps = &p->g->node[product].shape, *os = &nd->shape;
  /* the output's dimensions as (batch, rows, columns) of the product */
  Shape groups[3] = {{0}};
  groups[2] = (Shape){.rank = 1, .d = {ps->d[ps->rank - 1]}};
  bool batched = p->g->node[p->g->node[product].in[1]].shape.rank > 2;
  groups[1] = (Shape){.rank = batched ? 1 : ps->rank - 1};
  for (int d = 0; d < groups[1].rank; d++) groups[1].d[d] = ps->d[batched ? ps->rank - 2 : d];
  groups[0] = (Shape){.rank = batched ? ps->rank - 2 : 0};
  for (int d = 0; d < groups[0].rank; d++) groups[0].d[d] = ps->d[d];
  int cut[4] = {0, 0, 0, os->rank};
  for (int gi = 2, d = os->rank; gi >= 1; gi--) { /* dims from the right, group by group */
    Size want = shape_numel(&groups[gi]), have = {1, false};
    Shape part = {0};
    while (d > 0 && (have.k != want.k || have.sym != want.sym) && have.k <= want.k) {
      part.d[part.rank++] = os->d[--d];
      have = shape_numel(&part);
    }
    cut[gi] = d;
  }
  Size bsz = shape_numel(&groups[0]);
  Shape lead = {.rank = cut[1]};
  for (int d = 0; d < cut[1]; d++) lead.d[d] = os->d[d];
  Size lsz = shape_numel(&lead);
  bool split = lsz.k == bsz.k && lsz.sym == bsz.sym;
  for (int gi = 1; split && gi <= 2; gi++) {
    Shape part = {.rank = cut[gi + 1] - cut[gi]};
    for (int d = 0; d < part.rank; d++) part.d[d] = os->d[cut[gi] + d];
    Size a = shape_numel(&part), b = shape_numel(&groups[gi]);
    split = a.k == b.k && a.sym == b.sym;
  }
  int i = 0, j = 0, flat = kir_var(p, k, KT_I64);
  Nest n = {.rank = os->rank};
  KExpr *st[MAX_RANK];
  strides(p, os, st);
  KExpr *col = NULL;
  /* each group's index decomposed at its loop level, so that (say) a
   * per-channel bias is loaded once per row, outside the column loop */
  KStmt *l = NULL;
  for (int gi = 0; gi < 3; gi++) {
    if (gi == 1) l = loop_to(p, k, NULL, &i, gm->M);
    if (gi == 2) {
      l = loop_to(p, k, l, &j, nc);
      col = kir_iadd(p, j0, ivar(p, k, j));
    }
    KExpr *x = gi == 0 ? bt : gi == 1 ? ivar(p, k, i) : col;
    for (int d = cut[gi]; split && d < cut[gi + 1]; d++) {
      KExpr *gs = kir_const_i(p, 1); /* stride of d within its group */
      for (int e = d + 1; e < cut[gi + 1]; e++) gs = kir_imul(p, gs, kir_dim(p, os->d[e]));
      KExpr *v = gs->op == K_CONST && gs->i == 1 ? x : kir_bin(p, K_DIV, x, gs);
      if (d > cut[gi]) v = kir_bin(p, K_REM, v, kir_dim(p, os->d[d]));
      n.var[d] = kir_var(p, k, KT_I64);
      kir_set(p, k, gi == 0 ? NULL : l, n.var[d], v);
    }
  }
  KExpr *e = kir_iadd(p, kir_iadd(p, kir_imul(p, bt, gm->sc), kir_imul(p, ivar(p, k, i), gm->ldc)), col);
  kir_set(p, k, l, flat, e);
  for (int d = 0; !split && d < os->rank; d++) { /* no split: from the flat index */
    KExpr *v = kir_bin(p, K_DIV, ivar(p, k, flat), st[d]);
    if (d > 0) v = kir_bin(p, K_REM, v, kir_dim(p, os->d[d]));
    n.var[d] = kir_var(p, k, KT_I64);
    kir_set(p, k, l, n.var[d], v);
  }
  n.inner = l;
  Access a = {.nest = &n, .product = product, .cbuf = out};
  int dst;
  KExpr *val = result(p, k, node, &a, ivar(p, k, flat), &dst);
  kir_store(p, k, l, dst, ivar(p, k, flat), val);
}

static void lower_slice(Program *p, int node) {
  const Node *nd = &p->g->node[node];
  const Node *x = &p->g->node[nd->in[0]];
  Kernel *k = kir_kernel(p, "slice", node, nd->loc);
  Nest n = nest_over(p, k, &nd->shape);
  KExpr *st[MAX_RANK];
  strides(p, &x->shape, st);
  KExpr *idx = kir_const_i(p, 0);
  for (int i = 0; i < nd->shape.rank; i++) {
    KExpr *v = kir_var_ref(p, k, n.var[i]);
    if (i == nd->a.ints[0]) v = kir_iadd(p, v, kir_const_i(p, nd->a.ints[1]));
    idx = kir_iadd(p, idx, kir_imul(p, v, st[i]));
  }
  KExpr *val = kir_load(p, k, kir_buf(p, k, nd->in[0], false), idx);
  kir_store(p, k, n.inner, kir_buf(p, k, node, true), bcast_index(p, k, &nd->shape, &n), val);
  k->work = (double)numel_eval(&nd->shape, 1) / (double)(nd->shape.rank ? llabs(nd->shape.d[0]) : 1);
}

/* one_hot: out[..., c] = (label[...] == c) */
static void lower_one_hot(Program *p, int node) {
  const Node *nd = &p->g->node[node];
  Kernel *k = kir_kernel(p, "one_hot", node, nd->loc);
  Nest n = nest_over(p, k, &nd->shape);
  Nest lab = n;
  lab.rank--;
  const Node *x = &p->g->node[nd->in[0]];
  KExpr *label = kir_cast(p, KT_I64, kir_load(p, k, kir_buf(p, k, nd->in[0], false),
                                                bcast_index(p, k, &x->shape, &lab)));
  KExpr *c = kir_var_ref(p, k, n.var[n.rank - 1]);
  KExpr *v = kir_select(p, kir_bin(p, K_EQ, label, c), kir_const_f(p, 1), kir_const_f(p, 0));
  kir_store(p, k, n.inner, kir_buf(p, k, node, true), bcast_index(p, k, &nd->shape, &n), v);
  k->work = (double)numel_eval(&nd->shape, 1) / (double)(nd->shape.rank ? llabs(nd->shape.d[0]) : 1);
}

/* cross_entropy per row: log(sum(exp(x - m))) + m - x[label], with the label
 * clamped into range so that a bad label cannot read out of bounds (the
 * runtime rejects such labels when it loads them). */
static void lower_cross_entropy(Program *p, int node) {
  const Node *nd = &p->g->node[node];
  const Node *x = &p->g->node[nd->in[0]], *y = &p->g->node[nd->in[1]];
  Kernel *k = kir_kernel(p, "cross_entropy", node, nd->loc);
  int64_t C = x->shape.d[x->shape.rank - 1];
  Nest n = nest_over(p, k, &y->shape);
  KExpr *row = kir_imul(p, bcast_index(p, k, &y->shape, &n), kir_const_i(p, C));
  int in = kir_buf(p, k, nd->in[0], false);
  int mx = kir_var(p, k, KT_F32), sum = kir_var(p, k, KT_F32);
  kir_set(p, k, n.inner, mx, kir_const_f(p, -__builtin_inf()));
  kir_set(p, k, n.inner, sum, kir_const_f(p, 0));
  int c0 = kir_var(p, k, KT_I64), c1 = kir_var(p, k, KT_I64);
  KStmt *l0 = kir_loop(p, k, n.inner, c0, kir_const_i(p, 0), kir_const_i(p, C));
  kir_set(p, k, l0, mx, kir_bin(p, K_MAX, kir_var_ref(p, k, mx),
                                kir_load(p, k, in, kir_iadd(p, row, kir_var_ref(p, k, c0)))));
  KStmt *l1 = kir_loop(p, k, n.inner, c1, kir_const_i(p, 0), kir_const_i(p, C));
  KExpr *e = kir_un(p, K_EXP, kir_bin(p, K_SUB, kir_load(p, k, in, kir_iadd(p, row, kir_var_ref(p, k, c1))),
                                      kir_var_ref(p, k, mx)));
  kir_set(p, k, l1, sum, kir_bin(p, K_ADD, kir_var_ref(p, k, sum), e));
  KExpr *lab = kir_cast(p, KT_I64, kir_load(p, k, kir_buf(p, k, nd->in[1], false),
                                              bcast_index(p, k, &y->shape, &n)));
  lab = kir_bin(p, K_MIN, kir_bin(p, K_MAX, lab, kir_const_i(p, 0)), kir_const_i(p, C - 1));
  KExpr *xl = kir_load(p, k, in, kir_iadd(p, row, lab));
  KExpr *loss = kir_bin(p, K_SUB, kir_bin(p, K_ADD, kir_un(p, K_LOG, kir_var_ref(p, k, sum)),
                                          kir_var_ref(p, k, mx)), xl);
  kir_store(p, k, n.inner, kir_buf(p, k, node, true), bcast_index(p, k, &y->shape, &n), loss);
  k->work = 3.0 * (double)C * (double)numel_eval(&y->shape, 1) /
            (double)(y->shape.rank ? llabs(y->shape.d[0]) : 1);
}

/* ---- convolution and pooling over [N,C,H,W] ----
 * Each kernel is a loop nest over its result with the window loops
 * inside, accumulating into a local (a gather: no kernel writes an
 * element twice, so the parallel variable may be any output row). Taps
 * in the padding never read memory: the index is clamped into the image
 * and the loaded value replaced by select. Attribute pairs are
 * (height, width), as in ops.def. */

typedef struct Win {
  int64_t C, H, W;          /* input image (N is the nest's) */
  int64_t O, OH, OW;        /* result of the forward op */
  int64_t KH, KW, sh, sw, ph, pw, dh, dw;
  int64_t cg, og;           /* input, output channels per group */
  KExpr *lane;              /* a blocked image's lane (of BLOCK_C), or NULL */
} Win;

/* The window of a conv2d-family node (ints stride, pad, dilation, groups)
 * or a pool-family node (ints kernel, stride, pad) over image x giving y. */
static Win window_of(const Node *n, const Shape *x, const Shape *y, int64_t KH, int64_t KW) {
  const int64_t *a = n->a.ints;
  Win w = {.C = x->d[1], .H = x->d[2], .W = x->d[3], .O = y->d[1], .OH = y->d[2],
           .OW = y->d[3], .KH = KH, .KW = KW};
  if (n->op == OP_CONV2D || n->op == OP_CONV2D_GRAD_INPUT || n->op == OP_CONV2D_GRAD_WEIGHT) {
    w.sh = a[0], w.sw = a[1], w.ph = a[2], w.pw = a[3], w.dh = a[4], w.dw = a[5];
    w.cg = w.C / a[6], w.og = w.O / a[6];
  } else {
    w.KH = a[0], w.KW = a[1], w.sh = a[2], w.sw = a[3], w.ph = a[4], w.pw = a[5];
    w.dh = w.dw = 1, w.cg = w.og = 1;
  }
  return w;
}



/* e clamped into [0, len). */
static KExpr *clamp_to(Program *p, KExpr *e, int64_t len) {
  return kir_bin(p, K_MIN, kir_bin(p, K_MAX, e, ic(p, 0)), ic(p, len - 1));
}

/* Flat index of [n, c, h, w] in a [., C, H, W] tensor. */
static KExpr *at4(Program *p, KExpr *n, KExpr *c, KExpr *h, KExpr *w, int64_t C, int64_t H,
                  int64_t W) {
  KExpr *i = kir_iadd(p, kir_imul(p, n, ic(p, C)), c);
  i = kir_iadd(p, kir_imul(p, i, ic(p, H)), h);
  return kir_iadd(p, kir_imul(p, i, ic(p, W)), w);
}

/* Input row of tap k of output row o: o*stride - pad + k*dil. */
static KExpr *tap(Program *p, KExpr *o, KExpr *k, int64_t stride, int64_t pad, int64_t dil) {
  return kir_iadd(p, kir_iadd(p, kir_imul(p, o, ic(p, stride)), ic(p, -pad)),
                  kir_imul(p, k, ic(p, dil)));
}

/* x[n, c, ih, iw] of an image, or pad where (ih, iw) lies outside it. */
static KExpr *image_at(Program *p, Kernel *k, int buf, const Win *w, KExpr *n, KExpr *c,
                       KExpr *ih, KExpr *iw, double pad) {
  /* Without padding in a dimension every tap of a (floor-sized) result
   * lies inside: (O-1)*stride + (K-1)*dil <= len - 1. The clamps would
   * only keep the loop from vectorizing. */
  KExpr *ch = w->ph ? clamp_to(p, ih, w->H) : ih, *cw = w->pw ? clamp_to(p, iw, w->W) : iw;
  KExpr *at = at4(p, n, c, ch, cw, w->C, w->H, w->W);
  if (w->lane) at = kir_iadd(p, kir_imul(p, at, ic(p, BLOCK_C)), w->lane);
  KExpr *v = kir_load(p, k, buf, at);
  KExpr *padv = kir_const_f(p, pad);
  if (w->pw) v = kir_select(p, kir_bin(p, K_EQ, cw, iw), v, padv);
  if (w->ph) v = kir_select(p, kir_bin(p, K_EQ, ch, ih), v, padv);
  return v;
}

/* The result element rows of an output dimension that take input row i
 * as tap kk: o = (i + pad - kk*dil) / stride when that divides exactly and
 * o < len. Sets *o (clamped into range) and returns the condition
 * (bool) as an i64 0/1 product factor. */
static KExpr *taken_by(Program *p, KExpr *i, KExpr *kk, int64_t stride, int64_t pad, int64_t dil,
                       int64_t len, KExpr **o) {
  KExpr *num = kir_iadd(p, kir_iadd(p, i, ic(p, pad)), kir_imul(p, kk, ic(p, -dil)));
  KExpr *q = kir_bin(p, K_DIV, kir_bin(p, K_MAX, num, ic(p, 0)), ic(p, stride));
  *o = kir_bin(p, K_MIN, q, ic(p, len - 1));
  KExpr *exact = kir_cast(p, KT_I64, kir_bin(p, K_EQ, kir_imul(p, q, ic(p, stride)), num));
  KExpr *inside = kir_cast(p, KT_I64, kir_bin(p, K_LT, q, ic(p, len)));
  return kir_bin(p, K_MUL, exact, inside);
}

/* v where the i64 0/1 factor ok is 1, else 0. */
static KExpr *only_if(Program *p, KExpr *ok, KExpr *v) {
  return kir_select(p, kir_bin(p, K_EQ, ok, ic(p, 1)), v, kir_const_f(p, 0));
}

/* Work per parallel unit of a nest over s. */
static double work_of(const Shape *s, double per_elem) {
  return per_elem * (double)numel_eval(s, 1) / (double)llabs(s->d[0]);
}

/* y[n,o,oh,ow] = sum over cg, kh, kw of x[n, c, ih, iw] * w[o, cg, kh, kw],
 * c = the first channel of o's group + cg. */
static void lower_conv2d(Program *p, int node) {
  const Node *nd = &p->g->node[node];
  const Node *x = &p->g->node[nd->in[0]], *wt = &p->g->node[nd->in[1]];
  Win w = window_of(nd, &x->shape, &nd->shape, wt->shape.d[2], wt->shape.d[3]);
  Kernel *k = kir_kernel(p, "conv2d", node, nd->loc);
  Nest n = nest_over(p, k, &nd->shape);
  KExpr *N = ivar(p, k, n.var[0]), *o = ivar(p, k, n.var[1]);
  KExpr *oh = ivar(p, k, n.var[2]), *ow = ivar(p, k, n.var[3]);
  int acc = kir_var(p, k, KT_F32), cg, kh, kw;
  kir_set(p, k, n.inner, acc, kir_const_f(p, 0));
  KStmt *l = loop_to(p, k, n.inner, &cg, ic(p, w.cg));
  l = loop_to(p, k, l, &kh, ic(p, w.KH));
  l = loop_to(p, k, l, &kw, ic(p, w.KW));
  KExpr *c = kir_iadd(p, kir_imul(p, kir_bin(p, K_DIV, o, ic(p, w.og)), ic(p, w.cg)), ivar(p, k, cg));
  KExpr *xv = image_at(p, k, kir_buf(p, k, nd->in[0], false), &w, N, c,
                       tap(p, oh, ivar(p, k, kh), w.sh, w.ph, w.dh),
                       tap(p, ow, ivar(p, k, kw), w.sw, w.pw, w.dw), 0);
  KExpr *wv = kir_load(p, k, kir_buf(p, k, nd->in[1], false),
                       at4(p, o, ivar(p, k, cg), ivar(p, k, kh), ivar(p, k, kw), w.cg, w.KH, w.KW));
  kir_set(p, k, l, acc, kir_fma(p, xv, wv, ivar(p, k, acc)));
  kir_store(p, k, n.inner, kir_buf(p, k, node, true), bcast_index(p, k, &nd->shape, &n),
            ivar(p, k, acc));
  k->work = work_of(&nd->shape, 2.0 * (double)(w.cg * w.KH * w.KW));
}

/* dx[n,c,h,w] = sum over the output channels oo of c's group and taps
 * (kh, kw) that read (h, w) of dy[n,o,oh,ow] * w[o, c mod cg, kh, kw]. */
static void lower_conv2d_grad_input(Program *p, int node) {
  const Node *nd = &p->g->node[node];
  const Node *dy = &p->g->node[nd->in[0]], *wt = &p->g->node[nd->in[1]];
  Win w = window_of(nd, &nd->shape, &dy->shape, wt->shape.d[2], wt->shape.d[3]);
  Kernel *k = kir_kernel(p, "conv2d_grad_input", node, nd->loc);
  Nest n = nest_over(p, k, &nd->shape);
  KExpr *N = ivar(p, k, n.var[0]), *c = ivar(p, k, n.var[1]);
  KExpr *h = ivar(p, k, n.var[2]), *wc = ivar(p, k, n.var[3]);
  int acc = kir_var(p, k, KT_F32), oo, kh, kw;
  kir_set(p, k, n.inner, acc, kir_const_f(p, 0));
  KStmt *l = loop_to(p, k, n.inner, &oo, ic(p, w.og));
  l = loop_to(p, k, l, &kh, ic(p, w.KH));
  l = loop_to(p, k, l, &kw, ic(p, w.KW));
  KExpr *o = kir_iadd(p, kir_imul(p, kir_bin(p, K_DIV, c, ic(p, w.cg)), ic(p, w.og)), ivar(p, k, oo));
  KExpr *cg = kir_bin(p, K_REM, c, ic(p, w.cg)), *oh, *ow;
  KExpr *okh = taken_by(p, h, ivar(p, k, kh), w.sh, w.ph, w.dh, w.OH, &oh);
  KExpr *okw = taken_by(p, wc, ivar(p, k, kw), w.sw, w.pw, w.dw, w.OW, &ow);
  KExpr *dv = kir_load(p, k, kir_buf(p, k, nd->in[0], false), at4(p, N, o, oh, ow, w.O, w.OH, w.OW));
  KExpr *wv = kir_load(p, k, kir_buf(p, k, nd->in[1], false),
                       at4(p, o, cg, ivar(p, k, kh), ivar(p, k, kw), w.cg, w.KH, w.KW));
  KExpr *term = only_if(p, kir_bin(p, K_MUL, okh, okw), kir_bin(p, K_MUL, dv, wv));
  kir_set(p, k, l, acc, kir_bin(p, K_ADD, ivar(p, k, acc), term));
  kir_store(p, k, n.inner, kir_buf(p, k, node, true), bcast_index(p, k, &nd->shape, &n),
            ivar(p, k, acc));
  k->work = work_of(&nd->shape, 2.0 * (double)(w.og * w.KH * w.KW));
}

/* dw[o,cg,kh,kw] = sum over n, oh, ow of dy[n,o,oh,ow] * x[n, c, ih, iw]:
 * parallel over the output channels, the batch loop inside. */
static void lower_conv2d_grad_weight(Program *p, int node) {
  const Node *nd = &p->g->node[node];
  const Node *x = &p->g->node[nd->in[0]], *dy = &p->g->node[nd->in[1]];
  Win w = window_of(nd, &x->shape, &dy->shape, nd->shape.d[2], nd->shape.d[3]);
  Kernel *k = kir_kernel(p, "conv2d_grad_weight", node, nd->loc);
  Nest n = nest_over(p, k, &nd->shape);
  KExpr *o = ivar(p, k, n.var[0]), *cg = ivar(p, k, n.var[1]);
  KExpr *kh = ivar(p, k, n.var[2]), *kw = ivar(p, k, n.var[3]);
  int acc = kir_var(p, k, KT_F32), b, oh, ow;
  kir_set(p, k, n.inner, acc, kir_const_f(p, 0));
  KStmt *l = loop_to(p, k, n.inner, &b, kir_dim(p, x->shape.d[0]));
  l = loop_to(p, k, l, &oh, ic(p, w.OH));
  l = loop_to(p, k, l, &ow, ic(p, w.OW));
  KExpr *c = kir_iadd(p, kir_imul(p, kir_bin(p, K_DIV, o, ic(p, w.og)), ic(p, w.cg)), cg);
  KExpr *xv = image_at(p, k, kir_buf(p, k, nd->in[0], false), &w, ivar(p, k, b), c,
                       tap(p, ivar(p, k, oh), kh, w.sh, w.ph, w.dh),
                       tap(p, ivar(p, k, ow), kw, w.sw, w.pw, w.dw), 0);
  KExpr *dv = kir_load(p, k, kir_buf(p, k, nd->in[1], false),
                       at4(p, ivar(p, k, b), o, ivar(p, k, oh), ivar(p, k, ow), w.O, w.OH, w.OW));
  kir_set(p, k, l, acc, kir_fma(p, xv, dv, ivar(p, k, acc)));
  kir_store(p, k, n.inner, kir_buf(p, k, node, true), bcast_index(p, k, &nd->shape, &n),
            ivar(p, k, acc));
  k->work = work_of(&nd->shape, 2.0 * 64 * (double)(w.OH * w.OW)); /* taking N as 64 */
}

/* The window of an im2col or col2im node (ints stride, pad, dilation,
 * kernel) over an image of shape x. */
static Win col_window(const Node *n, const Shape *x) {
  const int64_t *a = n->a.ints;
  Win w = {.C = x->d[1], .H = x->d[2], .W = x->d[3], .KH = a[6], .KW = a[7], .sh = a[0],
           .sw = a[1], .ph = a[2], .pw = a[3], .dh = a[4], .dw = a[5], .cg = x->d[1], .og = 1};
  w.OH = (w.H + 2 * w.ph - w.dh * (w.KH - 1) - 1) / w.sh + 1;
  w.OW = (w.W + 2 * w.pw - w.dw * (w.KW - 1) - 1) / w.sw + 1;
  return w;
}

/* The output columns o in [*lo, *hi) (within [0, len)) whose tap kk reads
 * inside [0, size): 0 <= o*stride - pad + kk*dil < size. */
static void inside(Program *p, KExpr *kk, int64_t stride, int64_t pad, int64_t dil, int64_t size,
                   int64_t len, KExpr **lo, KExpr **hi) {
  KExpr *first = kir_iadd(p, kir_imul(p, kk, ic(p, -dil)), ic(p, pad));  /* o*stride >= first */
  KExpr *last = kir_iadd(p, first, ic(p, size - 1));                     /* o*stride <= last */
  *lo = kir_bin(p, K_MIN, kir_bin(p, K_DIV, kir_bin(p, K_MAX, kir_iadd(p, first, ic(p, stride - 1)),
                                                    ic(p, 0)), ic(p, stride)), ic(p, len));
  *hi = kir_bin(p, K_MIN, kir_bin(p, K_DIV, kir_iadd(p, kir_bin(p, K_MAX, last, ic(p, -1)),
                                                     ic(p, stride)), ic(p, stride)), ic(p, len));
  *hi = kir_bin(p, K_MAX, *hi, *lo);
}

/* The loops shared by im2col and col2im: for image n (the parallel
 * variable), every tap (c, kh, kw) and output row oh, the run of output
 * columns [*lo, *hi) whose input lies inside the image (empty when row ih
 * is padding). Returns the loop over oh; sets the flat offsets of the
 * column row's start (col_at + ow) and of the input element of column 0
 * (x_at + ow*sw). */
typedef struct ColRun {
  KStmt *row;          /* the loop over oh */
  KExpr *lo, *hi;      /* the inside run of ow */
  KExpr *col_at;       /* col index of (n, tap, oh, 0) */
  KExpr *x_at;         /* x index of (n, c, ih, -pw + kw*dw) */
} ColRun;

static ColRun col_run(Program *p, Kernel *k, const Win *w) {
  int c, kh, kw, oh;
  KStmt *l = loop_to(p, k, NULL, &c, ic(p, w->C));
  l = loop_to(p, k, l, &kh, ic(p, w->KH));
  l = loop_to(p, k, l, &kw, ic(p, w->KW));
  l = loop_to(p, k, l, &oh, ic(p, w->OH));
  KExpr *N = ivar(p, k, 0);
  KExpr *ih = tap(p, ivar(p, k, oh), ivar(p, k, kh), w->sh, w->ph, w->dh);
  KExpr *row_in = kir_bin(p, K_EQ, clamp_to(p, ih, w->H), ih);
  KExpr *lo, *hi;
  inside(p, ivar(p, k, kw), w->sw, w->pw, w->dw, w->W, w->OW, &lo, &hi);
  ColRun r = {.row = l};
  r.lo = kir_select(p, row_in, lo, ic(p, w->OW));
  r.hi = kir_select(p, row_in, hi, ic(p, w->OW));
  KExpr *t = kir_iadd(p, kir_imul(p, kir_iadd(p, kir_imul(p, ivar(p, k, c), ic(p, w->KH)),
                                              ivar(p, k, kh)), ic(p, w->KW)), ivar(p, k, kw));
  KExpr *tap_row = kir_iadd(p, kir_imul(p, N, ic(p, w->C * w->KH * w->KW)), t);
  r.col_at = kir_iadd(p, kir_imul(p, tap_row, ic(p, w->OH * w->OW)),
                      kir_imul(p, ivar(p, k, oh), ic(p, w->OW)));
  r.x_at = kir_iadd(p, at4(p, N, ivar(p, k, c), ih, ic(p, 0), w->C, w->H, w->W),
                    kir_iadd(p, kir_imul(p, ivar(p, k, kw), ic(p, w->dw)), ic(p, -w->pw)));
  return r;
}

/* col[n, (c*KH + kh)*KW + kw, oh*OW + ow] = x[n, c, ih, iw], 0 in the
 * padding: parallel over n; each column row is written in three runs
 * (padding, inside, padding), so the inside run is a strided copy with no
 * bounds test. */
static void lower_im2col(Program *p, int node) {
  const Node *nd = &p->g->node[node];
  Win w = col_window(nd, &p->g->node[nd->in[0]].shape);
  Kernel *k = kir_kernel(p, "im2col", node, nd->loc);
  k->extent = kir_dim(p, nd->shape.d[0]);
  k->per_sample = nd->shape.d[0] == -1;
  ColRun r = col_run(p, k, &w);
  int out = kir_buf(p, k, node, true), in = kir_buf(p, k, nd->in[0], false), ow;
  KExpr *run[4] = {ic(p, 0), r.lo, r.hi, ic(p, w.OW)};
  for (int part = 0; part < 3; part++) {
    KStmt *l = kir_loop(p, k, r.row, ow = kir_var(p, k, KT_I64), run[part], run[part + 1]);
    KExpr *v = part != 1 ? kir_const_f(p, 0)
                         : kir_load(p, k, in, kir_iadd(p, r.x_at, kir_imul(p, ivar(p, k, ow), ic(p, w.sw))));
    kir_store(p, k, l, out, kir_iadd(p, r.col_at, ivar(p, k, ow)), v);
  }
  k->work = work_of(&nd->shape, 1.0);
  if (w.sw == 1) {
    k->cols = arena_alloc(p->arena, sizeof *k->cols);
    *k->cols = (KCols){.x = in, .col = out, .C = w.C, .H = w.H, .W = w.W, .KH = w.KH, .KW = w.KW,
                       .sh = w.sh, .ph = w.ph, .pw = w.pw, .dh = w.dh, .dw = w.dw, .OH = w.OH,
                       .OW = w.OW};
  }
}

/* x[n,c,h,w] = the sum over taps (kh, kw) and output positions (oh, ow)
 * that read (h, w) of col[n, (c*KH + kh)*KW + kw, oh*OW + ow]: parallel
 * over n, each image zeroed and then accumulated run by run, so no two
 * threads write the same element. */
static void lower_col2im(Program *p, int node) {
  const Node *nd = &p->g->node[node];
  Win w = col_window(nd, &nd->shape);
  Kernel *k = kir_kernel(p, "col2im", node, nd->loc);
  k->extent = kir_dim(p, nd->shape.d[0]);
  k->per_sample = nd->shape.d[0] == -1;
  int out = kir_buf(p, k, node, true), in = kir_buf(p, k, nd->in[0], false), i, ow;
  int64_t chw = w.C * w.H * w.W;
  KStmt *z = loop_to(p, k, NULL, &i, ic(p, chw));
  kir_store(p, k, z, out, kir_iadd(p, kir_imul(p, ivar(p, k, 0), ic(p, chw)), ivar(p, k, i)),
            kir_const_f(p, 0));
  ColRun r = col_run(p, k, &w);
  KStmt *l = kir_loop(p, k, r.row, ow = kir_var(p, k, KT_I64), r.lo, r.hi);
  KExpr *xi = kir_iadd(p, r.x_at, kir_imul(p, ivar(p, k, ow), ic(p, w.sw)));
  KExpr *sum = kir_bin(p, K_ADD, kir_load(p, k, out, xi),
                       kir_load(p, k, in, kir_iadd(p, r.col_at, ivar(p, k, ow))));
  kir_store(p, k, l, out, xi, sum);
  k->work = work_of(&p->g->node[nd->in[0]].shape, 2.0);
}

/* avg_pool2d: the window sum with padding as zero, over KH*KW. */
static void lower_avg_pool2d(Program *p, int node) {
  const Node *nd = &p->g->node[node];
  const Node *x = &p->g->node[nd->in[0]];
  Win w = window_of(nd, &x->shape, &nd->shape, 0, 0);
  Kernel *k = kir_kernel(p, "avg_pool2d", node, nd->loc);
  Nest n = nest_over(p, k, &nd->shape);
  if (n.rank == 5) w.lane = ivar(p, k, n.var[4]); /* a blocked image */
  int acc = kir_var(p, k, KT_F32), kh, kw;
  kir_set(p, k, n.inner, acc, kir_const_f(p, 0));
  KStmt *l = loop_to(p, k, n.inner, &kh, ic(p, w.KH));
  l = loop_to(p, k, l, &kw, ic(p, w.KW));
  KExpr *v = image_at(p, k, kir_buf(p, k, nd->in[0], false), &w, ivar(p, k, n.var[0]),
                      ivar(p, k, n.var[1]), tap(p, ivar(p, k, n.var[2]), ivar(p, k, kh), w.sh, w.ph, 1),
                      tap(p, ivar(p, k, n.var[3]), ivar(p, k, kw), w.sw, w.pw, 1), 0);
  kir_set(p, k, l, acc, kir_bin(p, K_ADD, ivar(p, k, acc), v));
  KExpr *r = kir_bin(p, K_DIV, ivar(p, k, acc), kir_const_f(p, (double)(w.KH * w.KW)));
  kir_store(p, k, n.inner, kir_buf(p, k, node, true), bcast_index(p, k, &nd->shape, &n), r);
  k->work = work_of(&nd->shape, (double)(w.KH * w.KW));
}

/* The first maximum of window (oh, ow) of channel (n, c), row-major with
 * padding as -inf, as in ir/interp.c: loops inside parent setting best
 * (f32) and arg (i64 flat index ih*W + iw within the channel, -1 if
 * nothing beats -inf). The strict < keeps the first of equal values. */
static void window_argmax(Program *p, Kernel *k, KStmt *parent, int buf, const Win *w, KExpr *n,
                          KExpr *c, KExpr *oh, KExpr *ow, int best, int arg) {
  int kh, kw;
  kir_set(p, k, parent, best, kir_const_f(p, -__builtin_inf()));
  kir_set(p, k, parent, arg, ic(p, -1));
  KStmt *l = loop_to(p, k, parent, &kh, ic(p, w->KH));
  l = loop_to(p, k, l, &kw, ic(p, w->KW));
  KExpr *ih = tap(p, oh, ivar(p, k, kh), w->sh, w->ph, 1);
  KExpr *iw = tap(p, ow, ivar(p, k, kw), w->sw, w->pw, 1);
  KExpr *v = image_at(p, k, buf, w, n, c, ih, iw, -__builtin_inf());
  KExpr *beats = kir_bin(p, K_LT, ivar(p, k, best), v);
  /* arg first: its condition reads best before best moves */
  kir_set(p, k, l, arg, kir_select(p, beats, kir_iadd(p, kir_imul(p, ih, ic(p, w->W)), iw),
                                   ivar(p, k, arg)));
  kir_set(p, k, l, best, kir_select(p, beats, v, ivar(p, k, best)));
}

/* Windows of KH x 2 with the same stride and no padding, over a plain
 * (not blocked) image: what KPool describes. Taller windows would unroll
 * into long chains; 8 rows is far past any pooling in use. */
static bool pair_tiles(const Win *w, int rank) {
  return rank == 4 && w->KW == 2 && w->sw == 2 && w->sh == w->KH && w->KH <= 8 && w->ph == 0 &&
         w->pw == 0;
}

/* The KPool of windows w over buffers x (dy: -1 for the forward) and y. */
static KPool *pool_of(Program *p, const Win *w, int x, int dy, int y) {
  KPool *kp = arena_alloc(p->arena, sizeof *kp);
  *kp = (KPool){.x = x, .dy = dy, .y = y, .H = w->H, .W = w->W, .OH = w->OH, .OW = w->OW,
                .KH = w->KH};
  return kp;
}

static void lower_max_pool2d(Program *p, int node) {
  const Node *nd = &p->g->node[node];
  const Node *x = &p->g->node[nd->in[0]];
  Win w = window_of(nd, &x->shape, &nd->shape, 0, 0);
  Kernel *k = kir_kernel(p, "max_pool2d", node, nd->loc);
  if (pair_tiles(&w, x->shape.rank)) {
    /* parallel over the planes t = n*C + c, as KPool says */
    k->extent = kir_imul(p, kir_dim(p, nd->shape.d[0]), ic(p, w.C));
    int in = kir_buf(p, k, nd->in[0], false), out = kir_buf(p, k, node, true), oh, ow;
    int best = kir_var(p, k, KT_F32), arg = kir_var(p, k, KT_I64);
    KExpr *t = ivar(p, k, 0);
    KStmt *l = loop_to(p, k, NULL, &oh, ic(p, w.OH));
    l = loop_to(p, k, l, &ow, ic(p, w.OW));
    window_argmax(p, k, l, in, &w, ic(p, 0), t, ivar(p, k, oh), ivar(p, k, ow), best, arg);
    KExpr *at = kir_iadd(p, kir_imul(p, t, ic(p, w.OH * w.OW)),
                         kir_iadd(p, kir_imul(p, ivar(p, k, oh), ic(p, w.OW)), ivar(p, k, ow)));
    kir_store(p, k, l, out, at, ivar(p, k, best));
    k->pool = pool_of(p, &w, in, -1, out);
    if (nd->shape.d[0] == -1) k->per_sample = w.C;
    k->work = (double)(w.OH * w.OW * w.KH * w.KW);
    return;
  }
  Nest n = nest_over(p, k, &nd->shape);
  if (n.rank == 5) w.lane = ivar(p, k, n.var[4]); /* a blocked image */
  int best = kir_var(p, k, KT_F32), arg = kir_var(p, k, KT_I64);
  window_argmax(p, k, n.inner, kir_buf(p, k, nd->in[0], false), &w, ivar(p, k, n.var[0]),
                ivar(p, k, n.var[1]), ivar(p, k, n.var[2]), ivar(p, k, n.var[3]), best, arg);
  kir_store(p, k, n.inner, kir_buf(p, k, node, true), bcast_index(p, k, &nd->shape, &n),
            ivar(p, k, best));
  k->work = work_of(&nd->shape, (double)(w.KH * w.KW));
}

/* Loops inside parent over the windows that contain input element (h, w):
 * output rows oh = (h + pad) / stride - t for t < ceil(KH / stride). Sets
 * *oh, *ow (clamped into range) and returns an i64 0/1 factor: the window
 * exists and covers (h, w). Returns the innermost loop in *inner. */
static KExpr *windows_over(Program *p, Kernel *k, KStmt *parent, const Win *w, KExpr *h,
                           KExpr *wc, KExpr **oh, KExpr **ow, KStmt **inner) {
  KExpr *ok[2], *rc[2] = {h, wc}, **out[2] = {oh, ow};
  int64_t st[2] = {w->sh, w->sw}, pad[2] = {w->ph, w->pw}, kk[2] = {w->KH, w->KW};
  int64_t len[2] = {w->OH, w->OW};
  for (int d = 0; d < 2; d++) {
    int t;
    parent = loop_to(p, k, parent, &t, ic(p, (kk[d] + st[d] - 1) / st[d]));
    KExpr *shifted = kir_iadd(p, rc[d], ic(p, pad[d]));
    KExpr *o = kir_bin(p, K_SUB, kir_bin(p, K_DIV, shifted, ic(p, st[d])), ivar(p, k, t));
    KExpr *oc = kir_bin(p, K_MIN, kir_bin(p, K_MAX, o, ic(p, 0)), ic(p, len[d] - 1));
    KExpr *off = kir_bin(p, K_SUB, shifted, kir_imul(p, o, ic(p, st[d])));
    KExpr *in = kir_cast(p, KT_I64, kir_bin(p, K_EQ, oc, o));
    ok[d] = kir_bin(p, K_MUL, in, kir_cast(p, KT_I64, kir_bin(p, K_LT, off, ic(p, kk[d]))));
    *out[d] = oc;
  }
  *inner = parent;
  return kir_bin(p, K_MUL, ok[0], ok[1]);
}

/* dx[n,c,h,w] = sum of dy over the windows whose first maximum is (h, w):
 * parallel over the channels (n, c); each channel of dx is zeroed, then
 * every window adds its dy at its first maximum. */
static void lower_max_pool2d_grad(Program *p, int node) {
  const Node *nd = &p->g->node[node];
  const Node *dy = &p->g->node[nd->in[1]];
  Win w = window_of(nd, &nd->shape, &dy->shape, 0, 0);
  Kernel *k = kir_kernel(p, "max_pool2d_grad", node, nd->loc);
  k->extent = kir_imul(p, kir_dim(p, nd->shape.d[0]), ic(p, w.C));
  if (nd->shape.d[0] == -1) k->per_sample = w.C;
  int out = kir_buf(p, k, node, true), i, oh, ow;
  KExpr *t = ivar(p, k, 0); /* the channel n*C + c */
  KExpr *plane = kir_imul(p, t, ic(p, w.H * w.W));
  /* windows that tile the image (stride = kernel, no padding) each own
   * their elements: every element is written once, with no zeroing pass
   * unless rows or columns are left over */
  bool tiles = w.sh == w.KH && w.sw == w.KW && w.ph == 0 && w.pw == 0;
  if (!tiles || w.OH * w.KH != w.H || w.OW * w.KW != w.W) {
    KStmt *z = loop_to(p, k, NULL, &i, ic(p, w.H * w.W));
    kir_store(p, k, z, out, kir_iadd(p, plane, ivar(p, k, i)), kir_const_f(p, 0));
  }
  KStmt *l = loop_to(p, k, NULL, &oh, ic(p, w.OH));
  l = loop_to(p, k, l, &ow, ic(p, w.OW));
  int best = kir_var(p, k, KT_F32), arg = kir_var(p, k, KT_I64);
  window_argmax(p, k, l, kir_buf(p, k, nd->in[0], false), &w, ic(p, 0), t, ivar(p, k, oh),
                ivar(p, k, ow), best, arg);
  KExpr *dv = kir_load(p, k, kir_buf(p, k, nd->in[1], false),
                       kir_iadd(p, kir_imul(p, t, ic(p, w.OH * w.OW)),
                                kir_iadd(p, kir_imul(p, ivar(p, k, oh), ic(p, w.OW)), ivar(p, k, ow))));
  if (tiles) {
    int kh, kw;
    KStmt *r = loop_to(p, k, l, &kh, ic(p, w.KH));
    r = loop_to(p, k, r, &kw, ic(p, w.KW));
    KExpr *pos = kir_iadd(p, kir_imul(p, tap(p, ivar(p, k, oh), ivar(p, k, kh), w.sh, 0, 1), ic(p, w.W)),
                          tap(p, ivar(p, k, ow), ivar(p, k, kw), w.sw, 0, 1));
    KExpr *mine = kir_bin(p, K_EQ, ivar(p, k, arg), pos);
    kir_store(p, k, r, out, kir_iadd(p, plane, pos), kir_select(p, mine, dv, kir_const_f(p, 0)));
    k->work = (double)(4 * w.H * w.W);
    if (pair_tiles(&w, nd->shape.rank))
      k->pool = pool_of(p, &w, kir_buf(p, k, nd->in[0], false), kir_buf(p, k, nd->in[1], false), out);
    return;
  }
  KExpr *found = kir_cast(p, KT_I64, kir_bin(p, K_LE, ic(p, 0), ivar(p, k, arg)));
  KExpr *at = kir_iadd(p, plane, kir_bin(p, K_MAX, ivar(p, k, arg), ic(p, 0)));
  kir_store(p, k, l, out, at, kir_bin(p, K_ADD, kir_load(p, k, out, at), only_if(p, found, dv)));
  k->work = (double)(w.H * w.W + 3 * w.OH * w.OW * w.KH * w.KW);
}

/* dx[n,c,h,w] = sum of dy over the windows that contain (h, w), / KH*KW. */
static void lower_avg_pool2d_grad(Program *p, int node) {
  const Node *nd = &p->g->node[node];
  const Node *dy = &p->g->node[nd->in[0]];
  Win w = window_of(nd, &nd->shape, &dy->shape, 0, 0);
  Kernel *k = kir_kernel(p, "avg_pool2d_grad", node, nd->loc);
  Nest n = nest_over(p, k, &nd->shape);
  KExpr *N = ivar(p, k, n.var[0]), *c = ivar(p, k, n.var[1]), *oh, *ow;
  int acc = kir_var(p, k, KT_F32);
  kir_set(p, k, n.inner, acc, kir_const_f(p, 0));
  KStmt *l;
  KExpr *ok = windows_over(p, k, n.inner, &w, ivar(p, k, n.var[2]), ivar(p, k, n.var[3]), &oh, &ow, &l);
  KExpr *dv = kir_load(p, k, kir_buf(p, k, nd->in[0], false), at4(p, N, c, oh, ow, w.C, w.OH, w.OW));
  kir_set(p, k, l, acc, kir_bin(p, K_ADD, ivar(p, k, acc), only_if(p, ok, dv)));
  KExpr *r = kir_bin(p, K_DIV, ivar(p, k, acc), kir_const_f(p, (double)(w.KH * w.KW)));
  kir_store(p, k, n.inner, kir_buf(p, k, node, true), bcast_index(p, k, &nd->shape, &n), r);
  k->work = work_of(&nd->shape, 4.0);
}

/* assign: the value (with its fused chain) stored into the target's
 * storage, a param or a state. */
/* ---- embedding lookup ----
 * An id is clamped into [0, V) before it forms an address (ops.def), so a
 * bad id reads or writes a row of the table, never memory outside it. */

static KExpr *row_of(Program *p, KExpr *id, int64_t V) {
  return clamp_to(p, kir_cast(p, KT_I64, id), V);
}

/* gather: out[..., d] = table[clamp(ids[...]), d] */
static void lower_gather(Program *p, int node) {
  const Node *nd = &p->g->node[node];
  const Node *t = &p->g->node[nd->in[0]], *ids = &p->g->node[nd->in[1]];
  int64_t V = t->shape.d[0], D = t->shape.d[1];
  Kernel *k = kir_kernel(p, "gather", node, nd->loc);
  Nest n = nest_over(p, k, &nd->shape);
  Nest row = n;
  row.rank--;
  KExpr *id = row_of(p, kir_load(p, k, kir_buf(p, k, nd->in[1], false),
                                 bcast_index(p, k, &ids->shape, &row)), V);
  KExpr *at = kir_iadd(p, kir_imul(p, id, ic(p, D)), ivar(p, k, n.var[n.rank - 1]));
  KExpr *val = kir_load(p, k, kir_buf(p, k, nd->in[0], false), at);
  kir_store(p, k, n.inner, kir_buf(p, k, node, true), bcast_index(p, k, &nd->shape, &n), val);
  k->work = work_of(&nd->shape, 1);
}

/* scatter_add: two kernels, a zero fill of the [V, D] result (parallel
 * over rows; a memset's cost), then one pass over the ids adding each row
 * of the update into the row its id names. The pass runs on one thread
 * (two ids may name the same row); its inner loop over D is unit-stride. */
static void lower_scatter_add(Program *p, int node) {
  const Node *nd = &p->g->node[node];
  const Node *ids = &p->g->node[nd->in[1]];
  int64_t V = nd->a.ints[0], D = nd->shape.d[1];
  Kernel *z = kir_kernel(p, "scatter_add_zero", node, nd->loc);
  Nest n = nest_over(p, z, &nd->shape);
  kir_store(p, z, n.inner, kir_buf(p, z, node, true), bcast_index(p, z, &nd->shape, &n),
            kir_const_f(p, 0));
  z->work = (double)D;
  Kernel *k = kir_kernel(p, "scatter_add", node, nd->loc);
  int r, d;
  KStmt *lr = loop_to(p, k, NULL, &r, numel_of(p, &ids->shape));
  KExpr *id = row_of(p, kir_load(p, k, kir_buf(p, k, nd->in[1], false), ivar(p, k, r)), V);
  KStmt *ld = loop_to(p, k, lr, &d, ic(p, D));
  int out = kir_buf(p, k, node, true);
  KExpr *at = kir_iadd(p, kir_imul(p, id, ic(p, D)), ivar(p, k, d));
  KExpr *from = kir_iadd(p, kir_imul(p, ivar(p, k, r), ic(p, D)), ivar(p, k, d));
  KExpr *sum = kir_bin(p, K_ADD, kir_load(p, k, out, at),
                       kir_load(p, k, kir_buf(p, k, nd->in[0], false), from));
  kir_store(p, k, ld, out, at, sum);
  k->work = (double)numel_eval(&ids->shape, 1) * (double)D;
}

/* scatter_update: the rows of the table its ids name, updated in the
 * table's storage; one thread, as scatter_add's pass. */
static void lower_scatter_update(Program *p, int node) {
  const Node *nd = &p->g->node[node];
  const Node *ids = &p->g->node[nd->in[2]];
  int64_t V = nd->shape.d[0], D = nd->shape.d[1];
  Kernel *k = kir_kernel(p, "scatter_update", node, nd->loc);
  int r, d;
  KStmt *lr = loop_to(p, k, NULL, &r, numel_of(p, &ids->shape));
  KExpr *id = row_of(p, kir_load(p, k, kir_buf(p, k, nd->in[2], false), ivar(p, k, r)), V);
  KStmt *ld = loop_to(p, k, lr, &d, ic(p, D));
  int t = kir_buf(p, k, nd->in[0], true);
  KExpr *at = kir_iadd(p, kir_imul(p, id, ic(p, D)), ivar(p, k, d));
  KExpr *from = kir_iadd(p, kir_imul(p, ivar(p, k, r), ic(p, D)), ivar(p, k, d));
  KExpr *sum = kir_bin(p, K_ADD, kir_load(p, k, t, at),
                       kir_load(p, k, kir_buf(p, k, nd->in[1], false), from));
  kir_store(p, k, ld, t, at, sum);
  k->work = (double)numel_eval(&ids->shape, 1) * (double)D;
}

static void lower_assign(Program *p, int node) { lower_elemwise(p, node); }

static void lower_source(Program *p, int node) { (void)p, (void)node; }
static void lower_reshape(Program *p, int node) { (void)p, (void)node; }

static void lower_to_blocked(Program *p, int node) { cg_lower_blocked(p, node); }
static void lower_from_blocked(Program *p, int node) { cg_lower_blocked(p, node); }
static void lower_conv2d_blocked(Program *p, int node) { cg_lower_blocked(p, node); }
static void lower_recur(Program *p, int node) { cg_lower_recur(p, node, false); }
static void lower_recur_grad(Program *p, int node) { cg_lower_recur(p, node, true); }

static LowerFn *const lower_fn[] = {
#define OP(id, nm, nin, fc, fl, ints, floats, shape, grad, ref, lower) [OP_##id] = lower,
#include "ops.def"
#undef OP
};
_Static_assert(sizeof lower_fn / sizeof lower_fn[0] == OP_COUNT,
               "every op has a lowering");

Program *cg_lower(const Graph *g) {
  Arena *a = arena_new();
  Program *p = arena_alloc(a, sizeof *p);
  p->arena = a;
  p->g = g;
  for (int i = 0; i < g->nnode; i++)
    if (!ir_read_through(g, i) && !g->node[i].into) lower_fn[g->node[i].op](p, i);
  return p;
}

void cg_free_program(Program *p) {
  if (p) arena_free(p->arena);
}
