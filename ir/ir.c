/* ir.c — the graph IR: the op table, shapes, and building graphs.
 *
 * Every node is created through ir_add (or a source builder), which runs the
 * op's shape rule from ops.def. A rule either computes the node's dtype and
 * shape or explains, in words a user can act on, why the operands do not
 * fit; the caller adds the source position. So shape checking happens once,
 * here, for the frontend, the IR parser and every pass alike.
 */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

/* ---- the op table ---- */

const OpInfo op_info[OP_COUNT] = {
#define OP(id, nm, nin_, fc, fl, ints_, floats_, ...) \
  [OP_##id] = {.name = nm, .nin = nin_, .fclass = fc, .flags = fl, .ints = ints_, .floats = floats_},
#include "ops.def"
#undef OP
};

const char *const dtype_name[DT_COUNT] = {[DT_F32] = "f32", [DT_I32] = "i32"};
const char *const init_name[INIT_COUNT] = {
    [INIT_ZEROS] = "zeros",
    [INIT_ONES] = "ones",
    [INIT_CONST] = "const",
    [INIT_UNIFORM] = "uniform",
    [INIT_NORMAL] = "normal",
    [INIT_XAVIER_UNIFORM] = "xavier_uniform",
    [INIT_XAVIER_NORMAL] = "xavier_normal",
    [INIT_HE_UNIFORM] = "he_uniform",
    [INIT_HE_NORMAL] = "he_normal",
};
const char *const fclass_name[FC_COUNT] = {
    [FC_ELEMWISE] = "elemwise", [FC_BROADCAST] = "broadcast",
    [FC_INJECTIVE] = "injective", [FC_REDUCE] = "reduce",
    [FC_OUTFUSE] = "outfuse", [FC_OPAQUE] = "opaque",
};

const char *const hyper_name[H_COUNT] = {
    [H_LR] = "lr", [H_MOMENTUM] = "momentum", [H_BETA1] = "beta1", [H_BETA2] = "beta2",
    [H_RHO] = "rho",
    [H_EPS] = "eps", [H_WEIGHT_DECAY] = "weight_decay", [H_L1] = "l1", [H_L2] = "l2",
    [H_CLIP] = "clip_norm", [H_BC1] = "bias_correction1", [H_BC2] = "bias_correction2",
};

int op_lookup(const char *name) {
  for (int i = 0; i < OP_COUNT; i++)
    if (strcmp(op_info[i].name, name) == 0) return i;
  return -1;
}

int op_fixed_ints(Op op, bool *has_list) {
  int n = 0;
  *has_list = false;
  for (const char *p = op_info[op].ints; *p;) {
    const char *colon = strchr(p, ':');
    if (!colon) die("bad ints spec for %s", op_info[op].name);
    if (colon[1] == '*')
      *has_list = true;
    else
      n += atoi(colon + 1);
    p = strchr(colon, ',');
    if (!p) break;
    p++;
  }
  return n;
}

/* ---- interning ---- */

const char *intern(const char *s) {
  static const char **tab;
  static int n, cap;
  static Arena *arena;
  if (!s) return NULL;
  for (int i = 0; i < n; i++)
    if (strcmp(tab[i], s) == 0) return tab[i];
  if (!arena) arena = arena_new();
  arena_grow(arena, (void **)&tab, &cap, n + 1, sizeof *tab);
  tab[n] = arena_strdup(arena, s);
  return tab[n++];
}

/* ---- shapes ---- */

Size shape_numel(const Shape *s) {
  Size z = {1, false};
  for (int i = 0; i < s->rank; i++) {
    int64_t d = s->d[i];
    if (d < 0) {
      z.sym = true;
      d = d == INT64_MIN ? INT64_MAX : -d;
    }
    if (__builtin_mul_overflow(z.k, d, &z.k)) z.k = INT64_MAX;
  }
  return z;
}

bool shape_too_big(const Shape *s) { return shape_numel(s).k > MAX_NUMEL; }

Size dtype_bytes(DType t, Size n) {
  (void)t; /* every dtype is 4 bytes today */
  n.k *= 4;
  return n;
}

Size node_bytes(const Node *n) { return dtype_bytes(n->dtype, shape_numel(&n->shape)); }

bool shape_equal(const Shape *a, const Shape *b) {
  if (a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->d[i] != b->d[i]) return false;
  return true;
}

Shape shape_make(int rank, const int64_t *d) {
  Shape s = {.rank = rank};
  for (int i = 0; i < rank; i++) s.d[i] = d[i];
  return s;
}

static int dim_str(char *buf, size_t n, int64_t d) {
  if (d == -1) return snprintf(buf, n, "N");
  if (d < 0) return snprintf(buf, n, "%lldN", (long long)-d);
  return snprintf(buf, n, "%lld", (long long)d);
}

void dims_str(char *buf, size_t n, const Shape *s) {
  size_t k = 0;
  k += (size_t)snprintf(buf + k, n - k, "[");
  for (int i = 0; i < s->rank && k < n; i++) {
    if (i) k += (size_t)snprintf(buf + k, n - k, ",");
    if (k < n) k += (size_t)dim_str(buf + k, n - k, s->d[i]);
  }
  if (k < n) snprintf(buf + k, n - k, "]");
}

void shape_str(char *buf, size_t n, DType t, const Shape *s) {
  char dims[128];
  dims_str(dims, sizeof dims, s);
  snprintf(buf, n, "%s%s", dtype_name[t], dims);
}

int64_t dim_eval(int64_t d, int64_t N) { return d < 0 ? -d * N : d; }

int64_t numel_eval(const Shape *s, int64_t N) {
  Size z = shape_numel(s);
  return z.sym ? z.k * N : z.k;
}

static int nsym(const Shape *s) {
  int k = 0;
  for (int i = 0; i < s->rank; i++) k += s->d[i] < 0;
  return k;
}

/* ---- shape rules ----
 * Each rule sees the node with operands and attributes filled in (and, for
 * reshape and broadcast, the requested shape) and sets dtype and shape, or
 * writes why the node is invalid. */

#define WHY(...) (snprintf(why, 256, __VA_ARGS__), false)

static const Node *arg(const Graph *g, const Node *n, int k) {
  return &g->node[n->in[k]];
}

static const char *tstr(char *buf, const Node *x) {
  shape_str(buf, 128, x->dtype, &x->shape);
  return buf;
}

static bool need_f32(const Graph *g, const Node *n, char *why) {
  char b[128];
  for (int k = 0; k < n->nin; k++)
    if (arg(g, n, k)->dtype != DT_F32)
      return WHY("%s: expected a f32 operand, got %s", op_info[n->op].name,
                 tstr(b, arg(g, n, k)));
  return true;
}

static bool shape_source(const Graph *g, Node *n, char *why) {
  (void)g;
  if (nsym(&n->shape) > 1)
    return WHY("only one dimension may depend on the batch size N");
  return true;
}

static bool shape_unary(const Graph *g, Node *n, char *why) {
  if (!need_f32(g, n, why)) return false;
  n->dtype = DT_F32;
  n->shape = arg(g, n, 0)->shape;
  return true;
}

/* Numpy broadcasting of two shapes into out; false if they do not fit.
 * A batch dimension broadcasts only against itself or 1. */
static bool broadcast2(const Shape *a, const Shape *b, Shape *out) {
  int r = a->rank > b->rank ? a->rank : b->rank;
  out->rank = r;
  for (int i = 0; i < r; i++) {
    int ia = a->rank - r + i, ib = b->rank - r + i;
    int64_t da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
    if (da == db || db == 1)
      out->d[i] = da;
    else if (da == 1)
      out->d[i] = db;
    else
      return false;
  }
  return true;
}

static bool shape_binary(const Graph *g, Node *n, char *why) {
  char b0[128], b1[128];
  const Node *x = arg(g, n, 0), *y = arg(g, n, 1);
  if (!need_f32(g, n, why)) return false;
  if (!broadcast2(&x->shape, &y->shape, &n->shape))
    return WHY("%s: shapes cannot be broadcast together: %s and %s",
               op_info[n->op].name, tstr(b0, x), tstr(b1, y));
  n->dtype = DT_F32;
  return true;
}

static bool shape_reduce(const Graph *g, Node *n, char *why) {
  const Node *x = arg(g, n, 0);
  if (!need_f32(g, n, why)) return false;
  bool keep = n->a.nints > 0 && n->a.ints[0];
  bool red[MAX_RANK] = {0};
  if (n->a.nints <= 1)
    for (int i = 0; i < x->shape.rank; i++) red[i] = true;
  for (int k = 1; k < n->a.nints; k++) {
    int64_t ax = n->a.ints[k];
    if (ax < 0 || ax >= x->shape.rank)
      return WHY("%s: axis %lld is out of range for rank %d", op_info[n->op].name,
                 (long long)ax, x->shape.rank);
    if (red[ax])
      return WHY("%s: axis %lld is listed twice", op_info[n->op].name, (long long)ax);
    red[ax] = true;
  }
  Shape s = {0};
  for (int i = 0; i < x->shape.rank; i++) {
    if (!red[i])
      s.d[s.rank++] = x->shape.d[i];
    else if (keep)
      s.d[s.rank++] = 1;
  }
  n->dtype = DT_F32;
  n->shape = s;
  return true;
}

static bool shape_axis(const Graph *g, Node *n, char *why) {
  const Node *x = arg(g, n, 0);
  if (!need_f32(g, n, why)) return false;
  if (n->a.nints != 1 || n->a.ints[0] < 0 || n->a.ints[0] >= x->shape.rank)
    return WHY("%s: axis %lld is out of range for rank %d", op_info[n->op].name,
               (long long)(n->a.nints ? n->a.ints[0] : -1), x->shape.rank);
  n->dtype = DT_F32;
  n->shape = x->shape;
  return true;
}

static bool shape_reshape(const Graph *g, Node *n, char *why) {
  char b0[128], b1[128];
  const Node *x = arg(g, n, 0);
  Size a = shape_numel(&x->shape), b = shape_numel(&n->shape);
  n->dtype = x->dtype;
  if (nsym(&n->shape) > 1)
    return WHY("reshape: only one dimension may depend on the batch size N");
  if (a.k != b.k || a.sym != b.sym) {
    shape_str(b1, sizeof b1, x->dtype, &n->shape);
    return WHY("reshape: element counts differ: %s to %s", tstr(b0, x), b1);
  }
  return true;
}

static bool shape_broadcast(const Graph *g, Node *n, char *why) {
  char b0[128], b1[128];
  const Node *x = arg(g, n, 0);
  Shape s;
  n->dtype = x->dtype;
  if (!broadcast2(&x->shape, &n->shape, &s) || !shape_equal(&s, &n->shape)) {
    shape_str(b1, sizeof b1, x->dtype, &n->shape);
    return WHY("broadcast: %s cannot be broadcast to %s", tstr(b0, x), b1);
  }
  return true;
}

static bool shape_transpose(const Graph *g, Node *n, char *why) {
  const Node *x = arg(g, n, 0);
  bool seen[MAX_RANK] = {0};
  if (n->a.nints != x->shape.rank)
    return WHY("transpose: permutation has %d axes, operand has rank %d",
               n->a.nints, x->shape.rank);
  for (int i = 0; i < n->a.nints; i++) {
    int64_t p = n->a.ints[i];
    if (p < 0 || p >= x->shape.rank || seen[p])
      return WHY("transpose: perm is not a permutation of the %d axes",
                 x->shape.rank);
    seen[p] = true;
    n->shape.d[i] = x->shape.d[p];
  }
  n->shape.rank = x->shape.rank;
  n->dtype = x->dtype;
  return true;
}

static bool shape_concat(const Graph *g, Node *n, char *why) {
  char b0[128], b1[128];
  const Node *x = arg(g, n, 0);
  int64_t ax = n->a.nints ? n->a.ints[0] : -1;
  if (ax < 0 || ax >= x->shape.rank)
    return WHY("concat: axis %lld is out of range for rank %d", (long long)ax,
               x->shape.rank);
  Shape s = x->shape;
  for (int k = 1; k < n->nin; k++) {
    const Node *y = arg(g, n, k);
    bool fit = y->shape.rank == s.rank && y->dtype == x->dtype;
    for (int i = 0; fit && i < s.rank; i++)
      fit = i == ax || y->shape.d[i] == s.d[i];
    if (fit && (y->shape.d[ax] < 0) != (s.d[ax] < 0)) fit = false;
    if (!fit)
      return WHY("concat: operands differ outside axis %lld: %s and %s",
                 (long long)ax, tstr(b0, x), tstr(b1, y));
    s.d[ax] += y->shape.d[ax];
  }
  n->dtype = x->dtype;
  n->shape = s;
  return true;
}

/* matmul: a[..., M, K] x b[K, P] or batched a[B..., M, K] x b[B..., K, P]. */
static bool shape_matmul(const Graph *g, Node *n, char *why) {
  char b0[128], b1[128];
  const Node *x = arg(g, n, 0), *y = arg(g, n, 1);
  const Shape *a = &x->shape, *b = &y->shape;
  if (!need_f32(g, n, why)) return false;
  if (a->rank < 2 || b->rank < 2)
    return WHY("matmul: operands must have rank 2 or more: %s x %s", tstr(b0, x),
               tstr(b1, y));
  /* a matrix a times a batch b applies a to every matrix of the batch */
  bool shared_a = a->rank == 2 && b->rank > 2;
  if (b->rank > 2 && b->rank != a->rank && !shared_a)
    return WHY("matmul: batched operands must have the same rank: %s x %s",
               tstr(b0, x), tstr(b1, y));
  for (int i = 0; b->rank > 2 && !shared_a && i < b->rank - 2; i++)
    if (a->d[i] != b->d[i])
      return WHY("matmul: batch dimensions differ: %s x %s", tstr(b0, x), tstr(b1, y));
  if (a->d[a->rank - 1] != b->d[b->rank - 2])
    return WHY("matmul: inner dimensions differ: %s x %s", tstr(b0, x), tstr(b1, y));
  Shape s = shared_a ? *b : *a;
  if (shared_a) s.d[s.rank - 2] = a->d[0];
  s.d[s.rank - 1] = b->d[b->rank - 1];
  if (nsym(&s) > 1)
    return WHY("matmul: result %s x %s would have two batch-dependent dimensions",
               tstr(b0, x), tstr(b1, y));
  n->dtype = DT_F32;
  n->shape = s;
  return true;
}

static bool shape_scalar(const Graph *g, Node *n, char *why) {
  (void)g, (void)why;
  n->dtype = DT_F32;
  n->shape = (Shape){0};
  return true;
}

static bool shape_slice(const Graph *g, Node *n, char *why) {
  const Node *x = arg(g, n, 0);
  int64_t ax = n->a.ints[0], lo = n->a.ints[1], hi = n->a.ints[2];
  if (n->a.nints != 3 || ax < 0 || ax >= x->shape.rank)
    return WHY("slice: axis %lld is out of range for rank %d", (long long)ax, x->shape.rank);
  if (x->shape.d[ax] < 0)
    return WHY("slice: cannot slice the batch dimension");
  if (lo < 0 || hi <= lo || hi > x->shape.d[ax])
    return WHY("slice: [%lld, %lld) is not a non-empty range within 0..%lld", (long long)lo,
               (long long)hi, (long long)x->shape.d[ax]);
  n->dtype = x->dtype;
  n->shape = x->shape;
  n->shape.d[ax] = hi - lo;
  return true;
}

static bool shape_one_hot(const Graph *g, Node *n, char *why) {
  char b[128];
  const Node *x = arg(g, n, 0);
  if (x->dtype != DT_I32)
    return WHY("one_hot: expected i32 class indices, got %s", tstr(b, x));
  if (n->a.nints != 1 || n->a.ints[0] < 1)
    return WHY("one_hot: the class count must be positive");
  if (x->shape.rank >= MAX_RANK) return WHY("one_hot: operand rank too large");
  n->dtype = DT_F32;
  n->shape = x->shape;
  n->shape.d[n->shape.rank++] = n->a.ints[0];
  return true;
}

/* cross_entropy(logits [..., C], labels [...]) -> per-sample loss [...] */
static bool shape_cross_entropy(const Graph *g, Node *n, char *why) {
  char b0[128], b1[128];
  const Node *x = arg(g, n, 0), *y = arg(g, n, 1);
  if (x->dtype != DT_F32 || y->dtype != DT_I32)
    return WHY("cross_entropy: expected f32 logits and i32 labels, got %s and %s",
               tstr(b0, x), tstr(b1, y));
  bool fit = x->shape.rank == y->shape.rank + 1;
  for (int i = 0; fit && i < y->shape.rank; i++) fit = x->shape.d[i] == y->shape.d[i];
  if (!fit)
    return WHY("cross_entropy: labels must have the logits' shape without the class axis: "
               "%s and %s", tstr(b0, x), tstr(b1, y));
  n->dtype = DT_F32;
  n->shape = y->shape;
  return true;
}

static bool shape_assign(const Graph *g, Node *n, char *why) {
  char b0[128], b1[128];
  const Node *t = arg(g, n, 0), *v = arg(g, n, 1);
  if (t->op != OP_PARAM && t->op != OP_STATE)
    return WHY("assign: the target must be a param or a state, not %s", op_info[t->op].name);
  if (t->dtype != v->dtype || !shape_equal(&t->shape, &v->shape))
    return WHY("assign: value %s does not fit target %s", tstr(b1, v), tstr(b0, t));
  n->dtype = v->dtype;
  n->shape = v->shape;
  return true;
}

/* running_stat(batch, avg, sample): f32 operands of one shape; avg is
 * the storage of the running average, a param or a state, so the shape
 * has no batch dimension. */
static bool shape_running_stat(const Graph *g, Node *n, char *why) {
  char b0[128], b1[128];
  const Node *avg = arg(g, n, 1);
  double m = n->a.f[0];
  if (!need_f32(g, n, why)) return false;
  if (avg->op != OP_PARAM && avg->op != OP_STATE)
    return WHY("running_stat: the running average must be a param or a state, not %s",
               op_info[avg->op].name);
  for (int k = 0; k < 3; k += 2)
    if (!shape_equal(&arg(g, n, k)->shape, &avg->shape))
      return WHY("running_stat: %s does not fit the running average %s",
                 tstr(b0, arg(g, n, k)), tstr(b1, avg));
  if (!(m >= 0 && m <= 1))
    return WHY("running_stat: momentum %g is not in [0, 1]", m);
  n->dtype = DT_F32;
  n->shape = avg->shape;
  return true;
}

/* ---- convolution and pooling ----
 * Images are [N,C,H,W]: only N may depend on the batch size. Attribute
 * pairs are (height, width); a window of k taps with dilation d spans
 * d*(k-1)+1 input rows, and an output row exists for every stride step
 * that keeps the window inside the padded input (floor division). */

static bool image_shape(const Node *x, const char *op, char *why) {
  char b[128];
  if (x->shape.rank != 4 || x->dtype != DT_F32)
    return WHY("%s: expected an f32 image [N,C,H,W], got %s", op, tstr(b, x));
  for (int i = 1; i < 4; i++)
    if (x->shape.d[i] <= 0)
      return WHY("%s: only the first dimension of an image may depend on N, got %s", op,
                 tstr(b, x));
  return true;
}

/* Output rows (or columns) of a window over len rows; false, with why,
 * if the attributes are invalid or the window does not fit. */
static bool window_out(const char *op, const char *what, int64_t len, int64_t k, int64_t stride,
                       int64_t pad, int64_t dil, int64_t *out, char *why) {
  if (k < 1 || stride < 1 || dil < 1 || pad < 0)
    return WHY("%s: the %s needs kernel, stride and dilation >= 1 and pad >= 0, got kernel %lld, "
               "stride %lld, dilation %lld, pad %lld", op, what, (long long)k, (long long)stride,
               (long long)dil, (long long)pad);
  int64_t span = dil * (k - 1) + 1;
  if (span > len + 2 * pad)
    return WHY("%s: the kernel spans %lld %s but the padded input has only %lld (%lld + 2*%lld)",
               op, (long long)span, what, (long long)(len + 2 * pad), (long long)len,
               (long long)pad);
  *out = (len + 2 * pad - span) / stride + 1;
  return true;
}

/* Attributes of a conv2d-family node: stride, pad, dilation, groups. */
static bool conv_attrs(const Node *n, char *why) {
  if (n->a.nints < 7) return WHY("%s: missing attributes", op_info[n->op].name);
  if (n->a.ints[6] < 1)
    return WHY("%s: groups must be >= 1, got %lld", op_info[n->op].name, (long long)n->a.ints[6]);
  return true;
}

/* The result shape of conv2d on an image x with weights w. */
static bool conv_result(const Node *n, const Node *x, const Node *w, Shape *s, char *why) {
  char b0[128], b1[128];
  const char *op = op_info[n->op].name;
  const int64_t *a = n->a.ints, *xd = x->shape.d, *wd = w->shape.d;
  int64_t groups = a[6];
  if (!image_shape(x, op, why) || !conv_attrs(n, why)) return false;
  bool fixed = w->shape.rank == 4 && w->dtype == DT_F32;
  for (int i = 0; fixed && i < 4; i++) fixed = wd[i] > 0;
  if (!fixed)
    return WHY("%s: expected fixed f32 weights [O,C/groups,KH,KW], got %s", op, tstr(b0, w));
  if (xd[1] % groups)
    return WHY("%s: groups = %lld does not divide the %lld input channels of %s", op,
               (long long)groups, (long long)xd[1], tstr(b0, x));
  if (wd[0] % groups)
    return WHY("%s: groups = %lld does not divide the %lld output channels of weights %s", op,
               (long long)groups, (long long)wd[0], tstr(b0, w));
  if (wd[1] * groups != xd[1])
    return WHY("%s: channels differ: input %s has %lld, weights %s [O,C/groups,KH,KW] take "
               "%lld (groups = %lld)", op, tstr(b0, x), (long long)xd[1], tstr(b1, w),
               (long long)(wd[1] * groups), (long long)groups);
  *s = (Shape){.rank = 4, .d = {xd[0], wd[0]}};
  return window_out(op, "rows", xd[2], wd[2], a[0], a[2], a[4], &s->d[2], why) &&
         window_out(op, "columns", xd[3], wd[3], a[1], a[3], a[5], &s->d[3], why);
}

static bool shape_conv2d(const Graph *g, Node *n, char *why) {
  if (!conv_result(n, arg(g, n, 0), arg(g, n, 1), &n->shape, why)) return false;
  n->dtype = DT_F32;
  return true;
}

/* dx of conv2d(x, w) from (dy, w): x is [N, C, in_h, in_w] with C from w. */
static bool shape_conv2d_grad_input(const Graph *g, Node *n, char *why) {
  char b[128];
  const Node *dy = arg(g, n, 0), *w = arg(g, n, 1);
  if (!conv_attrs(n, why) || n->a.nints != 9 || !image_shape(dy, "conv2d_grad_input", why))
    return false;
  if (w->shape.rank != 4) return WHY("conv2d_grad_input: weights %s are not 4-D", tstr(b, w));
  Node x = {.dtype = DT_F32, .shape = {.rank = 4, .d = {dy->shape.d[0],
            w->shape.d[1] * n->a.ints[6], n->a.ints[7], n->a.ints[8]}}};
  Shape s;
  if (!conv_result(n, &x, w, &s, why)) return false;
  if (!shape_equal(&s, &dy->shape))
    return WHY("conv2d_grad_input: dy %s is not the shape of the convolution's result",
               tstr(b, dy));
  n->dtype = DT_F32;
  n->shape = x.shape;
  return true;
}

/* dw of conv2d(x, w) from (x, dy): w is [O, C/groups, KH, KW]. */
static bool shape_conv2d_grad_weight(const Graph *g, Node *n, char *why) {
  char b[128];
  const Node *x = arg(g, n, 0), *dy = arg(g, n, 1);
  if (!conv_attrs(n, why) || n->a.nints != 9 || !image_shape(x, "conv2d_grad_weight", why) ||
      !image_shape(dy, "conv2d_grad_weight", why))
    return false;
  Node w = {.dtype = DT_F32, .shape = {.rank = 4, .d = {dy->shape.d[1],
            x->shape.d[1] / n->a.ints[6], n->a.ints[7], n->a.ints[8]}}};
  Shape s;
  if (!conv_result(n, x, &w, &s, why)) return false;
  if (!shape_equal(&s, &dy->shape))
    return WHY("conv2d_grad_weight: dy %s is not the shape of the convolution's result",
               tstr(b, dy));
  n->dtype = DT_F32;
  n->shape = w.shape;
  return true;
}

/* im2col and col2im ints: stride, pad, dilation, kernel (pairs), and for
 * col2im the image's H, W. The rows of an image's column matrix are the
 * taps (c, kh, kw), its columns the OH*OW output positions, so that a
 * convolution is w [O, C*KH*KW] times it; the window must fit as for
 * conv2d. */
static bool col_window(const Node *n, int64_t H, int64_t W, int64_t *OH, int64_t *OW,
                       char *why) {
  const char *op = op_info[n->op].name;
  const int64_t *a = n->a.ints;
  if (n->a.nints != (n->op == OP_IM2COL ? 8 : 10))
    return WHY("%s: expected %d attributes, got %d", op, n->op == OP_IM2COL ? 8 : 10,
               n->a.nints);
  return window_out(op, "rows", H, a[6], a[0], a[2], a[4], OH, why) &&
         window_out(op, "columns", W, a[7], a[1], a[3], a[5], OW, why);
}

/* x [N,C,H,W] -> [N, C*KH*KW, OH*OW] */
static bool shape_im2col(const Graph *g, Node *n, char *why) {
  const Node *x = arg(g, n, 0);
  int64_t OH, OW;
  if (!image_shape(x, "im2col", why) || !col_window(n, x->shape.d[2], x->shape.d[3], &OH, &OW, why))
    return false;
  n->dtype = DT_F32;
  n->shape = (Shape){.rank = 3, .d = {x->shape.d[0], x->shape.d[1] * n->a.ints[6] * n->a.ints[7],
                                      OH * OW}};
  return true;
}

/* dcol [N, C*KH*KW, OH*OW] -> [N, C, H, W] with (H, W) the in attribute */
static bool shape_col2im(const Graph *g, Node *n, char *why) {
  char b[128];
  const Node *d = arg(g, n, 0);
  const int64_t *a = n->a.ints, *dd = d->shape.d;
  if (d->shape.rank != 3 || d->dtype != DT_F32 || dd[1] <= 0 || dd[2] <= 0)
    return WHY("col2im: expected f32 columns [N, C*KH*KW, OH*OW] with only N batch-dependent, "
               "got %s", tstr(b, d));
  int64_t OH, OW;
  if (n->a.nints == 10 && (a[8] < 1 || a[9] < 1))
    return WHY("col2im: the image size in=[%lld,%lld] must be positive", (long long)a[8],
               (long long)a[9]);
  if (!col_window(n, n->a.nints == 10 ? a[8] : 0, n->a.nints == 10 ? a[9] : 0, &OH, &OW, why))
    return false;
  if (dd[2] != OH * OW || dd[1] % (a[6] * a[7]))
    return WHY("col2im: columns %s do not fit a %lldx%lld kernel over %lld*%lld = %lld output "
               "positions", tstr(b, d), (long long)a[6], (long long)a[7], (long long)OH,
               (long long)OW, (long long)(OH * OW));
  n->dtype = DT_F32;
  n->shape = (Shape){.rank = 4, .d = {dd[0], dd[1] / (a[6] * a[7]), a[8], a[9]}};
  return true;
}

/* ---- the blocked layout ----
 * to_blocked splits axis a of x into ceil(C/8) blocks and moves the lanes
 * to a new last axis; from_blocked undoes it given C. The channel axis
 * may not depend on N. */

static bool shape_to_blocked(const Graph *g, Node *n, char *why) {
  char b[128];
  const Node *x = arg(g, n, 0);
  int64_t a = n->a.nints == 1 ? n->a.ints[0] : -1;
  if (x->dtype != DT_F32 || x->shape.rank >= MAX_RANK)
    return WHY("to_blocked: expected an f32 tensor of rank below %d, got %s", MAX_RANK, tstr(b, x));
  if (a < 0 || a >= x->shape.rank || x->shape.d[a] <= 0)
    return WHY("to_blocked: axis %lld of %s is not a fixed dimension", (long long)a, tstr(b, x));
  n->dtype = DT_F32;
  n->shape = x->shape;
  n->shape.d[a] = (x->shape.d[a] + BLOCK_C - 1) / BLOCK_C;
  n->shape.d[n->shape.rank++] = BLOCK_C;
  return true;
}

static bool shape_from_blocked(const Graph *g, Node *n, char *why) {
  char b[128];
  const Node *y = arg(g, n, 0);
  const Shape *s = &y->shape;
  int64_t a = n->a.nints == 2 ? n->a.ints[0] : -1, C = n->a.nints == 2 ? n->a.ints[1] : 0;
  if (y->dtype != DT_F32 || s->rank < 2 || s->d[s->rank - 1] != BLOCK_C)
    return WHY("from_blocked: expected a blocked f32 tensor [..., %d], got %s", BLOCK_C, tstr(b, y));
  if (a < 0 || a >= s->rank - 1 || s->d[a] <= 0)
    return WHY("from_blocked: axis %lld of %s is not a fixed dimension", (long long)a, tstr(b, y));
  if (C < 1 || (C + BLOCK_C - 1) / BLOCK_C != s->d[a])
    return WHY("from_blocked: %lld channels do not fill the %lld blocks of axis %lld of %s",
               (long long)C, (long long)s->d[a], (long long)a, tstr(b, y));
  n->dtype = DT_F32;
  n->shape = *s;
  n->shape.rank--;
  n->shape.d[a] = C;
  return true;
}

/* A blocked image [N, C/8, H, W, 8] seen as the image [N, C/8, H, W]
 * of its blocks; false, with why, if x is not one. */
static bool blocked_image(const Node *x, const char *op, Node *view, char *why) {
  char b[128];
  if (x->shape.rank != 5 || x->shape.d[4] != BLOCK_C)
    return WHY("%s: expected a blocked image [N,C/%d,H,W,%d], got %s", op, BLOCK_C, BLOCK_C,
               tstr(b, x));
  *view = *x;
  view->shape.rank = 4;
  return image_shape(view, op, why);
}

/* x [N,CB,H,W,L], w [OB,CB,KH,KW,L,8] -> [N,OB,OH,OW,8], where the
 * input's lanes L are 8 (a blocked image) or 1 (a plain image with a
 * trailing 1: CB is then C). */
static bool shape_conv2d_blocked(const Graph *g, Node *n, char *why) {
  char b0[128], b1[128];
  const Node *x = arg(g, n, 0), *w = arg(g, n, 1);
  const int64_t *a = n->a.ints, *wd = w->shape.d;
  Node xv = *x;
  if (n->a.nints != 6) return WHY("conv2d_blocked: missing attributes");
  int64_t L = x->shape.rank == 5 ? x->shape.d[4] : 0;
  if (L == 1) xv.shape.d[4] = BLOCK_C; /* checked as a blocked image */
  if (!blocked_image(&xv, "conv2d_blocked", &xv, why)) return false;
  bool fixed = w->shape.rank == 6 && w->dtype == DT_F32 && wd[4] == L && wd[5] == BLOCK_C;
  for (int i = 0; fixed && i < 4; i++) fixed = wd[i] > 0;
  if (!fixed)
    return WHY("conv2d_blocked: expected fixed f32 blocked weights [O/%d,CB,KH,KW,%lld,%d] for "
               "the image %s, got %s", BLOCK_C, (long long)L, BLOCK_C, tstr(b1, x), tstr(b0, w));
  if (wd[1] != x->shape.d[1])
    return WHY("conv2d_blocked: channel blocks differ: input %s has %lld, weights %s take %lld",
               tstr(b0, x), (long long)x->shape.d[1], tstr(b1, w), (long long)wd[1]);
  n->dtype = DT_F32;
  n->shape = (Shape){.rank = 5, .d = {x->shape.d[0], wd[0], 0, 0, BLOCK_C}};
  return window_out("conv2d_blocked", "rows", x->shape.d[2], wd[2], a[0], a[2], a[4], &n->shape.d[2], why) &&
         window_out("conv2d_blocked", "columns", x->shape.d[3], wd[3], a[1], a[3], a[5], &n->shape.d[3], why);
}

/* The result shape of a pool (attrs kernel, stride, pad) over image x.
 * Padding may be at most half the kernel, so that every window holds an
 * element of the input (PyTorch's rule). */
static bool pool_result(const Node *n, const Node *x, Shape *s, char *why) {
  const char *op = op_info[n->op].name;
  const int64_t *a = n->a.ints;
  if (!image_shape(x, op, why)) return false;
  if (n->a.nints < 6) return WHY("%s: missing attributes", op);
  for (int i = 0; i < 2; i++)
    if (a[4 + i] < 0 || 2 * a[4 + i] > a[i])
      return WHY("%s: padding %lld is more than half the kernel size %lld", op,
                 (long long)a[4 + i], (long long)a[i]);
  *s = (Shape){.rank = 4, .d = {x->shape.d[0], x->shape.d[1]}};
  return window_out(op, "rows", x->shape.d[2], a[0], a[2], a[4], 1, &s->d[2], why) &&
         window_out(op, "columns", x->shape.d[3], a[1], a[3], a[5], 1, &s->d[3], why);
}

/* A plain image [N,C,H,W], or a blocked one [N,C/8,H,W,8] whose lanes
 * are pooled each on their own. */
static bool shape_pool2d(const Graph *g, Node *n, char *why) {
  const Node *x = arg(g, n, 0);
  Node view;
  if (x->shape.rank == 5) {
    if (!blocked_image(x, op_info[n->op].name, &view, why)) return false;
    x = &view;
  }
  if (!pool_result(n, x, &n->shape, why)) return false;
  if (x == &view) n->shape.d[n->shape.rank++] = BLOCK_C;
  n->dtype = DT_F32;
  return true;
}

/* dx of max_pool2d(x) from (x, dy). */
static bool shape_max_pool2d_grad(const Graph *g, Node *n, char *why) {
  char b[128];
  const Node *x = arg(g, n, 0), *dy = arg(g, n, 1);
  Shape s;
  if (!pool_result(n, x, &s, why)) return false;
  if (!shape_equal(&s, &dy->shape) || dy->dtype != DT_F32)
    return WHY("max_pool2d_grad: dy %s is not the shape of the pool's result", tstr(b, dy));
  n->dtype = DT_F32;
  n->shape = x->shape;
  return true;
}

/* dx of avg_pool2d(x) from dy: x is [N, C, in_h, in_w]. */
static bool shape_avg_pool2d_grad(const Graph *g, Node *n, char *why) {
  char b[128];
  const Node *dy = arg(g, n, 0);
  if (n->a.nints != 8 || !image_shape(dy, "avg_pool2d_grad", why)) return false;
  Node x = {.dtype = DT_F32, .shape = {.rank = 4, .d = {dy->shape.d[0], dy->shape.d[1],
            n->a.ints[6], n->a.ints[7]}}};
  Shape s;
  if (!pool_result(n, &x, &s, why)) return false;
  if (!shape_equal(&s, &dy->shape))
    return WHY("avg_pool2d_grad: dy %s is not the shape of the pool's result", tstr(b, dy));
  n->dtype = DT_F32;
  n->shape = x.shape;
  return true;
}

/* gather(table [V, D], ids i32 [...]) -> [..., D] */
static bool shape_gather(const Graph *g, Node *n, char *why) {
  char b0[128], b1[128];
  const Node *t = arg(g, n, 0), *ids = arg(g, n, 1);
  if (t->dtype != DT_F32 || t->shape.rank != 2 || t->shape.d[0] < 0)
    return WHY("gather: the table must be f32 [V, D] without the batch dimension, got %s",
               tstr(b0, t));
  if (ids->dtype != DT_I32)
    return WHY("gather: ids must be i32, got %s", tstr(b1, ids));
  if (ids->shape.rank >= MAX_RANK) return WHY("gather: ids of rank %d are too many", ids->shape.rank);
  n->dtype = DT_F32;
  n->shape = ids->shape;
  n->shape.d[n->shape.rank++] = t->shape.d[1];
  return true;
}

/* scatter_add(rows [..., D], ids i32 [...]) rows=V -> [V, D] */
static bool shape_scatter_add(const Graph *g, Node *n, char *why) {
  char b0[128], b1[128];
  const Node *x = arg(g, n, 0), *ids = arg(g, n, 1);
  if (n->a.nints != 1 || n->a.ints[0] < 1) return WHY("scatter_add: rows must be positive");
  bool ok = x->dtype == DT_F32 && ids->dtype == DT_I32 && x->shape.rank == ids->shape.rank + 1;
  for (int i = 0; ok && i < ids->shape.rank; i++) ok = x->shape.d[i] == ids->shape.d[i];
  if (!ok || x->shape.d[x->shape.rank - 1] < 0)
    return WHY("scatter_add: expected f32 rows [..., D] and i32 ids [...], got %s and %s",
               tstr(b0, x), tstr(b1, ids));
  n->dtype = DT_F32;
  n->shape = (Shape){.rank = 2, .d = {n->a.ints[0], x->shape.d[x->shape.rank - 1]}};
  return true;
}

/* scatter_update(table param [V, D], rows [..., D], ids i32 [...]) */
static bool shape_scatter_update(const Graph *g, Node *n, char *why) {
  char b0[128], b1[128];
  const Node *t = arg(g, n, 0), *x = arg(g, n, 1), *ids = arg(g, n, 2);
  if (t->op != OP_PARAM || t->shape.rank != 2)
    return WHY("scatter_update: the target must be a param [V, D], got %s", tstr(b0, t));
  bool ok = x->dtype == DT_F32 && ids->dtype == DT_I32 && x->shape.rank == ids->shape.rank + 1 &&
            x->shape.d[x->shape.rank - 1] == t->shape.d[1];
  for (int i = 0; ok && i < ids->shape.rank; i++) ok = x->shape.d[i] == ids->shape.d[i];
  if (!ok)
    return WHY("scatter_update: expected f32 rows [..., %lld] and i32 ids [...], got %s and %s",
               (long long)t->shape.d[1], tstr(b0, x), tstr(b1, ids));
  n->dtype = DT_F32;
  n->shape = t->shape;
  return true;
}

/* ---- recurrent layers ---- */

static const Cell cells[] = {
  {OP_LSTM, OP_LSTM_GRAD, 4, 6, 5, 6},  /* i f g o, c, h | d(i f g o), dc, dh */
  {OP_GRU, OP_GRU_GRAD, 3, 5, 4, 5},    /* r z n, hn, h | d(r z), dhn, dn, dh */
  {OP_RNN, OP_RNN_GRAD, 1, 1, 0, 2},    /* h | dpre, dh */
};

const Cell *ir_cell(Op op) {
  for (size_t i = 0; i < sizeof cells / sizeof cells[0]; i++)
    if (cells[i].op == op || cells[i].grad_op == op) return &cells[i];
  return NULL;
}

/* A sequence [N, T, k*H] with a fixed T and k*H. */
static bool check_seq(const char *op, const char *what, const Node *x, int64_t width,
                      char *why) {
  char b[128];
  const Shape *s = &x->shape;
  if (x->dtype != DT_F32 || s->rank != 3 || s->d[1] < 0 || s->d[2] != width)
    return WHY("%s: %s must be f32[N, T, %lld] with a fixed T, got %s", op, what,
               (long long)width, tstr(b, x));
  return true;
}

/* xp[N, T, G*H], Whh[H, G*H] -> [N, T, state*H] */
static bool shape_recur(const Graph *g, Node *n, char *why) {
  char b[128];
  const Cell *c = ir_cell(n->op);
  const char *op = op_info[n->op].name;
  const Node *w = arg(g, n, 1);
  int64_t H = w->shape.rank == 2 ? w->shape.d[0] : 0;
  if (w->dtype != DT_F32 || H <= 0 || w->shape.d[1] != c->gates * H)
    return WHY("%s: the recurrent weights must be f32[H, %d*H], got %s", op, c->gates,
               tstr(b, w));
  if (!check_seq(op, "the input projection", arg(g, n, 0), c->gates * H, why)) return false;
  if (n->a.ints[0] != 0 && n->a.ints[0] != 1)
    return WHY("%s: reverse must be 0 or 1, not %lld", op, (long long)n->a.ints[0]);
  n->dtype = DT_F32;
  n->shape = arg(g, n, 0)->shape;
  n->shape.d[2] = c->state * H;
  return true;
}

/* dS [N, T, state*H] (or [N, T, H]: the gradient of h alone), S [N, T,
 * state*H], Whh[H, G*H] -> [N, T, grad*H] */
static bool shape_recur_grad(const Graph *g, Node *n, char *why) {
  char b[128], b2[128];
  const Cell *c = ir_cell(n->op);
  const char *op = op_info[n->op].name;
  const Node *w = arg(g, n, 2);
  int64_t H = w->shape.rank == 2 ? w->shape.d[0] : 0;
  if (w->dtype != DT_F32 || H <= 0 || w->shape.d[1] != c->gates * H)
    return WHY("%s: the recurrent weights must be f32[H, %d*H], got %s", op, c->gates,
               tstr(b, w));
  if (!check_seq(op, "the forward result", arg(g, n, 1), c->state * H, why)) return false;
  Shape ds = arg(g, n, 0)->shape, want = arg(g, n, 1)->shape;
  if (ds.rank == 3 && ds.d[2] == H) want.d[2] = H; /* the gradient of h alone */
  if (arg(g, n, 0)->dtype != DT_F32 || !shape_equal(&ds, &want))
    return WHY("%s: the gradient %s fits neither the forward result %s nor its h", op,
               tstr(b, arg(g, n, 0)), tstr(b2, arg(g, n, 1)));
  n->dtype = DT_F32;
  n->shape = arg(g, n, 1)->shape;
  n->shape.d[2] = c->grad * H;
  return true;
}

typedef bool ShapeRule(const Graph *, Node *, char *);
static ShapeRule *const shape_rule[] = {
#define OP(id, nm, nin, fc, fl, ints, floats, shape, ...) [OP_##id] = shape,
#include "ops.def"
#undef OP
};
_Static_assert(sizeof shape_rule / sizeof shape_rule[0] == OP_COUNT,
               "every op has a shape rule");

/* ---- graphs ---- */

Graph *ir_new_graph(const char *name) {
  Arena *a = arena_new();
  Graph *g = arena_alloc(a, sizeof *g);
  g->arena = a;
  g->name = arena_strdup(a, name ? name : "model");
  g->loss = -1;
  return g;
}

void ir_free_graph(Graph *g) {
  if (g) arena_free(g->arena);
}

static bool check_arity(const Node *n, char *why) {
  int want = op_info[n->op].nin;
  if (want >= 0 && n->nin != want)
    return WHY("%s: takes %d operand%s, got %d", op_info[n->op].name, want,
               want == 1 ? "" : "s", n->nin);
  if (want < 0 && n->nin < 1)
    return WHY("%s: takes at least one operand", op_info[n->op].name);
  return true;
}

bool ir_infer(Graph *g, int i, char *why) {
  Node *n = &g->node[i];
  if (!check_arity(n, why)) return false;
  if (!shape_rule[n->op](g, n, why)) return false;
  if (shape_too_big(&n->shape)) {
    char buf[96];
    shape_str(buf, sizeof buf, n->dtype, &n->shape);
    return WHY("%s: the result %s has more than 2^40 elements%s", op_info[n->op].name, buf,
               shape_numel(&n->shape).sym ? " per sample" : "");
  }
  return true;
}

static int append(Graph *g, const Node *n) {
  arena_grow(g->arena, (void **)&g->node, &g->capnode, g->nnode + 1, sizeof(Node));
  g->node[g->nnode] = *n;
  return g->nnode++;
}

int ir_add_shaped(Graph *g, Op op, const int *in, int nin, const Attrs *a,
                  DType t, Shape s, Loc loc, char *why) {
  Node n = {.op = op, .dtype = t, .shape = s, .nin = nin, .loc = loc};
  if (a) n.a = *a;
  n.in = arena_alloc(g->arena, sizeof(int) * (size_t)(nin ? nin : 1));
  for (int k = 0; k < nin; k++) {
    if (in[k] < 0 || in[k] >= g->nnode) die("operand %d out of range", in[k]);
    n.in[k] = in[k];
  }
  /* Run the rule on a scratch slot at the end so that arg() works. */
  int i = append(g, &n);
  if (!ir_infer(g, i, why)) {
    g->nnode--;
    return -1;
  }
  return i;
}

int ir_add(Graph *g, Op op, const int *in, int nin, const Attrs *a, Loc loc,
           char *why) {
  return ir_add_shaped(g, op, in, nin, a, DT_F32, (Shape){0}, loc, why);
}

int ir_input(Graph *g, const char *name, DType t, Shape s, InputKind kind,
             int64_t classes, Loc loc) {
  Node n = {.op = OP_INPUT, .dtype = t, .shape = s, .loc = loc, .ikind = kind,
            .classes = classes, .name = arena_strdup(g->arena, name)};
  return append(g, &n);
}

int ir_param(Graph *g, const char *name, DType t, Shape s, Init init, Loc loc) {
  Node n = {.op = OP_PARAM, .dtype = t, .shape = s, .loc = loc, .init = init,
            .name = arena_strdup(g->arena, name)};
  return append(g, &n);
}

int ir_const(Graph *g, DType t, Shape s, double value, const double *data,
             Loc loc) {
  Node n = {.op = OP_CONST, .dtype = t, .shape = s, .loc = loc};
  n.a.f[0] = value;
  if (data) {
    int64_t cnt = numel_eval(&s, 1);
    if (shape_numel(&s).sym) die("constant with a batch dimension");
    double *d = arena_alloc(g->arena, sizeof(double) * (size_t)cnt);
    memcpy(d, data, sizeof(double) * (size_t)cnt);
    n.data = d;
  }
  return append(g, &n);
}

int ir_state(Graph *g, const char *name, Shape s, Loc loc) {
  Node n = {.op = OP_STATE, .dtype = DT_F32, .shape = s, .loc = loc,
            .init = {.kind = INIT_ZEROS}, .name = arena_strdup(g->arena, name)};
  return append(g, &n);
}

int ir_hyper(Graph *g, HyperSlot slot, Loc loc) {
  Node n = {.op = OP_HYPER, .dtype = DT_F32, .loc = loc, .name = hyper_name[slot]};
  n.a.ints[0] = slot;
  n.a.nints = 1;
  return append(g, &n);
}

void ir_output(Graph *g, const char *name, int node, Loc loc) {
  arena_grow(g->arena, (void **)&g->out, &g->capout, g->nout + 1, sizeof(Output));
  g->out[g->nout++] = (Output){arena_strdup(g->arena, name), node, loc};
}

void ir_train_kv(Graph *g, const char *key, const char *value, Loc loc) {
  arena_grow(g->arena, (void **)&g->train, &g->captrain, g->ntrain + 1,
             sizeof(TrainKV));
  g->train[g->ntrain++] =
      (TrainKV){arena_strdup(g->arena, key), arena_strdup(g->arena, value), loc};
}

int ir_view_root(const Graph *g, int j) {
  while (op_info[g->node[j].op].flags & F_VIEW) j = g->node[j].in[0];
  return j;
}

int ir_copy_node(Graph *g, const Node *src, const int *map) {
  Node n = *src;
  n.in = arena_alloc(g->arena, sizeof(int) * (size_t)(n.nin ? n.nin : 1));
  for (int k = 0; k < n.nin; k++) n.in[k] = map ? map[src->in[k]] : src->in[k];
  if (src->name) n.name = arena_strdup(g->arena, src->name);
  if (src->data) {
    int64_t cnt = numel_eval(&src->shape, 1);
    double *d = arena_alloc(g->arena, sizeof(double) * (size_t)cnt);
    memcpy(d, src->data, sizeof(double) * (size_t)cnt);
    n.data = d;
  }
  return append(g, &n);
}

void ir_compact(Graph *g, const bool *keep) {
  int *map = malloc(sizeof(int) * (size_t)(g->nnode ? g->nnode : 1));
  int m = 0;
  for (int i = 0; i < g->nnode; i++) {
    map[i] = keep[i] ? m : -1;
    if (!keep[i]) continue;
    Node n = g->node[i];
    for (int k = 0; k < n.nin; k++) {
      if (map[n.in[k]] < 0) die("kept node %d uses dropped node %d", i, n.in[k]);
      n.in[k] = map[n.in[k]];
    }
    g->node[m++] = n;
  }
  for (int o = 0; o < g->nout; o++) {
    if (map[g->out[o].node] < 0) die("output %s dropped", g->out[o].name);
    g->out[o].node = map[g->out[o].node];
  }
  if (g->loss >= 0) {
    if (map[g->loss] < 0) die("loss dropped");
    g->loss = map[g->loss];
  }
  g->nnode = m;
  free(map);
}

void ir_replace_uses(Graph *g, int from, int to) {
  for (int i = 0; i < g->nnode; i++)
    for (int k = 0; k < g->node[i].nin; k++)
      if (g->node[i].in[k] == from) g->node[i].in[k] = to;
  for (int o = 0; o < g->nout; o++)
    if (g->out[o].node == from) g->out[o].node = to;
  if (g->loss == from) g->loss = to;
}

bool ir_is_root(const Node *n) {
  return n->op == OP_INPUT || n->op == OP_PARAM || n->op == OP_STATE ||
         (op_info[n->op].flags & F_EFFECT);
}

/* Whether attrs of transpose n swap its last two dimensions only. */
static bool swaps_last(const Node *n) {
  int r = n->shape.rank;
  for (int i = 0; i < r - 2; i++)
    if (n->a.ints[i] != i) return false;
  return r >= 2 && n->a.ints[r - 2] == r - 1 && n->a.ints[r - 1] == r - 2;
}

bool ir_read_through(const Graph *g, int t) {
  const Node *n = &g->node[t];
  if (n->op != OP_TRANSPOSE || n->dtype != DT_F32) return false;
  for (int o = 0; o < g->nout; o++)
    if (g->out[o].node == t) return false;
  if (g->loss == t) return false;
  bool used = false;
  for (int i = t + 1; i < g->nnode; i++)
    for (int k = 0; k < g->node[i].nin; k++) {
      if (g->node[i].in[k] != t) continue;
      if (g->node[i].op != OP_MATMUL) return false;
      if (k == 0 ? n->shape.rank != 2 : !swaps_last(n)) return false;
      used = true;
    }
  return used;
}

Graph *ir_clone(const Graph *g) {
  Graph *c = ir_new_graph(g->name);
  for (int i = 0; i < g->nnode; i++) ir_copy_node(c, &g->node[i], NULL);
  for (int o = 0; o < g->nout; o++) ir_output(c, g->out[o].name, g->out[o].node, g->out[o].loc);
  for (int t = 0; t < g->ntrain; t++)
    ir_train_kv(c, g->train[t].key, g->train[t].value, g->train[t].loc);
  c->loss = g->loss;
  return c;
}

void ir_fill_uses(Graph *g) {
  for (int i = 0; i < g->nnode; i++) g->node[i].uses = 0;
  for (int i = 0; i < g->nnode; i++)
    for (int k = 0; k < g->node[i].nin; k++) g->node[g->node[i].in[k]].uses++;
  for (int o = 0; o < g->nout; o++) g->node[g->out[o].node].uses++;
  if (g->loss >= 0) g->node[g->loss].uses++;
}

static int find_named(const Graph *g, Op op, const char *name) {
  for (int i = 0; i < g->nnode; i++)
    if (g->node[i].op == op && strcmp(g->node[i].name, name) == 0) return i;
  return -1;
}

int ir_find_input(const Graph *g, const char *name) {
  return find_named(g, OP_INPUT, name);
}

int ir_find_param(const Graph *g, const char *name) {
  return find_named(g, OP_PARAM, name);
}

int ir_find_output(const Graph *g, const char *name) {
  for (int o = 0; o < g->nout; o++)
    if (strcmp(g->out[o].name, name) == 0) return g->out[o].node;
  return -1;
}

static int *list_op(const Graph *g, Op op, int *n) {
  int *v = arena_alloc(g->arena, sizeof(int) * (size_t)(g->nnode + 1));
  *n = 0;
  for (int i = 0; i < g->nnode; i++)
    if (g->node[i].op == op) v[(*n)++] = i;
  return v;
}

int *ir_inputs(const Graph *g, int *n) { return list_op(g, OP_INPUT, n); }
int *ir_params(const Graph *g, int *n) { return list_op(g, OP_PARAM, n); }

static uint64_t hash_tensor(uint64_t h, const char *kind, const Node *n,
                            const char *name) {
  h = hash_bytes(h, kind, strlen(kind) + 1);
  h = hash_bytes(h, name, strlen(name) + 1);
  h = hash_bytes(h, &n->dtype, sizeof n->dtype);
  h = hash_bytes(h, &n->shape.rank, sizeof n->shape.rank);
  return hash_bytes(h, n->shape.d, sizeof(int64_t) * (size_t)n->shape.rank);
}

uint64_t ir_signature(const Graph *g) {
  uint64_t h = HASH_INIT;
  for (int i = 0; i < g->nnode; i++) {
    const Node *n = &g->node[i];
    if (n->op == OP_INPUT) h = hash_tensor(h, "input", n, n->name);
    if (n->op == OP_PARAM) h = hash_tensor(h, "param", n, n->name);
  }
  for (int o = 0; o < g->nout; o++)
    h = hash_tensor(h, "output", &g->node[g->out[o].node], g->out[o].name);
  return h;
}

int64_t ir_param_count(const Graph *g) {
  int64_t c = 0;
  for (int i = 0; i < g->nnode; i++)
    if (g->node[i].op == OP_PARAM) c += numel_eval(&g->node[i].shape, 1);
  return c;
}
