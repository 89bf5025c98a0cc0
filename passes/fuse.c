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
 *   - it is elementwise (F_ELEMWISE: no reduction, no data movement) or a
 *     broadcast,
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
 * A matrix product whose only use is such a chain (directly or through a
 * reshape) is absorbed too: the product is written straight into the
 * chain's output, and the chain runs over each finished panel of it while
 * it is in cache (an epilogue), so dense + bias + activation, and a
 * convolution (a product after convgemm) + bias + activation, are one
 * kernel and the product's result is never stored on its own:
 *
 *     %5 = matmul %x, %W        into=%7     }  one kernel: the product's
 *     %6 = broadcast %b ...     into=%7     }  panels, each followed by
 *     %7 = add %5, %6           into=%8     }  relu(panel + b) in place
 *     %8 = relu %7                          }
 *
 * A chain absorbs at most one product, and an assign none.
 *
 * Cost: O(nodes).
 *
 * requires: shapes; provides: Node.into; invalidates: plan (inlined nodes
 * need no storage).
 */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

static bool is_result(const Graph *g, int i) {
  for (int o = 0; o < g->nout; o++)
    if (g->out[o].node == i) return true;
  return g->loss == i;
}

/* Whether consumer c's kernel can compute operand i inline. */
static bool can_inline(const Graph *g, int i, int c) {
  const Node *n = &g->node[i], *u = &g->node[c];
  /* a broadcast is inlined too: its consumer's loop nest reads the smaller
   * operand with broadcast indexing (which stays in memory: nothing is
   * inlined into a broadcast) */
  bool elemwise = (op_info[n->op].flags & F_ELEMWISE) || n->op == OP_BROADCAST;
  if (!elemwise || n->uses != 1 || is_result(g, i)) return false;
  if (!(op_info[u->op].flags & F_ELEMWISE) && u->op != OP_ASSIGN) return false;
  return n->dtype == DT_F32 && shape_equal(&n->shape, &u->shape);
}

/* The matmul that elementwise consumer c could absorb through its
 * operand i (the product itself or a reshape of it, used only by c, of
 * c's shape), or -1. */
static int absorbable_product(const Graph *g, int i, int c) {
  const Node *u = &g->node[c];
  if (!(op_info[u->op].flags & F_ELEMWISE) || u->dtype != DT_F32) return -1;
  if (!shape_equal(&g->node[i].shape, &u->shape)) return -1;
  int m = i;
  while (g->node[m].op == OP_RESHAPE && g->node[m].uses == 1 && !is_result(g, m))
    m = g->node[m].in[0];
  const Node *n = &g->node[m];
  if (n->op != OP_MATMUL || n->uses != 1 || is_result(g, m)) return -1;
  return m;
}

/* The kernel that computes node i: the root of its into chain. */
static int root_of(const Graph *g, int i) {
  while (g->node[i].into) i = g->node[i].into;
  return i;
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
  /* products into the chains that consume them, one per kernel */
  bool *has = calloc((size_t)g->nnode + 1, sizeof *has);
  if (!has) die("out of memory");
  for (int c = 0; c < g->nnode; c++) {
    for (int k = 0; k < g->node[c].nin; k++) {
      int m = absorbable_product(g, g->node[c].in[k], c), r = root_of(g, c);
      if (m < 0 || has[r] || g->node[r].op == OP_ASSIGN) continue;
      g->node[m].into = c;
      has[r] = true;
    }
  }
  free(has);
}
