/* tile.c — sample groups: runs of per-sample kernels that the CPU backend
 * runs a few samples at a time.
 *
 * Problem: each kernel sweeps the whole batch. LeNet-5's first im2col
 * writes 5 MB at batch 64 and the product after it reads them back from
 * the last-level cache; so do pooling, col2im and their gradients.
 *
 * Approach: a kernel with Kernel.per_sample = u works sample by sample
 * (unit t touches the batch-proportional tensors only in sample t / u).
 * Consecutive such kernels form a group, which codegen/llvm.c runs as one
 * parallel job over the samples, S samples at a time through every
 * member, S chosen so that what the members touch per step fits
 * TILE_BYTES: what one member writes the next reads from L2. Each element
 * is still computed by the same code, so results are bit-identical.
 * Kernels between members that are not per-sample (a bias gradient's sum
 * over the batch) are deferred to after the group when nothing a later
 * member touches depends on them.
 *
 * Two things would make interleaving wrong:
 *  - dependences: a deferred kernel writing what a later member reads, or
 *    reading what a later member writes (the same storage). These end the
 *    group.
 *  - the memory plan: two tensors the planner put in overlapping bytes,
 *    one dead before the other is born, both touched in the group: run
 *    interleaved, one step's writes would clobber another step's reads.
 *    So once the groups are known, the graph is planned again with every
 *    tensor a group touches kept live to the group's last node
 *    (plan_keeping), and the kernels' buffer offsets are refreshed. The
 *    groups are then checked against the new plan; a group that still
 *    overlaps (none should) is dropped.
 *
 * A tensor that only one group's members touch (the columns im2col
 * writes and the product reads) need not outlive a step of the group: the
 * re-plan puts it in R_TILE, per-sample offsets in a scratch S samples
 * deep that each thread of the group has to itself (dlrt_tile_scratch).
 * If the regrouping after the re-plan no longer keeps every such tensor
 * inside one group, the graph is planned once more without R_TILE.
 *
 * Cost: O(kernels * buffers^2) per group; the extra liveness costs arena
 * bytes (dlc build --stats shows them).
 */
#include "codegen.h"
#include "passes.h"

#include <stdlib.h>

enum { TILE_BYTES = 256 << 10 };

/* The bytes one buffer occupies: per sample in R_ACTN and R_TILE. */
typedef struct Span {
  Region region;
  int64_t lo, hi;
  int root;         /* the node that owns the storage */
  bool written;
} Span;

typedef struct Spans {
  Span *s;
  int n, cap;
} Spans;

/* The node that owns j's storage: through views, and through assign and
 * scatter_update, which write into their target's. */
static int storage_root(const Graph *g, int j) {
  for (j = ir_view_root(g, j); g->node[j].op == OP_ASSIGN || g->node[j].op == OP_SCATTER_UPDATE;)
    j = ir_view_root(g, g->node[j].in[0]);
  return j;
}

static void push(Spans *to, Span s) {
  if (to->n == to->cap) {
    to->cap = to->cap ? 2 * to->cap : 16;
    to->s = realloc(to->s, sizeof *to->s * (size_t)to->cap);
    if (!to->s) die("out of memory");
  }
  to->s[to->n++] = s;
}

static void spans_of(const Graph *g, const Kernel *k, Spans *out) {
  for (int b = 0; b < k->nbuf; b++) {
    const KBuf *kb = &k->buf[b];
    if (kb->region == R_NONE) continue;
    int64_t bytes = node_bytes(&g->node[kb->node]).k;
    push(out, (Span){kb->region, kb->off, kb->off + bytes, storage_root(g, kb->node), kb->written});
  }
}

static bool overlap(const Span *a, const Span *b) {
  return a->region == b->region && a->lo < b->hi && b->lo < a->hi && (a->written || b->written);
}

/* Whether a kernel with spans k may follow the members (spans m) and the
 * deferred kernels (spans d) into the group. With plan set, storage that
 * two different tensors share also counts. */
static bool can_join(const Spans *k, const Spans *m, const Spans *d, bool plan) {
  for (int i = 0; i < k->n; i++) {
    const Span *x = &k->s[i];
    for (int j = 0; j < d->n; j++)
      if (overlap(x, &d->s[j]) && (plan || x->root == d->s[j].root)) return false;
    if (!plan) continue;
    for (int j = 0; j < m->n; j++)
      if (overlap(x, &m->s[j]) && x->root != m->s[j].root) return false;
    for (int j = i + 1; j < k->n; j++)
      if (overlap(x, &k->s[j]) && x->root != k->s[j].root) return false;
  }
  return true;
}

static bool in_repeat(const Program *p, int i) {
  for (int l = 0; l < p->nloop; l++)
    if (i >= p->loop[l].first && i < p->loop[l].last) return true;
  return false;
}

/* The group starting at kernel first: fills t (member flags in member,
 * indexed from first) and returns its member count. */
static int find_group(const Program *p, int first, bool *member, KTile *t, bool plan) {
  Spans m = {0}, d = {0}, k = {0};
  int nm = 0, last = first;
  for (int i = first; i < p->nk && !in_repeat(p, i); i++) {
    const Kernel *kn = p->k[i];
    k.n = 0;
    spans_of(p->g, kn, &k);
    bool join = kn->per_sample > 0 && can_join(&k, &m, &d, plan);
    if (kn->per_sample > 0 && !join) break;
    if (i == first && !join) break;
    for (int j = 0; j < k.n; j++) push(join ? &m : &d, k.s[j]);
    member[i - first] = join;
    if (join) nm++, last = i;
  }
  /* deferred kernels after the last member run as usual */
  int64_t bytes = 0;
  for (int i = 0; i < m.n; i++) {
    bool seen = false;
    for (int j = 0; j < i && !seen; j++) seen = m.s[j].root == m.s[i].root;
    if (!seen && (m.s[i].region == R_ACTN || m.s[i].region == R_TILE)) bytes += m.s[i].hi - m.s[i].lo;
  }
  *t = (KTile){.first = first, .end = last + 1, .member = member,
               .S = bytes > 0 && bytes < TILE_BYTES ? TILE_BYTES / bytes : 1};
  free(m.s);
  free(d.s);
  free(k.s);
  return nm;
}

/* Groups of two members or more, into p->tile: ignoring storage that
 * different tensors share (plan false), or checked against it (true). */
static void find_groups(Program *p, bool plan) {
  p->ntile = 0;
  for (int i = 0; i < p->nk; i++) {
    if (p->k[i]->per_sample <= 0 || in_repeat(p, i)) continue;
    bool *member = arena_alloc(p->arena, (size_t)(p->nk - i) * sizeof *member);
    KTile t;
    if (find_group(p, i, member, &t, plan) < 2) continue;
    p->tile[p->ntile++] = t;
    i = t.end - 1;
  }
}

/* Each kernel's buffers at their tensors' (new) storage, as kir_buf. */
static void refresh_offsets(const Graph *g, Program *p) {
  for (int i = 0; i < p->nk; i++)
    for (int b = 0; b < p->k[i]->nbuf; b++) {
      KBuf *kb = &p->k[i]->buf[b];
      const Node *n = &g->node[ir_view_root(g, kb->node)];
      if (n->op == OP_CONST) continue;
      kb->region = n->region;
      kb->off = n->off;
    }
}

/* The group whose member kernel i is, or -1. */
static int group_of(const Program *p, int i) {
  for (int t = 0; t < p->ntile; t++)
    if (i >= p->tile[t].first && i < p->tile[t].end)
      return p->tile[t].member[i - p->tile[t].first] ? t : -1;
  return -1;
}

enum { UNSEEN = -3, SHARED = -2 };

/* owner[r] for each storage root r: the group whose members alone touch
 * it, SHARED when other kernels do too, UNSEEN when no kernel does. */
static int *owners(const Graph *g, const Program *p) {
  int *owner = malloc(sizeof *owner * ((size_t)g->nnode + 1));
  if (!owner) die("out of memory");
  for (int i = 0; i <= g->nnode; i++) owner[i] = UNSEEN;
  for (int i = 0; i < p->nk; i++) {
    int t = group_of(p, i);
    for (int b = 0; b < p->k[i]->nbuf; b++) {
      int r = storage_root(g, p->k[i]->buf[b].node);
      owner[r] = owner[r] == UNSEEN || owner[r] == t ? (t >= 0 ? t : SHARED) : SHARED;
    }
  }
  for (int o = 0; o < g->nout; o++) owner[storage_root(g, g->out[o].node)] = SHARED;
  if (g->loss >= 0) owner[storage_root(g, g->loss)] = SHARED;
  return owner;
}

/* A tensor only one group's members touch, of samples, and no input,
 * parameter or state: it need not outlive the group's step. */
static bool tile_local(const Graph *g, const int *owner, int r) {
  Op op = g->node[r].op;
  return owner[r] >= 0 && shape_numel(&g->node[r].shape).sym && op != OP_INPUT &&
         op != OP_PARAM && op != OP_STATE && op != OP_CONST;
}

/* Whether every R_TILE tensor is touched only by the members of one group
 * (after the second grouping, which the new plan may have changed). */
static bool tiles_hold(const Graph *g, const Program *p) {
  int *owner = owners(g, p);
  bool ok = true;
  for (int i = 0; i < p->nk && ok; i++)
    for (int b = 0; b < p->k[i]->nbuf && ok; b++) {
      const KBuf *kb = &p->k[i]->buf[b];
      ok = kb->region != R_TILE || owner[storage_root(g, kb->node)] >= 0;
    }
  free(owner);
  return ok;
}

/* Plan g again keeping each group's tensors apart (and, with local, those
 * only a group touches in R_TILE); regroup against the new plan. */
static void replan(Graph *g, Program *p, bool local) {
  int *keep = calloc((size_t)g->nnode + 1, sizeof *keep);
  bool *tile = calloc((size_t)g->nnode + 1, sizeof *tile);
  int *owner = owners(g, p);
  if (!keep || !tile) die("out of memory");
  for (int t = 0; t < p->ntile; t++) {
    const KTile *kt = &p->tile[t];
    int last = 0;
    for (int i = kt->first; i < kt->end; i++)
      if (p->k[i]->node > last) last = p->k[i]->node;
    for (int i = kt->first; i < kt->end; i++)
      for (int b = 0; b < p->k[i]->nbuf; b++) {
        int n = p->k[i]->buf[b].node, r = storage_root(g, n);
        if (keep[n] < last) keep[n] = last;
        tile[r] = local && tile_local(g, owner, r);
      }
  }
  plan_keeping(g, keep, tile);
  refresh_offsets(g, p);
  free(keep);
  free(tile);
  free(owner);
  find_groups(p, true);
}

void cg_tile(Graph *g, Program *p) {
  if (!g->tile || !p->nk) return;
  p->tile = arena_alloc(p->arena, sizeof *p->tile * (size_t)p->nk);
  find_groups(p, false);
  if (!p->ntile) return;
  replan(g, p, true);
  if (!tiles_hold(g, p)) {
    find_groups(p, false);
    replan(g, p, false);
  }
  /* each member's depth, each group's scratch */
  for (int t = 0; t < p->ntile; t++) {
    KTile *kt = &p->tile[t];
    kt->scratch = 0;
    for (int i = kt->first; i < kt->end; i++) {
      if (!kt->member[i - kt->first]) continue;
      p->k[i]->tile_S = kt->S;
      for (int b = 0; b < p->k[i]->nbuf; b++) {
        const KBuf *kb = &p->k[i]->buf[b];
        if (kb->region != R_TILE) continue;
        int64_t end = (kb->off + node_bytes(&g->node[kb->node]).k) * kt->S;
        if (end > kt->scratch) kt->scratch = end;
      }
    }
  }
}
