/* autodiff.c — reverse-mode automatic differentiation as a graph pass.
 *
 * Problem: turn a forward graph with a scalar loss into a training step:
 * the loss, the gradient of the loss with respect to every parameter, and
 * the optimiser's update of every parameter, all as ordinary IR that the
 * rest of the pipeline optimises and compiles like any other graph.
 *
 * Approach: the classic reverse sweep. Seed dL/dL = 1, then visit nodes
 * from the loss back to the sources; each op's gradient rule (the `grad`
 * column of ops.def, defined here) reads the gradient of its result and
 * adds nodes for the gradient of each operand. Gradients that reach one
 * node along several paths are summed. Only nodes on a path from a
 * parameter to the loss are visited:
 *
 *      W ─┐                      dW = x^T · dh
 *   x ─ matmul ─ h ─ relu ─ L     dh = dy * (h > 0)
 *                                 dy = 1
 *
 * Every node a rule creates carries the Loc of the forward node, so a
 * message about a gradient points at the line that caused it. Broadcasting
 * in the forward pass becomes a sum over the broadcast axes (sum_to).
 *
 * Then the optimiser (optim.c) appends, for each parameter, the update as
 * IR: new state and new weights, written back with `assign`.
 *
 * Cost: O(nodes) rules, each adding a few nodes.
 */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

/* ---- helpers for gradient rules ---- */

static Loc here;  /* Loc of the forward node whose rule runs */

static int add_node(Graph *g, Op op, const int *in, int nin, Attrs a) {
  char why[256];
  int i = ir_add(g, op, in, nin, &a, here, why);
  if (i < 0) die("autodiff built an invalid %s: %s", op_info[op].name, why);
  return i;
}

static int un(Graph *g, Op op, int x) { return add_node(g, op, &x, 1, (Attrs){0}); }
static int bin(Graph *g, Op op, int x, int y) {
  return add_node(g, op, (int[]){x, y}, 2, (Attrs){0});
}

static int scalar(Graph *g, double v) {
  return ir_const(g, DT_F32, (Shape){0}, v, NULL, here);
}

static int shaped(Graph *g, Op op, int x, Shape s) {
  char why[256];
  int i = ir_add_shaped(g, op, &x, 1, NULL, g->node[x].dtype, s, here, why);
  if (i < 0) die("autodiff built an invalid %s: %s", op_info[op].name, why);
  return i;
}

static int reshape_to(Graph *g, int x, Shape s) {
  if (shape_equal(&g->node[x].shape, &s)) return x;
  return shaped(g, OP_RESHAPE, x, s);
}

/* Sum x (a gradient of the broadcast shape) down to shape s, undoing numpy
 * broadcasting: leading axes are summed away, size-1 axes summed keeping
 * their place. */
static int sum_to(Graph *g, int x, Shape s) {
  Shape xs = g->node[x].shape;
  if (shape_equal(&xs, &s)) return x;
  Attrs a = {.ints = {1}, .nints = 1};  /* keepdims */
  int lead = xs.rank - s.rank;
  for (int i = 0; i < xs.rank; i++) {
    int j = i - lead;
    if (j < 0 || (s.d[j] == 1 && xs.d[i] != 1)) a.ints[a.nints++] = i;
  }
  int r = a.nints > 1 ? add_node(g, OP_SUM, &x, 1, a) : x;
  return reshape_to(g, r, s);
}

/* A value of shape s broadcast from x, which has the shape of a reduction
 * result (keepdims or not): reshape to keepdims form, then broadcast. */
static int unreduce(Graph *g, int x, const Node *red, Shape s) {
  Shape k = s;
  bool all = red->a.nints <= 1;
  for (int i = 0; i < s.rank; i++) {
    bool r = all;
    for (int j = 1; j < red->a.nints; j++) r |= red->a.ints[j] == i;
    if (r) k.d[i] = 1;
  }
  return shaped(g, OP_BROADCAST, reshape_to(g, x, k), s);
}

/* ---- gradient rules ----
 * A rule gets the forward node n (index i) and dy, the gradient of its
 * result, and reports the gradient of operand k with acc(ad, k, dx). */

typedef struct AD {
  Graph *g;
  int *grad;      /* gradient node of each forward node, or -1 */
  bool *needs;    /* node depends on a parameter */
  int node;       /* the forward node whose rule runs */
} AD;

static void acc(AD *ad, int k, int dx) {
  Graph *g = ad->g;
  int x = g->node[ad->node].in[k];
  if (!ad->needs[x]) return;
  dx = sum_to(g, dx, g->node[x].shape);
  ad->grad[x] = ad->grad[x] < 0 ? dx : bin(g, OP_ADD, ad->grad[x], dx);
}

#define N_(ad) (&(ad)->g->node[(ad)->node])
#define IN(ad, k) (N_(ad)->in[k])

static void grad_none(AD *ad, int dy) { (void)ad, (void)dy; }

static void grad_neg(AD *ad, int dy) { acc(ad, 0, un(ad->g, OP_NEG, dy)); }

static void grad_exp(AD *ad, int dy) { acc(ad, 0, bin(ad->g, OP_MUL, dy, ad->node)); }

static void grad_log(AD *ad, int dy) { acc(ad, 0, bin(ad->g, OP_DIV, dy, IN(ad, 0))); }

static void grad_sqrt(AD *ad, int dy) {  /* dy / (2 sqrt x) */
  Graph *g = ad->g;
  acc(ad, 0, bin(g, OP_DIV, bin(g, OP_MUL, dy, scalar(g, 0.5)), ad->node));
}

/* d|x| = sign(x) = (x > 0) - (x < 0) */
static void grad_abs(AD *ad, int dy) {
  Graph *g = ad->g;
  int x = IN(ad, 0), z = scalar(g, 0);
  int sign = bin(g, OP_SUB, bin(g, OP_GT, x, z), bin(g, OP_GT, z, x));
  acc(ad, 0, bin(g, OP_MUL, dy, sign));
}

/* dy where y = relu(x) > 0 (the same as x > 0): reading y, not x, lets x
 * be computed inline in relu's kernel (a bias add, say) and never stored. */
static void grad_relu(AD *ad, int dy) {
  Graph *g = ad->g;
  acc(ad, 0, bin(g, OP_MUL, dy, bin(g, OP_GT, ad->node, scalar(g, 0))));
}

/* slope 1 where x > 0, alpha elsewhere: alpha + (1 - alpha) * (x > 0) */
static void grad_leaky_relu(AD *ad, int dy) {
  Graph *g = ad->g;
  double alpha = N_(ad)->a.f[0];
  int step = bin(g, OP_GT, IN(ad, 0), scalar(g, 0));
  int slope = bin(g, OP_ADD, bin(g, OP_MUL, step, scalar(g, 1 - alpha)), scalar(g, alpha));
  acc(ad, 0, bin(g, OP_MUL, dy, slope));
}

static void grad_sigmoid(AD *ad, int dy) {  /* dy * y * (1 - y) */
  Graph *g = ad->g;
  int y = ad->node;
  acc(ad, 0, bin(g, OP_MUL, dy, bin(g, OP_MUL, y, bin(g, OP_SUB, scalar(g, 1), y))));
}

static void grad_tanh(AD *ad, int dy) {  /* dy * (1 - y^2) */
  Graph *g = ad->g;
  int y = ad->node;
  acc(ad, 0, bin(g, OP_MUL, dy, bin(g, OP_SUB, scalar(g, 1), bin(g, OP_MUL, y, y))));
}

static void grad_add(AD *ad, int dy) {
  acc(ad, 0, dy);
  acc(ad, 1, dy);
}

static void grad_sub(AD *ad, int dy) {
  acc(ad, 0, dy);
  acc(ad, 1, un(ad->g, OP_NEG, dy));
}

static void grad_mul(AD *ad, int dy) {
  acc(ad, 0, bin(ad->g, OP_MUL, dy, IN(ad, 1)));
  acc(ad, 1, bin(ad->g, OP_MUL, dy, IN(ad, 0)));
}

/* d(a/b) = dy/b, -dy * (a/b) / b */
static void grad_div(AD *ad, int dy) {
  Graph *g = ad->g;
  int b = IN(ad, 1);
  acc(ad, 0, bin(g, OP_DIV, dy, b));
  acc(ad, 1, un(g, OP_NEG, bin(g, OP_DIV, bin(g, OP_MUL, dy, ad->node), b)));
}

/* The gradient goes to the operand that was chosen: a where a >= b (ties
 * to the first operand, as the result equals it). */
static void grad_maximum(AD *ad, int dy) {
  Graph *g = ad->g;
  int pick = bin(g, OP_GE, IN(ad, 0), IN(ad, 1));
  acc(ad, 0, bin(g, OP_MUL, dy, pick));
  acc(ad, 1, bin(g, OP_MUL, dy, bin(g, OP_SUB, scalar(g, 1), pick)));
}

static void grad_minimum(AD *ad, int dy) {
  Graph *g = ad->g;
  int pick = bin(g, OP_GE, IN(ad, 1), IN(ad, 0));
  acc(ad, 0, bin(g, OP_MUL, dy, pick));
  acc(ad, 1, bin(g, OP_MUL, dy, bin(g, OP_SUB, scalar(g, 1), pick)));
}

static void grad_sum(AD *ad, int dy) {
  acc(ad, 0, unreduce(ad->g, dy, N_(ad), ad->g->node[IN(ad, 0)].shape));
}

/* The number of elements a mean averaged, as a graph scalar: static part
 * times the batch size when a reduced axis depends on N. */
static int mean_count(Graph *g, const Node *n, const Shape *xs) {
  int64_t k = 1;
  bool sym = false;
  for (int i = 0; i < xs->rank; i++) {
    bool r = n->a.nints <= 1;
    for (int j = 1; j < n->a.nints; j++) r |= n->a.ints[j] == i;
    if (!r) continue;
    k *= xs->d[i] < 0 ? -xs->d[i] : xs->d[i];
    sym |= xs->d[i] < 0;
  }
  int c = scalar(g, (double)k);
  if (sym) c = bin(g, OP_MUL, c, add_node(g, OP_BATCH, NULL, 0, (Attrs){0}));
  return c;
}

static void grad_mean(AD *ad, int dy) {
  Graph *g = ad->g;
  Shape xs = g->node[IN(ad, 0)].shape;
  int cnt = mean_count(g, N_(ad), &xs);
  acc(ad, 0, unreduce(g, bin(g, OP_DIV, dy, cnt), N_(ad), xs));
}

/* The gradient flows to every element equal to the maximum. */
static void grad_max(AD *ad, int dy) {
  Graph *g = ad->g;
  Shape xs = g->node[IN(ad, 0)].shape;
  int y = unreduce(g, ad->node, N_(ad), xs);
  int hit = bin(g, OP_GE, IN(ad, 0), y);
  acc(ad, 0, bin(g, OP_MUL, unreduce(g, dy, N_(ad), xs), hit));
}

/* softmax: dx = y * (dy - sum(dy * y, axis)) */
static void grad_softmax(AD *ad, int dy) {
  Graph *g = ad->g;
  int y = ad->node;
  Attrs a = {.ints = {1, N_(ad)->a.ints[0]}, .nints = 2};
  int dot = bin(g, OP_MUL, dy, y);
  int s = add_node(g, OP_SUM, &dot, 1, a);
  acc(ad, 0, bin(g, OP_MUL, y, bin(g, OP_SUB, dy, s)));
}

/* log_softmax: dx = dy - exp(y) * sum(dy, axis) */
static void grad_log_softmax(AD *ad, int dy) {
  Graph *g = ad->g;
  Attrs a = {.ints = {1, N_(ad)->a.ints[0]}, .nints = 2};
  int s = add_node(g, OP_SUM, &dy, 1, a);
  acc(ad, 0, bin(g, OP_SUB, dy, bin(g, OP_MUL, un(g, OP_EXP, ad->node), s)));
}

static void grad_reshape(AD *ad, int dy) {
  acc(ad, 0, reshape_to(ad->g, dy, ad->g->node[IN(ad, 0)].shape));
}

/* The blocked layout's conversions are each other's adjoints: the
 * padding lanes, constant zeros, carry no gradient. (conv2d_blocked has
 * no rule: the layout pass runs after autodiff, outside training.) */
static void grad_to_blocked(AD *ad, int dy) {
  const Node *n = N_(ad);
  int64_t a = n->a.ints[0], C = ad->g->node[n->in[0]].shape.d[a];
  acc(ad, 0, add_node(ad->g, OP_FROM_BLOCKED, &dy, 1, (Attrs){.ints = {a, C}, .nints = 2}));
}

static void grad_from_blocked(AD *ad, int dy) {
  acc(ad, 0, add_node(ad->g, OP_TO_BLOCKED, &dy, 1, (Attrs){.ints = {N_(ad)->a.ints[0]}, .nints = 1}));
}

static void grad_broadcast(AD *ad, int dy) { acc(ad, 0, dy); /* acc sums to shape */ }

static void grad_transpose(AD *ad, int dy) {
  const Node *n = N_(ad);
  Attrs inv = {.nints = n->a.nints};
  for (int i = 0; i < n->a.nints; i++) inv.ints[n->a.ints[i]] = i;
  acc(ad, 0, add_node(ad->g, OP_TRANSPOSE, &dy, 1, inv));
}

static void grad_concat(AD *ad, int dy) {
  const Node *n = N_(ad);
  int64_t axis = n->a.ints[0], start = 0;
  for (int k = 0; k < n->nin; k++) {
    int64_t len = ad->g->node[n->in[k]].shape.d[axis];
    Attrs a = {.ints = {axis, start, start + len}, .nints = 3};
    acc(ad, k, add_node(ad->g, OP_SLICE, &dy, 1, a));
    start += len;
    n = N_(ad);  /* the node array may have moved */
  }
}

static int swap_last(Graph *g, int x) {
  int r = g->node[x].shape.rank;
  Attrs a = {.nints = r};
  for (int i = 0; i < r; i++) a.ints[i] = i;
  a.ints[r - 2] = r - 1;
  a.ints[r - 1] = r - 2;
  return add_node(g, OP_TRANSPOSE, &x, 1, a);
}

/* C = A B: dA = dC B^T, dB = A^T dC. When A has more dims than B (rows of
 * a [.., M, K] tensor times a [K, P] matrix), dB contracts over every row:
 * the rows are flattened first. When B has more (one matrix A times a
 * batch), dA sums the batch's products. */
static void grad_matmul(AD *ad, int dy) {
  Graph *g = ad->g;
  int a = IN(ad, 0), b = IN(ad, 1);
  if (ad->needs[a])
    acc(ad, 0, sum_to(g, bin(g, OP_MATMUL, dy, swap_last(g, b)), g->node[a].shape));
  if (!ad->needs[b]) return;
  Shape as = g->node[a].shape, bs = g->node[b].shape;
  if (bs.rank == 2 && as.rank > 2) {
    Shape rows = {.rank = 2, .d = {0, as.d[as.rank - 1]}};
    Size nr = shape_numel(&as);
    rows.d[0] = (nr.sym ? -1 : 1) * (nr.k / as.d[as.rank - 1]);
    Shape drows = {.rank = 2, .d = {rows.d[0], bs.d[1]}};
    a = reshape_to(g, a, rows);
    dy = reshape_to(g, dy, drows);
  }
  acc(ad, 1, bin(g, OP_MATMUL, swap_last(g, a), dy));
}

/* slice: the gradient is dy placed in its window of zeros. */
static void grad_slice(AD *ad, int dy) {
  Graph *g = ad->g;
  const Node *n = N_(ad);
  int64_t axis = n->a.ints[0], lo = n->a.ints[1], hi = n->a.ints[2];
  Shape xs = g->node[IN(ad, 0)].shape;
  int parts[3], np = 0;
  Shape z = xs;
  if (lo > 0) {
    z.d[axis] = lo;
    parts[np++] = ir_const(g, DT_F32, z, 0, NULL, here);
  }
  parts[np++] = dy;
  if (hi < xs.d[axis]) {
    z.d[axis] = xs.d[axis] - hi;
    parts[np++] = ir_const(g, DT_F32, z, 0, NULL, here);
  }
  Attrs a = {.ints = {axis}, .nints = 1};
  acc(ad, 0, np > 1 ? add_node(g, OP_CONCAT, parts, np, a) : dy);
}

/* cross_entropy(logits, labels) per sample: dlogits = dy * (softmax - onehot) */
static void grad_cross_entropy(AD *ad, int dy) {
  Graph *g = ad->g;
  const Node *n = N_(ad);
  int logits = n->in[0], labels = n->in[1];
  Shape ls = g->node[logits].shape;
  int axis = ls.rank - 1;
  int sm = add_node(g, OP_SOFTMAX, &logits, 1, (Attrs){.ints = {axis}, .nints = 1});
  int oh = add_node(g, OP_ONE_HOT, &labels, 1, (Attrs){.ints = {ls.d[axis]}, .nints = 1});
  Shape k = ls;
  k.d[axis] = 1;
  int d = shaped(g, OP_BROADCAST, reshape_to(g, dy, k), ls);
  acc(ad, 0, bin(g, OP_MUL, d, bin(g, OP_SUB, sm, oh)));
}

/* dropout is linear in x with a fixed mask: its gradient is the same
 * dropout (same salt, so the same mask) applied to dy. */
static void grad_dropout(AD *ad, int dy) {
  acc(ad, 0, add_node(ad->g, OP_DROPOUT, &dy, 1, N_(ad)->a));
}

/* running_stat is its batch statistic (operand 0) while training; the
 * running average and the sample only feed the average's update. */
static void grad_running_stat(AD *ad, int dy) { acc(ad, 0, dy); }

/* conv2d(x, w): dx and dw are ops of their own (conv2d_grad_input and
 * conv2d_grad_weight) that take the forward attributes plus what floor
 * division loses: the input's H, W for dx, the kernel's KH, KW for dw. */
static void grad_conv2d(AD *ad, int dy) {
  Graph *g = ad->g;
  int x = IN(ad, 0), w = IN(ad, 1);
  Attrs a = N_(ad)->a;
  a.nints = 9;
  if (ad->needs[x]) {
    a.ints[7] = g->node[x].shape.d[2];
    a.ints[8] = g->node[x].shape.d[3];
    acc(ad, 0, add_node(g, OP_CONV2D_GRAD_INPUT, (int[]){dy, w}, 2, a));
  }
  if (ad->needs[w]) {
    a.ints[7] = g->node[w].shape.d[2];
    a.ints[8] = g->node[w].shape.d[3];
    acc(ad, 1, add_node(g, OP_CONV2D_GRAD_WEIGHT, (int[]){x, dy}, 2, a));
  }
}

/* im2col and col2im are each other's adjoint: the gradient of one is the
 * other with the same window (col2im also takes the image's H, W). */
static void grad_im2col(AD *ad, int dy) {
  Attrs a = N_(ad)->a;
  const Shape *xs = &ad->g->node[IN(ad, 0)].shape;
  a.ints[8] = xs->d[2];
  a.ints[9] = xs->d[3];
  a.nints = 10;
  acc(ad, 0, add_node(ad->g, OP_COL2IM, &dy, 1, a));
}

static void grad_col2im(AD *ad, int dy) {
  Attrs a = N_(ad)->a;
  a.ints[8] = a.ints[9] = 0;
  a.nints = 8;
  acc(ad, 0, add_node(ad->g, OP_IM2COL, &dy, 1, a));
}

/* max_pool2d: dy goes to the first maximum of each window. */
static void grad_max_pool2d(AD *ad, int dy) {
  acc(ad, 0, add_node(ad->g, OP_MAX_POOL2D_GRAD, (int[]){IN(ad, 0), dy}, 2, N_(ad)->a));
}

/* avg_pool2d: dy spread over each window; the input's H, W as attributes. */
static void grad_avg_pool2d(AD *ad, int dy) {
  Attrs a = N_(ad)->a;
  const Shape *xs = &ad->g->node[IN(ad, 0)].shape;
  a.ints[6] = xs->d[2];
  a.ints[7] = xs->d[3];
  a.nints = 8;
  acc(ad, 0, add_node(ad->g, OP_AVG_POOL2D_GRAD, &dy, 1, a));
}

/* gather and scatter_add are each other's adjoint in the table (rows)
 * operand; the ids are integers and get no gradient. The table's gradient
 * is a scatter_add: work in proportion to the ids, not to the table. */
static void grad_gather(AD *ad, int dy) {
  Attrs a = {.ints = {ad->g->node[IN(ad, 0)].shape.d[0]}, .nints = 1};
  acc(ad, 0, add_node(ad->g, OP_SCATTER_ADD, (int[]){dy, IN(ad, 1)}, 2, a));
}

static void grad_scatter_add(AD *ad, int dy) {
  acc(ad, 0, add_node(ad->g, OP_GATHER, (int[]){dy, IN(ad, 1)}, 2, (Attrs){0}));
}

/* A recurrent layer S = rec(xp, Whh): one backward loop (the _grad op)
 * gives, per step, the gradient of the hidden projection h[t-1] Whh
 * (dhp) and of the input projection (dxp: the same columns but for the
 * GRU, whose candidate gate sees r * (h Whh) rather than h Whh). Then
 * dWhh = sum over samples and steps of h[t-1]^T dhp, one matrix product
 * over the [N*T, H] rows of h shifted by one step (zero before the
 * first). */
static int cols(Graph *g, int x, int64_t lo, int64_t hi) {
  if (lo == 0 && hi == g->node[x].shape.d[2]) return x;
  return add_node(g, OP_SLICE, &x, 1, (Attrs){.ints = {2, lo, hi}, .nints = 3});
}

static int shifted_h(Graph *g, int s, const Cell *c, int64_t H, bool rev) {
  Shape hs = g->node[s].shape;
  int64_t T = hs.d[1];
  int h = cols(g, s, c->h * H, (c->h + 1) * H);
  hs.d[1] = 1;
  hs.d[2] = H;
  int zero = ir_const(g, DT_F32, hs, 0, NULL, here);
  if (T == 1) return zero;
  int body = add_node(g, OP_SLICE, &h, 1,
                      (Attrs){.ints = {1, rev ? 1 : 0, rev ? T : T - 1}, .nints = 3});
  int parts[2] = {rev ? body : zero, rev ? zero : body};
  return add_node(g, OP_CONCAT, parts, 2, (Attrs){.ints = {1}, .nints = 1});
}

/* dy itself, or, when it is the gradient of the h columns alone placed
 * in zeros (a slice's gradient), that gradient [N, T, H]: the _grad op
 * then need not read a tensor of zeros. */
static int h_gradient(const Graph *g, int dy, const Cell *c, int64_t H) {
  const Node *d = &g->node[dy];
  if (c->state == 1 || c->h != c->state - 1 || d->op != OP_CONCAT || d->nin != 2 ||
      d->a.ints[0] != 2)
    return dy;
  const Node *z = &g->node[d->in[0]], *x = &g->node[d->in[1]];
  bool zeros = z->op == OP_CONST && !z->data && z->a.f[0] == 0;
  return zeros && x->shape.d[2] == H ? d->in[1] : dy;
}

static void grad_recur(AD *ad, int dy) {
  Graph *g = ad->g;
  const Node *n = N_(ad);
  const Cell *c = ir_cell(n->op);
  int s = ad->node, xp = IN(ad, 0), w = IN(ad, 1);
  int64_t H = g->node[w].shape.d[0], T = n->shape.d[1];
  bool rev = n->a.ints[0];
  dy = h_gradient(g, dy, c, H);
  int r = add_node(g, c->grad_op, (int[]){dy, s, w}, 3, n->a); /* n moves */
  int dhp = cols(g, r, 0, c->gates * H);
  if (ad->needs[xp]) {
    int dxp = dhp;
    if (c->op == OP_GRU)
      dxp = add_node(g, OP_CONCAT, (int[]){cols(g, r, 0, 2 * H), cols(g, r, 3 * H, 4 * H)}, 2,
                     (Attrs){.ints = {2}, .nints = 1});
    acc(ad, 0, dxp);
  }
  if (!ad->needs[w]) return;
  int64_t rows = g->node[s].shape.d[0] * T; /* N*T rows: -T means T*N */
  int hprev = reshape_to(g, shifted_h(g, s, c, H, rev), (Shape){.rank = 2, .d = {rows, H}});
  int d2 = reshape_to(g, dhp, (Shape){.rank = 2, .d = {rows, c->gates * H}});
  acc(ad, 1, bin(g, OP_MATMUL, swap_last(g, hprev), d2));
}

typedef void GradFn(AD *ad, int dy);
static GradFn *const grad_rule[] = {
#define OP(id, nm, nin, fc, fl, ints, floats, shape, grad, ...) [OP_##id] = grad,
#include "ops.def"
#undef OP
};
_Static_assert(sizeof grad_rule / sizeof grad_rule[0] == OP_COUNT,
               "every op has a gradient column");

/* ---- the pass ---- */

/* needs[i]: node i depends on a parameter (so its gradient matters). */
static bool *fill_needs(const Graph *g) {
  bool *needs = calloc((size_t)g->nnode + 1, 1);
  for (int i = 0; i < g->nnode; i++) {
    const Node *n = &g->node[i];
    needs[i] = n->op == OP_PARAM;
    if (op_info[n->op].flags & F_NOGRAD) continue;
    for (int k = 0; k < n->nin; k++) needs[i] |= needs[n->in[k]];
  }
  return needs;
}

/* Nodes on the path from a parameter to the loss whose op has no gradient
 * rule: report each (at its source line) before anything is built. */
static bool check_rules(const Graph *g, const bool *needs, const bool *live) {
  bool ok = true;
  for (int i = 0; i < g->nnode; i++) {
    const Node *n = &g->node[i];
    if (!needs[i] || !live[i] || n->op == OP_PARAM || grad_rule[n->op] != grad_none) continue;
    if (op_info[n->op].flags & F_NOGRAD) continue;
    diag_error(n->loc, "%s has no gradient, but the loss depends on parameters through it",
               op_info[n->op].name);
    ok = false;
  }
  return ok;
}

/* live[i]: the loss depends on node i. */
static bool *fill_live(const Graph *g, int loss) {
  bool *live = calloc((size_t)g->nnode + 1, 1);
  live[loss] = true;
  for (int i = loss; i >= 0; i--)
    if (live[i])
      for (int k = 0; k < g->node[i].nin; k++) live[g->node[i].in[k]] = true;
  return live;
}

int *ad_gradients(Graph *g, int loss) {
  if (loss < 0 || g->node[loss].shape.rank != 0)
    die("autodiff needs a scalar loss node");
  int n0 = g->nnode;
  AD ad = {.g = g, .needs = fill_needs(g)};
  bool *live = fill_live(g, loss);
  int *grad = NULL;
  if (check_rules(g, ad.needs, live)) {
    ad.grad = malloc(sizeof(int) * (size_t)(n0 + 1));
    for (int i = 0; i < n0; i++) ad.grad[i] = -1;
    here = g->node[loss].loc;
    ad.grad[loss] = scalar(g, 1.0);
    for (int i = loss; i >= 0; i--) {
      if (ad.grad[i] < 0 || !ad.needs[i] || g->node[i].op == OP_PARAM) continue;
      ad.node = i;
      here = g->node[i].loc;
      grad_rule[g->node[i].op](&ad, ad.grad[i]);
    }
    grad = ad.grad;
  }
  free(ad.needs);
  free(live);
  return grad;
}

/* ---- modes ----
 * Two ops mean one thing while training and another outside it. dropout
 * draws a mask while training and is the identity outside. running_stat
 * (batch norm's mean and variance) is the batch statistic while training,
 * and the training step also moves the running average toward it; outside
 * training it is the running average. */

/* The training step: each running_stat becomes its batch statistic, and
 * the step writes the new running average,
 *
 *     assign avg, (1 - momentum) * avg + momentum * sample
 *
 * placed after every node that exists, so after every read of avg (the
 * optimiser never updates avg: nothing on the way to the loss reads it). */
static void update_running_stats(Graph *g) {
  int n0 = g->nnode;
  for (int i = 0; i < n0; i++) {
    if (g->node[i].op != OP_RUNNING_STAT) continue;
    const Node *n = &g->node[i];
    int batch = n->in[0], avg = n->in[1], sample = n->in[2];
    double m = n->a.f[0];
    here = n->loc;
    ir_replace_uses(g, i, batch);
    int keep = bin(g, OP_MUL, avg, scalar(g, 1 - m));
    int avg2 = bin(g, OP_ADD, keep, bin(g, OP_MUL, sample, scalar(g, m)));
    bin(g, OP_ASSIGN, avg, avg2);
  }
}

/* Outside training each running_stat reads its running average. */
static void use_running_stats(Graph *g) {
  for (int i = 0; i < g->nnode; i++)
    if (g->node[i].op == OP_RUNNING_STAT) ir_replace_uses(g, i, g->node[i].in[1]);
}

/* Dropout is the identity outside training. */
static void drop_dropout(Graph *g) {
  for (int i = 0; i < g->nnode; i++)
    if (g->node[i].op == OP_DROPOUT) ir_replace_uses(g, i, g->node[i].in[0]);
}

/* requires: g->loss; provides: the training step (gradients, update,
 * output "loss"); invalidates: plan. */
void pass_autodiff(Graph *g) {
  if (g->loss < 0) {
    diag_error((Loc){0}, "the model has no loss: add `loss = ...` to its train section");
    return;
  }
  OptimSpec o;
  if (!optim_spec(g, &o)) {
    diag_error((Loc){0}, "unknown optimizer in the train section");
    return;
  }
  update_running_stats(g);
  int *grad = ad_gradients(g, g->loss);
  if (!grad) return;
  optim_append(g, &o, grad);
  free(grad);
  g->nout = 0; /* the step's only result is its loss */
  ir_output(g, "loss", g->loss, g->node[g->loss].loc);
}

/* requires: nothing; provides: a graph without training-only nodes. */
void pass_inference(Graph *g) {
  drop_dropout(g);
  use_running_stats(g);
  g->loss = -1;
}

/* requires: nothing; provides: outputs plus "loss" (when there is one). */
void pass_evaluation(Graph *g) {
  drop_dropout(g);
  use_running_stats(g);
  if (g->loss >= 0 && ir_find_output(g, "loss") < 0)
    ir_output(g, "loss", g->loss, g->node[g->loss].loc);
}
