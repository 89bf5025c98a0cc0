/* convgemm.c — convolutions as matrix products (im2col).
 *
 * Problem: conv2d and its two gradients lower to loop nests that do one
 * multiply-add per innermost iteration with strided, clamped loads; the
 * matmul lowering (a KGemm run by a packed micro-kernel) is many times
 * faster per flop. A convolution with groups == 1 is a matrix product per
 * image once every window of the image is laid out as a column:
 *
 *     col = im2col(x)              [N, C*KH*KW, OH*OW]
 *     y   = w x col                w as [O, C*KH*KW]: [N, O, OH*OW] = NCHW
 *     dw  = sum over n of dy x col^T          dy as [N, O, OH*OW]
 *     dx  = col2im(w^T x dy)
 *
 * Approach: rebuild the node array in order, copying each node and
 * emitting in place of each groups == 1 conv2d, conv2d_grad_input and
 * conv2d_grad_weight the chain below:
 *
 *     conv2d(x, w)             reshape(matmul(w, col), y)
 *     conv2d_grad_weight(x,dy) reshape(sum(matmul(dy, transpose(col,
 *                                  [0,2,1])), axis 0), dw)
 *     conv2d_grad_input(dy,w)  col2im(matmul(transpose(w, [1,0]), dy))
 *
 * One matrix w serves every image (matmul of a matrix by a batch), so the
 * results come out in NCHW order with no transpose of data, and each
 * product is wide (OH*OW columns, the micro-kernel's vector direction)
 * even when the layer has few channels. Both transposes are read in place
 * by their products (ir_read_through): none is materialised.
 *
 * Rebuilding in order keeps the array topological with no dead nodes left
 * behind (the pass runs after dce). A unary node equal to one already in
 * the new graph (same op, operand, attributes, shape) is reused, so the
 * forward conv and its weight gradient share one im2col of x, except with
 * sample tiling (g->tile, passes/tile.c): there the weight gradient
 * builds its own, so that neither is kept across the step. Grouped and
 * depthwise convolutions are left as they are: their products would be
 * many small ones.
 *
 * Cost: O(nodes) plus a scan of the new graph per created node; the
 * columns take KH*KW times the image's memory.
 *
 * requires: shapes; provides: no groups == 1 convolution ops;
 * invalidates: uses, fuse, plan.
 */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

static Loc here; /* Loc of the convolution being rewritten */

/* An existing unary node of g equal to the one described, or -1. */
static int find_same(const Graph *g, Op op, int x, const Attrs *a, const Shape *s) {
  for (int i = 0; i < g->nnode; i++) {
    const Node *n = &g->node[i];
    if (n->op != op || n->nin != 1 || n->in[0] != x || n->a.nints != a->nints) continue;
    if (memcmp(n->a.ints, a->ints, sizeof(int64_t) * (size_t)a->nints) != 0) continue;
    if (!s || shape_equal(&n->shape, s)) return i;
  }
  return -1;
}

static int unary(Graph *g, Op op, int x, Attrs a) {
  int i = find_same(g, op, x, &a, NULL);
  if (i >= 0) return i;
  char why[256];
  i = ir_add(g, op, &x, 1, &a, here, why);
  if (i < 0) die("convgemm built an invalid %s: %s", op_info[op].name, why);
  return i;
}

static int reshape(Graph *g, int x, Shape s) {
  if (shape_equal(&g->node[x].shape, &s)) return x;
  Attrs none = {0};
  int i = find_same(g, OP_RESHAPE, x, &none, &s);
  if (i >= 0) return i;
  char why[256];
  i = ir_add_shaped(g, OP_RESHAPE, &x, 1, NULL, g->node[x].dtype, s, here, why);
  if (i < 0) die("convgemm built an invalid reshape: %s", why);
  return i;
}

static int transpose(Graph *g, int x, int rank, const int64_t *perm) {
  Attrs a = {.nints = rank};
  memcpy(a.ints, perm, sizeof(int64_t) * (size_t)rank);
  return unary(g, OP_TRANSPOSE, x, a);
}

static int matmul(Graph *g, int a, int b) {
  char why[256];
  int i = ir_add(g, OP_MATMUL, (int[]){a, b}, 2, NULL, here, why);
  if (i < 0) die("convgemm built an invalid matmul: %s", why);
  return i;
}

static const int64_t T2[] = {1, 0}, T3[] = {0, 2, 1};

#define SHAPE(...) \
  ((Shape){.rank = (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), .d = {__VA_ARGS__}})

/* im2col of image x for a conv node c with kernel KH x KW: the one
 * already built for x if there is one, unless fresh. */
static int columns(Graph *g, const Node *c, int x, int64_t KH, int64_t KW, bool fresh) {
  Attrs a = {.nints = 8};
  memcpy(a.ints, c->a.ints, sizeof(int64_t) * 6);
  a.ints[6] = KH, a.ints[7] = KW;
  if (!fresh) return unary(g, OP_IM2COL, x, a);
  char why[256];
  int i = ir_add(g, OP_IM2COL, &x, 1, &a, here, why);
  if (i < 0) die("convgemm built an invalid im2col: %s", why);
  return i;
}

/* dy [N, O, OH, OW] as [N, O, OH*OW]. */
static int dy_flat(Graph *g, int dy) {
  const int64_t *d = g->node[dy].shape.d;
  return reshape(g, dy, SHAPE(d[0], d[1], d[2] * d[3]));
}

/* w [O, C, KH, KW] as [O, C*KH*KW]. */
static int w_rows(Graph *g, int w) {
  const int64_t *d = g->node[w].shape.d;
  return reshape(g, w, SHAPE(d[0], d[1] * d[2] * d[3]));
}

/* The replacement of conv-family node c (operands already in g); returns
 * the node holding its value. */
static int rewrite(Graph *g, const Node *c) {
  int a0 = c->in[0], a1 = c->in[1];
  const Shape *s1 = &g->node[a1].shape;
  switch (c->op) {
  case OP_CONV2D: { /* (x, w) */
    int col = columns(g, c, a0, s1->d[2], s1->d[3], false);
    return reshape(g, matmul(g, w_rows(g, a1), col), c->shape);
  }
  case OP_CONV2D_GRAD_WEIGHT: { /* (x, dy) */
    /* With sample tiling (passes/tile.c) the columns are built again
     * beside the product, a sample at a time in cache, rather than kept
     * from the forward pass in memory for the whole step. */
    int col = columns(g, c, a0, c->a.ints[7], c->a.ints[8], g->tile);
    int colt = transpose(g, col, 3, T3), dy = dy_flat(g, a1); /* in this order */
    int per_image = matmul(g, dy, colt);
    Attrs over_n = {.ints = {0, 0}, .nints = 2}; /* keepdims 0, axis 0 */
    return reshape(g, unary(g, OP_SUM, per_image, over_n), c->shape);
  }
  case OP_CONV2D_GRAD_INPUT: { /* (dy, w) */
    int dy = dy_flat(g, a0), wt = transpose(g, w_rows(g, a1), 2, T2); /* in this order */
    int dcol = matmul(g, wt, dy);
    Attrs a = {.nints = 10};
    memcpy(a.ints, c->a.ints, sizeof(int64_t) * 6);
    a.ints[6] = s1->d[2], a.ints[7] = s1->d[3];
    a.ints[8] = c->a.ints[7], a.ints[9] = c->a.ints[8];
    return unary(g, OP_COL2IM, dcol, a);
  }
  default: die("convgemm: %s is not a convolution", op_info[c->op].name);
  }
}

static bool rewritable(const Node *n) {
  return (n->op == OP_CONV2D || n->op == OP_CONV2D_GRAD_INPUT ||
          n->op == OP_CONV2D_GRAD_WEIGHT) && n->a.ints[6] == 1;
}

void pass_convgemm(Graph *g) {
  int n = g->nnode, any = 0;
  for (int i = 0; i < n; i++) any |= rewritable(&g->node[i]);
  if (!any) return;
  /* The old array stays in the arena, readable, while the new one grows. */
  Node *old = g->node;
  g->node = NULL;
  g->nnode = g->capnode = 0;
  int *map = malloc(sizeof(int) * (size_t)n);
  for (int i = 0; i < n; i++) {
    if (!rewritable(&old[i])) {
      map[i] = ir_copy_node(g, &old[i], map);
      continue;
    }
    Node c = old[i];
    int in[2] = {map[c.in[0]], map[c.in[1]]};
    c.in = in;
    here = c.loc;
    map[i] = rewrite(g, &c);
  }
  for (int o = 0; o < g->nout; o++) g->out[o].node = map[g->out[o].node];
  if (g->loss >= 0) g->loss = map[g->loss];
  free(map);
}
