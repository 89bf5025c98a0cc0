/* recur.c — lowering of the recurrent layers (lstm, gru, rnn) and of
 * their gradients to kernel IR.
 *
 * The one idea: a layer over T steps is its first step, then two kernels
 * in a KRepeat of T - 1 iterations, not T copies of the cell, so its code
 * does not grow with T. Per step t (K_ITER + 1 counting in run order):
 *
 *   forward   hp  = S[:, t-1, h] x Whh        KGemm, M = N rows
 *             S[:, t] = cell(xp[:, t], hp, S[:, t-1])   per sample, per j < H
 *   backward  dh  = R[:, t+1, 0:G*H] x Whh^T  KGemm
 *             R[:, t] = cell'(dS[:, t], S[:, t-1..t+1], R[:, t+1], dh)
 *
 * S is the forward result [N, T, state*H] (ir_cell gives the columns): the
 * product is written into its gate columns of step t and the cell kernel
 * replaces it there by the gates' activations. R is the gradient op's
 * result: the product writes its dh column, which the cell kernel reads
 * and replaces by the step's whole dh. The first step, which has no step
 * before it, is peeled off the loop: it has no product and its cell reads
 * zeros, and inside the loop the step before is always t -+ 1, a fixed
 * distance from the step written, which lets LLVM vectorise the cell.
 * "t-1" and "t+1" are earlier and later in time; reverse layers swap them.
 */
#include "codegen.h"

typedef struct Rec {
  Program *p;
  Kernel *k;
  const Cell *c;
  KStmt *l;            /* the loop over j < H */
  int64_t H, T;
  bool rev;
  KExpr *t, *prev, *next; /* steps: this one, the one before and after in
                             run order (see steps()) */
  bool start;             /* the first step, peeled off the loop */
  KExpr *last;            /* bool: the last step */
  KExpr *n, *j;           /* sample and column */
} Rec;

static KExpr *ic(Program *p, int64_t i) { return kir_const_i(p, i); }

/* The steps of run index k (the first step, start, or iteration k - 1 of
 * the loop) of a run forwards in time (fwd) or backwards. The step before
 * in run order is read only when there is one, and is not clamped: so the
 * vectorizer sees that it is a fixed distance from the step written. The
 * step after is clamped at the end of the run. */
static void steps(Rec *r, bool fwd, bool start) {
  Program *p = r->p;
  KExpr *k = start ? ic(p, 0) : kir_iadd(p, kir_frame(p, K_ITER, 0), ic(p, 1));
  KExpr *T1 = ic(p, r->T - 1);
  r->start = start;
  r->t = fwd ? k : kir_bin(p, K_SUB, T1, k);
  r->last = kir_bin(p, K_EQ, k, T1);
  r->prev = kir_iadd(p, r->t, ic(p, fwd ? -1 : 1));
  r->next = kir_select(p, r->last, r->t, kir_iadd(p, r->t, ic(p, fwd ? 1 : -1)));
}

/* The per-step product of every step but the first:
 * C[:, tc, coff:] = A[:, ta, aoff:aoff+K] x B (B^T when trans), C and A
 * rows of buffer buf (width w per step), B the weights w_node. */
static void step_gemm(Rec *r, int node, int w_node, int64_t width, KExpr *ta, int64_t aoff,
                      KExpr *tc, int64_t coff, int64_t K, int64_t Ncols, bool trans) {
  Program *p = r->p;
  const Node *nd = &p->g->node[node];
  char what[64];
  snprintf(what, sizeof what, "%s_product", op_info[nd->op].name);
  Kernel *k = kir_kernel(p, what, node, nd->loc);
  KGemm *gm = arena_alloc(p->arena, sizeof *gm);
  k->gemm = gm;
  gm->a = gm->c = kir_buf(p, k, node, true);
  gm->b = kir_buf(p, k, w_node, false);
  gm->M = kir_dim(p, nd->shape.d[0]);
  gm->N = ic(p, Ncols);
  gm->K = ic(p, K);
  gm->a_rs = gm->ldc = ic(p, r->T * width);
  gm->a_ks = ic(p, 1);
  gm->ldb = trans ? ic(p, 1) : ic(p, Ncols);
  gm->b_ns = trans ? ic(p, K) : ic(p, 1);
  gm->batch = ic(p, 1);
  gm->sa = gm->sb = gm->sc = ic(p, 0);
  gm->a_off = kir_iadd(p, kir_imul(p, ta, ic(p, width)), ic(p, aoff));
  gm->c_off = kir_iadd(p, kir_imul(p, tc, ic(p, width)), ic(p, coff));
  gm->nr = cg_gemm_nr();
  int64_t panels = (Ncols + gm->nr - 1) / gm->nr;
  k->extent = ic(p, panels);
  k->work = 2.0 * 64 * gm->nr * (double)K;
}

/* The cell kernel: parallel over samples, a loop over j < H. */
static void cell_kernel(Rec *r, int node) {
  Program *p = r->p;
  const Node *nd = &p->g->node[node];
  char what[64];
  snprintf(what, sizeof what, "%s_cell", op_info[nd->op].name);
  r->k = kir_kernel(p, what, node, nd->loc);
  r->k->extent = kir_dim(p, nd->shape.d[0]);
  r->k->work = 40.0 * (double)r->H;
  r->n = kir_var_ref(p, r->k, 0);
  int j = kir_var(p, r->k, KT_I64);
  r->l = kir_loop(p, r->k, NULL, j, ic(p, 0), ic(p, r->H));
  r->j = kir_var_ref(p, r->k, j);
}

/* Element (sample n, step t, column q*H + j) of buffer b, width w. */
static KExpr *at(Rec *r, KExpr *t, int64_t w, int64_t q) {
  Program *p = r->p;
  KExpr *row = kir_iadd(p, kir_imul(p, r->n, ic(p, r->T)), t);
  return kir_iadd(p, kir_imul(p, row, ic(p, w)), kir_iadd(p, ic(p, q * r->H), r->j));
}

static KExpr *ld(Rec *r, int b, KExpr *t, int64_t w, int64_t q) {
  return kir_load(r->p, r->k, b, at(r, t, w, q));
}

/* A local set to v; its reference. */
static KExpr *let(Rec *r, KExpr *v) {
  int x = kir_var(r->p, r->k, KT_F32);
  kir_set(r->p, r->k, r->l, x, v);
  return kir_var_ref(r->p, r->k, x);
}

static KExpr *add(Rec *r, KExpr *a, KExpr *b) { return kir_bin(r->p, K_ADD, a, b); }
static KExpr *sub(Rec *r, KExpr *a, KExpr *b) { return kir_bin(r->p, K_SUB, a, b); }
static KExpr *mul(Rec *r, KExpr *a, KExpr *b) { return kir_bin(r->p, K_MUL, a, b); }
static KExpr *fc(Rec *r, double v) { return kir_const_f(r->p, v); }
static KExpr *sigm(Rec *r, KExpr *x) { return kir_un(r->p, K_SIGMOID, x); }
static KExpr *tnh(Rec *r, KExpr *x) { return kir_un(r->p, K_TANH, x); }
/* v, or 0 at the first step (where there is no step before) */
static KExpr *later(Rec *r, KExpr *v) { return r->start ? fc(r, 0) : v; }
/* v, or 0 at the last step */
static KExpr *unless_last(Rec *r, KExpr *v) { return kir_select(r->p, r->last, fc(r, 0), v); }

static void st(Rec *r, int b, KExpr *t, int64_t w, int64_t q, KExpr *v) {
  kir_store(r->p, r->k, r->l, b, at(r, t, w, q), v);
}

/* The forward cell of step t from xp (buffer x) and hp (in S's gate
 * columns), as in ir/interp.c's cell_step. */
static void forward_cell(Rec *r, int S, int x) {
  const Cell *c = r->c;
  int64_t SW = c->state * r->H, GW = c->gates * r->H;
  KExpr *pre[4];
  for (int q = 0; q < c->gates; q++) {
    KExpr *hp = let(r, later(r, ld(r, S, r->t, SW, q)));
    KExpr *xq = ld(r, x, r->t, GW, q);
    pre[q] = c->op == OP_GRU && q == 2 ? hp : let(r, add(r, xq, hp));
    if (c->op == OP_GRU && q == 2) pre[3] = xq;
  }
  switch (c->op) {
  case OP_LSTM: {
    KExpr *i = let(r, sigm(r, pre[0])), *f = let(r, sigm(r, pre[1]));
    KExpr *g = let(r, tnh(r, pre[2])), *o = let(r, sigm(r, pre[3]));
    KExpr *cp = later(r, ld(r, S, r->prev, SW, 4));
    KExpr *cc = let(r, add(r, mul(r, f, cp), mul(r, i, g)));
    KExpr *v[6] = {i, f, g, o, cc, mul(r, o, tnh(r, cc))};
    for (int q = 0; q < 6; q++) st(r, S, r->t, SW, q, v[q]);
    break;
  }
  case OP_GRU: {
    KExpr *rr = let(r, sigm(r, pre[0])), *z = let(r, sigm(r, pre[1]));
    KExpr *hn = pre[2], *nn = let(r, tnh(r, add(r, pre[3], mul(r, rr, hn))));
    KExpr *hp = later(r, ld(r, S, r->prev, SW, 4));
    KExpr *v[5] = {rr, z, nn, hn, add(r, mul(r, sub(r, fc(r, 1), z), nn), mul(r, z, hp))};
    for (int q = 0; q < 5; q++) st(r, S, r->t, SW, q, v[q]);
    break;
  }
  case OP_RNN: st(r, S, r->t, SW, 0, tnh(r, pre[0])); break;
  default: die("%s is not recurrent", op_info[c->op].name);
  }
}

/* The backward cell of step t, as in ir/interp.c's cell_grad. */
static void backward_cell(Rec *r, int R, int dS, int S) {
  const Cell *c = r->c;
  int64_t SW = c->state * r->H, RW = c->grad * r->H;
  KExpr *ds[6];
  const Node *dsn = &r->p->g->node[r->p->g->node[r->k->node].in[0]];
  bool h_only = dsn->shape.d[2] == r->H; /* the gradient of h alone */
  for (int q = 0; q < c->state; q++)
    ds[q] = !h_only ? ld(r, dS, r->t, SW, q) : q == c->h ? ld(r, dS, r->t, r->H, 0) : fc(r, 0);
  KExpr *dh = add(r, later(r, ld(r, R, r->t, RW, c->grad - 1)), ds[c->h]);
  KExpr *s[6];
  for (int q = 0; q < c->state; q++) s[q] = let(r, ld(r, S, r->t, SW, q));
  switch (c->op) {
  case OP_LSTM: {
    dh = let(r, dh);
    KExpr *i = s[0], *f = s[1], *g = s[2], *o = s[3], *tc = let(r, tnh(r, s[4]));
    KExpr *cp = unless_last(r, ld(r, S, r->prev, SW, 4));
    KExpr *carry = later(r, mul(r, ld(r, R, r->next, RW, 4), ld(r, S, r->next, SW, 1)));
    KExpr *dc = let(r, add(r, add(r, ds[4], mul(r, mul(r, dh, o), sub(r, fc(r, 1), mul(r, tc, tc)))), carry));
    KExpr *v[6] = {
        mul(r, add(r, mul(r, dc, g), ds[0]), mul(r, i, sub(r, fc(r, 1), i))),
        mul(r, add(r, mul(r, dc, cp), ds[1]), mul(r, f, sub(r, fc(r, 1), f))),
        mul(r, add(r, mul(r, dc, i), ds[2]), sub(r, fc(r, 1), mul(r, g, g))),
        mul(r, add(r, mul(r, dh, tc), ds[3]), mul(r, o, sub(r, fc(r, 1), o))),
        dc, dh};
    for (int q = 0; q < 6; q++) st(r, R, r->t, RW, q, v[q]);
    break;
  }
  case OP_GRU: {
    KExpr *rr = s[0], *z = s[1], *nn = s[2], *hn = s[3];
    KExpr *hp = unless_last(r, ld(r, S, r->prev, SW, 4));
    dh = let(r, add(r, dh, later(r, mul(r, ld(r, R, r->next, RW, 4),
                                                      ld(r, S, r->next, SW, 1)))));
    KExpr *dn = let(r, mul(r, add(r, mul(r, dh, sub(r, fc(r, 1), z)), ds[2]),
                           sub(r, fc(r, 1), mul(r, nn, nn))));
    KExpr *v[5] = {
        mul(r, add(r, mul(r, dn, hn), ds[0]), mul(r, rr, sub(r, fc(r, 1), rr))),
        mul(r, add(r, mul(r, dh, sub(r, hp, nn)), ds[1]), mul(r, z, sub(r, fc(r, 1), z))),
        add(r, mul(r, dn, rr), ds[3]), dn, dh};
    for (int q = 0; q < 5; q++) st(r, R, r->t, RW, q, v[q]);
    break;
  }
  case OP_RNN: {
    dh = let(r, dh);
    st(r, R, r->t, RW, 0, mul(r, dh, sub(r, fc(r, 1), mul(r, s[0], s[0]))));
    st(r, R, r->t, RW, 1, dh);
    break;
  }
  default: die("%s is not recurrent", op_info[c->op].name);
  }
}

/* One step of the run: its product (not at the first) and its cell. */
static void lower_step(Rec *r, int node, bool grad) {
  Program *p = r->p;
  const Node *nd = &p->g->node[node];
  const Cell *c = r->c;
  int64_t H = r->H;
  if (!grad) {
    if (!r->start)
      step_gemm(r, node, nd->in[1], c->state * H, r->prev, c->h * H, r->t, 0, H, c->gates * H,
                false);
    cell_kernel(r, node);
    forward_cell(r, kir_buf(p, r->k, node, true), kir_buf(p, r->k, nd->in[0], false));
    return;
  }
  if (!r->start)
    step_gemm(r, node, nd->in[2], c->grad * H, r->next, 0, r->t, (c->grad - 1) * H,
              c->gates * H, H, true);
  cell_kernel(r, node);
  backward_cell(r, kir_buf(p, r->k, node, true), kir_buf(p, r->k, nd->in[0], false),
                kir_buf(p, r->k, nd->in[1], false));
}

/* The first step of the run on its own, then a KRepeat of the other
 * T - 1. The backward run goes against time: its steps "before" and
 * "after" are swapped back to time order for the cell, which reads the
 * step after in time (the gradient flowing back) and the one before (the
 * forward cell state). */
void cg_lower_recur(Program *p, int node, bool grad) {
  const Node *nd = &p->g->node[node];
  const Cell *c = ir_cell(nd->op);
  Rec r = {.p = p, .c = c, .H = p->g->node[nd->in[grad ? 2 : 1]].shape.d[0],
           .T = nd->shape.d[1], .rev = nd->a.ints[0]};
  bool fwd = grad ? r.rev : !r.rev;
  for (int start = 1; start >= 0; start--) {
    if (!start && r.T == 1) break;
    int first = p->nk;
    steps(&r, fwd, start);
    if (grad) { /* run order to time order */
      KExpr *after = r.next;
      r.next = r.prev;
      r.prev = after;
    }
    lower_step(&r, node, grad);
    if (!start) kir_repeat(p, first, r.T - 1);
  }
}
