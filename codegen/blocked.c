/* blocked.c — lowering of the blocked layout's ops (to_blocked,
 * from_blocked, conv2d_blocked; passes/layout.c makes them) to kernel IR.
 *
 * The one idea: conv2d_blocked keeps a tile of RW output columns by the
 * 8 output channels of one block in RW*8 scalar locals, each column's 8
 * updated by the same input value times 8 contiguous weights. LLVM's SLP
 * vectorizer makes each column's 8 locals one vector register and its 8
 * multiply-adds one vfmadd of a broadcast input, so the innermost work
 * is RW independent vector FMAs per input channel and tap, one vector
 * load of weights shared by the RW columns:
 *
 *   for t = (n, ob, oh)                   parallel; ob: 1 or 2 blocks
 *     for each tile of RW columns from ow0
 *       acc[r][o] = 0                                   r < RW, o < 8
 *       for cb, kh (rows inside the image), kw, i < L (8, or 1 for a plain x)
 *         x_r = x[n, cb, ih, (ow0 + r)*sw - pw + kw*dw, i]
 *         acc[r][o] += x_r * w[ob, cb, kh, kw, i, o]
 *       y[n, ob, oh, ow0 + r, o] = acc[r][o]
 *
 * The rows of the padding are left out of the kh loop's range. The
 * columns whose window reaches into the left or right padding run one
 * at a time with a clamped load and a select; the others, a run known
 * when lowering, run in tiles with plain loads.
 */
#include "codegen.h"

#include <stdlib.h>

/* Accumulators of a tile of conv2d_blocked, as vectors of 8: with the
 * weights' vector of each block and a broadcast input, they fit AVX2's 16
 * registers. A tile is BLOCKS_MAX output blocks (when OB allows) by up
 * to TILE_MAX / blocks columns: each input value then feeds two
 * multiply-adds, so that the loads (the inputs' broadcasts and the
 * weights) do not outnumber them. */
enum { TILE_MAX = 12, BLOCKS_MAX = 2 };

static KExpr *ic(Program *p, int64_t i) { return kir_const_i(p, i); }
static KExpr *ivar(Program *p, Kernel *k, int v) { return kir_var_ref(p, k, v); }

/* A new loop over [lo, hi) inside parent; its variable in *var. */
static KStmt *loop(Program *p, Kernel *k, KStmt *parent, int *var, KExpr *lo, KExpr *hi) {
  *var = kir_var(p, k, KT_I64);
  return kir_loop(p, k, parent, *var, lo, hi);
}

/* Loops over every dimension of s, dimension 0 the parallel variable 0;
 * v[i] gets each dimension's variable. Returns the innermost loop. */
static KStmt *nest(Program *p, Kernel *k, const Shape *s, KExpr **v) {
  KStmt *l = NULL;
  k->extent = kir_dim(p, s->d[0]);
  v[0] = ivar(p, k, 0);
  for (int i = 1; i < s->rank; i++) {
    int var;
    l = loop(p, k, l, &var, ic(p, 0), kir_dim(p, s->d[i]));
    v[i] = ivar(p, k, var);
  }
  return l;
}

/* Linear index of position v (rank entries) in a row-major shape s. */
static KExpr *index_of(Program *p, const Shape *s, KExpr **v) {
  KExpr *i = ic(p, 0);
  for (int d = 0; d < s->rank; d++) i = kir_iadd(p, kir_imul(p, i, kir_dim(p, s->d[d])), v[d]);
  return i;
}

/* to_blocked: y[..., cb, rest, l] = x[..., cb*8 + l, rest] or 0 past C.
 * The channel is clamped before it forms an address. */
static void lower_to_blocked(Program *p, int node) {
  const Node *nd = &p->g->node[node], *x = &p->g->node[nd->in[0]];
  int a = (int)nd->a.ints[0], r = x->shape.rank;
  int64_t C = x->shape.d[a];
  Kernel *k = kir_kernel(p, "to_blocked", node, nd->loc);
  KExpr *v[MAX_RANK], *xv[MAX_RANK];
  KStmt *l = nest(p, k, &nd->shape, v);
  for (int i = 0; i < r; i++) xv[i] = v[i];
  KExpr *c = kir_iadd(p, kir_imul(p, v[a], ic(p, BLOCK_C)), v[r]);
  xv[a] = C % BLOCK_C ? kir_bin(p, K_MIN, c, ic(p, C - 1)) : c;
  KExpr *val = kir_load(p, k, kir_buf(p, k, nd->in[0], false), index_of(p, &x->shape, xv));
  if (C % BLOCK_C) val = kir_select(p, kir_bin(p, K_LT, c, ic(p, C)), val, kir_const_f(p, 0));
  kir_store(p, k, l, kir_buf(p, k, node, true), index_of(p, &nd->shape, v), val);
  k->work = (double)numel_eval(&nd->shape, 1) / (double)llabs(nd->shape.d[0]);
}

/* from_blocked: x[..., c, rest] = y[..., c/8, rest, c%8]. */
static void lower_from_blocked(Program *p, int node) {
  const Node *nd = &p->g->node[node], *y = &p->g->node[nd->in[0]];
  int a = (int)nd->a.ints[0], r = nd->shape.rank;
  Kernel *k = kir_kernel(p, "from_blocked", node, nd->loc);
  KExpr *v[MAX_RANK], *yv[MAX_RANK];
  KStmt *l = nest(p, k, &nd->shape, v);
  for (int i = 0; i < r; i++) yv[i] = v[i];
  yv[a] = kir_bin(p, K_DIV, v[a], ic(p, BLOCK_C));
  yv[r] = kir_bin(p, K_REM, v[a], ic(p, BLOCK_C));
  KExpr *val = kir_load(p, k, kir_buf(p, k, nd->in[0], false), index_of(p, &y->shape, yv));
  kir_store(p, k, l, kir_buf(p, k, node, true), index_of(p, &nd->shape, v), val);
  k->work = (double)numel_eval(&nd->shape, 1) / (double)llabs(nd->shape.d[0]);
}

/* ---- conv2d_blocked ---- */

typedef struct Conv {
  Program *p;
  Kernel *k;
  int x, w, y;                  /* buffers */
  int64_t L;                    /* input lanes: 8, or 1 (a plain image) */
  int64_t CB, H, W, OB, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw;
  int nob;                      /* output blocks per parallel unit */
  KExpr *n, *ob, *oh;           /* the parallel unit's image, first block, row */
  KExpr *kh_lo, *kh_hi;         /* the taps whose row is inside the image */
} Conv;

/* One tile: output columns ow0 .. ow0 + rw - 1 of row oh of blocks ob ..
 * ob + nob - 1 of image n, inside parent; checked: columns whose taps may
 * fall in the padding. */
static void conv_tile(Conv *c, KStmt *parent, KExpr *ow0, int rw, bool checked) {
  Program *p = c->p;
  Kernel *k = c->k;
  int acc[BLOCKS_MAX][TILE_MAX][BLOCK_C], xs[TILE_MAX], cb, kh, kw, i;
  for (int j = 0; j < c->nob; j++)
    for (int r = 0; r < rw; r++)
      for (int o = 0; o < BLOCK_C; o++) {
        acc[j][r][o] = kir_var(p, k, KT_F32);
        kir_set(p, k, parent, acc[j][r][o], kir_const_f(p, 0));
      }
  for (int r = 0; r < rw; r++) xs[r] = kir_var(p, k, KT_F32);
  KStmt *l = loop(p, k, parent, &cb, ic(p, 0), ic(p, c->CB));
  l = loop(p, k, l, &kh, c->kh_lo, c->kh_hi);
  l = loop(p, k, l, &kw, ic(p, 0), ic(p, c->KW));
  l = loop(p, k, l, &i, ic(p, 0), ic(p, c->L));
  KExpr *ih = kir_iadd(p, kir_imul(p, c->oh, ic(p, c->sh)),
                       kir_iadd(p, ic(p, -c->ph), kir_imul(p, ivar(p, k, kh), ic(p, c->dh))));
  KExpr *row = kir_imul(p, kir_iadd(p, kir_imul(p, kir_iadd(p, kir_imul(p, c->n, ic(p, c->CB)),
                                                            ivar(p, k, cb)), ic(p, c->H)), ih),
                        ic(p, c->W));
  for (int r = 0; r < rw; r++) {
    KExpr *iw = kir_iadd(p, kir_imul(p, kir_iadd(p, ow0, ic(p, r)), ic(p, c->sw)),
                         kir_iadd(p, ic(p, -c->pw), kir_imul(p, ivar(p, k, kw), ic(p, c->dw))));
    KExpr *cw = checked ? kir_bin(p, K_MIN, kir_bin(p, K_MAX, iw, ic(p, 0)), ic(p, c->W - 1)) : iw;
    KExpr *at = kir_iadd(p, kir_imul(p, kir_iadd(p, row, cw), ic(p, c->L)), ivar(p, k, i));
    KExpr *xv = kir_load(p, k, c->x, at);
    if (checked) xv = kir_select(p, kir_bin(p, K_EQ, cw, iw), xv, kir_const_f(p, 0));
    kir_set(p, k, l, xs[r], xv);
  }
  for (int j = 0; j < c->nob; j++) {
    KExpr *ob = kir_iadd(p, c->ob, ic(p, j));
    KExpr *tap = kir_iadd(p, kir_imul(p, kir_iadd(p, kir_imul(p, kir_iadd(p, kir_imul(p, ob,
                          ic(p, c->CB)), ivar(p, k, cb)), ic(p, c->KH)), ivar(p, k, kh)), ic(p, c->KW)),
                          ivar(p, k, kw));
    KExpr *wrow = kir_imul(p, kir_iadd(p, kir_imul(p, tap, ic(p, c->L)), ivar(p, k, i)), ic(p, BLOCK_C));
    for (int o = 0; o < BLOCK_C; o++) {
      KExpr *wv = kir_load(p, k, c->w, kir_iadd(p, wrow, ic(p, o)));
      for (int r = 0; r < rw; r++)
        kir_set(p, k, l, acc[j][r][o], kir_fma(p, ivar(p, k, xs[r]), wv, ivar(p, k, acc[j][r][o])));
    }
    KExpr *yrow = kir_imul(p, kir_iadd(p, kir_imul(p, kir_iadd(p, kir_imul(p, c->n, ic(p, c->OB)), ob),
                                                   ic(p, c->OH)), c->oh), ic(p, c->OW));
    for (int r = 0; r < rw; r++)
      for (int o = 0; o < BLOCK_C; o++) {
        KExpr *col = kir_iadd(p, yrow, kir_iadd(p, ow0, ic(p, r)));
        kir_store(p, k, parent, c->y, kir_iadd(p, kir_imul(p, col, ic(p, BLOCK_C)), ic(p, o)),
                  ivar(p, k, acc[j][r][o]));
      }
  }
}

/* The tile width for a row of OW columns: a tile narrower than TILE_MAX
 * costs about as much as a whole one (its accumulators' multiply-adds
 * wait on each other), so the fewest tiles, and of those the narrowest
 * width, which spreads the columns evenly. */
static int tile_width(int64_t OW, int64_t widest) {
  int64_t tiles = (OW + widest - 1) / widest;
  return (int)((OW + tiles - 1) / tiles);
}

/* The first kh whose row is inside the image, and one past the last:
 * 0 <= oh*sh - ph + kh*dh < H. */
static void kh_range(Conv *c) {
  Program *p = c->p;
  KExpr *lo = kir_iadd(p, ic(p, c->ph), kir_imul(p, c->oh, ic(p, -c->sh)));   /* kh*dh >= lo */
  KExpr *hi = kir_iadd(p, lo, ic(p, c->H));                                    /* kh*dh < hi */
  KExpr *zero = ic(p, 0), *d = ic(p, c->dh), *dm1 = ic(p, c->dh - 1);
  c->kh_lo = kir_bin(p, K_DIV, kir_iadd(p, kir_bin(p, K_MAX, lo, zero), dm1), d);
  c->kh_hi = kir_bin(p, K_MIN, kir_bin(p, K_DIV, kir_iadd(p, kir_bin(p, K_MAX, hi, zero), dm1), d),
                     ic(p, c->KH));
}

/* The tiles of a row: those in [lo, hi) (every tap inside the image) in
 * one loop, each other one on its own and checked. */
static void conv_row(Conv *c, int64_t lo, int64_t hi) {
  Program *p = c->p;
  int rw = tile_width(c->OW, TILE_MAX / c->nob), tv;
  int64_t full = c->OW / rw, rest = c->OW % rw;
  int64_t t0 = (lo + rw - 1) / rw, t1 = hi >= 0 ? hi / rw : 0; /* the inside tiles */
  if (t1 > full) t1 = full;
  if (t1 < t0) t1 = t0 = full;
  for (int64_t t = 0; t < t0; t++) conv_tile(c, NULL, ic(p, t * rw), rw, true);
  if (t1 > t0) {
    KStmt *l = loop(p, c->k, NULL, &tv, ic(p, t0), ic(p, t1));
    conv_tile(c, l, kir_imul(p, ivar(p, c->k, tv), ic(p, rw)), rw, false);
  }
  for (int64_t t = t1; t < full; t++) conv_tile(c, NULL, ic(p, t * rw), rw, true);
  if (rest) conv_tile(c, NULL, ic(p, full * rw), (int)rest, full * rw < lo || c->OW > hi);
}

static void lower_conv2d_blocked(Program *p, int node) {
  const Node *nd = &p->g->node[node];
  const Shape *xs = &p->g->node[nd->in[0]].shape, *ws = &p->g->node[nd->in[1]].shape;
  const int64_t *a = nd->a.ints;
  Kernel *k = kir_kernel(p, "conv2d_blocked", node, nd->loc);
  Conv c = {.p = p, .k = k, .L = xs->d[4], .CB = xs->d[1], .H = xs->d[2], .W = xs->d[3], .OB = nd->shape.d[1],
            .OH = nd->shape.d[2], .OW = nd->shape.d[3], .KH = ws->d[2], .KW = ws->d[3],
            .sh = a[0], .sw = a[1], .ph = a[2], .pw = a[3], .dh = a[4], .dw = a[5]};
  c.x = kir_buf(p, k, nd->in[0], false);
  c.w = kir_buf(p, k, nd->in[1], false);
  c.y = kir_buf(p, k, node, true);
  c.nob = c.OB % BLOCKS_MAX == 0 ? BLOCKS_MAX : 1;
  int64_t units = c.OB / c.nob; /* per image and row */
  k->extent = kir_imul(p, kir_dim(p, nd->shape.d[0]), ic(p, units * c.OH));
  KExpr *t = ivar(p, k, 0);
  c.n = kir_bin(p, K_DIV, t, ic(p, units * c.OH));
  c.ob = kir_imul(p, kir_bin(p, K_REM, kir_bin(p, K_DIV, t, ic(p, c.OH)), ic(p, units)), ic(p, c.nob));
  c.oh = kir_bin(p, K_REM, t, ic(p, c.OH));
  kh_range(&c);
  /* columns whose every tap is inside: ow*sw >= pw and
   * ow*sw - pw + (KW-1)*dw <= W-1 */
  int64_t lo = (c.pw + c.sw - 1) / c.sw, last = c.W - 1 + c.pw - (c.KW - 1) * c.dw;
  int64_t hi = last < 0 ? 0 : last / c.sw + 1;
  conv_row(&c, lo, hi);
  k->work = 2.0 * (double)(c.nob * c.OW * BLOCK_C * c.CB * c.L * c.KH * c.KW);
}

void cg_lower_blocked(Program *p, int node) {
  switch (p->g->node[node].op) {
  case OP_TO_BLOCKED: lower_to_blocked(p, node); break;
  case OP_FROM_BLOCKED: lower_from_blocked(p, node); break;
  case OP_CONV2D_BLOCKED: lower_conv2d_blocked(p, node); break;
  default: die("cg_lower_blocked: %s is not a blocked-layout op", op_info[p->g->node[node].op].name);
  }
}
