/* fuse.c — operator fusion: elementwise chains into one kernel.
 *
 * Problem: every node that becomes a kernel reads its operands from memory
 * and writes its result back. An optimizer update such as
 *
 *     W' = W - lr * (mu * v + g)          four nodes, four passes over W
 *
 * is bound by memory traffic, not arithmetic, unless the chain is computed
 * in one loop with the intermediate values in registers.
 *
 * Approach: a node is computed inline by its consumer's kernel when
 *   - it is elementwise (F_ELEMWISE: no reduction, no data movement),
 *   - it has exactly one use, and that use is elementwise too (or an
 *     assign, so an update is written straight into the parameter),
 *   - it has the consumer's shape (so the consumer's loop index is its
 *     index), and it is not an output or the loss (those must be stored).
 * Chains fuse transitively: the lowering (codegen/lower.c) expands an
 * inlined operand into its expression tree, recursively.
 *
 *     %5 = mul %hyper, %v       into=%6      }
 *     %6 = add %5, %g           into=%8      }  one kernel, writing %8's
 *     %7 = mul %lr, %6    ...                }  value into W's storage
 *     %8 = assign %W, %7                     }
 *
 * The classes of ops.def are the lattice this pass walks; conv/dense +
 * bias + activation (out-elementwise fusion) builds on it.
 *
 * Cost: O(nodes).
 *
 * requires: shapes; provides: Node.into; invalidates: plan (inlined nodes
 * need no storage).
 */
#include "passes.h"

#include <string.h>

static bool is_result(const Graph *g, int i) {
  for (int o = 0; o < g->nout; o++)
    if (g->out[o].node == i) return true;
  return g->loss == i;
}

/* Whether consumer c's kernel can compute operand i inline. */
static bool can_inline(const Graph *g, int i, int c) {
  const Node *n = &g->node[i], *u = &g->node[c];
  if (!(op_info[n->op].flags & F_ELEMWISE) || n->uses != 1 || is_result(g, i)) return false;
  if (!(op_info[u->op].flags & F_ELEMWISE) && u->op != OP_ASSIGN) return false;
  return n->dtype == DT_F32 && shape_equal(&n->shape, &u->shape);
}

void pass_fuse(Graph *g) {
  ir_fill_uses(g);
  for (int i = 0; i < g->nnode; i++) g->node[i].into = 0;
  for (int c = 0; c < g->nnode; c++) {
    Node *u = &g->node[c];
    for (int k = 0; k < u->nin; k++) {
      int i = u->in[k];
      if (u->op == OP_ASSIGN && k == 0) continue; /* the target is storage */
      if (can_inline(g, i, c)) g->node[i].into = c;
    }
  }
}
