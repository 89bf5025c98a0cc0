/* plan.c — memory planning: one static arena, reused by liveness.
 *
 * Problem: every tensor a kernel writes needs storage; a program should
 * allocate once, before the first batch, and never inside the loop.
 *
 * Approach: walk the nodes in execution order. Parameters are packed into
 * the weights region. Every other materialised tensor gets a block in the
 * activation region that matches its size class: R_ACTN when its size is
 * proportional to the batch size N (offsets in bytes per sample, so the
 * layout holds for every N), R_ACT otherwise. A block is free again once
 * the last node that reads it has run; allocation is first fit over the
 * blocks live at that moment, lowest offset first:
 *
 *     node:   0  1  2  3  4
 *     t1      [=====]            t1 dies after node 2,
 *     t3            [=====]      so t3 reuses its bytes
 *
 * Optimiser state is packed into its own region, like parameters; an
 * assign's result is its target's storage; a node fused into a later
 * kernel (fuse.c) has no storage at all. Views (reshape) alias their
 * operand and extend its lifetime; fill constants, hyper-parameters and
 * the batch size are compiled into the code and need no storage. Inputs and
 * outputs are live for the whole run: the runtime writes inputs before and
 * reads outputs after it.
 *
 * Cost: O(nodes * live blocks).
 *
 * requires: shapes; provides: Node.region/off, Graph.region_k/n;
 * invalidates: nothing (later graph rewrites must re-plan).
 */
#include "passes.h"

#include <stdlib.h>

enum { ALIGN = 64 };

typedef struct Block {
  int64_t off, size;
  int node;
} Block;

typedef struct Pool {
  Block *b;       /* live blocks */
  int n, cap;
  int64_t top;    /* high-water mark */
} Pool;

static int64_t align_up(int64_t x) { return (x + ALIGN - 1) / ALIGN * ALIGN; }

static int cmp_off(const void *x, const void *y) {
  const Block *a = x, *b = y;
  return (a->off > b->off) - (a->off < b->off);
}

/* First fit among the gaps between live blocks. */
static int64_t pool_alloc(Pool *p, int64_t size, int node) {
  if (p->n > 1) qsort(p->b, (size_t)p->n, sizeof *p->b, cmp_off);
  int64_t off = 0;
  for (int i = 0; i < p->n; i++) {
    if (p->b[i].off - off >= size) break;
    if (p->b[i].off + p->b[i].size > off) off = p->b[i].off + p->b[i].size;
  }
  if (p->n == p->cap) {
    p->cap = p->cap ? 2 * p->cap : 16;
    p->b = realloc(p->b, sizeof *p->b * (size_t)p->cap);
    if (!p->b) die("out of memory");
  }
  p->b[p->n++] = (Block){off, size, node};
  if (off + size > p->top) p->top = off + size;
  return off;
}

static void pool_release_dead(Pool *p, const int *last, int now) {
  for (int i = 0; i < p->n;)
    if (last[p->b[i].node] < now)
      p->b[i] = p->b[--p->n];
    else
      i++;
}

/* Root of a view chain: the node whose storage a view shares (a transpose
 * read in place by its products counts as a view). */
static int root_of(const Graph *g, const bool *read_through, int i) {
  while ((op_info[g->node[i].op].flags & F_VIEW) || read_through[i]) i = g->node[i].in[0];
  return i;
}

/* last[i]: index of the last kernel reading i's storage (views count as
 * reads of their root; a node fused into a later kernel reads its operands
 * when that kernel runs); nnode for outputs and inputs. */
static int *fill_last_use(const Graph *g, const bool *read_through) {
  int *last = malloc(sizeof(int) * (size_t)(g->nnode + 1));
  int *at = malloc(sizeof(int) * (size_t)(g->nnode + 1));
  if (!last || !at) die("out of memory");
  for (int i = g->nnode - 1; i >= 0; i--)
    at[i] = g->node[i].into ? at[g->node[i].into] : i;
  for (int i = 0; i < g->nnode; i++)
    last[i] = g->node[i].op == OP_INPUT ? g->nnode : i;
  for (int i = 0; i < g->nnode; i++)
    for (int k = 0; k < g->node[i].nin; k++) {
      int r = root_of(g, read_through, g->node[i].in[k]);
      if (last[r] < at[i]) last[r] = at[i];
    }
  free(at);
  for (int o = 0; o < g->nout; o++) last[root_of(g, read_through, g->out[o].node)] = g->nnode;
  return last;
}

static void plan(Graph *g, const int *keep, const bool *tile) {
  bool *read_through = malloc(sizeof(bool) * (size_t)(g->nnode + 1));
  if (!read_through) die("out of memory");
  for (int i = 0; i < g->nnode; i++) read_through[i] = ir_read_through(g, i);
  int *last = fill_last_use(g, read_through);
  if (keep)
    for (int i = 0; i < g->nnode; i++) {
      int r = root_of(g, read_through, i);
      if (last[r] < keep[i]) last[r] = keep[i];
    }
  Pool act = {0}, actn = {0}, tiles = {0};
  int64_t wtop = 0, stop = 0;
  g->naive_k = g->naive_n = 0;
  for (int i = 0; i < g->nnode; i++) {
    Node *n = &g->node[i];
    Size bytes = node_bytes(n);
    int64_t size = align_up(bytes.k);
    if (op_info[n->op].flags & F_VIEW) {
      const Node *r = &g->node[root_of(g, read_through, i)];
      n->region = r->region;
      n->off = r->off;
    } else if (n->op == OP_CONST || n->op == OP_HYPER || n->op == OP_BATCH || n->into ||
               read_through[i]) {
      n->region = R_NONE;
      n->off = 0;
    } else if (n->op == OP_PARAM) {
      n->region = R_WEIGHT;
      n->off = wtop;
      wtop += size;
    } else if (n->op == OP_STATE) {
      n->region = R_STATE;
      n->off = stop;
      stop += size;
    } else if (n->op == OP_ASSIGN || n->op == OP_SCATTER_UPDATE) { /* the target's storage */
      n->region = g->node[n->in[0]].region;
      n->off = g->node[n->in[0]].off;
    } else if (tile && tile[i] && bytes.sym) {
      pool_release_dead(&tiles, last, i);
      n->region = R_TILE;
      n->off = pool_alloc(&tiles, size, i);
      g->naive_n += size;
    } else {
      Pool *p = bytes.sym ? &actn : &act;
      pool_release_dead(p, last, i);
      n->region = bytes.sym ? R_ACTN : R_ACT;
      n->off = pool_alloc(p, size, i);
      *(bytes.sym ? &g->naive_n : &g->naive_k) += size;
    }
  }
  for (int r = 0; r < R_COUNT; r++) g->region_k[r] = g->region_n[r] = 0;
  g->region_k[R_WEIGHT] = wtop;
  g->region_k[R_STATE] = stop;
  g->region_k[R_ACT] = act.top;
  g->region_n[R_ACTN] = actn.top;
  g->region_n[R_TILE] = tiles.top;
  free(act.b);
  free(actn.b);
  free(tiles.b);
  free(last);
  free(read_through);
}

void pass_plan(Graph *g) { plan(g, NULL, NULL); }

/* Contract in passes.h. */
void plan_keeping(Graph *g, const int *keep, const bool *tile) { plan(g, keep, tile); }
