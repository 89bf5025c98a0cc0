/* layout.c — convolutions in a channel-blocked layout (NCHW8c).
 *
 * Problem: a convolution over plain [N,C,H,W] images either runs as
 * loops with one multiply-add per innermost step and strided loads
 * (slow), or as im2col + GEMM (convgemm.c), which copies every window of
 * the image, KH*KW times its size, before the product. With the channels
 * in blocks of 8 as the last axis, [N, C/8, H, W, 8], one output column
 * of 8 channels is one AVX2 register, and the convolution can read the
 * image where it is: each input value, broadcast, times 8 contiguous
 * weights into several columns' registers (codegen/blocked.c).
 *
 * Approach: rebuild the node array in order (as convgemm does). Each
 * claimed conv2d becomes
 *
 *     %xb = to_blocked %x axis=1                     [N, C/8, H, W, 8]
 *     %wb = to_blocked (to_blocked %w axis=1) axis=0 [O/8, C/8, KH, KW, 8, 8]
 *     %yb = conv2d_blocked %xb, %wb                  [N, O/8, OH, OW, 8]
 *
 * and the value stays blocked through the ops that keep the padding
 * lanes (channels C..8*ceil(C/8)-1) zero and work lane by lane: relu,
 * leaky_relu and neg; add, sub, mul, maximum and minimum of two images
 * or of an image and a per-channel operand ([C,1,1]: a bias, blocked on
 * its own channel axis); max_pool2d and avg_pool2d; a concat along the
 * channels of parts that fill whole blocks. Any other use reads
 * a from_blocked made once, on demand, where the blocked value meets it:
 *
 *     conv2d -> add bias -> relu -> max_pool2d -> conv2d -> relu -> reshape
 *       to_blocked | . . . . . blocked . . . . . . . . . . . | from_blocked
 *
 * A value needed blocked that is already blocked is used as it is, so
 * no conversion pair is ever built between two blocked ops; pairs
 * written in the input (IR text) cancel: from_blocked(to_blocked(x)) is
 * x, and to_blocked(from_blocked(y)) is y when y's padding lanes are
 * known to be zero (padded()). Weights are params, blocked by a kernel
 * in every call: a conversion at the boundary, small beside the
 * convolution.
 *
 * Which convolutions: groups == 1 ones where the blocked kernel beats
 * im2col + GEMM (worth_blocking()); convgemm, after this pass, takes the
 * others. Training graphs are left alone: the gradient ops stay NCHW
 * (the pipeline runs the pass for inference and evaluation only), and
 * so are CUDA builds (dlc.c's targets).
 *
 * Cost: O(nodes); values are padded to whole blocks (at most 7 channels
 * of zeros per image).
 *
 * requires: shapes; provides: conv2d_blocked in place of claimed conv2d;
 * invalidates: uses, fuse, plan.
 */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

typedef struct Lay {
  Graph *g;           /* the new graph */
  const Node *old;    /* the old node array */
  int *map;           /* old node -> new node of its value */
  bool *blk;          /* map[i] holds old image i blocked on axis 1 */
  int *plain;         /* old blocked image -> its from_blocked, or -1 */
  int *blocked;       /* old plain image -> its to_blocked, or -1 */
  bool cancelled;     /* a conversion pair of the input was removed */
  Loc here;           /* location of the node being rebuilt */
} Lay;

static int add(Lay *l, Op op, const int *in, int nin, const Attrs *a) {
  char why[256];
  int i = ir_add(l->g, op, in, nin, a, l->here, why);
  if (i < 0) die("layout built an invalid %s: %s", op_info[op].name, why);
  return i;
}

/* Whether the lanes of channels C and up of blocked node v are zero;
 * false when not known (depth bounds the search in deep graphs). */
static bool padded(const Graph *g, int v, int64_t C, int depth) {
  const Node *n = &g->node[v];
  if (depth > 32) return false;
  switch (n->op) {
  case OP_TO_BLOCKED: return g->node[n->in[0]].shape.d[n->a.ints[0]] <= C;
  case OP_CONV2D_BLOCKED: {
    const Node *w = &g->node[n->in[1]];
    return w->op == OP_TO_BLOCKED && w->a.ints[0] == 0 && g->node[w->in[0]].shape.d[0] <= C;
  }
  case OP_RELU: case OP_LEAKY_RELU: case OP_NEG: case OP_MAX_POOL2D: case OP_AVG_POOL2D:
    return padded(g, n->in[0], C, depth + 1);
  case OP_MUL:
    return padded(g, n->in[0], C, depth + 1) || padded(g, n->in[1], C, depth + 1);
  case OP_ADD: case OP_SUB: case OP_MAXIMUM: case OP_MINIMUM:
    return padded(g, n->in[0], C, depth + 1) && padded(g, n->in[1], C, depth + 1);
  default: return false;
  }
}

/* to_blocked(v, axis), or what it cancels to. */
static int to_blocked(Lay *l, int v, int64_t axis) {
  const Node *n = &l->g->node[v];
  if (n->op == OP_FROM_BLOCKED && n->a.ints[0] == axis && padded(l->g, n->in[0], n->a.ints[1], 0)) {
    l->cancelled = true;
    return n->in[0];
  }
  return add(l, OP_TO_BLOCKED, &v, 1, &(Attrs){.ints = {axis}, .nints = 1});
}

/* from_blocked(v, axis, C), or what it cancels to. */
static int from_blocked(Lay *l, int v, int64_t axis, int64_t C) {
  const Node *n = &l->g->node[v];
  if (n->op == OP_TO_BLOCKED && n->a.ints[0] == axis && l->g->node[n->in[0]].shape.d[axis] == C) {
    l->cancelled = true;
    return n->in[0];
  }
  return add(l, OP_FROM_BLOCKED, &v, 1, &(Attrs){.ints = {axis, C}, .nints = 2});
}

/* The new node of old node i's value in the plain layout. */
static int plain_of(Lay *l, int i) {
  if (!l->blk[i]) return l->map[i];
  if (l->plain[i] < 0) l->plain[i] = from_blocked(l, l->map[i], 1, l->old[i].shape.d[1]);
  return l->plain[i];
}

/* The new node of old image i's value blocked on its channel axis. */
static int blocked_of(Lay *l, int i) {
  if (l->blk[i]) return l->map[i];
  if (l->blocked[i] < 0) l->blocked[i] = to_blocked(l, l->map[i], 1);
  return l->blocked[i];
}

/* Whether the blocked kernel is the one to run conv2d n with weights w
 * [O, C, KH, KW]. Measured (README, Speed; one thread): whole networks
 * of small layers (LeNet-5, vgg_small, resnet_small) run faster blocked
 * at batch 1 and 64, the blocked chain sparing im2col's copies and the
 * conversions; a wide layer alone (32 -> 64 or 64 -> 64 channels, 3x3)
 * runs about 1.2x faster blocked at batch 64 but 1.5x faster as im2col
 * + GEMM at batch 1, where the columns fit in cache and the GEMM's
 * micro-kernel, with whole tiles of rows, uses the host's widest vectors
 * (AVX-512: 16 lanes, where a block has 8). The batch is not known when
 * compiling, so the products with at least 64 rows (O) and 256 terms
 * (C*KH*KW) stay convgemm's, whose worst case is the milder. */
static bool worth_blocking(const Node *n, const Node *w) {
  const int64_t *d = w->shape.d;
  return n->a.ints[6] == 1 && !(d[0] >= 64 && d[1] * d[2] * d[3] >= 256);
}

/* v (new graph) with a trailing dimension of 1. */
static int with_lane(Lay *l, int v) {
  char why[256];
  Shape s = l->g->node[v].shape;
  s.d[s.rank++] = 1;
  int r = ir_add_shaped(l->g, OP_RESHAPE, &v, 1, NULL, DT_F32, s, l->here, why);
  if (r < 0) die("layout built an invalid reshape: %s", why);
  return r;
}

/* conv2d i as conv2d_blocked. Its input is read blocked when it is
 * blocked already or its channels fill whole blocks; otherwise as it
 * is, a plain image with one lane ([N,C,H,W,1], a view), which spares
 * the multiply-adds of the padding channels (a first layer's C = 1 or 3
 * would be padded to 8). */
static void block_conv(Lay *l, int i) {
  const Node *n = &l->old[i];
  int x = n->in[0], xb, wb;
  if (l->blk[x] || l->old[x].shape.d[1] % BLOCK_C == 0) {
    xb = blocked_of(l, x);
    wb = to_blocked(l, to_blocked(l, l->map[n->in[1]], 1), 0);
  } else {
    xb = with_lane(l, l->map[x]);
    wb = to_blocked(l, with_lane(l, l->map[n->in[1]]), 0);
  }
  Attrs a = {.nints = 6};
  memcpy(a.ints, n->a.ints, sizeof(int64_t) * 6);
  l->map[i] = add(l, OP_CONV2D_BLOCKED, (int[]){xb, wb}, 2, &a);
  l->blk[i] = true;
}

/* Operand j of image op i (old nodes) as a blocked operand: a blocked
 * image, an image of i's shape blocked, or a per-channel value ([C,1,1],
 * [1,C,1,1]: channel dimension where i's is when aligned at the right)
 * blocked on its channel axis. -1 if j is none of these. */
static int blocked_operand(Lay *l, int i, int j) {
  const Shape *s = &l->old[i].shape, *js = &l->old[j].shape;
  if (l->blk[j]) return l->map[j];
  if (shape_equal(js, s)) return blocked_of(l, j);
  if (js->rank < 3 || js->d[js->rank - 3] != s->d[1]) return -1;
  for (int d = 0; d < js->rank; d++)
    if (d != js->rank - 3 && js->d[d] != 1) return -1;
  return to_blocked(l, l->map[j], js->rank - 3);
}

static bool lane_op(Op op) {
  return op == OP_RELU || op == OP_LEAKY_RELU || op == OP_NEG || op == OP_ADD || op == OP_SUB ||
         op == OP_MUL || op == OP_MAXIMUM || op == OP_MINIMUM || op == OP_MAX_POOL2D ||
         op == OP_AVG_POOL2D;
}

/* A concat of images along their channels whose parts each fill whole
 * blocks is the concat of the blocked parts along their blocks; true
 * when done. */
static bool concat_blocked(Lay *l, int i) {
  const Node *n = &l->old[i];
  if (n->a.ints[0] != 1 || n->nin > 64) return false;
  for (int k = 0; k < n->nin; k++)
    if (l->old[n->in[k]].shape.d[1] % BLOCK_C) return false;
  int in[64];
  for (int k = 0; k < n->nin; k++) in[k] = blocked_of(l, n->in[k]);
  l->map[i] = add(l, OP_CONCAT, in, n->nin, &n->a);
  l->blk[i] = true;
  return true;
}

/* Old node i in the blocked layout if an operand is blocked and the op
 * keeps it so; true when done. */
static bool keep_blocked(Lay *l, int i) {
  const Node *n = &l->old[i];
  bool any = false;
  for (int k = 0; k < n->nin; k++) any |= l->blk[n->in[k]];
  if (!any || n->shape.rank != 4) return false;
  if (n->op == OP_CONCAT) return concat_blocked(l, i);
  if (!lane_op(n->op)) return false;
  bool pool = n->op == OP_MAX_POOL2D || n->op == OP_AVG_POOL2D;
  if (!pool && !shape_equal(&n->shape, &l->old[n->in[0]].shape) &&
      !shape_equal(&n->shape, &l->old[n->in[n->nin - 1]].shape))
    return false;
  int in[2];
  for (int k = 0; k < n->nin; k++) {
    /* check both operands before building either conversion */
    int j = n->in[k];
    const Shape *js = &l->old[j].shape;
    bool ok = l->blk[j] || shape_equal(js, &n->shape) ||
              (js->rank >= 3 && js->d[js->rank - 3] == n->shape.d[1]);
    for (int d = 0; ok && !l->blk[j] && !shape_equal(js, &n->shape) && d < js->rank; d++)
      ok = d == js->rank - 3 || js->d[d] == 1;
    if (!ok) return false;
  }
  for (int k = 0; k < n->nin; k++) in[k] = blocked_operand(l, i, n->in[k]);
  l->map[i] = add(l, n->op, in, n->nin, &n->a);
  l->blk[i] = true;
  return true;
}

/* Old node i copied with its operands in the plain layout; conversion
 * ops of the input go through the cancelling builders. */
static void copy_plain(Lay *l, int i) {
  const Node *n = &l->old[i];
  if (n->op == OP_TO_BLOCKED) {
    l->map[i] = to_blocked(l, plain_of(l, n->in[0]), n->a.ints[0]);
    return;
  }
  if (n->op == OP_FROM_BLOCKED) {
    l->map[i] = from_blocked(l, plain_of(l, n->in[0]), n->a.ints[0], n->a.ints[1]);
    return;
  }
  int *in = malloc(sizeof(int) * (size_t)(n->nin ? n->nin : 1));
  for (int k = 0; k < n->nin; k++) in[k] = plain_of(l, n->in[k]);
  Node c = *n;
  c.in = in;
  l->map[i] = ir_copy_node(l->g, &c, NULL);
  free(in);
}

static bool claims(const Lay *l, int i) {
  const Node *n = &l->old[i];
  return n->op == OP_CONV2D && worth_blocking(n, &l->old[n->in[1]]);
}

void pass_layout(Graph *g) {
  int n = g->nnode;
  bool any = false;
  for (int i = 0; i < n; i++)
    any |= g->node[i].op == OP_CONV2D || g->node[i].op == OP_TO_BLOCKED ||
           g->node[i].op == OP_FROM_BLOCKED;
  if (!any) return;
  Lay l = {.g = g, .old = g->node};
  l.map = malloc(sizeof(int) * (size_t)n);
  l.plain = malloc(sizeof(int) * (size_t)n);
  l.blocked = malloc(sizeof(int) * (size_t)n);
  l.blk = calloc((size_t)n, sizeof(bool));
  if (!l.map || !l.plain || !l.blocked || !l.blk) die("out of memory");
  for (int i = 0; i < n; i++) l.plain[i] = l.blocked[i] = -1;
  /* the old array stays in the arena, readable, while the new one grows */
  g->node = NULL;
  g->nnode = g->capnode = 0;
  for (int i = 0; i < n; i++) {
    l.here = l.old[i].loc;
    if (claims(&l, i)) block_conv(&l, i);
    else if (!keep_blocked(&l, i)) copy_plain(&l, i);
  }
  for (int o = 0; o < g->nout; o++) {
    l.here = g->out[o].loc;
    g->out[o].node = plain_of(&l, g->out[o].node);
  }
  if (g->loss >= 0) g->loss = plain_of(&l, g->loss);
  free(l.map), free(l.plain), free(l.blocked), free(l.blk);
  /* a cancelled pair may leave the input's first conversion unused */
  if (l.cancelled) pass_dce(g);
}
