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

/* running_stat means its training value, the batch statistic; the update
 * of the running average is an assign that the training step adds
 * (passes/autodiff.c), and outside training the mode passes replace the
 * op by the average. */
static void ref_running_stat(const Node *n, Tensor *out, const Tensor *in) {
  (void)n;
  memcpy(out->v, in[0].v, sizeof(double) * (size_t)out->n);
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
  int64_t batch = span(&out->shape, 0, out->shape.rank - 2);
  int64_t astep = as->rank > 2 ? M * K : 0, bstep = bs->rank > 2 ? K * P : 0;
  for (int64_t t = 0; t < batch; t++) {
    const double *a = in[0].v + t * astep, *b = in[1].v + t * bstep;
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

/* ---- convolution and pooling over [N,C,H,W] ----
 * Attributes come in (height, width) pairs; see ops.def. Tap k of output
 * row o reads input row o*stride - pad + k*dilation; rows outside the
 * input are padding. Each gradient loops over the same taps as its
 * forward op and scatters (the transpose of the forward loop), which is
 * a different formulation from the compiled gather in codegen/lower.c. */

typedef struct Geom {
  int64_t N, C, H, W;       /* input image */
  int64_t O, OH, OW;        /* output channels and size */
  int64_t KH, KW, sh, sw, ph, pw, dh, dw;
  int64_t cg, og;           /* input and output channels per group */
  int64_t B;                /* lanes of a blocked image [N,C,H,W,B]; 1: NCHW */
} Geom;

/* Geometry from an image x, the result y, the window and the attributes:
 * conv2d-family ints are stride, pad, dilation, groups; pool ints are
 * kernel, stride, pad (no dilation, channel c maps to channel c). */
static Geom geom(const Node *n, const Shape *x, const Shape *y, int64_t KH, int64_t KW) {
  const int64_t *a = n->a.ints;
  bool conv = n->op == OP_CONV2D || n->op == OP_CONV2D_GRAD_INPUT ||
              n->op == OP_CONV2D_GRAD_WEIGHT;
  Geom g = {.N = x->d[0], .C = x->d[1], .H = x->d[2], .W = x->d[3], .O = y->d[1],
            .OH = y->d[2], .OW = y->d[3], .KH = KH, .KW = KW, .B = x->rank == 5 ? x->d[4] : 1};
  if (conv) {
    g.sh = a[0], g.sw = a[1], g.ph = a[2], g.pw = a[3], g.dh = a[4], g.dw = a[5];
    g.cg = g.C / a[6], g.og = g.O / a[6];
  } else {
    g.KH = a[0], g.KW = a[1], g.sh = a[2], g.sw = a[3], g.ph = a[4], g.pw = a[5];
    g.dh = g.dw = 1, g.cg = 1, g.og = 1;
  }
  return g;
}

/* Input row of tap k of output row o, or -1 in the padding. */
static int64_t tap(int64_t o, int64_t k, int64_t stride, int64_t pad, int64_t dil, int64_t len) {
  int64_t i = o * stride - pad + k * dil;
  return i >= 0 && i < len ? i : -1;
}

/* Flat index of [n, c, h, w] in an [., C, H, W] tensor. */
static int64_t at4(int64_t n, int64_t c, int64_t h, int64_t w, int64_t C, int64_t H, int64_t W) {
  return ((n * C + c) * H + h) * W + w;
}

/* The three conv2d ops share one loop over (output element, tap):
 * y[n,o,oh,ow] += x[n,c,ih,iw] * w[o,c mod cg,kh,kw] with c in o's group.
 * mode 0 computes y from (x, w), mode 1 dx from (dy, w), mode 2 dw from
 * (x, dy). */
static void conv_taps(const Geom *g, int mode, double *x, double *w, double *y) {
  for (int64_t n = 0; n < g->N; n++)
    for (int64_t o = 0; o < g->O; o++)
      for (int64_t oh = 0; oh < g->OH; oh++)
        for (int64_t ow = 0; ow < g->OW; ow++)
          for (int64_t cg = 0; cg < g->cg; cg++)
            for (int64_t kh = 0; kh < g->KH; kh++)
              for (int64_t kw = 0; kw < g->KW; kw++) {
                int64_t ih = tap(oh, kh, g->sh, g->ph, g->dh, g->H);
                int64_t iw = tap(ow, kw, g->sw, g->pw, g->dw, g->W);
                if (ih < 0 || iw < 0) continue;
                int64_t c = o / g->og * g->cg + cg;
                double *xe = &x[at4(n, c, ih, iw, g->C, g->H, g->W)];
                double *we = &w[at4(o, cg, kh, kw, g->cg, g->KH, g->KW)];
                double *ye = &y[at4(n, o, oh, ow, g->O, g->OH, g->OW)];
                if (mode == 0) *ye += *xe * *we;
                if (mode == 1) *xe += *ye * *we;
                if (mode == 2) *we += *xe * *ye;
              }
}

static void ref_conv2d(const Node *n, Tensor *out, const Tensor *in) {
  const Shape *ws = &in[1].shape;
  Geom g = geom(n, &in[0].shape, &out->shape, ws->d[2], ws->d[3]);
  conv_taps(&g, 0, in[0].v, in[1].v, out->v);
}

/* (dy, w) -> dx */
static void ref_conv2d_grad_input(const Node *n, Tensor *out, const Tensor *in) {
  const Shape *ws = &in[1].shape;
  Geom g = geom(n, &out->shape, &in[0].shape, ws->d[2], ws->d[3]);
  conv_taps(&g, 1, out->v, in[1].v, in[0].v);
}

/* (x, dy) -> dw */
static void ref_conv2d_grad_weight(const Node *n, Tensor *out, const Tensor *in) {
  Geom g = geom(n, &in[0].shape, &in[1].shape, n->a.ints[7], n->a.ints[8]);
  conv_taps(&g, 2, in[0].v, out->v, in[1].v);
}

/* im2col and col2im share one loop over (image position, tap):
 * col[n, (c*KH + kh)*KW + kw, oh*OW + ow] = x[n, c, ih, iw], padding taps 0.
 * x is the image, col the columns; mode 0 gathers x into col, mode 1 adds
 * col back into x (the adjoint). ints: stride, pad, dilation, kernel. */
static void col_taps(const Node *n, const Shape *xs, const Shape *cs, int mode, double *x,
                     double *col) {
  const int64_t *a = n->a.ints;
  int64_t C = xs->d[1], H = xs->d[2], W = xs->d[3], KH = a[6], KW = a[7];
  int64_t CKK = cs->d[1], P = cs->d[2];
  int64_t OW = (W + 2 * a[3] - a[5] * (KW - 1) - 1) / a[1] + 1;
  for (int64_t nn = 0; nn < xs->d[0]; nn++)
    for (int64_t p = 0; p < P; p++)
      for (int64_t c = 0; c < C; c++)
        for (int64_t kh = 0; kh < KH; kh++)
          for (int64_t kw = 0; kw < KW; kw++) {
            int64_t ih = tap(p / OW, kh, a[0], a[2], a[4], H);
            int64_t iw = tap(p % OW, kw, a[1], a[3], a[5], W);
            if (ih < 0 || iw < 0) continue;
            double *xe = &x[at4(nn, c, ih, iw, C, H, W)];
            double *ce = &col[(nn * CKK + (c * KH + kh) * KW + kw) * P + p];
            if (mode == 0) *ce = *xe;
            else *xe += *ce;
          }
}

static void ref_im2col(const Node *n, Tensor *out, const Tensor *in) {
  col_taps(n, &in[0].shape, &out->shape, 0, in[0].v, out->v);
}

static void ref_col2im(const Node *n, Tensor *out, const Tensor *in) {
  col_taps(n, &out->shape, &in[0].shape, 1, out->v, in[0].v);
}

/* Flat index in x of the first maximum (row-major over the window, padding
 * counting as -inf) of window (n, c, oh, ow); -1 if it holds nothing
 * greater than -inf. */
static int64_t window_argmax(const Geom *g, const double *x, int64_t n, int64_t c, int64_t oh,
                             int64_t ow, int64_t lane) {
  double best = -INFINITY;
  int64_t arg = -1;
  for (int64_t kh = 0; kh < g->KH; kh++)
    for (int64_t kw = 0; kw < g->KW; kw++) {
      int64_t ih = tap(oh, kh, g->sh, g->ph, 1, g->H), iw = tap(ow, kw, g->sw, g->pw, 1, g->W);
      if (ih < 0 || iw < 0) continue;
      int64_t j = at4(n, c, ih, iw, g->C, g->H, g->W) * g->B + lane;
      if (x[j] > best) best = x[j], arg = j;
    }
  return arg;
}

/* max_pool2d: the first maximum; avg_pool2d: the sum of the window with
 * padding as zero, over the full window size (count_include_pad). A
 * blocked image pools each of its B lanes like a channel. */
static void ref_pool2d(const Node *n, Tensor *out, const Tensor *in) {
  Geom g = geom(n, &in[0].shape, &out->shape, 0, 0);
  const double *x = in[0].v;
  for (int64_t nn = 0; nn < g.N; nn++)
    for (int64_t c = 0; c < g.C; c++)
      for (int64_t oh = 0; oh < g.OH; oh++)
        for (int64_t ow = 0; ow < g.OW; ow++)
          for (int64_t l = 0; l < g.B; l++) {
            double *y = &out->v[at4(nn, c, oh, ow, g.C, g.OH, g.OW) * g.B + l];
            if (n->op == OP_MAX_POOL2D) {
              int64_t j = window_argmax(&g, x, nn, c, oh, ow, l);
              *y = j < 0 ? -INFINITY : x[j];
              continue;
            }
            for (int64_t kh = 0; kh < g.KH; kh++)
              for (int64_t kw = 0; kw < g.KW; kw++) {
                int64_t ih = tap(oh, kh, g.sh, g.ph, 1, g.H), iw = tap(ow, kw, g.sw, g.pw, 1, g.W);
                if (ih >= 0 && iw >= 0) *y += x[at4(nn, c, ih, iw, g.C, g.H, g.W) * g.B + l];
              }
            *y /= (double)(g.KH * g.KW);
          }
}

/* (x, dy) -> dx: each dy goes to its window's first maximum. */
static void ref_max_pool2d_grad(const Node *n, Tensor *out, const Tensor *in) {
  Geom g = geom(n, &in[0].shape, &in[1].shape, 0, 0);
  for (int64_t nn = 0; nn < g.N; nn++)
    for (int64_t c = 0; c < g.C; c++)
      for (int64_t oh = 0; oh < g.OH; oh++)
        for (int64_t ow = 0; ow < g.OW; ow++) {
          int64_t j = window_argmax(&g, in[0].v, nn, c, oh, ow, 0);
          if (j >= 0) out->v[j] += in[1].v[at4(nn, c, oh, ow, g.C, g.OH, g.OW)];
        }
}

/* dy -> dx: each dy spread evenly over its window (padding taps lost). */
static void ref_avg_pool2d_grad(const Node *n, Tensor *out, const Tensor *in) {
  Geom g = geom(n, &out->shape, &in[0].shape, 0, 0);
  for (int64_t nn = 0; nn < g.N; nn++)
    for (int64_t c = 0; c < g.C; c++)
      for (int64_t oh = 0; oh < g.OH; oh++)
        for (int64_t ow = 0; ow < g.OW; ow++) {
          double d = in[0].v[at4(nn, c, oh, ow, g.C, g.OH, g.OW)] / (double)(g.KH * g.KW);
          for (int64_t kh = 0; kh < g.KH; kh++)
            for (int64_t kw = 0; kw < g.KW; kw++) {
              int64_t ih = tap(oh, kh, g.sh, g.ph, 1, g.H), iw = tap(ow, kw, g.sw, g.pw, 1, g.W);
              if (ih >= 0 && iw >= 0) out->v[at4(nn, c, ih, iw, g.C, g.H, g.W)] += d;
            }
        }
}

/* ---- the blocked layout ----
 * A tensor seen around axis a as [outer, C, inner]; its blocked form is
 * [outer, ceil(C/B), inner, B] with lane l of block cb holding channel
 * cb*B + l, zero past C. */

typedef struct Around {
  int64_t outer, C, inner;
} Around;

static Around around(const Shape *s, int64_t a) {
  Around r = {1, s->d[a], 1};
  for (int64_t i = 0; i < a; i++) r.outer *= s->d[i];
  for (int64_t i = a + 1; i < s->rank; i++) r.inner *= s->d[i];
  return r;
}

/* mode 0: blocked from plain (out of to_blocked); 1: plain from blocked. */
static void block_copy(Around r, double *plain, double *blocked, int mode) {
  int64_t CB = (r.C + BLOCK_C - 1) / BLOCK_C;
  for (int64_t o = 0; o < r.outer; o++)
    for (int64_t c = 0; c < r.C; c++)
      for (int64_t i = 0; i < r.inner; i++) {
        double *p = &plain[(o * r.C + c) * r.inner + i];
        double *b = &blocked[((o * CB + c / BLOCK_C) * r.inner + i) * BLOCK_C + c % BLOCK_C];
        if (mode == 0) *b = *p;
        else *p = *b;
      }
}

/* the result starts zeroed (tensor_new): the padding lanes stay 0 */
static void ref_to_blocked(const Node *n, Tensor *out, const Tensor *in) {
  block_copy(around(&in[0].shape, n->a.ints[0]), in[0].v, out->v, 0);
}

static void ref_from_blocked(const Node *n, Tensor *out, const Tensor *in) {
  block_copy(around(&out->shape, n->a.ints[0]), out->v, in[0].v, 1);
}

/* y[n,ob,oh,ow,o] = sum over cb, kh, kw, i of x[n,cb,ih,iw,i] *
 * w[ob,cb,kh,kw,i,o], padding as 0 (B = 8 output lanes, L = 8 or 1
 * input lanes). */
static void ref_conv2d_blocked(const Node *n, Tensor *out, const Tensor *in) {
  const int64_t *a = n->a.ints, *xd = in[0].shape.d, *wd = in[1].shape.d, *yd = out->shape.d;
  const int64_t B = BLOCK_C, L = xd[4], CB = xd[1], H = xd[2], W = xd[3], KH = wd[2], KW = wd[3];
  const double *x = in[0].v, *w = in[1].v;
  for (int64_t nn = 0; nn < yd[0]; nn++)
    for (int64_t ob = 0; ob < yd[1]; ob++)
      for (int64_t oh = 0; oh < yd[2]; oh++)
        for (int64_t ow = 0; ow < yd[3]; ow++)
          for (int64_t o = 0; o < B; o++) {
            double *y = &out->v[at4(nn, ob, oh, ow, yd[1], yd[2], yd[3]) * B + o];
            for (int64_t cb = 0; cb < CB; cb++)
              for (int64_t kh = 0; kh < KH; kh++)
                for (int64_t kw = 0; kw < KW; kw++) {
                  int64_t ih = tap(oh, kh, a[0], a[2], a[4], H), iw = tap(ow, kw, a[1], a[3], a[5], W);
                  if (ih < 0 || iw < 0) continue;
                  for (int64_t i = 0; i < L; i++)
                    *y += x[at4(nn, cb, ih, iw, CB, H, W) * L + i] *
                          w[(at4(ob, cb, kh, kw, CB, KH, KW) * L + i) * B + o];
                }
          }
}

/* assign's value is the value written (the side effect is the caller's to
 * apply: see interp_run's contract). */
static void ref_assign(const Node *n, Tensor *out, const Tensor *in) {
  (void)n;
  memcpy(out->v, in[1].v, sizeof(double) * (size_t)out->n);
}

/* ---- embedding lookup (ops.def: ids clamped into [0, V)) ---- */

static int64_t clamp_id(double id, int64_t V) {
  return id < 0 ? 0 : id >= (double)V ? V - 1 : (int64_t)id;
}

static void ref_gather(const Node *n, Tensor *out, const Tensor *in) {
  (void)n;
  int64_t V = in[0].shape.d[0], D = in[0].shape.d[1];
  for (int64_t r = 0; r < in[1].n; r++) {
    int64_t id = clamp_id(in[1].v[r], V);
    for (int64_t d = 0; d < D; d++) out->v[r * D + d] = in[0].v[id * D + d];
  }
}

static void ref_scatter_add(const Node *n, Tensor *out, const Tensor *in) {
  int64_t V = n->a.ints[0], D = out->shape.d[1];
  for (int64_t r = 0; r < in[1].n; r++) {
    int64_t id = clamp_id(in[1].v[r], V);
    for (int64_t d = 0; d < D; d++) out->v[id * D + d] += in[0].v[r * D + d];
  }
}

/* the table's new value (the caller writes it, as for assign) */
static void ref_scatter_update(const Node *n, Tensor *out, const Tensor *in) {
  (void)n;
  int64_t V = out->shape.d[0], D = out->shape.d[1];
  memcpy(out->v, in[0].v, sizeof(double) * (size_t)out->n);
  for (int64_t r = 0; r < in[2].n; r++) {
    int64_t id = clamp_id(in[2].v[r], V);
    for (int64_t d = 0; d < D; d++) out->v[id * D + d] += in[1].v[r * D + d];
  }
}

/* ---- recurrent layers ----
 * One sample at a time, steps in the order the layer runs them (reverse:
 * from the last); the columns of each step are those of ir_cell (ir.h)
 * and doc/ir.txt. */

static double sigm(double x) { return 1 / (1 + exp(-x)); }

/* One forward step of sample row s (state*H values) from its input
 * projection x (G*H), the hidden projection hp = h[t-1] Whh (G*H) and the
 * previous step's row prev (NULL at the first step). */
static void cell_step(Op op, int64_t H, double *s, const double *x, const double *hp,
                      const double *prev) {
  for (int64_t j = 0; j < H; j++) {
    switch (op) {
    case OP_LSTM: {
      double i = sigm(x[j] + hp[j]), f = sigm(x[H + j] + hp[H + j]);
      double gg = tanh(x[2 * H + j] + hp[2 * H + j]), o = sigm(x[3 * H + j] + hp[3 * H + j]);
      double c = f * (prev ? prev[4 * H + j] : 0) + i * gg;
      s[j] = i, s[H + j] = f, s[2 * H + j] = gg, s[3 * H + j] = o;
      s[4 * H + j] = c, s[5 * H + j] = o * tanh(c);
      break;
    }
    case OP_GRU: {
      double r = sigm(x[j] + hp[j]), z = sigm(x[H + j] + hp[H + j]);
      double nn = tanh(x[2 * H + j] + r * hp[2 * H + j]);
      s[j] = r, s[H + j] = z, s[2 * H + j] = nn, s[3 * H + j] = hp[2 * H + j];
      s[4 * H + j] = (1 - z) * nn + z * (prev ? prev[4 * H + j] : 0);
      break;
    }
    case OP_RNN: s[j] = tanh(x[j] + hp[j]); break;
    default: die("%s is not recurrent", op_info[op].name);
    }
  }
}

/* hp[G*H] = h[H] x W[H, G*H]; zero when h is NULL. */
static void hidden_product(double *hp, const double *h, const double *w, int64_t H, int64_t GH) {
  for (int64_t j = 0; j < GH; j++) hp[j] = 0;
  for (int64_t k = 0; h && k < H; k++)
    for (int64_t j = 0; j < GH; j++) hp[j] += h[k] * w[k * GH + j];
}

static void ref_recur(const Node *n, Tensor *out, const Tensor *in) {
  const Cell *c = ir_cell(n->op);
  int64_t N = out->shape.d[0], T = out->shape.d[1], H = in[1].shape.d[0];
  int64_t GH = c->gates * H, SW = c->state * H;
  bool rev = n->a.ints[0];
  double *hp = calloc((size_t)GH, sizeof *hp);
  if (!hp) die("out of memory");
  for (int64_t b = 0; b < N; b++)
    for (int64_t k = 0; k < T; k++) {
      int64_t t = rev ? T - 1 - k : k, tp = rev ? t + 1 : t - 1;
      const double *prev = k > 0 ? out->v + (b * T + tp) * SW : NULL;
      hidden_product(hp, prev ? prev + c->h * H : NULL, in[1].v, H, GH);
      cell_step(n->op, H, out->v + (b * T + t) * SW, in[0].v + (b * T + t) * GH, hp, prev);
    }
  free(hp);
}

/* One backward step: the gradient row r (grad*H) of step row s from the
 * external gradient ds of s, dh = the external dh plus the next step's
 * hidden gradient times Whh^T (already in r's dh column), the previous
 * step's row prev and the next step's rows snext, rnext (NULL at the
 * ends). */
static void cell_grad(Op op, int64_t H, double *r, const double *ds, const double *s,
                      const double *prev, const double *snext, const double *rnext) {
  const Cell *c = ir_cell(op);
  double *dhv = r + (c->grad - 1) * H;
  for (int64_t j = 0; j < H; j++) {
    double dh = dhv[j] + ds[c->h * H + j];
    switch (op) {
    case OP_LSTM_GRAD: {
      double i = s[j], f = s[H + j], gg = s[2 * H + j], o = s[3 * H + j];
      double tc = tanh(s[4 * H + j]), cp = prev ? prev[4 * H + j] : 0;
      double dc = ds[4 * H + j] + dh * o * (1 - tc * tc) +
                  (rnext ? rnext[4 * H + j] * snext[H + j] : 0);
      r[j] = (dc * gg + ds[j]) * i * (1 - i);
      r[H + j] = (dc * cp + ds[H + j]) * f * (1 - f);
      r[2 * H + j] = (dc * i + ds[2 * H + j]) * (1 - gg * gg);
      r[3 * H + j] = (dh * tc + ds[3 * H + j]) * o * (1 - o);
      r[4 * H + j] = dc;
      break;
    }
    case OP_GRU_GRAD: {
      double rr = s[j], z = s[H + j], nn = s[2 * H + j], hn = s[3 * H + j];
      double hprev = prev ? prev[4 * H + j] : 0;
      if (rnext) dh += rnext[4 * H + j] * snext[H + j];
      double dn = (dh * (1 - z) + ds[2 * H + j]) * (1 - nn * nn);
      r[j] = (dn * hn + ds[j]) * rr * (1 - rr);
      r[H + j] = (dh * (hprev - nn) + ds[H + j]) * z * (1 - z);
      r[2 * H + j] = dn * rr + ds[3 * H + j];
      r[3 * H + j] = dn;
      break;
    }
    case OP_RNN_GRAD: r[j] = dh * (1 - s[j] * s[j]); break;
    default: die("%s is not a recurrent gradient", op_info[op].name);
    }
    dhv[j] = dh;
  }
}

static void ref_recur_grad(const Node *n, Tensor *out, const Tensor *in) {
  const Cell *c = ir_cell(n->op);
  int64_t N = out->shape.d[0], T = out->shape.d[1], H = in[2].shape.d[0];
  int64_t GH = c->gates * H, SW = c->state * H, RW = c->grad * H;
  bool rev = n->a.ints[0];
  const double *w = in[2].v, *dS = in[0].v;
  double *full = NULL;
  if (in[0].shape.d[2] != SW) { /* the gradient of h alone: 0 for the rest */
    full = calloc((size_t)(N * T * SW), sizeof *full);
    if (!full) die("out of memory");
    for (int64_t r = 0; r < N * T; r++)
      for (int64_t j = 0; j < H; j++) full[r * SW + c->h * H + j] = in[0].v[r * H + j];
    dS = full;
  }
  for (int64_t b = 0; b < N; b++)
    for (int64_t k = T - 1; k >= 0; k--) {
      int64_t t = rev ? T - 1 - k : k, tp = rev ? t + 1 : t - 1, tn = rev ? t - 1 : t + 1;
      double *r = out->v + (b * T + t) * RW, *dh = r + RW - H;
      const double *rnext = k < T - 1 ? out->v + (b * T + tn) * RW : NULL;
      for (int64_t q = 0; q < H; q++) { /* dh = dhp[t+1] Whh^T */
        double acc = 0;
        for (int64_t j = 0; rnext && j < GH; j++) acc += rnext[j] * w[q * GH + j];
        dh[q] = acc;
      }
      cell_grad(n->op, H, r, dS + (b * T + t) * SW, in[1].v + (b * T + t) * SW,
                k > 0 ? in[1].v + (b * T + tp) * SW : NULL,
                rnext ? in[1].v + (b * T + tn) * SW : NULL, rnext);
    }
  free(full);
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
