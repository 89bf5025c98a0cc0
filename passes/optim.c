/* optim.c — the optimiser's update, as graph IR.
 *
 * For every parameter p with gradient dp the training step ends with
 *
 *     g      = clip(dp) + l2 * p + l1 * sign(p)        (regularisation)
 *     state' = f(state, g)                             (momentum, moments)
 *     p'     = p - lr * step(state', g)
 *     assign(state, state'); assign(p, p')
 *
 * written with the same builders as every other node, so fusion and the
 * backends see nothing special. Which terms exist is fixed when the model
 * is compiled (the train section names the optimiser and the
 * regularisers); their values are runtime scalars (hyper nodes), so
 * `./m train --lr 0.1` needs no recompilation and the runtime can apply a
 * learning-rate schedule and Adam's bias corrections step by step.
 *
 * The update rules follow PyTorch's (torch.optim) so that runs can be
 * compared number for number: SGD with momentum and Nesterov, AdaGrad,
 * RMSProp (with momentum), Adam and AdamW. L1 and L2 apply to weights
 * (params of rank 2 or more), not to biases.
 *
 * A table whose gradient is one scatter_add (an embedding looked up once,
 * passes/autodiff.c) is updated sparsely under plain SGD: p - lr *
 * scatter_add(dy, ids) is written as scatter_update(p, -lr * dy, ids),
 * which touches only the rows the batch used; the dense gradient is then
 * dead. Any other optimiser, and momentum, regularisation or clipping,
 * reads or moves every row, so those keep the dense update.
 */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

static Loc here;

static int node(Graph *g, Op op, int a, int b) {
  char why[256];
  int in[2] = {a, b};
  int i = ir_add(g, op, in, b < 0 ? 1 : 2, NULL, here, why);
  if (i < 0) die("optimiser built an invalid %s: %s", op_info[op].name, why);
  return i;
}

#define ADD(a, b) node(g, OP_ADD, a, b)
#define SUB(a, b) node(g, OP_SUB, a, b)
#define MUL(a, b) node(g, OP_MUL, a, b)
#define DIV(a, b) node(g, OP_DIV, a, b)

static int k(Graph *g, double v) { return ir_const(g, DT_F32, (Shape){0}, v, NULL, here); }

/* The value of train key `key`, or NULL. */
static const char *kv(const Graph *g, const char *key) {
  for (int t = 0; t < g->ntrain; t++)
    if (strcmp(g->train[t].key, key) == 0) return g->train[t].value;
  return NULL;
}

/* The keyword argument `name=` of a canonical call text `f(a=1, b=2)`. */
static bool call_arg(const char *call, const char *name, double *out) {
  size_t n = strlen(name);
  for (const char *p = strchr(call, '('); p && *p; p++) {
    if ((p[-1] == '(' || p[-1] == ' ') && strncmp(p, name, n) == 0 && p[n] == '=') {
      if (strncmp(p + n + 1, "true", 4) == 0) *out = 1;
      else if (strncmp(p + n + 1, "false", 5) == 0) *out = 0;
      else *out = strtod(p + n + 1, NULL);
      return true;
    }
  }
  return false;
}

bool optim_spec(const Graph *g, OptimSpec *o) {
  static const struct {
    const char *name;
    OptimKind kind;
    double lr;
  } kinds[] = {{"sgd", OPT_SGD, 0.01}, {"adagrad", OPT_ADAGRAD, 0.01},
               {"rmsprop", OPT_RMSPROP, 0.001}, {"adam", OPT_ADAM, 0.001},
               {"adamw", OPT_ADAMW, 0.001}};
  const char *opt = kv(g, "optimizer");
  if (!opt) opt = "sgd(lr=0.01)";
  *o = (OptimSpec){.kind = OPT_COUNT};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    size_t n = strlen(kinds[i].name);
    if (strncmp(opt, kinds[i].name, n) == 0 && (opt[n] == '(' || !opt[n])) {
      o->kind = kinds[i].kind;
      o->hyper[H_LR] = kinds[i].lr;
    }
  }
  if (o->kind == OPT_COUNT) return false;
  double v;
  o->hyper[H_BETA1] = 0.9;
  o->hyper[H_BETA2] = 0.999;
  o->hyper[H_RHO] = o->kind == OPT_RMSPROP ? 0.99 : 0.9;
  o->hyper[H_EPS] = o->kind == OPT_ADAGRAD ? 1e-10 : 1e-8;
  o->hyper[H_WEIGHT_DECAY] = o->kind == OPT_ADAMW ? 0.01 : 0;
  static const struct { const char *arg; HyperSlot slot; } args[] = {
      {"lr", H_LR}, {"momentum", H_MOMENTUM}, {"beta1", H_BETA1}, {"beta2", H_BETA2},
      {"rho", H_RHO}, {"eps", H_EPS}, {"weight_decay", H_WEIGHT_DECAY}};
  for (size_t i = 0; i < sizeof args / sizeof args[0]; i++)
    if (call_arg(opt, args[i].arg, &v)) o->hyper[args[i].slot] = v;
  o->momentum = o->hyper[H_MOMENTUM] > 0;
  o->nesterov = call_arg(opt, "nesterov", &v) && v != 0;
  static const struct { const char *key; HyperSlot slot; bool *on; } regs[] = {
      {"l1", H_L1, NULL}, {"l2", H_L2, NULL}, {"clip_norm", H_CLIP, NULL}};
  for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++) {
    const char *s = kv(g, regs[i].key);
    if (s) o->hyper[regs[i].slot] = strtod(s, NULL);
  }
  o->l1 = kv(g, "l1") != NULL;
  o->l2 = kv(g, "l2") != NULL;
  o->clip = o->hyper[H_CLIP] > 0;
  return true;
}

/* Clip every gradient by the global norm, as torch.nn.utils.
 * clip_grad_norm_: scale = min(1, clip / (norm + 1e-6)); a clip of 0 at run
 * time (--clip-norm 0) turns clipping off instead of zeroing gradients. */
static void clip_all(Graph *g, int *grads, int n, int hyper_clip) {
  int total = -1;
  for (int i = 0; i < n; i++) {
    int sq = MUL(grads[i], grads[i]);
    int s = ir_add(g, OP_SUM, &sq, 1, &(Attrs){.nints = 1}, here, (char[256]){0});
    total = total < 0 ? s : ADD(total, s);
  }
  int norm = node(g, OP_SQRT, total, -1);
  int coef = node(g, OP_MINIMUM, k(g, 1), DIV(hyper_clip, ADD(norm, k(g, 1e-6))));
  int on = node(g, OP_GT, hyper_clip, k(g, 0));
  int scale = SUB(k(g, 1), MUL(on, SUB(k(g, 1), coef)));
  for (int i = 0; i < n; i++) grads[i] = MUL(grads[i], scale);
}

typedef struct Upd {
  int p, dp;     /* param, gradient */
  int rows;      /* a sparse update: dp, a scatter_add; or 0 */
  int newp;      /* its new value */
  int st[2], newst[2];
  int nst;
} Upd;

static int state(Graph *g, const char *what, int p) {
  char name[256];
  snprintf(name, sizeof name, "%s.%s", what, g->node[p].name);
  return ir_state(g, name, g->node[p].shape, here);
}

/* The new value of p and its state for one optimiser step. */
static void update(Graph *g, const OptimSpec *o, const int *h, Upd *u) {
  int p = u->p, gr = u->dp, lr = h[H_LR];
  switch (o->kind) {
  case OPT_SGD:
    if (o->momentum) {
      u->st[u->nst] = state(g, "momentum", p);
      int v = ADD(MUL(h[H_MOMENTUM], u->st[u->nst]), gr);
      u->newst[u->nst++] = v;
      gr = o->nesterov ? ADD(gr, MUL(h[H_MOMENTUM], v)) : v;
    }
    u->newp = SUB(p, MUL(lr, gr));
    return;
  case OPT_ADAGRAD: {
    u->st[0] = state(g, "sum_sq", p);
    int s = ADD(u->st[0], MUL(gr, gr));
    u->newst[0] = s;
    u->nst = 1;
    u->newp = SUB(p, MUL(lr, DIV(gr, ADD(node(g, OP_SQRT, s, -1), h[H_EPS]))));
    return;
  }
  case OPT_RMSPROP: {
    u->st[0] = state(g, "square_avg", p);
    int s = ADD(MUL(h[H_RHO], u->st[0]), MUL(SUB(k(g, 1), h[H_RHO]), MUL(gr, gr)));
    u->newst[0] = s;
    u->nst = 1;
    int step = DIV(gr, ADD(node(g, OP_SQRT, s, -1), h[H_EPS]));
    if (o->momentum) {
      u->st[1] = state(g, "momentum", p);
      step = ADD(MUL(h[H_MOMENTUM], u->st[1]), step);
      u->newst[u->nst++] = step;
    }
    u->newp = SUB(p, MUL(lr, step));
    return;
  }
  case OPT_ADAM: case OPT_ADAMW: {
    if (o->kind == OPT_ADAMW) p = MUL(p, SUB(k(g, 1), MUL(lr, h[H_WEIGHT_DECAY])));
    u->st[0] = state(g, "exp_avg", u->p);
    u->st[1] = state(g, "exp_avg_sq", u->p);
    u->nst = 2;
    int m = ADD(MUL(h[H_BETA1], u->st[0]), MUL(SUB(k(g, 1), h[H_BETA1]), gr));
    int v = ADD(MUL(h[H_BETA2], u->st[1]), MUL(SUB(k(g, 1), h[H_BETA2]), MUL(gr, gr)));
    u->newst[0] = m;
    u->newst[1] = v;
    /* PyTorch: p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps); the runtime
     * passes bias_correction1 = 1 / (1 - beta1^t) and bias_correction2 =
     * 1 / sqrt(1 - beta2^t). */
    int denom = ADD(MUL(node(g, OP_SQRT, v, -1), h[H_BC2]), h[H_EPS]);
    u->newp = SUB(p, MUL(MUL(lr, h[H_BC1]), DIV(m, denom)));
    return;
  }
  case OPT_COUNT: break;
  }
  die("bad optimiser");
}

static bool uses_slot(const OptimSpec *o, HyperSlot h) {
  switch (h) {
  case H_LR: return true;
  case H_MOMENTUM: return o->momentum;
  case H_BETA1: case H_BETA2: case H_BC1: case H_BC2:
    return o->kind == OPT_ADAM || o->kind == OPT_ADAMW;
  case H_RHO: return o->kind == OPT_RMSPROP;
  case H_EPS: return o->kind != OPT_SGD;
  case H_WEIGHT_DECAY: return o->kind == OPT_ADAMW;
  case H_L1: return o->l1;
  case H_L2: return o->l2;
  case H_CLIP: return o->clip;
  case H_COUNT: break;
  }
  return false;
}

void optim_append(Graph *g, const OptimSpec *o, const int *grad) {
  here = g->loss >= 0 ? g->node[g->loss].loc : (Loc){0};
  int h[H_COUNT];
  for (int s = 0; s < H_COUNT; s++) {
    g->hyper_used[s] = uses_slot(o, (HyperSlot)s);
    g->hyper[s] = o->hyper[s];
    h[s] = g->hyper_used[s] ? ir_hyper(g, (HyperSlot)s, here) : -1;
  }
  int n0 = g->nnode, n = 0;
  Upd *u = calloc((size_t)n0 + 1, sizeof *u);
  int *grads = calloc((size_t)n0 + 1, sizeof *grads);
  for (int i = 0; i < n0; i++)
    if (g->node[i].op == OP_PARAM && grad[i] >= 0) {
      u[n].p = i;
      grads[n++] = grad[i];
    }
  if (o->clip && n) clip_all(g, grads, n, h[H_CLIP]);
  for (int i = 0; i < n; i++) {
    int p = u[i].p, gr = grads[i];
    here = g->node[p].loc;
    if (g->node[p].shape.rank >= 2 && o->l2) gr = ADD(gr, MUL(h[H_L2], p));
    if (g->node[p].shape.rank >= 2 && o->l1) {
      int z = k(g, 0);
      gr = ADD(gr, MUL(h[H_L1], SUB(node(g, OP_GT, p, z), node(g, OP_GT, z, p))));
    }
    u[i].dp = gr;
    bool plain = o->kind == OPT_SGD && !o->momentum && !o->clip;
    if (plain && g->node[gr].op == OP_SCATTER_ADD && gr == grads[i]) u[i].rows = gr;
    else update(g, o, h, &u[i]);
  }
  /* Writes last: every read of a parameter or state above sees its old
   * value. */
  for (int i = 0; i < n; i++) {
    here = g->node[u[i].p].loc;
    if (u[i].rows) {
      const Node *sa = &g->node[u[i].rows];
      int x = MUL(node(g, OP_NEG, h[H_LR], -1), sa->in[0]), in[3] = {u[i].p, x, sa->in[1]};
      char why[256];
      if (ir_add(g, OP_SCATTER_UPDATE, in, 3, NULL, here, why) < 0)
        die("optimiser built an invalid scatter_update: %s", why);
      continue;
    }
    for (int s = 0; s < u[i].nst; s++) node(g, OP_ASSIGN, u[i].st[s], u[i].newst[s]);
    node(g, OP_ASSIGN, u[i].p, u[i].newp);
  }
  free(u);
  free(grads);
}
