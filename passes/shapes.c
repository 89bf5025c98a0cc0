/* shapes.c — shape inference as a check: re-derive every node's dtype and
 * shape from its operands with the op's shape rule (ir_infer) and report
 * any node whose stored type disagrees.
 *
 * The one idea: nodes built through ir_add are consistent by construction,
 * so this pass matters for graphs that arrive another way (IR text, where
 * the user writes each type) and as the first line of defence before the
 * rest of the pipeline trusts the types. A node that fails poisons the
 * nodes that use it, so one mistake gives one error, not a cascade.
 */
#include "passes.h"

/* Re-infer node i. On a mismatch or a rule failure report it at the node's
 * Loc, put back the stored type (the graph is left as it was) and return
 * false. Reshape and broadcast keep their stored shape: it is the requested
 * one, and the rule only checks it. */
static bool check_node(Graph *g, int i) {
  Node *n = &g->node[i];
  DType t = n->dtype;
  Shape s = n->shape;
  char why[256], stored[64], inferred[64];
  if (!ir_infer(g, i, why)) {
    n->dtype = t;
    n->shape = s;
    diag_error(n->loc, "%s", why);
    return false;
  }
  if (n->dtype == t && shape_equal(&n->shape, &s)) return true;
  shape_str(stored, sizeof stored, t, &s);
  shape_str(inferred, sizeof inferred, n->dtype, &n->shape);
  n->dtype = t;
  n->shape = s;
  diag_error(n->loc, "%s: the result is declared %s but its operands give %s",
             op_info[n->op].name, stored, inferred);
  return false;
}

/* requires:    operands come before their users (topological order)
 * provides:    every node's dtype and shape agree with its op's shape rule
 *              (or errors were reported, one per root cause)
 * invalidates: nothing; the graph is not changed
 */
void pass_shapes(Graph *g) {
  Arena *scratch = arena_new();
  bool *bad = arena_alloc(scratch, sizeof(bool) * (size_t)(g->nnode + 1));
  for (int i = 0; i < g->nnode; i++) {
    const Node *n = &g->node[i];
    for (int k = 0; k < n->nin && !bad[i]; k++) bad[i] = bad[n->in[k]];
    if (!bad[i]) bad[i] = !check_node(g, i);
  }
  arena_free(scratch);
}
