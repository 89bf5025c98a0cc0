/* fold.c — constant folding and algebraic simplification.
 *
 * Two rewrites in one forward sweep:
 *
 *   folding     a node whose operands are all constants (static shapes, no
 *               N) becomes a constant, its values computed by the reference
 *               interpreter (interp_node), so folding means exactly what
 *               running the graph would;
 *   identities  x+0, 0+x, x-0, x*1, 1*x, x/1 -> x;  neg(neg x) -> x;
 *               reshape(reshape x) -> reshape x;  reshape of x to x's own
 *               shape -> x;  transpose(transpose x) -> one transpose with the
 *               composed perm, and an identity perm -> x.
 *
 * An identity applies only where the result has x's dtype and shape: x+0
 * with x: f32[4] and 0: f32[N,4] broadcasts, so it is not x. A "0" or "1"
 * is a constant every element of which has that value (a fill value, or
 * data all equal). Every identity is exact in IEEE arithmetic except
 * x+0 -> x at x = -0.0 (-0 + 0 is +0): only a later 1/x could tell, and we
 * accept that, as compilers do under fast-math.
 */
#include "passes.h"

#include <string.h>

enum {
  FOLD_MAX_OUT = 65536,  /* largest result folded, in elements: bigger
                            constants would bloat the IR and the binary */
  FOLD_MAX_IN = 1 << 20, /* largest operand materialised to fold from */
};

/* Whether node i is a constant with a static shape of at most max
 * elements. */
static bool small_const(const Graph *g, int i, int64_t max) {
  const Node *n = &g->node[i];
  Size z = shape_numel(&n->shape);
  return n->op == OP_CONST && !z.sym && z.k <= max;
}

/* Whether node i is a constant every element of which equals v. */
static bool const_is(const Graph *g, int i, double v) {
  const Node *n = &g->node[i];
  if (n->op != OP_CONST) return false;
  if (!n->data) return n->a.f[0] == v;
  int64_t cnt = numel_eval(&n->shape, 1);
  for (int64_t e = 0; e < cnt; e++)
    if (n->data[e] != v) return false;
  return true;
}

static Tensor const_tensor(const Node *n) {
  Tensor t = tensor_new(n->dtype, n->shape);
  for (int64_t e = 0; e < t.n; e++) t.v[e] = n->data ? n->data[e] : n->a.f[0];
  return t;
}

/* Turn node i, in place, into a constant holding t's values: a fill value
 * when every element is the same (compared by bits, so 0 and -0 stay
 * apart), data otherwise. In place keeps the index, so users need no
 * rewiring and the order stays topological, and keeps the node's Loc. */
static void become_const(Graph *g, int i, const Tensor *t) {
  Node *n = &g->node[i];
  bool fill = true;
  for (int64_t e = 1; e < t->n && fill; e++)
    fill = memcmp(&t->v[e], &t->v[0], sizeof(double)) == 0;
  n->op = OP_CONST;
  n->nin = 0;
  n->a = (Attrs){0};
  n->a.f[0] = fill && t->n > 0 ? t->v[0] : 0.0; /* data: value 0, unprinted */
  n->data = NULL;
  if (!fill) {
    double *d = arena_alloc(g->arena, sizeof(double) * (size_t)t->n);
    memcpy(d, t->v, sizeof(double) * (size_t)t->n);
    n->data = d;
  }
}

/* Evaluate node i if all its operands are small constants and its result
 * is small; true if it became a constant. Dropout never folds: its mask
 * depends on the step and the seed, known only when the program runs
 * (dropout2d's mask is a dropout of a constant). */
static bool fold_node(Graph *g, int i, Arena *scratch) {
  const Node *n = &g->node[i];
  Size z = shape_numel(&n->shape);
  if (z.sym || z.k > FOLD_MAX_OUT || n->op == OP_DROPOUT) return false;
  for (int k = 0; k < n->nin; k++)
    if (!small_const(g, n->in[k], FOLD_MAX_IN)) return false;
  Tensor *args = arena_alloc(scratch, sizeof(Tensor) * (size_t)n->nin);
  for (int k = 0; k < n->nin; k++) args[k] = const_tensor(&g->node[n->in[k]]);
  Tensor r = interp_node(g, i, args, 1);
  for (int k = 0; k < n->nin; k++) tensor_free(&args[k]);
  bool ok = r.v != NULL && r.n == z.k;
  if (ok) become_const(g, i, &r);
  tensor_free(&r);
  return ok;
}

/* Merge a chain of two reshapes or two transposes into node i, in place:
 * reshape(reshape x) is reshape x; transpose(transpose(x, p), q) is
 * transpose(x, r) with r[k] = p[q[k]]: result axis k is axis q[k] of the
 * middle, which is axis p[q[k]] of x. */
static void compose(Graph *g, int i) {
  Node *n = &g->node[i];
  const Node *x = &g->node[n->in[0]];
  if (n->op == OP_RESHAPE && x->op == OP_RESHAPE) n->in[0] = x->in[0];
  if (n->op != OP_TRANSPOSE || x->op != OP_TRANSPOSE) return;
  int64_t r[MAX_INTS];
  for (int k = 0; k < n->a.nints; k++) r[k] = x->a.ints[n->a.ints[k]];
  memcpy(n->a.ints, r, sizeof(int64_t) * (size_t)n->a.nints);
  n->in[0] = x->in[0];
}

/* x if node i could be replaced by x without changing its type, else -1. */
static int if_same_type(const Graph *g, int i, int x) {
  const Node *n = &g->node[i], *y = &g->node[x];
  return n->dtype == y->dtype && shape_equal(&n->shape, &y->shape) ? x : -1;
}

static bool is_identity_perm(const Node *n) {
  for (int k = 0; k < n->a.nints; k++)
    if (n->a.ints[k] != k) return false;
  return true;
}

/* The node that node i simplifies to, or -1. */
static int simplify(const Graph *g, int i) {
  const Node *n = &g->node[i];
  int a = n->in[0], b = n->nin > 1 ? n->in[1] : -1, r = -1;
  switch (n->op) {
  case OP_ADD:
    if (const_is(g, b, 0)) r = if_same_type(g, i, a);
    if (r < 0 && const_is(g, a, 0)) r = if_same_type(g, i, b);
    return r;
  case OP_MUL:
    if (const_is(g, b, 1)) r = if_same_type(g, i, a);
    if (r < 0 && const_is(g, a, 1)) r = if_same_type(g, i, b);
    return r;
  case OP_SUB:
    return const_is(g, b, 0) ? if_same_type(g, i, a) : -1;
  case OP_DIV:
    return const_is(g, b, 1) ? if_same_type(g, i, a) : -1;
  case OP_NEG:
    return g->node[a].op == OP_NEG ? g->node[a].in[0] : -1;
  case OP_RESHAPE:
    return if_same_type(g, i, a);
  case OP_TRANSPOSE:
    return is_identity_perm(n) ? a : -1;
  default:
    return -1;
  }
}

/* Remove the nodes this pass left unused: those that had a use before it
 * ran and have none now. Nodes that were already dead stay; removing them
 * is dce's job, and --passes=fold shows exactly what folding did. A reverse
 * sweep suffices because a node's users all come after it. */
static void drop_orphans(Graph *g, const bool *was_used, Arena *scratch) {
  bool *keep = arena_alloc(scratch, sizeof(bool) * (size_t)(g->nnode + 1));
  ir_fill_uses(g);
  for (int i = g->nnode - 1; i >= 0; i--) {
    const Node *n = &g->node[i];
    keep[i] = n->uses > 0 || !was_used[i] || ir_is_root(n);
    if (keep[i]) continue;
    for (int k = 0; k < n->nin; k++) g->node[n->in[k]].uses--;
  }
  ir_compact(g, keep);
}

/* Algorithm: one forward sweep. Operands come before users, so when the
 * sweep reaches a node its operands are already in final form: constants
 * that will fold have folded, chains have been composed.
 *
 *   %1 = const 2   %2 = const 3   %3 = mul %1,%2   %4 = add %0,%3
 *                                  -> const 6 (in place, same index)
 *   %5 = sub %2,%2 -> const 0     %6 = add %4,%5   -> rep[%6] = %4
 *
 * A folded node is rewritten in place, which keeps its index, so users need
 * no rewiring. A simplified node i gets a representative rep[i], an earlier
 * node; each node's operands are mapped through rep when the sweep reaches
 * it, and the outputs at the end (ir_replace_uses would rescan the graph for
 * every rewrite). Then the nodes left unused are removed. Cost: O(nodes +
 * operands), plus the elements evaluated.
 *
 * requires:    operands come before their users; shapes consistent
 * provides:    no non-source node has only small constant operands, and no
 *              identity listed above is left
 * invalidates: node indices (renumbered), use counts
 */
void pass_fold(Graph *g) {
  Arena *scratch = arena_new();
  bool *was_used = arena_alloc(scratch, sizeof(bool) * (size_t)(g->nnode + 1));
  int *rep = arena_alloc(scratch, sizeof(int) * (size_t)(g->nnode + 1));
  ir_fill_uses(g);
  for (int i = 0; i < g->nnode; i++) was_used[i] = g->node[i].uses > 0;
  for (int i = 0; i < g->nnode; i++) {
    Node *n = &g->node[i];
    for (int k = 0; k < n->nin; k++) n->in[k] = rep[n->in[k]];
    rep[i] = i;
    if (op_info[n->op].flags & F_SOURCE) continue;
    if (fold_node(g, i, scratch)) continue;
    compose(g, i);
    int to = simplify(g, i);
    if (to >= 0) rep[i] = to;
  }
  for (int o = 0; o < g->nout; o++) g->out[o].node = rep[g->out[o].node];
  drop_orphans(g, was_used, scratch);
  arena_free(scratch);
}
