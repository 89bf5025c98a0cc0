/* bnfold.c — fold a per-channel affine map into the convolution or matrix
 * product before it: batch norm at inference costs nothing.
 *
 * Problem: outside training a batch norm is a fixed affine map of each
 * channel, y = (x - mean) * gamma / sqrt(var + eps) + beta, with mean and
 * var the running averages. After a convolution it is one more pass over
 * the activations, although it could be part of the convolution: the
 * output channel o of conv2d(x, W) + b is linear in W[o], so
 *
 *     (conv2d(x, W) + b - mean) * s + beta
 *  =  conv2d(x, W * s[o]) + ((b - mean) * s + beta)   s = gamma / sqrt(var + eps)
 *
 * and likewise for matmul(x, W) with W [K, O] scaled column by column.
 *
 * Approach: for each conv2d, and each matmul by a rank-2 matrix, whose
 * weights are fixed (a value that depends on no input, on no batch size and
 * on no dropout: params, constants and what is computed from them) and
 * whose result has one use, follow the chain of single-use add, sub, mul
 * and div nodes that combine it with a fixed per-channel value (one that
 * varies at most along the channel axis: axis 1 of conv2d's [N,O,OH,OW],
 * the last axis of matmul's [..., O]). The chain is y = c * S + T with
 *
 *     c + t, c - t:  T += t, T -= t      c * s, c / s:  S, T times s, by s
 *
 * and, if it scales (S exists), its last node becomes
 *
 *     %w' = mul %W, reshape(S)        [O,1,1,1] for conv2d, [O] for matmul
 *     %c' = conv2d %x, %w'            (or matmul), same attributes
 *     %y' = add %c', T                T broadcasts as the chain's operands did
 *
 * Uses count only live nodes (those an output, the loss or an effect
 * depends on): the batch statistics that the inference and evaluation
 * passes leave unused do not keep a chain from folding. The graph is
 * rebuilt in order, as in convgemm.c, with the new nodes in place of the
 * chain's last node (every operand they read comes before it); the old
 * chain is left unused for dce. The weights are scaled when the program
 * runs (they are runtime data), a small elementwise kernel.
 *
 * Cost: O(nodes + operands).
 */
#include "passes.h"

#include <stdlib.h>

enum { MAX_STEPS = 16 };

typedef struct Chain {
  int c;                 /* the conv2d or matmul */
  int step[MAX_STEPS];   /* the chain's nodes, in order; the last is its end */
  int nstep;
  bool scales;           /* a mul or div in it */
} Chain;

typedef struct Ctx {
  const Graph *g;
  bool *fixed;   /* node depends on no input, batch size or dropout */
  int *uses;     /* live uses: operands of live nodes, outputs, the loss */
  int *user;     /* a live node using it (the only one when uses is 1) */
} Ctx;

static void fill_fixed(Ctx *x) {
  const Graph *g = x->g;
  for (int i = 0; i < g->nnode; i++) {
    const Node *n = &g->node[i];
    bool f = n->op != OP_INPUT && n->op != OP_BATCH && n->op != OP_DROPOUT &&
             !shape_numel(&n->shape).sym;
    for (int k = 0; f && k < n->nin; k++) f = x->fixed[n->in[k]];
    x->fixed[i] = f;
  }
}

/* Live uses, by a reverse sweep from the outputs, the loss and the roots. */
static void fill_live_uses(Ctx *x, bool *live) {
  const Graph *g = x->g;
  for (int o = 0; o < g->nout; o++) live[g->out[o].node] = true, x->uses[g->out[o].node]++;
  if (g->loss >= 0) live[g->loss] = true, x->uses[g->loss]++;
  for (int i = g->nnode - 1; i >= 0; i--) {
    const Node *n = &g->node[i];
    if (!live[i] && !(op_info[n->op].flags & F_EFFECT)) continue;
    live[i] = true;
    for (int k = 0; k < n->nin; k++) {
      live[n->in[k]] = true;
      x->uses[n->in[k]]++;
      x->user[n->in[k]] = i;
    }
  }
}

/* Whether operand shape o broadcast against result shape r varies at most
 * along axis ax of r and leaves r's shape unchanged. */
static bool per_channel(const Shape *o, const Shape *r, int ax) {
  if (o->rank > r->rank) return false;
  for (int i = 0; i < o->rank; i++) {
    int j = r->rank - o->rank + i;
    if (o->d[i] != 1 && !(j == ax && o->d[i] == r->d[ax])) return false;
  }
  return true;
}

/* The channel axis of contraction node c, or -1 if it cannot fold. */
static int channel_axis(const Ctx *x, int c) {
  const Node *n = &x->g->node[c];
  const Node *w = &x->g->node[n->nin > 1 ? n->in[1] : c];
  if (n->op == OP_CONV2D && x->fixed[n->in[1]] && !x->fixed[n->in[0]]) return 1;
  if (n->op == OP_MATMUL && w->shape.rank == 2 && x->fixed[n->in[1]] && !x->fixed[n->in[0]])
    return n->shape.rank - 1;
  return -1;
}

/* Whether node u, using cur, is a step of the chain: an add, sub (cur
 * first), mul or div (cur first) with a fixed per-channel other operand. */
static bool is_step(const Ctx *x, int u, int cur, const Shape *r, int ax) {
  const Node *n = &x->g->node[u];
  if (n->op != OP_ADD && n->op != OP_SUB && n->op != OP_MUL && n->op != OP_DIV) return false;
  bool first = n->in[0] == cur;
  int other = n->in[first ? 1 : 0];
  if (other == cur || (!first && (n->op == OP_SUB || n->op == OP_DIV))) return false;
  return x->fixed[other] && per_channel(&x->g->node[other].shape, r, ax) &&
         shape_equal(&n->shape, r);
}

/* The chain that starts at contraction c; nstep 0 if none. */
static Chain find_chain(const Ctx *x, int c) {
  Chain ch = {.c = c};
  int ax = channel_axis(x, c), cur = c;
  const Shape *r = &x->g->node[c].shape;
  while (ax >= 0 && ch.nstep < MAX_STEPS && x->uses[cur] == 1 && x->user[cur] >= 0 &&
         is_step(x, x->user[cur], cur, r, ax)) {
    cur = x->user[cur];
    ch.step[ch.nstep++] = cur;
    ch.scales |= x->g->node[cur].op == OP_MUL || x->g->node[cur].op == OP_DIV;
  }
  return ch;
}

/* ---- rebuilding ---- */

static Loc here;  /* Loc of the node being replaced */

static int bin(Graph *g, Op op, int a, int b) {
  char why[256];
  int i = ir_add(g, op, (int[]){a, b}, 2, NULL, here, why);
  if (i < 0) die("bnfold built an invalid %s: %s", op_info[op].name, why);
  return i;
}

static int neg(Graph *g, int x) {
  char why[256];
  int i = ir_add(g, OP_NEG, &x, 1, NULL, here, why);
  if (i < 0) die("bnfold built an invalid neg: %s", why);
  return i;
}

static int reshape(Graph *g, int x, Shape s) {
  if (shape_equal(&g->node[x].shape, &s)) return x;
  char why[256];
  int i = ir_add_shaped(g, OP_RESHAPE, &x, 1, NULL, DT_F32, s, here, why);
  if (i < 0) die("bnfold built an invalid reshape: %s", why);
  return i;
}

/* Emit the folded chain ch from the old graph old into g (operands mapped
 * through map); returns the node that replaces its last node. */
static int emit_fold(Graph *g, const Node *old, const Chain *ch, const int *map) {
  int S = -1, T = -1;
  for (int k = 0; k < ch->nstep; k++) {
    const Node *n = &old[ch->step[k]];
    int prev = k ? ch->step[k - 1] : ch->c;
    int o = map[n->in[0] == prev ? n->in[1] : n->in[0]];
    here = n->loc;
    switch (n->op) {
    case OP_ADD: T = T < 0 ? o : bin(g, OP_ADD, T, o); break;
    case OP_SUB: T = T < 0 ? neg(g, o) : bin(g, OP_SUB, T, o); break;
    case OP_MUL: case OP_DIV:
      if (T >= 0) T = bin(g, n->op, T, o);
      S = S >= 0 ? bin(g, n->op, S, o)
          : n->op == OP_MUL ? o : bin(g, OP_DIV, ir_const(g, DT_F32, (Shape){0}, 1, NULL, here), o);
      break;
    default: die("bnfold: %s is not a step", op_info[n->op].name);
    }
  }
  const Node *c = &old[ch->c];
  int64_t ns = shape_numel(&g->node[S].shape).k;
  Shape ws = c->op == OP_CONV2D ? (Shape){.rank = 4, .d = {ns, 1, 1, 1}}
                                : (Shape){.rank = 1, .d = {ns}};
  here = old[ch->step[ch->nstep - 1]].loc;
  int w = bin(g, OP_MUL, map[c->in[1]], reshape(g, S, ws));
  char why[256];
  int y = ir_add(g, c->op, (int[]){map[c->in[0]], w}, 2, &c->a, c->loc, why);
  if (y < 0) die("bnfold built an invalid %s: %s", op_info[c->op].name, why);
  return T < 0 ? y : bin(g, OP_ADD, y, T);
}

/* requires: shapes; the mode resolved (inference, evaluation), without
 * which batch statistics are not fixed and nothing folds; provides: no
 * scaling chain after a conv2d or matmul with fixed weights; invalidates:
 * uses, fuse, plan; leaves dead nodes. */
void pass_bnfold(Graph *g) {
  int n = g->nnode, nchain = 0;
  size_t cnt = (size_t)n + 1;
  Ctx x = {.g = g, .fixed = calloc(cnt, sizeof(bool)), .uses = calloc(cnt, sizeof(int)),
           .user = malloc(sizeof(int) * cnt)};
  bool *live = calloc(cnt, sizeof(bool));
  int *end_of = malloc(sizeof(int) * cnt), *map = malloc(sizeof(int) * cnt);
  Chain *chains = malloc(sizeof(Chain) * cnt);
  if (!x.fixed || !x.uses || !x.user || !live || !end_of || !map || !chains) die("out of memory");
  for (int i = 0; i < n; i++) x.user[i] = end_of[i] = -1;
  fill_fixed(&x);
  fill_live_uses(&x, live);
  for (int i = 0; i < n; i++) {
    if (g->node[i].op != OP_CONV2D && g->node[i].op != OP_MATMUL) continue;
    Chain ch = find_chain(&x, i);
    if (ch.nstep == 0 || !ch.scales) continue;
    end_of[ch.step[ch.nstep - 1]] = nchain;
    chains[nchain++] = ch;
  }
  if (nchain > 0) {
    /* The old array stays in the arena, readable, while the new one grows. */
    Node *old = g->node;
    g->node = NULL;
    g->nnode = g->capnode = 0;
    for (int i = 0; i < n; i++) {
      map[i] = ir_copy_node(g, &old[i], map);
      if (end_of[i] >= 0) map[i] = emit_fold(g, old, &chains[end_of[i]], map);
    }
    for (int o = 0; o < g->nout; o++) g->out[o].node = map[g->out[o].node];
    if (g->loss >= 0) g->loss = map[g->loss];
  }
  free(x.fixed);
  free(x.uses);
  free(x.user);
  free(live);
  free(end_of);
  free(map);
  free(chains);
}
