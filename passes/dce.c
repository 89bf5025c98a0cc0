/* dce.c — dead-code elimination: drop every node that no output depends on.
 *
 * Inputs and params always stay, used or not: they are the model's
 * interface (the command line and data loaders bind inputs by name) and the
 * checkpoint signature (ir_signature hashes every param), so removing an
 * unused one would change what a compiled model accepts and loads.
 */
#include "passes.h"

/* Algorithm: liveness is a reverse reachability question, and the node
 * array is in topological order, so one backward sweep answers it.
 *
 *   %0 input  %1 param  %2 const  %3 = add %0,%1  %4 = exp %2  output %3
 *     live      live      dead       live           dead
 *
 * Roots are the outputs, inputs and params. Sweeping i from last to first,
 * a live node marks its operands live; operands come before their users, so
 * each node's liveness is final when the sweep reaches it. ir_compact then
 * keeps the live nodes and renumbers. Cost: O(nodes + operands).
 *
 * requires:    operands come before their users (topological order)
 * provides:    every node is a root (ir_is_root) or reaches an output or
 *              the loss
 * invalidates: node indices (renumbered), use counts
 */
void pass_dce(Graph *g) {
  Arena *scratch = arena_new();
  bool *live = arena_alloc(scratch, sizeof(bool) * (size_t)(g->nnode + 1));
  for (int o = 0; o < g->nout; o++) live[g->out[o].node] = true;
  if (g->loss >= 0) live[g->loss] = true;
  for (int i = g->nnode - 1; i >= 0; i--) {
    const Node *n = &g->node[i];
    if (ir_is_root(n)) live[i] = true;
    if (!live[i]) continue;
    for (int k = 0; k < n->nin; k++) live[n->in[k]] = true;
  }
  ir_compact(g, live);
  arena_free(scratch);
}
