/* interp.c — the reference interpreter: plain, obviously correct kernels
 * over doubles.
 *
 * The one idea: this is the oracle every optimized path (fused kernels, the
 * LLVM and CUDA backends, constant folding) is tested against, so each
 * kernel is the textbook loop with explicit row-major index arithmetic and
 * no cleverness beyond avoiding quadratic blowups. One reference function
 * per `ref` column entry of ops.def, dispatched through a table built from
 * it. Every dtype is held as double; i32 values are exact integers.
 */
#include "ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- tensors ---- */

Tensor tensor_new(DType t, Shape s) {
  Tensor x = {.dtype = t, .shape = s, .n = 1};
  for (int i = 0; i < s.rank; i++) {
    if (s.d[i] < 0) die("tensor_new: symbolic dimension in a concrete shape");
    x.n *= s.d[i];
  }
  x.v = calloc((size_t)(x.n ? x.n : 1), sizeof(double));
  if (!x.v) die("out of memory (%lld doubles)", (long long)x.n);
  return x;
}

void tensor_free(Tensor *t) {
  free(t->v);
  t->v = NULL;
  t->n = 0;
}

/* s with every N replaced by the batch size. */
static Shape concrete(const Shape *s, int64_t N) {
  Shape c = *s;
  for (int i = 0; i < c.rank; i++) c.d[i] = dim_eval(c.d[i], N);
  return c;
}

/* Row-major strides of s, in elements. */
static void strides(const Shape *s, int64_t *st) {
  int64_t k = 1;
  for (int i = s->rank - 1; i >= 0; i--) {
    st[i] = k;
    k *= s->d[i];
  }
}

/* Product of dims [from, to) of s. */
static int64_t span(const Shape *s, int from, int to) {
  int64_t k = 1;
  for (int i = from; i < to; i++) k *= s->d[i];
  return k;
}

/* Offset in a tensor with strides st (aligned to the last dims of out;
 * stride 0 for broadcast dims) of the element at flat index j of out. */
static int64_t offset_of(int64_t j, const Shape *out, const int64_t *st) {
  int64_t off = 0;
  for (int i = out->rank - 1; i >= 0; i--) {
    off += (j % out->d[i]) * st[i];
    j /= out->d[i];
  }
  return off;
}

/* Strides of x read as if broadcast to out (numpy rules: align the last
 * dimensions; a dimension of 1, or a missing one, repeats). */
static void bcast_strides(const Shape *x, const Shape *out, int64_t *st) {
  int64_t xs[MAX_RANK];
  strides(x, xs);
  for (int i = 0; i < out->rank; i++) {
    int k = x->rank - out->rank + i;
    st[i] = k < 0 || x->d[k] == 1 ? 0 : xs[k];
  }
}

/* ---- reference kernels ----
 * Each takes the node, its output (allocated, zeroed, concrete shape) and
 * its operand values in order. */

/* What a training step reads besides tensors (interp_set_step). */
static struct {
  int64_t N;
  double hyper[H_COUNT];
  int64_t step;
  uint64_t seed;
} env;

void interp_set_step(const double *hyper, int64_t step, uint64_t seed) {
  for (int h = 0; h < H_COUNT; h++) env.hyper[h] = hyper ? hyper[h] : 0;
  env.step = step;
  env.seed = seed;
}

/* Sources with a value of their own: constants, the batch size, hyper-
 * parameters, and optimiser state, which starts at zero. */
static void ref_source(const Node *n, Tensor *out, const Tensor *in) {
  (void)in;
  for (int64_t j = 0; j < out->n; j++) {
    switch (n->op) {
    case OP_CONST: out->v[j] = n->data ? n->data[j] : n->a.f[0]; break;
    case OP_BATCH: out->v[j] = (double)env.N; break;
    case OP_HYPER: out->v[j] = env.hyper[n->a.ints[0]]; break;
    case OP_STATE: out->v[j] = 0; break;
    default:
      die("interp: %s \"%s\" has no value of its own", op_info[n->op].name, n->name);
    }
  }
}

/* splitmix64's finaliser, as codegen/lower.c builds it. */
static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Inverted dropout: element j is dropped when the hash of (seed, step,
 * salt, j) maps below the rate (compared in f32, as compiled code does). */
static void ref_dropout(const Node *n, Tensor *out, const Tensor *in) {
  double rate = n->a.f[0];
  uint64_t base = env.seed * 0x9e3779b97f4a7c15ull + (uint64_t)env.step * 0xd1b54a32d192ed03ull +
                  (uint64_t)n->a.ints[0] * 0x2545f4914f6cdd1dull;
  for (int64_t j = 0; j < out->n; j++) {
    double u = (double)(mix64(base + (uint64_t)j) >> 40) / 16777216.0;
    out->v[j] = u < (double)(float)rate ? 0 : in[0].v[j] / (1 - rate);
  }
}

static double unary(Op op, double x, double alpha) {
  switch (op) {
  case OP_NEG: return -x;
  case OP_EXP: return exp(x);
  case OP_LOG: return log(x);
  case OP_SQRT: return sqrt(x);
  case OP_ABS: return fabs(x);
  case OP_RELU: return x < 0 ? 0 : x;
  case OP_LEAKY_RELU: return x < 0 ? alpha * x : x;
  case OP_SIGMOID: return 1 / (1 + exp(-x));
  case OP_TANH: return tanh(x);
  default: die("interp: %s is not unary", op_info[op].name);
  }
}

static void ref_unary(const Node *n, Tensor *out, const Tensor *in) {
  for (int64_t j = 0; j < out->n; j++)
    out->v[j] = unary(n->op, in[0].v[j], n->a.f[0]);
}

/* maximum and minimum propagate NaN, as numpy and PyTorch do. */
static double binary(Op op, double a, double b) {
  switch (op) {
  case OP_ADD: return a + b;
  case OP_SUB: return a - b;
  case OP_MUL: return a * b;
  case OP_DIV: return a / b;
  case OP_MAXIMUM: return a > b || isnan(a) ? a : b;
  case OP_MINIMUM: return a < b || isnan(a) ? a : b;
  case OP_GT: return a > b ? 1 : 0;
  case OP_GE: return a >= b ? 1 : 0;
  default: die("interp: %s is not binary", op_info[op].name);
  }
}

static void ref_binary(const Node *n, Tensor *out, const Tensor *in) {
  int64_t sa[MAX_RANK], sb[MAX_RANK];
  bcast_strides(&in[0].shape, &out->shape, sa);
  bcast_strides(&in[1].shape, &out->shape, sb);
  for (int64_t j = 0; j < out->n; j++)
    out->v[j] = binary(n->op, in[0].v[offset_of(j, &out->shape, sa)],
                       in[1].v[offset_of(j, &out->shape, sb)]);
}

/* sum, mean, max over ints[1..] (every axis when there are none). The
 * output, keepdims or not, has the element order of the input shape with
 * reduced dims set to 1, so each input element maps to out by strides that
 * are 0 on reduced axes. */
static void ref_reduce(const Node *n, Tensor *out, const Tensor *in) {
  const Shape *xs = &in[0].shape;
  bool red[MAX_RANK] = {0};
  for (int i = 0; i < xs->rank; i++) red[i] = n->a.nints <= 1;
  for (int k = 1; k < n->a.nints; k++) red[n->a.ints[k]] = true;
  Shape kept = *xs;
  for (int i = 0; i < xs->rank; i++)
    if (red[i]) kept.d[i] = 1;
  int64_t st[MAX_RANK];
  strides(&kept, st);
  for (int i = 0; i < xs->rank; i++)
    if (red[i]) st[i] = 0;
  for (int64_t j = 0; j < out->n; j++) out->v[j] = n->op == OP_MAX ? -INFINITY : 0;
  for (int64_t j = 0; j < in[0].n; j++) {
    double x = in[0].v[j], *o = &out->v[offset_of(j, xs, st)];
    if (n->op != OP_MAX)
      *o += x;
    else if (x > *o || isnan(x)) /* once NaN, x > NaN keeps it */
      *o = x;
  }
  if (n->op == OP_MEAN)
    for (int64_t j = 0; j < out->n; j++) out->v[j] /= (double)(in[0].n / out->n);
}

/* softmax and log_softmax along ints[0], after subtracting the max of each
 * row so that exp cannot overflow. */
static void ref_softmax(const Node *n, Tensor *out, const Tensor *in) {
  const Shape *s = &in[0].shape;
  int ax = (int)n->a.ints[0];
  int64_t outer = span(s, 0, ax), len = s->d[ax], inner = span(s, ax + 1, s->rank);
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t i = 0; i < inner; i++) {
      const double *x = in[0].v + o * len * inner + i;
      double *y = out->v + o * len * inner + i;
      double m = -INFINITY, sum = 0;
      for (int64_t k = 0; k < len; k++) m = x[k * inner] > m ? x[k * inner] : m;
      for (int64_t k = 0; k < len; k++) sum += exp(x[k * inner] - m);
      for (int64_t k = 0; k < len; k++)
        y[k * inner] = n->op == OP_LOG_SOFTMAX ? x[k * inner] - m - log(sum)
                                               : exp(x[k * inner] - m) / sum;
    }
  }
}

static void ref_reshape(const Node *n, Tensor *out, const Tensor *in) {
  (void)n;
  memcpy(out->v, in[0].v, sizeof(double) * (size_t)out->n);
}

static void ref_broadcast(const Node *n, Tensor *out, const Tensor *in) {
  (void)n;
  int64_t st[MAX_RANK];
  bcast_strides(&in[0].shape, &out->shape, st);
  for (int64_t j = 0; j < out->n; j++)
    out->v[j] = in[0].v[offset_of(j, &out->shape, st)];
}

/* out.d[i] = x.d[perm[i]]: output axis i walks input axis perm[i]. */
static void ref_transpose(const Node *n, Tensor *out, const Tensor *in) {
  int64_t xs[MAX_RANK], st[MAX_RANK];
  strides(&in[0].shape, xs);
  for (int i = 0; i < out->shape.rank; i++) st[i] = xs[n->a.ints[i]];
  for (int64_t j = 0; j < out->n; j++)
    out->v[j] = in[0].v[offset_of(j, &out->shape, st)];
}

/* Along axis ints[0]: each operand contributes a block of d[ax] * inner
 * elements to every one of the outer rows. */
static void ref_concat(const Node *n, Tensor *out, const Tensor *in) {
  int ax = (int)n->a.ints[0];
  const Shape *s = &out->shape;
  int64_t outer = span(s, 0, ax), inner = span(s, ax + 1, s->rank);
  int64_t row = s->d[ax] * inner, at = 0;
  for (int k = 0; k < n->nin; k++) {
    int64_t blk = in[k].shape.d[ax] * inner;
    for (int64_t o = 0; o < outer; o++)
      memcpy(out->v + o * row + at, in[k].v + o * blk, sizeof(double) * (size_t)blk);
    at += blk;
  }
}

/* a[..., M, K] x b[K, P] (b shared by every leading index of a), or
 * batched a[B..., M, K] x b[B..., K, P]. Loop order i, k, j keeps the
 * inner loop contiguous in b and out. */
static void ref_matmul(const Node *n, Tensor *out, const Tensor *in) {
  (void)n;
  const Shape *as = &in[0].shape, *bs = &in[1].shape;
  int64_t M = as->d[as->rank - 2], K = as->d[as->rank - 1], P = bs->d[bs->rank - 1];
  int64_t batch = span(as, 0, as->rank - 2);
  int64_t bstep = bs->rank > 2 ? K * P : 0;
  for (int64_t t = 0; t < batch; t++) {
    const double *a = in[0].v + t * M * K, *b = in[1].v + t * bstep;
    double *c = out->v + t * M * P;
    for (int64_t i = 0; i < M; i++)
      for (int64_t k = 0; k < K; k++) {
        double aik = a[i * K + k];
        for (int64_t j = 0; j < P; j++) c[i * P + j] += aik * b[k * P + j];
      }
  }
}

static void ref_slice(const Node *n, Tensor *out, const Tensor *in) {
  const Shape *xs = &in[0].shape;
  int64_t axis = n->a.ints[0], start = n->a.ints[1];
  int64_t inner = span(xs, (int)axis + 1, xs->rank);
  int64_t len = out->shape.d[axis], full = xs->d[axis];
  for (int64_t j = 0; j < out->n; j++) {
    int64_t o = j / (len * inner), a = j / inner % len, r = j % inner;
    out->v[j] = in[0].v[(o * full + start + a) * inner + r];
  }
}

static void ref_one_hot(const Node *n, Tensor *out, const Tensor *in) {
  int64_t C = n->a.ints[0];
  for (int64_t j = 0; j < in[0].n; j++) {
    double c = in[0].v[j];
    if (c >= 0 && c < (double)C) out->v[j * C + (int64_t)c] = 1;
  }
}

/* -log softmax(x)[label] = log(sum exp(x - m)) + m - x[label]; an out of
 * range label gives NaN (compiled code clamps; the runtime refuses such
 * labels before either runs). */
static void ref_cross_entropy(const Node *n, Tensor *out, const Tensor *in) {
  (void)n;
  int64_t C = in[0].shape.d[in[0].shape.rank - 1];
  for (int64_t r = 0; r < out->n; r++) {
    const double *x = in[0].v + r * C;
    double m = -INFINITY, s = 0, lab = in[1].v[r];
    for (int64_t c = 0; c < C; c++) m = x[c] > m ? x[c] : m;
    for (int64_t c = 0; c < C; c++) s += exp(x[c] - m);
    out->v[r] = lab >= 0 && lab < (double)C ? log(s) + m - x[(int64_t)lab] : NAN;
  }
}

/* assign's value is the value written (the side effect is the caller's to
 * apply: see interp_run's contract). */
static void ref_assign(const Node *n, Tensor *out, const Tensor *in) {
  (void)n;
  memcpy(out->v, in[1].v, sizeof(double) * (size_t)out->n);
}

typedef void RefFn(const Node *n, Tensor *out, const Tensor *in);
static RefFn *const ref_fn[] = {
#define OP(id, nm, nin, fc, fl, ints, floats, shape, grad, ref, lower) [OP_##id] = ref,
#include "ops.def"
#undef OP
};
_Static_assert(sizeof ref_fn / sizeof ref_fn[0] == OP_COUNT,
               "every op has a reference kernel");

/* ---- running graphs ---- */

Tensor interp_node(const Graph *g, int i, const Tensor *operands, int64_t N) {
  const Node *n = &g->node[i];
  for (int k = 0; k < n->nin; k++) {
    Shape want = concrete(&g->node[n->in[k]].shape, N);
    if (!shape_equal(&operands[k].shape, &want))
      die("interp: operand %d of node %%%d has the wrong shape", k, i);
  }
  Tensor out = tensor_new(n->dtype, concrete(&n->shape, N));
  env.N = N;
  ref_fn[n->op](n, &out, operands);
  return out;
}

/* The value of input or param node i from the caller's tensor t (NULL
 * when the caller gave no array); false, with a message, if it is missing
 * or its element count is wrong. */
static bool load_source(const Graph *g, int i, const Tensor *t, int64_t N,
                        Tensor *out) {
  const Node *n = &g->node[i];
  *out = tensor_new(n->dtype, concrete(&n->shape, N));
  if (!t) {
    fprintf(stderr, "dlc: interp: no values given for %s \"%s\"\n",
            op_info[n->op].name, n->name);
    tensor_free(out);
    return false;
  }
  if (t->n != out->n || (t->n && !t->v)) {
    char b[128];
    shape_str(b, sizeof b, n->dtype, &n->shape);
    fprintf(stderr,
            "dlc: interp: %s \"%s\" needs %lld values (%s with N=%lld), got %lld\n",
            op_info[n->op].name, n->name, (long long)out->n, b, (long long)N,
            (long long)t->n);
    tensor_free(out);
    return false;
  }
  memcpy(out->v, t->v, sizeof(double) * (size_t)out->n);
  return true;
}

Tensor *interp_run(const Graph *g, int64_t N, const Tensor *inputs,
                   const Tensor *params) {
  if (N < 1) {
    fprintf(stderr, "dlc: interp: batch size N must be positive, got %lld\n",
            (long long)N);
    return NULL;
  }
  Tensor *vals = calloc((size_t)(g->nnode ? g->nnode : 1), sizeof *vals);
  Tensor *args = NULL; /* operand values of the node being run */
  int cap = 0, ninput = 0, nparam = 0;
  if (!vals) die("out of memory");
  for (int i = 0; i < g->nnode; i++) {
    const Node *n = &g->node[i];
    if (n->op == OP_INPUT || n->op == OP_PARAM) {
      const Tensor *arr = n->op == OP_INPUT ? inputs : params;
      int k = n->op == OP_INPUT ? ninput++ : nparam++;
      if (!load_source(g, i, arr ? &arr[k] : NULL, N, &vals[i])) {
        interp_free(g, vals);
        free(args);
        return NULL;
      }
      continue;
    }
    if (n->nin > cap) {
      cap = n->nin;
      args = realloc(args, sizeof *args * (size_t)cap);
      if (!args) die("out of memory");
    }
    for (int k = 0; k < n->nin; k++) args[k] = vals[n->in[k]];
    vals[i] = interp_node(g, i, args, N);
  }
  free(args);
  return vals;
}

void interp_free(const Graph *g, Tensor *vals) {
  if (!vals) return;
  for (int i = 0; i < g->nnode; i++) tensor_free(&vals[i]);
  free(vals);
}
