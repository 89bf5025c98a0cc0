/* cse.c — common-subexpression elimination: merge nodes that compute the
 * same value into the first of them.
 *
 * Two nodes are the same computation when they have the same op, dtype,
 * shape, attributes and operands (for a commutative op, the same operands in
 * either order). Two constants are the same when their dtype, shape and
 * every element value agree, however they are written (a fill value or a
 * data array). Inputs and params are never merged: two inputs with the
 * same type are still two different things the user feeds in, and each
 * param is a separate trained weight.
 *
 * Every op in ops.def is a pure function of its operands today. An op with
 * randomness or side effects (dropout, say) would need a flag in ops.def
 * and an exclusion here.
 */
#include "passes.h"

#include <string.h>

/* Number of float attributes op uses: the names in its ops.def column. */
static int nfloats(Op op) {
  const char *s = op_info[op].floats;
  if (!*s) return 0;
  int n = 1;
  for (; *s; s++) n += *s == ',';
  return n;
}

/* Values are compared by their bits, not with ==: 0.0 and -0.0 are
 * different constants (1/x tells them apart), and a NaN equals itself. */
static bool same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* If every element of constant n has the same value, store it in *v. */
static bool const_fill(const Node *n, double *v) {
  if (!n->data) {
    *v = n->a.f[0];
    return true;
  }
  int64_t cnt = numel_eval(&n->shape, 1);
  for (int64_t e = 1; e < cnt; e++)
    if (!same_bits(n->data[e], n->data[0])) return false;
  *v = cnt > 0 ? n->data[0] : 0.0;
  return true;
}

/* The operands of n in the order they are compared: sorted for a
 * commutative binary op, as written otherwise. */
static int operand(const Node *n, int k) {
  if ((op_info[n->op].flags & F_COMMUT) && n->nin == 2) {
    int lo = n->in[0] < n->in[1] ? n->in[0] : n->in[1];
    int hi = n->in[0] < n->in[1] ? n->in[1] : n->in[0];
    return k == 0 ? lo : hi;
  }
  return n->in[k];
}

static uint64_t hash_type(uint64_t h, const Node *n) {
  h = hash_bytes(h, &n->op, sizeof n->op);
  h = hash_bytes(h, &n->dtype, sizeof n->dtype);
  h = hash_bytes(h, &n->shape.rank, sizeof n->shape.rank);
  return hash_bytes(h, n->shape.d, sizeof(int64_t) * (size_t)n->shape.rank);
}

static uint64_t hash_node(const Node *n) {
  uint64_t h = hash_type(HASH_INIT, n);
  double v;
  if (n->op == OP_CONST && const_fill(n, &v)) return hash_bytes(h, &v, sizeof v);
  if (n->op == OP_CONST)
    return hash_bytes(h, n->data, sizeof(double) * (size_t)numel_eval(&n->shape, 1));
  h = hash_bytes(h, &n->a.nints, sizeof n->a.nints);
  h = hash_bytes(h, n->a.ints, sizeof(int64_t) * (size_t)n->a.nints);
  h = hash_bytes(h, n->a.f, sizeof(double) * (size_t)nfloats(n->op));
  for (int k = 0; k < n->nin; k++) {
    int x = operand(n, k);
    h = hash_bytes(h, &x, sizeof x);
  }
  return h;
}

static bool same_const(const Node *a, const Node *b) {
  double va, vb;
  bool fa = const_fill(a, &va), fb = const_fill(b, &vb);
  if (fa || fb) return fa && fb && same_bits(va, vb);
  int64_t cnt = numel_eval(&a->shape, 1);
  return memcmp(a->data, b->data, sizeof(double) * (size_t)cnt) == 0;
}

static bool same_node(const Node *a, const Node *b) {
  if (a->op != b->op || a->dtype != b->dtype || !shape_equal(&a->shape, &b->shape))
    return false;
  if (a->op == OP_CONST) return same_const(a, b);
  if (a->nin != b->nin || a->a.nints != b->a.nints) return false;
  for (int k = 0; k < a->nin; k++)
    if (operand(a, k) != operand(b, k)) return false;
  for (int k = 0; k < a->a.nints; k++)
    if (a->a.ints[k] != b->a.ints[k]) return false;
  for (int k = 0; k < nfloats(a->op); k++)
    if (!same_bits(a->a.f[k], b->a.f[k])) return false;
  return true;
}

/* Algorithm: value numbering in one forward sweep with a hash table.
 *
 *   %3 = mul %0, %1          table: {mul(%0,%1) -> %3}
 *   %4 = mul %1, %0          same key (sorted operands): rep[%4] = %3
 *   %5 = add %4, %2          operands first rewritten: add %3, %2
 *
 * Sweeping in topological order, each node's operands are first replaced by
 * their representatives, so by the time a node is hashed every duplicate
 * below it has already been merged and whole duplicate subtrees collapse in
 * one sweep. A node equal to one in the table takes it as representative;
 * otherwise it enters the table. Outputs are redirected, and ir_compact
 * drops every node that is not its own representative (none of them is
 * used any more). Cost: O(nodes + operands) expected, plus O(elements) to
 * hash each constant's data.
 *
 * requires:    operands come before their users (topological order)
 * provides:    no two non-source nodes or constants compute the same value
 * invalidates: node indices (renumbered), use counts
 */
void pass_cse(Graph *g) {
  Arena *scratch = arena_new();
  size_t cap = 16;
  while (cap < 2 * (size_t)g->nnode) cap *= 2;
  int *slot = arena_alloc(scratch, sizeof(int) * cap);
  uint64_t *hash = arena_alloc(scratch, sizeof(uint64_t) * (size_t)(g->nnode + 1));
  int *rep = arena_alloc(scratch, sizeof(int) * (size_t)(g->nnode + 1));
  bool *keep = arena_alloc(scratch, sizeof(bool) * (size_t)(g->nnode + 1));
  memset(slot, -1, sizeof(int) * cap);
  for (int i = 0; i < g->nnode; i++) {
    Node *n = &g->node[i];
    for (int k = 0; k < n->nin; k++) n->in[k] = rep[n->in[k]];
    rep[i] = i;
    if (ir_is_root(n)) continue;
    hash[i] = hash_node(n);
    for (size_t p = hash[i] & (cap - 1);; p = (p + 1) & (cap - 1)) {
      int j = slot[p];
      if (j < 0) {
        slot[p] = i;
        break;
      }
      if (hash[j] == hash[i] && same_node(&g->node[j], n)) {
        rep[i] = j;
        break;
      }
    }
  }
  for (int o = 0; o < g->nout; o++) g->out[o].node = rep[g->out[o].node];
  for (int i = 0; i < g->nnode; i++) keep[i] = rep[i] == i;
  ir_compact(g, keep);
  arena_free(scratch);
}
