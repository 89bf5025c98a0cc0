/* builtins.c — the built-in functions of .dlm: tensor operations, layers
 * and parameter initializers.
 *
 * The one idea: each built-in is one table row — name, the op it builds,
 * whether it is a layer, its signature, and a builder. Arity, keywords and
 * argument kinds are checked from the signature before the builder runs
 * (sig.c), so a builder only checks what is particular to it (axes in
 * range, element counts) and adds nodes. A layer row gets a name such as
 * dense1 (or the name= argument) under which it creates its parameters;
 * conv2d or lstm will be one row and one builder each. A loss function is
 * a row too: its builder checks the operands (with messages that name the
 * loss, not the ops it expands to) and adds the nodes of its formula,
 * ending with the mean over every element.
 */
#include "frontend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct Builtin Builtin;
/* Build the call's value from its bound arguments. layer: for a layer,
 * its name ("dense1"), under which parameters are created. */
typedef Value BuildFn(Lower *L, const Builtin *b, const Expr *call,
                      ArgVal *arg, const char *layer);

struct Builtin {
  const char *name;
  Op op;             /* the op built (shared builders use it) */
  bool layer;        /* creates named parameters */
  const char *sig;
  BuildFn *build;
};

static BuildFn build_unary, build_leaky_relu, build_binary, build_axis,
    build_reduce, build_matmul, build_reshape, build_flatten,
    build_transpose, build_slice, build_concat, build_dropout,
    build_one_hot, build_cross_entropy, build_mse, build_bce, build_dense,
    build_conv2d_op, build_conv2d, build_pool, build_global_avg_pool,
    build_dropout2d, build_batchnorm, build_gather, build_gelu,
    build_attention, build_sinusoidal, build_embedding, build_layernorm,
    build_mha, build_learned_positions, build_recurrent;

static const Builtin builtins[] = {
  /* elementwise; on a number they fold at compile time */
  {"relu", OP_RELU, false, "x: operand", build_unary},
  {"sigmoid", OP_SIGMOID, false, "x: operand", build_unary},
  {"tanh", OP_TANH, false, "x: operand", build_unary},
  {"exp", OP_EXP, false, "x: operand", build_unary},
  {"log", OP_LOG, false, "x: operand", build_unary},
  {"sqrt", OP_SQRT, false, "x: operand", build_unary},
  {"abs", OP_ABS, false, "x: operand", build_unary},
  {"leaky_relu", OP_LEAKY_RELU, false, "x: tensor, alpha: nonneg = 0.01",
   build_leaky_relu},
  {"maximum", OP_MAXIMUM, false, "a: operand, b: operand", build_binary},
  {"minimum", OP_MINIMUM, false, "a: operand, b: operand", build_binary},
  /* along one axis, or reducing a set of axes (default: all) */
  {"softmax", OP_SOFTMAX, false, "x: tensor, axis: int = -1", build_axis},
  {"log_softmax", OP_LOG_SOFTMAX, false, "x: tensor, axis: int = -1",
   build_axis},
  {"sum", OP_SUM, false,
   "x: tensor, axis: ints = none, axes: ints = none, keepdims: bool = false",
   build_reduce},
  {"mean", OP_MEAN, false,
   "x: tensor, axis: ints = none, axes: ints = none, keepdims: bool = false",
   build_reduce},
  {"max", OP_MAX, false,
   "x: tensor, axis: ints = none, axes: ints = none, keepdims: bool = false",
   build_reduce},
  /* contraction and data movement */
  {"matmul", OP_MATMUL, false, "a: tensor, b: tensor", build_matmul},
  {"reshape", OP_RESHAPE, false, "x: tensor, shape: dims", build_reshape},
  {"flatten", OP_RESHAPE, false, "x: tensor", build_flatten},
  {"transpose", OP_TRANSPOSE, false, "x: tensor, perm: ints = none",
   build_transpose},
  {"concat", OP_CONCAT, false, "xs: tensors..., axis: int = -1",
   build_concat},
  {"slice", OP_SLICE, false, "x: tensor, axis: int, start: int, end: int",
   build_slice},
  /* training: dropout is the identity outside training */
  {"dropout", OP_DROPOUT, false, "x: tensor, rate: frac = 0.5",
   build_dropout},
  {"dropout2d", OP_DROPOUT, false, "x: tensor, rate: frac = 0.5",
   build_dropout2d},
  /* labels and losses; a loss is the mean over every element */
  {"one_hot", OP_ONE_HOT, false, "labels: tensor, classes: count = none",
   build_one_hot},
  {"cross_entropy", OP_CROSS_ENTROPY, false, "logits: tensor, labels: tensor",
   build_cross_entropy},
  {"mse", OP_MEAN, false, "pred: tensor, target: tensor", build_mse},
  {"binary_cross_entropy", OP_MEAN, false, "logits: tensor, target: tensor",
   build_bce},
  /* images [N,C,H,W]; a window size, stride, pad or dilation is one
   * number or a (height, width) list */
  {"conv2d_op", OP_CONV2D, false,
   "x: tensor, w: tensor, stride: ints = 1, pad: ints = 0, "
   "dilation: ints = 1, groups: count = 1",
   build_conv2d_op},
  {"maxpool", OP_MAX_POOL2D, false,
   "x: tensor, kernel: ints = 2, stride: ints = none, pad: ints = 0",
   build_pool},
  {"avgpool", OP_AVG_POOL2D, false,
   "x: tensor, kernel: ints = 2, stride: ints = none, pad: ints = 0",
   build_pool},
  {"global_avg_pool", OP_MEAN, false, "x: tensor", build_global_avg_pool},
  /* layers */
  {"dense", OP_MATMUL, true,
   "x: tensor, units: count, bias: bool = true, init: init = xavier_uniform, "
   "name: string = none",
   build_dense},
  {"conv2d", OP_CONV2D, true,
   "x: tensor, out_channels: count, kernel: ints = 3, stride: ints = 1, "
   "pad: ints = 0, dilation: ints = 1, groups: count = 1, bias: bool = true, "
   "init: init = xavier_uniform, name: string = none",
   build_conv2d},
  {"batchnorm", OP_RUNNING_STAT, true,
   "x: tensor, eps: pos = 1e-5, momentum: frac = 0.1, name: string = none",
   build_batchnorm},
  /* sequences [N, T, D] and token ids i32 [N, T] */
  {"gather", OP_GATHER, false, "table: tensor, ids: tensor", build_gather},
  {"gelu", OP_TANH, false, "x: tensor", build_gelu},
  {"attention", OP_MATMUL, false,
   "q: tensor, k: tensor, v: tensor, causal: bool = false", build_attention},
  {"sinusoidal_positions", OP_ADD, false, "x: tensor", build_sinusoidal},
  {"embedding", OP_GATHER, true,
   "ids: tensor, vocab: count, dim: count, init: init = none, "
   "name: string = none",
   build_embedding},
  {"layernorm", OP_MEAN, true,
   "x: tensor, eps: pos = 1e-5, name: string = none", build_layernorm},
  {"multihead_attention", OP_MATMUL, true,
   "x: tensor, heads: count, causal: bool = false, name: string = none",
   build_mha},
  {"learned_positions", OP_ADD, true,
   "x: tensor, init: init = none, name: string = none",
   build_learned_positions},
  /* recurrent layers over a sequence [N, T, features] */
  {"lstm", OP_LSTM, true,
   "x: tensor, units: count, last: bool = false, reverse: bool = false, "
   "bidirectional: bool = false, lengths: tensor = none, name: string = none",
   build_recurrent},
  {"gru", OP_GRU, true,
   "x: tensor, units: count, last: bool = false, reverse: bool = false, "
   "bidirectional: bool = false, lengths: tensor = none, name: string = none",
   build_recurrent},
  {"rnn", OP_RNN, true,
   "x: tensor, units: count, last: bool = false, reverse: bool = false, "
   "bidirectional: bool = false, lengths: tensor = none, name: string = none",
   build_recurrent},
};
enum { NBUILTIN = sizeof builtins / sizeof builtins[0] };

/* Initializers: a name (xavier) or, with arguments, a call (normal(0, 1)). */
static const struct {
  const char *name;
  InitKind kind;
  const char *sig;
} inits[] = {
  {"zeros", INIT_ZEROS, ""},
  {"ones", INIT_ONES, ""},
  {"const", INIT_CONST, "value: float"},
  {"uniform", INIT_UNIFORM, "low: float, high: float"},
  {"normal", INIT_NORMAL, "mean: float, std: nonneg"},
  {"xavier", INIT_XAVIER_UNIFORM, ""},
  {"xavier_uniform", INIT_XAVIER_UNIFORM, ""},
  {"xavier_normal", INIT_XAVIER_NORMAL, ""},
  {"he", INIT_HE_NORMAL, ""},
  {"he_uniform", INIT_HE_UNIFORM, ""},
  {"he_normal", INIT_HE_NORMAL, ""},
};
enum { NINIT = sizeof inits / sizeof inits[0] };

/* ---- lookup -------------------------------------------------------------- */

/* Signatures are parsed on first use and kept. */
static const Sig *builtin_sig(int i) {
  static Sig sig[NBUILTIN];
  static bool done[NBUILTIN];
  if (!done[i]) {
    fe_parse_sig(&sig[i], builtins[i].name,
                 builtins[i].layer ? "layer" : "function", builtins[i].sig);
    done[i] = true;
  }
  return &sig[i];
}

static const Sig *init_sig(int i) {
  static Sig sig[NINIT];
  static bool done[NINIT];
  if (!done[i]) {
    fe_parse_sig(&sig[i], inits[i].name, "initializer", inits[i].sig);
    done[i] = true;
  }
  return &sig[i];
}

static int find_builtin(const char *name) {
  for (int i = 0; i < NBUILTIN; i++)
    if (strcmp(builtins[i].name, name) == 0)
      return i;
  return -1;
}

static int find_init(const char *name) {
  for (int i = 0; i < NINIT; i++)
    if (strcmp(inits[i].name, name) == 0)
      return i;
  return -1;
}

bool fe_is_builtin(const char *name) {
  return find_builtin(name) >= 0 || find_init(name) >= 0;
}

bool fe_init_named(const char *name, Init *out) {
  int i = find_init(name);
  if (i < 0 || inits[i].sig[0])
    return false;
  *out = (Init){.kind = inits[i].kind};
  return true;
}

const char *const *fe_init_names(int *n) {
  static const char *names[NINIT];
  for (int i = 0; i < NINIT; i++)
    names[i] = inits[i].name;
  *n = NINIT;
  return names;
}

const char *const *fe_builtin_names(Lower *L, int *n) {
  const char **v = arena_alloc(L->a, sizeof *v * (NBUILTIN + NINIT));
  *n = 0;
  for (int i = 0; i < NBUILTIN; i++)
    v[(*n)++] = builtins[i].name;
  for (int i = 0; i < NINIT; i++)
    v[(*n)++] = inits[i].name;
  return v;
}

/* ---- parameters ---------------------------------------------------------- */

void fe_fill_fans(Init *init, const Shape *s) {
  int64_t d0 = s->rank > 0 ? s->d[0] : 1, d1 = s->rank > 1 ? s->d[1] : d0;
  int64_t field = 1;  /* receptive field of a convolution kernel */
  for (int i = 2; i < s->rank; i++)
    field *= s->d[i];
  if (s->rank <= 2) {
    init->fan_in = d0;
    init->fan_out = d1;
  } else {
    init->fan_in = d1 * field;
    init->fan_out = d0 * field;
  }
}

Init fe_default_init(const Shape *s) {
  return (Init){.kind = s->rank >= 2 ? INIT_XAVIER_UNIFORM : INIT_ZEROS};
}

int fe_new_param(Lower *L, const char *name, Shape s, Init init, Loc loc) {
  const char *full = arena_printf(L->a, "%s%s", L->scope->prefix, name);
  int prev = ir_find_param(L->g, full);
  if (prev >= 0) {
    if (fe_error(L, loc, "parameter '%s' is already defined", full))
      diag_note(L->g->node[prev].loc, "previous definition is here");
    return -1;
  }
  fe_fill_fans(&init, &s);
  return ir_param(L->g, full, DT_F32, s, init, loc);
}

/* ---- shared helpers ------------------------------------------------------ */

/* Labels are i32 class indices: using one as data is a common slip. */
static void hint_label(Lower *L, const int *in, int nin) {
  for (int i = 0; i < nin; i++) {
    const Node *n = &L->g->node[in[i]];
    if (n->op == OP_INPUT && n->ikind == IN_LABEL && n->dtype == DT_I32) {
      diag_hint("'%s' is a label of class indices; the loss in the train "
                "section compares it with the model's output", n->name);
      return;
    }
  }
}

static Value add_node(Lower *L, Op op, const int *in, int nin, const Attrs *a,
                      Loc loc) {
  char why[256];
  int n = ir_add(L->g, op, in, nin, a, loc, why);
  if (n < 0) {
    if (fe_error(L, loc, "%s", why))
      hint_label(L, in, nin);
    return fe_poison(loc);
  }
  return fe_tensor(n, loc);
}

static const Node *node_of(Lower *L, const Value *v) {
  return &L->g->node[v->node];
}

/* Normalise a possibly negative axis of a rank-r tensor. */
static bool norm_axis(Lower *L, const char *fname, int64_t *ax, int node,
                      Loc loc) {
  int r = L->g->node[node].shape.rank;
  if (*ax < -r || *ax >= r) {
    if (fe_error(L, loc, "%s: axis %lld is out of range for %s", fname,
                 (long long)*ax, fe_type_str(L, node))) {
      if (r > 0)
        diag_hint("a tensor of rank %d has axes %d to %d", r, -r, r - 1);
      else
        diag_hint("a scalar has no axes");
    }
    return false;
  }
  if (*ax < 0)
    *ax += r;
  return true;
}

/* ---- elementwise --------------------------------------------------------- */

static Value fold_unary(Lower *L, Op op, double x, Loc loc) {
  double r;
  switch (op) {
  case OP_RELU: r = x > 0 ? x : 0; break;
  case OP_SIGMOID: r = 1 / (1 + exp(-x)); break;
  case OP_TANH: r = tanh(x); break;
  case OP_EXP: r = exp(x); break;
  case OP_LOG: r = x > 0 ? log(x) : NAN; break;
  case OP_SQRT: r = x >= 0 ? sqrt(x) : NAN; break;
  default: r = fabs(x); break;
  }
  if (!isfinite(r)) {
    fe_error(L, loc, "%s(%s) is not a finite number", op_info[op].name,
             fe_num_str(L->a, x));
    return fe_poison(loc);
  }
  return fe_number(r, loc);
}

static Value build_unary(Lower *L, const Builtin *b, const Expr *call,
                         ArgVal *arg, const char *layer) {
  (void)layer;
  if (arg[0].v.kind == V_NUM)
    return fold_unary(L, b->op, arg[0].v.num, call->loc);
  return add_node(L, b->op, &arg[0].v.node, 1, NULL, call->loc);
}

static Value build_leaky_relu(Lower *L, const Builtin *b, const Expr *call,
                              ArgVal *arg, const char *layer) {
  (void)layer;
  Attrs a = {.f = {arg[1].v.num}};
  return add_node(L, b->op, &arg[0].v.node, 1, &a, call->loc);
}

static Value build_binary(Lower *L, const Builtin *b, const Expr *call,
                          ArgVal *arg, const char *layer) {
  (void)layer;
  return fe_binop(L, b->op == OP_MAXIMUM ? 'M' : 'm', arg[0].v, arg[1].v,
                  call->loc);
}

static Value build_matmul(Lower *L, const Builtin *b, const Expr *call,
                          ArgVal *arg, const char *layer) {
  (void)layer;
  int in[2] = {arg[0].v.node, arg[1].v.node};
  return add_node(L, b->op, in, 2, NULL, call->loc);
}

/* ---- axes and reductions -------------------------------------------------- */

static Value build_axis(Lower *L, const Builtin *b, const Expr *call,
                        ArgVal *arg, const char *layer) {
  (void)layer;
  int64_t ax = (int64_t)arg[1].v.num;
  if (!norm_axis(L, b->name, &ax, arg[0].v.node, arg[1].loc))
    return fe_poison(call->loc);
  Attrs a = {.ints = {ax}, .nints = 1};
  return add_node(L, b->op, &arg[0].v.node, 1, &a, call->loc);
}

/* Attributes [keepdims, axes...], the axes normalised and sorted; no axis
 * given means all of them. */
static Value build_reduce(Lower *L, const Builtin *b, const Expr *call,
                          ArgVal *arg, const char *layer) {
  (void)layer;
  int x = arg[0].v.node, r = L->g->node[x].shape.rank;
  if (arg[1].given && arg[2].given) {
    fe_error(L, arg[2].loc, "%s: give 'axis' or 'axes', not both", b->name);
    return fe_poison(call->loc);
  }
  const ArgVal *ax = arg[1].given ? &arg[1] : arg[2].given ? &arg[2] : NULL;
  bool use[MAX_RANK] = {0};
  for (int i = 0; i < (ax ? ax->v.nitem : r); i++) {
    int64_t k = ax ? fe_int(&ax->v.item[i]) : i;
    Loc at = ax ? ax->v.item[i].loc : call->loc;
    if (!norm_axis(L, b->name, &k, x, at))
      return fe_poison(call->loc);
    if (use[k]) {
      fe_error(L, at, "%s: axis %lld is listed twice", b->name,
               (long long)k);
      return fe_poison(call->loc);
    }
    use[k] = true;
  }
  Attrs a = {.ints = {arg[3].v.num != 0}, .nints = 1};
  for (int i = 0; i < r; i++)
    if (use[i])
      a.ints[a.nints++] = i;
  return add_node(L, b->op, &x, 1, &a, call->loc);
}

/* ---- shapes -------------------------------------------------------------- */

static const char *count_str(Lower *L, Size z) {
  if (!z.sym)
    return arena_printf(L->a, "%lld", (long long)z.k);
  return z.k == 1 ? "N" : arena_printf(L->a, "%lld*N", (long long)z.k);
}

static Value reshape_to(Lower *L, int x, Shape s, Loc loc) {
  const Node *n = &L->g->node[x];
  Size a = shape_numel(&n->shape), b = shape_numel(&s);
  if (a.k != b.k || a.sym != b.sym) {
    char dims[160];
    dims_str(dims, sizeof dims, &s);
    fe_error(L, loc, "reshape: %s has %s elements, but %s has %s",
             fe_type_str(L, x), count_str(L, a), dims, count_str(L, b));
    return fe_poison(loc);
  }
  char why[256];
  int r = ir_add_shaped(L->g, OP_RESHAPE, &x, 1, NULL, n->dtype, s, loc, why);
  if (r < 0) {
    fe_error(L, loc, "%s", why);
    return fe_poison(loc);
  }
  return fe_tensor(r, loc);
}

static Value build_reshape(Lower *L, const Builtin *b, const Expr *call,
                           ArgVal *arg, const char *layer) {
  (void)b, (void)layer;
  const Value *dims = &arg[1].v;
  Shape s = {.rank = dims->nitem};
  if (dims->nitem > MAX_RANK) {
    fe_error(L, arg[1].loc, "reshape: a shape has at most %d dimensions, "
             "this one has %d", MAX_RANK, dims->nitem);
    return fe_poison(call->loc);
  }
  int sym = -1;
  for (int i = 0; i < dims->nitem; i++) {
    const Value *d = &dims->item[i];
    s.d[i] = d->kind == V_DIM ? d->dim : (int64_t)d->num;
    if (d->kind == V_DIM && sym >= 0) {
      fe_error(L, d->loc, "reshape: only one dimension may depend on the "
               "batch size N");
      return fe_poison(call->loc);
    }
    if (d->kind == V_DIM)
      sym = i;
  }
  return reshape_to(L, arg[0].v.node, s, call->loc);
}

/* [d0, d1, ..., dk] to [d0, d1*...*dk]. */
static Value build_flatten(Lower *L, const Builtin *b, const Expr *call,
                           ArgVal *arg, const char *layer) {
  (void)b, (void)layer;
  const Node *n = node_of(L, &arg[0].v);
  if (n->shape.rank == 0) {
    fe_error(L, call->loc, "flatten: needs a tensor of rank 1 or more, got %s",
             fe_type_str(L, arg[0].v.node));
    return fe_poison(call->loc);
  }
  if (n->shape.rank == 2)
    return arg[0].v;
  Shape rest = {.rank = n->shape.rank - 1};
  for (int i = 1; i < n->shape.rank; i++)
    rest.d[i - 1] = n->shape.d[i];
  Size z = shape_numel(&rest);
  Shape s = {.rank = 2, .d = {n->shape.d[0], z.sym ? -z.k : z.k}};
  return reshape_to(L, arg[0].v.node, s, call->loc);
}

static Value build_transpose(Lower *L, const Builtin *b, const Expr *call,
                             ArgVal *arg, const char *layer) {
  (void)layer;
  int x = arg[0].v.node, r = L->g->node[x].shape.rank;
  Attrs a = {.nints = r};
  for (int i = 0; i < r; i++)
    a.ints[i] = i;
  if (!arg[1].given) {
    if (r < 2) {
      fe_error(L, call->loc, "transpose: swapping the last two axes needs "
               "rank 2 or more, got %s", fe_type_str(L, x));
      return fe_poison(call->loc);
    }
    a.ints[r - 2] = r - 1;
    a.ints[r - 1] = r - 2;
    return add_node(L, b->op, &x, 1, &a, call->loc);
  }
  const Value *perm = &arg[1].v;
  bool seen[MAX_RANK] = {0};
  if (perm->nitem != r) {
    fe_error(L, arg[1].loc, "transpose: perm has %d axes, but %s has %d",
             perm->nitem, fe_type_str(L, x), r);
    return fe_poison(call->loc);
  }
  for (int i = 0; i < r; i++) {
    a.ints[i] = fe_int(&perm->item[i]);
    if (!norm_axis(L, b->name, &a.ints[i], x, perm->item[i].loc))
      return fe_poison(call->loc);
    if (seen[a.ints[i]]) {
      fe_error(L, perm->item[i].loc, "transpose: axis %lld appears twice "
               "in perm", (long long)a.ints[i]);
      return fe_poison(call->loc);
    }
    seen[a.ints[i]] = true;
  }
  return add_node(L, b->op, &x, 1, &a, call->loc);
}

/* slice(x, axis, start, end): elements start <= i < end along axis; the
 * shape rule checks the range. */
static Value build_slice(Lower *L, const Builtin *b, const Expr *call,
                         ArgVal *arg, const char *layer) {
  (void)layer;
  int x = arg[0].v.node;
  int64_t ax = (int64_t)arg[1].v.num;
  if (!norm_axis(L, b->name, &ax, x, arg[1].loc))
    return fe_poison(call->loc);
  Attrs a = {.ints = {ax, (int64_t)arg[2].v.num, (int64_t)arg[3].v.num},
             .nints = 3};
  return add_node(L, b->op, &x, 1, &a, call->loc);
}

static Value build_concat(Lower *L, const Builtin *b, const Expr *call,
                          ArgVal *arg, const char *layer) {
  (void)layer;
  const Value *xs = &arg[0].v;
  int *in = arena_alloc(L->a, sizeof *in * (size_t)xs->nitem);
  for (int i = 0; i < xs->nitem; i++)
    in[i] = xs->item[i].node;
  int64_t ax = (int64_t)arg[1].v.num;
  if (!norm_axis(L, b->name, &ax, in[0], arg[1].loc))
    return fe_poison(call->loc);
  Attrs a = {.ints = {ax}, .nints = 1};
  return add_node(L, b->op, in, xs->nitem, &a, call->loc);
}

/* ---- training and losses ------------------------------------------------ */

/* Each dropout node gets the next salt, so that the masks of two dropouts
 * (two calls, or two expansions of one block) are independent. */
static Value build_dropout(Lower *L, const Builtin *b, const Expr *call,
                           ArgVal *arg, const char *layer) {
  (void)layer;
  Attrs a = {.ints = {L->nsalt + 1}, .nints = 1, .f = {arg[1].v.num}};
  Value v = add_node(L, b->op, &arg[0].v.node, 1, &a, call->loc);
  if (v.kind == V_TENSOR)
    L->nsalt++;
  return v;
}

/* The label input that node is, possibly reshaped; -1 if none. */
static int label_input(Lower *L, int node) {
  while (L->g->node[node].op == OP_RESHAPE)
    node = L->g->node[node].in[0];
  const Node *n = &L->g->node[node];
  return n->op == OP_INPUT && n->ikind == IN_LABEL ? node : -1;
}

/* A class count that disagrees with the one declared on the label input
 * behind labels (if any): reported at loc as "<what>, but label 'y' is
 * declared with classes K", what giving the other count. */
static bool check_classes(Lower *L, int64_t classes, const char *what,
                          int labels, Loc loc) {
  int in = label_input(L, labels);
  if (in < 0 || L->g->node[in].classes == 0 ||
      L->g->node[in].classes == classes)
    return true;
  const Node *y = &L->g->node[in];
  if (fe_error(L, loc, "%s, but label '%s' is declared with classes %lld",
               what, y->name, (long long)y->classes))
    diag_note(y->loc, "'%s' is declared here", y->name);
  return false;
}

/* one_hot(labels, classes): classes defaults to the count declared on the
 * label input. */
static Value build_one_hot(Lower *L, const Builtin *b, const Expr *call,
                           ArgVal *arg, const char *layer) {
  (void)layer;
  int y = arg[0].v.node, in = label_input(L, y);
  int64_t k = in >= 0 ? L->g->node[in].classes : 0;
  if (arg[1].given) {
    k = (int64_t)arg[1].v.num;
    if (!check_classes(L, k, arena_printf(L->a, "%s: classes = %lld",
                       b->name, (long long)k), y, arg[1].loc))
      return fe_poison(call->loc);
  } else if (k == 0 && L->g->node[y].dtype == DT_I32) {
    if (fe_error(L, call->loc, "one_hot: the number of classes is not known "
                 "for %s", fe_type_str(L, y)))
      diag_hint("give it: one_hot(labels, classes = 10), or declare the "
                "label with 'classes 10'");
    return fe_poison(call->loc);
  }
  Attrs a = {.ints = {k}, .nints = 1};
  return add_node(L, b->op, &y, 1, &a, call->loc);
}

/* The mean of every element of a loss tensor: the scalar a loss returns. */
static Value mean_all(Lower *L, Value v, Loc loc) {
  if (v.kind != V_TENSOR || L->g->node[v.node].shape.rank == 0)
    return v;
  int r = L->g->node[v.node].shape.rank;
  Attrs a = {.nints = 1 + r};
  for (int i = 0; i < r; i++)
    a.ints[1 + i] = i;
  return add_node(L, OP_MEAN, &v.node, 1, &a, loc);
}

/* Labels of class indices where f32 values are expected, or the other way
 * round: the loss that fits. */
static void hint_loss(Lower *L, int node) {
  if (L->g->node[node].dtype == DT_I32)
    diag_hint("class indices go with cross_entropy(logits, labels)");
  else
    diag_hint("declare class indices as i32, e.g. 'label y: i32[N] classes "
              "10'; f32 targets go with mse or binary_cross_entropy");
}

static Value build_cross_entropy(Lower *L, const Builtin *b, const Expr *call,
                                 ArgVal *arg, const char *layer) {
  (void)layer;
  int x = arg[0].v.node, y = arg[1].v.node;
  const Node *nx = &L->g->node[x], *ny = &L->g->node[y];
  int64_t c = nx->shape.rank > 0 ? nx->shape.d[nx->shape.rank - 1] : 0;
  if (nx->dtype != DT_F32 || c <= 0) {
    fe_error(L, arg[0].loc, "cross_entropy: the logits must be f32 with the "
             "classes on a fixed last axis, got %s", fe_type_str(L, x));
    return fe_poison(call->loc);
  }
  if (ny->dtype != DT_I32) {
    if (fe_error(L, arg[1].loc, "cross_entropy: the labels must be i32 class "
                 "indices, got %s", fe_type_str(L, y)))
      hint_loss(L, y);
    return fe_poison(call->loc);
  }
  bool fit = ny->shape.rank == nx->shape.rank - 1;
  for (int i = 0; fit && i < ny->shape.rank; i++)
    fit = ny->shape.d[i] == nx->shape.d[i];
  if (!fit) {
    if (fe_error(L, call->loc, "cross_entropy: the labels must have the "
                 "logits' shape without the class axis: logits %s, labels %s",
                 fe_type_str(L, x), fe_type_str(L, y)))
      diag_hint("one class index per row of logits: logits f32[N,C] go with "
                "labels i32[N]");
    return fe_poison(call->loc);
  }
  if (!check_classes(L, c, arena_printf(L->a, "%s: the logits %s have %lld "
                     "classes", b->name, fe_type_str(L, x), (long long)c),
                     y, call->loc))
    return fe_poison(call->loc);
  int in[2] = {x, y};
  return mean_all(L, add_node(L, b->op, in, 2, NULL, call->loc), call->loc);
}

/* Both operands of mse and binary_cross_entropy are f32 of one shape: a
 * loss compares element by element and does not broadcast silently. */
static bool check_pair(Lower *L, const Builtin *b, const Expr *call,
                       const ArgVal *arg) {
  for (int k = 0; k < 2; k++) {
    int n = arg[k].v.node;
    if (L->g->node[n].dtype == DT_F32)
      continue;
    if (fe_error(L, arg[k].loc, "%s: expected f32 values, got %s", b->name,
                 fe_type_str(L, n)))
      hint_loss(L, n);
    return false;
  }
  const Node *p = &L->g->node[arg[0].v.node], *t = &L->g->node[arg[1].v.node];
  if (shape_equal(&p->shape, &t->shape))
    return true;
  if (fe_error(L, call->loc, "%s: the two operands must have the same "
               "shape, got %s and %s", b->name, fe_type_str(L, arg[0].v.node),
               fe_type_str(L, arg[1].v.node))) {
    Size a = shape_numel(&p->shape), z = shape_numel(&t->shape);
    char dims[160];
    dims_str(dims, sizeof dims, &p->shape);
    if (a.k == z.k && a.sym == z.sym && call->args && call->args->next)
      diag_hint("a loss does not broadcast; reshape one of them, e.g. "
                "reshape(%s, %s)", fe_expr_str(L->a, call->args->next->e),
                dims);
    else
      diag_hint("a loss compares its operands element by element; it does "
                "not broadcast");
  }
  return false;
}

static Value unop(Lower *L, Op op, Value x, Loc loc) {
  return x.kind == V_TENSOR ? add_node(L, op, &x.node, 1, NULL, loc) : x;
}

static Value binop(Lower *L, Op op, Value x, Value y, Loc loc) {
  if (x.kind != V_TENSOR || y.kind != V_TENSOR)
    return fe_poison(loc);
  int in[2] = {x.node, y.node};
  return add_node(L, op, in, 2, NULL, loc);
}

/* mse(pred, target) = mean((pred - target)^2) */
static Value build_mse(Lower *L, const Builtin *b, const Expr *call,
                       ArgVal *arg, const char *layer) {
  (void)layer;
  if (!check_pair(L, b, call, arg))
    return fe_poison(call->loc);
  Loc at = call->loc;
  Value d = binop(L, OP_SUB, arg[0].v, arg[1].v, at);
  return mean_all(L, binop(L, OP_MUL, d, d, at), at);
}

/* binary_cross_entropy(x, t) with logits x and targets t in [0, 1]:
 * mean(-t log sigmoid(x) - (1 - t) log(1 - sigmoid(x))), computed in the
 * stable form mean(relu(x) - x t + log(1 + exp(-|x|))) that never takes
 * the exp of a large positive number (PyTorch's BCEWithLogitsLoss). */
static Value build_bce(Lower *L, const Builtin *b, const Expr *call,
                       ArgVal *arg, const char *layer) {
  (void)layer;
  if (!check_pair(L, b, call, arg))
    return fe_poison(call->loc);
  Loc at = call->loc;
  Value x = arg[0].v, t = arg[1].v;
  Value lin = binop(L, OP_SUB, unop(L, OP_RELU, x, at),
                    binop(L, OP_MUL, x, t, at), at);
  Value e = unop(L, OP_EXP, unop(L, OP_NEG, unop(L, OP_ABS, x, at), at), at);
  Value one = fe_tensor(ir_const(L->g, DT_F32, (Shape){0}, 1, NULL, at), at);
  Value soft = unop(L, OP_LOG, binop(L, OP_ADD, one, e, at), at);
  return mean_all(L, binop(L, OP_ADD, lin, soft, at), at);
}

/* ---- images -------------------------------------------------------------- */

/* An int or a list of one or two ints for a (height, width) pair, each at
 * least min: kernel = 3 or kernel = [3, 5]. */
static bool hw_pair(Lower *L, const Builtin *b, const char *what,
                    const ArgVal *a, int64_t min, int64_t *out) {
  const Value *v = &a->v;
  int n = v->kind == V_LIST ? v->nitem : 1;
  if (n < 1 || n > 2) {
    fe_error(L, a->loc, "%s: %s is one number or a list of two (height, "
             "width), got %d items", b->name, what, n);
    return false;
  }
  for (int i = 0; i < 2; i++) {
    const Value *it = v->kind == V_LIST ? &v->item[n == 2 ? i : 0] : v;
    out[i] = fe_int(it);
    if (out[i] < min) {
      fe_error(L, it->loc, "%s: %s must be >= %lld, got %lld", b->name, what,
               (long long)min, (long long)out[i]);
      return false;
    }
  }
  return true;
}

/* An f32 image [N,C,H,W] with fixed C, H, W. */
static bool check_image(Lower *L, const Builtin *b, int x, Loc loc) {
  const Node *n = &L->g->node[x];
  bool ok = n->dtype == DT_F32 && n->shape.rank == 4;
  for (int i = 1; ok && i < 4; i++)
    ok = n->shape.d[i] > 0;
  if (!ok && fe_error(L, loc, "%s: expected an f32 image [N,C,H,W] with "
                      "fixed C, H, W, got %s", b->name, fe_type_str(L, x)) &&
      n->shape.rank == 2)
    diag_hint("reshape it to an image first, e.g. reshape(x, [N, 1, 28, 28])");
  return ok;
}

/* Attributes stride, pad, dilation, groups of conv2d from arguments at
 * arg[0..3]. */
static bool conv_attrs(Lower *L, const Builtin *b, const ArgVal *arg,
                       Attrs *a) {
  *a = (Attrs){.nints = 7};
  if (!hw_pair(L, b, "stride", &arg[0], 1, &a->ints[0]) ||
      !hw_pair(L, b, "pad", &arg[1], 0, &a->ints[2]) ||
      !hw_pair(L, b, "dilation", &arg[2], 1, &a->ints[4]))
    return false;
  a->ints[6] = (int64_t)arg[3].v.num;
  return true;
}

/* conv2d_op(x, w, ...): the convolution with weights the caller owns. */
static Value build_conv2d_op(Lower *L, const Builtin *b, const Expr *call,
                             ArgVal *arg, const char *layer) {
  (void)layer;
  Attrs a;
  if (!check_image(L, b, arg[0].v.node, arg[0].loc) ||
      !conv_attrs(L, b, &arg[2], &a))
    return fe_poison(call->loc);
  int in[2] = {arg[0].v.node, arg[1].v.node};
  return add_node(L, OP_CONV2D, in, 2, &a, call->loc);
}

/* conv2d(x, out_channels, ...): x[N,C,H,W] -> [N,O,OH,OW] with parameters
 * W [O, C/groups, KH, KW] and b [O] (broadcast as [O,1,1]). */
static Value build_conv2d(Lower *L, const Builtin *b, const Expr *call,
                          ArgVal *arg, const char *layer) {
  int x = arg[0].v.node;
  int64_t O = (int64_t)arg[1].v.num, k[2], groups = (int64_t)arg[6].v.num;
  Attrs a;
  if (!check_image(L, b, x, arg[0].loc) || !hw_pair(L, b, "kernel", &arg[2], 1, k) ||
      !conv_attrs(L, b, &arg[3], &a))
    return fe_poison(call->loc);
  int64_t C = L->g->node[x].shape.d[1];
  if (C % groups || O % groups) {
    fe_error(L, arg[6].loc, "conv2d: groups = %lld must divide both the %lld "
             "input channels of %s and the %lld output channels",
             (long long)groups, (long long)C, fe_type_str(L, x), (long long)O);
    return fe_poison(call->loc);
  }
  Shape ws = {.rank = 4, .d = {O, C / groups, k[0], k[1]}};
  int w = fe_new_param(L, arena_printf(L->a, "%s.W", layer), ws,
                       arg[8].v.init, call->loc);
  if (w < 0)
    return fe_poison(call->loc);
  int in[2] = {x, w};
  Value y = add_node(L, OP_CONV2D, in, 2, &a, call->loc);
  if (y.kind == V_POISON || !arg[7].v.num)
    return y;
  int bias = fe_new_param(L, arena_printf(L->a, "%s.b", layer),
                          (Shape){.rank = 1, .d = {O}},
                          (Init){.kind = INIT_ZEROS}, call->loc);
  if (bias < 0)
    return fe_poison(call->loc);
  Value b3 = reshape_to(L, bias, (Shape){.rank = 3, .d = {O, 1, 1}}, call->loc);
  int add[2] = {y.node, b3.node};
  return add_node(L, OP_ADD, add, 2, NULL, call->loc);
}

/* maxpool / avgpool(x, kernel = 2, stride = kernel, pad = 0) */
static Value build_pool(Lower *L, const Builtin *b, const Expr *call,
                        ArgVal *arg, const char *layer) {
  (void)layer;
  Attrs a = {.nints = 6};
  if (!check_image(L, b, arg[0].v.node, arg[0].loc) ||
      !hw_pair(L, b, "kernel", &arg[1], 1, &a.ints[0]) ||
      !hw_pair(L, b, "pad", &arg[3], 0, &a.ints[4]))
    return fe_poison(call->loc);
  a.ints[2] = a.ints[0], a.ints[3] = a.ints[1];
  if (arg[2].given && !hw_pair(L, b, "stride", &arg[2], 1, &a.ints[2]))
    return fe_poison(call->loc);
  return add_node(L, b->op, &arg[0].v.node, 1, &a, call->loc);
}

/* global_avg_pool(x): [N,C,H,W] -> [N,C], the mean over H and W. */
static Value build_global_avg_pool(Lower *L, const Builtin *b,
                                   const Expr *call, ArgVal *arg,
                                   const char *layer) {
  (void)layer;
  if (!check_image(L, b, arg[0].v.node, arg[0].loc))
    return fe_poison(call->loc);
  Attrs a = {.ints = {0, 2, 3}, .nints = 3};
  return add_node(L, OP_MEAN, &arg[0].v.node, 1, &a, call->loc);
}

/* dropout2d(x, rate): whole channels of an image dropped together, x
 * times a mask [N,C,1,1] that is the dropout of a constant 1. Outside
 * training the mask is 1 and folds away. */
static Value build_dropout2d(Lower *L, const Builtin *b, const Expr *call,
                             ArgVal *arg, const char *layer) {
  (void)layer;
  int x = arg[0].v.node;
  if (L->g->node[x].shape.rank == 2) {
    if (fe_error(L, arg[0].loc, "dropout2d: expected an f32 image [N,C,H,W], "
                 "got %s", fe_type_str(L, x)))
      diag_hint("dropout(x, rate) drops single features");
    return fe_poison(call->loc);
  }
  if (!check_image(L, b, x, arg[0].loc))
    return fe_poison(call->loc);
  const int64_t *d = L->g->node[x].shape.d;
  Shape ms = {.rank = 4, .d = {d[0], d[1], 1, 1}};
  int one = ir_const(L->g, DT_F32, ms, 1, NULL, call->loc);
  Attrs a = {.ints = {L->nsalt + 1}, .nints = 1, .f = {arg[1].v.num}};
  Value mask = add_node(L, OP_DROPOUT, &one, 1, &a, call->loc);
  if (mask.kind != V_TENSOR)
    return mask;
  L->nsalt++;
  return add_node(L, OP_MUL, (int[]){x, mask.node}, 2, NULL, call->loc);
}

/* ---- layers -------------------------------------------------------------- */

/* dense(x, units): x[..., in] times W[in, units], plus b[units]. */
static Value build_dense(Lower *L, const Builtin *b, const Expr *call,
                         ArgVal *arg, const char *layer) {
  (void)b;
  int x = arg[0].v.node;
  const Node *n = &L->g->node[x];
  int64_t units = (int64_t)arg[1].v.num;
  int64_t in = n->shape.rank > 0 ? n->shape.d[n->shape.rank - 1] : 0;
  if (n->dtype != DT_F32 || n->shape.rank < 2 || in < 0) {
    if (fe_error(L, call->loc, "dense: the input must be f32 of rank 2 or "
                 "more with a fixed last dimension, got %s",
                 fe_type_str(L, x)) && n->shape.rank == 1)
      diag_hint("make it a column first: reshape(x, [N, 1])");
    return fe_poison(call->loc);
  }
  Shape ws = {.rank = 2, .d = {in, units}};
  int w = fe_new_param(L, arena_printf(L->a, "%s.W", layer), ws,
                       arg[3].v.init, call->loc);
  if (w < 0)
    return fe_poison(call->loc);
  int mm[2] = {x, w};
  Value y = add_node(L, OP_MATMUL, mm, 2, NULL, call->loc);
  if (y.kind == V_POISON || !arg[2].v.num)
    return y;
  Shape bs = {.rank = 1, .d = {units}};
  int bias = fe_new_param(L, arena_printf(L->a, "%s.b", layer), bs,
                          (Init){.kind = INIT_ZEROS}, call->loc);
  if (bias < 0)
    return fe_poison(call->loc);
  int add[2] = {y.node, bias};
  return add_node(L, OP_ADD, add, 2, NULL, call->loc);
}

/* v reshaped to s, unless it has that shape already. */
static Value reshape_if(Lower *L, Value v, Shape s, Loc loc) {
  if (v.kind != V_TENSOR || shape_equal(&L->g->node[v.node].shape, &s))
    return v;
  return reshape_to(L, v.node, s, loc);
}

/* running_stat(batch, avg, sample) with attrs a (the momentum). */
static Value stat(Lower *L, Value batch, int avg, Value sample,
                  const Attrs *a, Loc loc) {
  if (batch.kind != V_TENSOR || sample.kind != V_TENSOR)
    return fe_poison(loc);
  int in[3] = {batch.node, avg, sample.node};
  return add_node(L, OP_RUNNING_STAT, in, 3, a, loc);
}

/* The params of batch norm layer `layer` over C channels: gamma (ones),
 * beta (zeros), running_mean (zeros), running_var (ones), in p[0..3];
 * false after an error. */
static bool bn_params(Lower *L, const char *layer, int64_t C, Loc at, int *p) {
  static const char *const name[4] = {"gamma", "beta", "running_mean",
                                      "running_var"};
  static const InitKind init[4] = {INIT_ONES, INIT_ZEROS, INIT_ZEROS,
                                   INIT_ONES};
  Shape cs = {.rank = 1, .d = {C}};
  for (int k = 0; k < 4; k++) {
    p[k] = fe_new_param(L, arena_printf(L->a, "%s.%s", layer, name[k]), cs,
                        (Init){.kind = init[k]}, at);
    if (p[k] < 0)
      return false;
  }
  return true;
}

/* n / max(n - 1, 1), the factor from the biased to the unbiased variance,
 * with n the values per channel of xs: static, or k * N. */
static Value unbias_factor(Lower *L, const Shape *xs, Loc at) {
  Size z = shape_numel(xs);
  Value n = fe_tensor(ir_const(L->g, DT_F32, (Shape){0},
                               (double)(z.k / xs->d[1]), NULL, at), at);
  if (z.sym)
    n = binop(L, OP_MUL, n, add_node(L, OP_BATCH, NULL, 0, NULL, at), at);
  Value one = fe_tensor(ir_const(L->g, DT_F32, (Shape){0}, 1, NULL, at), at);
  return binop(L, OP_DIV, n, binop(L, OP_MAXIMUM,
               binop(L, OP_SUB, n, one, at), one, at), at);
}

/* batchnorm(x, eps, momentum): x [N, C, ...] normalised per channel
 * (axis 1) over every other axis, then scaled and shifted,
 *
 *     y = (x - mean) / sqrt(var + eps) * gamma + beta
 *
 * While training, mean and var are the batch's (var biased), and each
 * step moves the running averages, params without gradient, toward them
 * by momentum, the variance unbiased, as PyTorch does; outside training
 * the running averages are used. Each statistic is a running_stat node
 * (ops.def), which the mode passes resolve. The per-channel [C] values
 * are reshaped to [C, 1, ...] to broadcast against x. */
static Value build_batchnorm(Lower *L, const Builtin *b, const Expr *call,
                             ArgVal *arg, const char *layer) {
  int x = arg[0].v.node, p[4];
  const Node *n = &L->g->node[x];
  Shape xs = n->shape;
  bool ok = n->dtype == DT_F32 && xs.rank >= 2;
  for (int i = 1; ok && i < xs.rank; i++)
    ok = xs.d[i] > 0;
  if (!ok) {
    if (fe_error(L, arg[0].loc, "%s: expected f32 [N, C, ...] with fixed "
                 "channels C (axis 1) and fixed other axes, got %s", b->name,
                 fe_type_str(L, x)) && xs.rank == 1)
      diag_hint("make it a column first: reshape(x, [N, 1])");
    return fe_poison(call->loc);
  }
  Loc at = call->loc;
  if (!bn_params(L, layer, xs.d[1], at, p))
    return fe_poison(at);
  Shape cb = {.rank = xs.rank - 1, .d = {xs.d[1], 1, 1, 1, 1}};
  Attrs red = {.ints = {0, 0}, .nints = 2}, mom = {.f = {arg[2].v.num}};
  for (int i = 2; i < xs.rank; i++)
    red.ints[red.nints++] = i;
  Value m = add_node(L, OP_MEAN, &x, 1, &red, at);
  Value mu = stat(L, m, p[2], m, &mom, at);
  Value xc = binop(L, OP_SUB, fe_tensor(x, at), reshape_if(L, mu, cb, at), at);
  Value v = binop(L, OP_MUL, xc, xc, at);
  v = v.kind == V_TENSOR ? add_node(L, OP_MEAN, &v.node, 1, &red, at) : v;
  Value unbiased = binop(L, OP_MUL, v, unbias_factor(L, &xs, at), at);
  Value var = stat(L, v, p[3], unbiased, &mom, at);
  Value eps = fe_tensor(ir_const(L->g, DT_F32, (Shape){0}, arg[1].v.num,
                                 NULL, at), at);
  Value s = binop(L, OP_DIV, fe_tensor(p[0], at),
                  unop(L, OP_SQRT, binop(L, OP_ADD, var, eps, at), at), at);
  Value y = binop(L, OP_MUL, xc, reshape_if(L, s, cb, at), at);
  return binop(L, OP_ADD, y, reshape_if(L, fe_tensor(p[1], at), cb, at), at);
}

/* ---- sequences ----------------------------------------------------------
 * Layers over sequences [N, T, D] are written with the ops above (matmul,
 * softmax, transpose, reshape, mean, tanh), so each gets its gradient,
 * reference kernel and fusion from theirs; only the embedding lookup is an
 * op of its own (gather, whose adjoint scatter_add touches only the rows
 * used). */

static Value num(Lower *L, double v, Loc at) {
  return fe_tensor(ir_const(L->g, DT_F32, (Shape){0}, v, NULL, at), at);
}

/* x is f32 of rank >= min_rank with fixed dimensions after the first; the
 * message names the layer and the expected form. */
static bool check_seq(Lower *L, const Builtin *b, const ArgVal *a, int min_rank,
                      const char *form) {
  const Node *n = &L->g->node[a->v.node];
  bool ok = n->dtype == DT_F32 && n->shape.rank >= min_rank;
  for (int i = 1; ok && i < n->shape.rank; i++)
    ok = n->shape.d[i] > 0;
  if (!ok)
    fe_error(L, a->loc, "%s: expected f32 %s with fixed dimensions after the "
             "first, got %s", b->name, form, fe_type_str(L, a->v.node));
  return ok;
}

static Value build_gather(Lower *L, const Builtin *b, const Expr *call,
                          ArgVal *arg, const char *layer) {
  (void)layer;
  int in[2] = {arg[0].v.node, arg[1].v.node};
  return add_node(L, b->op, in, 2, NULL, call->loc);
}

/* gelu(x) in the tanh form (Hendrycks and Gimpel; PyTorch's
 * approximate="tanh"): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
static Value build_gelu(Lower *L, const Builtin *b, const Expr *call,
                        ArgVal *arg, const char *layer) {
  (void)layer;
  if (!check_seq(L, b, &arg[0], 0, "values"))
    return fe_poison(call->loc);
  Loc at = call->loc;
  Value x = arg[0].v;
  Value x3 = binop(L, OP_MUL, binop(L, OP_MUL, x, x, at), x, at);
  Value in = binop(L, OP_ADD, x, binop(L, OP_MUL, num(L, 0.044715, at), x3, at), at);
  in = binop(L, OP_MUL, num(L, sqrt(2 / M_PI), at), in, at);
  Value t = binop(L, OP_ADD, num(L, 1, at), unop(L, OP_TANH, in, at), at);
  return binop(L, OP_MUL, binop(L, OP_MUL, num(L, 0.5, at), x, at), t, at);
}

/* [T, S] of 0 where key j may be seen from query i (j <= i) and -1e9
 * where it may not, added to the scores before the softmax. */
static Value causal_mask(Lower *L, int64_t T, int64_t S, Loc at) {
  double *m = arena_alloc(L->a, sizeof *m * (size_t)(T * S));
  for (int64_t i = 0; i < T; i++)
    for (int64_t j = 0; j < S; j++)
      m[i * S + j] = j > i ? -1e9 : 0;
  Shape s = {.rank = 2, .d = {T, S}};
  return fe_tensor(ir_const(L->g, DT_F32, s, 0, m, at), at);
}

/* softmax(q k^T / sqrt(dk) [+ mask]) v over the last two axes of q [..., T,
 * dk], k [..., S, dk], v [..., S, dv]. The transpose of k swaps the last
 * two axes, which a product can read in place (ir_read_through) unless
 * fold merges it with an earlier transpose (multihead_attention's head
 * split), which leaves one copy. */
static Value attend(Lower *L, Value q, Value k, Value v, bool causal, Loc at) {
  if (q.kind != V_TENSOR || k.kind != V_TENSOR || v.kind != V_TENSOR)
    return fe_poison(at);
  const Shape *ks = &L->g->node[k.node].shape, *qs = &L->g->node[q.node].shape;
  int r = ks->rank;
  Attrs perm = {.nints = r};
  for (int i = 0; i < r; i++)
    perm.ints[i] = i;
  perm.ints[r - 2] = r - 1, perm.ints[r - 1] = r - 2;
  double scale = 1 / sqrt((double)qs->d[qs->rank - 1]);
  Value kt = add_node(L, OP_TRANSPOSE, &k.node, 1, &perm, at);
  Value s = binop(L, OP_MATMUL, q, kt, at);
  if (s.kind != V_TENSOR)
    return s;
  s = binop(L, OP_MUL, s, num(L, scale, at), at);
  const Shape *ss = &L->g->node[s.node].shape;
  int64_t T = ss->d[ss->rank - 2], S = ss->d[ss->rank - 1];
  if (causal && (T != S || T < 0)) {
    fe_error(L, at, "attention: a causal mask needs as many queries as keys, "
             "got %s and %s", fe_type_str(L, q.node), fe_type_str(L, k.node));
    return fe_poison(at);
  }
  if (causal)
    s = binop(L, OP_ADD, s, causal_mask(L, T, S, at), at);
  Attrs ax = {.ints = {ss->rank - 1}, .nints = 1};
  Value p = add_node(L, OP_SOFTMAX, &s.node, 1, &ax, at);
  return binop(L, OP_MATMUL, p, v, at);
}

static Value build_attention(Lower *L, const Builtin *b, const Expr *call,
                             ArgVal *arg, const char *layer) {
  (void)layer;
  for (int i = 0; i < 3; i++)
    if (!check_seq(L, b, &arg[i], 2, "[..., T, D]"))
      return fe_poison(call->loc);
  return attend(L, arg[0].v, arg[1].v, arg[2].v, arg[3].v.num != 0, call->loc);
}

/* The sinusoidal encodings of Vaswani et al. as a constant [T, D]:
 * P[t, 2i] = sin(t / 10000^(2i/D)), P[t, 2i+1] = cos(t / 10000^(2i/D)). */
static Value build_sinusoidal(Lower *L, const Builtin *b, const Expr *call,
                              ArgVal *arg, const char *layer) {
  (void)layer;
  if (!check_seq(L, b, &arg[0], 3, "[N, T, D]"))
    return fe_poison(call->loc);
  const Shape *xs = &L->g->node[arg[0].v.node].shape;
  int64_t T = xs->d[xs->rank - 2], D = xs->d[xs->rank - 1];
  double *p = arena_alloc(L->a, sizeof *p * (size_t)(T * D));
  for (int64_t t = 0; t < T; t++)
    for (int64_t i = 0; i < D; i++) {
      double a = (double)t / pow(10000, (double)(i - i % 2) / (double)D);
      p[t * D + i] = i % 2 ? cos(a) : sin(a);
    }
  Shape ps = {.rank = 2, .d = {T, D}};
  Value pe = fe_tensor(ir_const(L->g, DT_F32, ps, 0, p, call->loc), call->loc);
  return binop(L, OP_ADD, arg[0].v, pe, call->loc);
}

/* embedding(ids, vocab, dim): rows of a table [vocab, dim] (default init
 * normal(0, 1), as PyTorch's nn.Embedding) at i32 ids [...] -> [..., dim] */
static Value build_embedding(Lower *L, const Builtin *b, const Expr *call,
                             ArgVal *arg, const char *layer) {
  int ids = arg[0].v.node;
  if (L->g->node[ids].dtype != DT_I32) {
    if (fe_error(L, arg[0].loc, "embedding: ids must be i32 token ids, got %s",
                 fe_type_str(L, ids)))
      diag_hint("declare the input as i32, e.g. input tokens: i32[N, 16]");
    return fe_poison(call->loc);
  }
  Init init = arg[3].given ? arg[3].v.init : (Init){.kind = INIT_NORMAL, .b = 1};
  Shape ts = {.rank = 2, .d = {(int64_t)arg[1].v.num, (int64_t)arg[2].v.num}};
  int t = fe_new_param(L, arena_printf(L->a, "%s.table", layer), ts, init, call->loc);
  if (t < 0)
    return fe_poison(call->loc);
  return add_node(L, b->op, (int[]){t, ids}, 2, NULL, call->loc);
}

/* layernorm(x, eps): over the last axis of x [..., D],
 * (x - mean) / sqrt(var + eps) * gain + bias, var biased, gain [D] ones
 * and bias [D] zeros (PyTorch's nn.LayerNorm). */
static Value build_layernorm(Lower *L, const Builtin *b, const Expr *call,
                             ArgVal *arg, const char *layer) {
  if (!check_seq(L, b, &arg[0], 2, "[..., D]"))
    return fe_poison(call->loc);
  Loc at = call->loc;
  Value x = arg[0].v;
  const Shape *xs = &L->g->node[x.node].shape;
  Shape ds = {.rank = 1, .d = {xs->d[xs->rank - 1]}};
  int gain = fe_new_param(L, arena_printf(L->a, "%s.gain", layer), ds,
                          (Init){.kind = INIT_ONES}, at);
  int bias = gain < 0 ? -1 : fe_new_param(L, arena_printf(L->a, "%s.bias", layer), ds,
                                          (Init){.kind = INIT_ZEROS}, at);
  if (bias < 0)
    return fe_poison(at);
  Attrs red = {.ints = {1, xs->rank - 1}, .nints = 2};
  Value m = add_node(L, OP_MEAN, &x.node, 1, &red, at);
  Value xc = binop(L, OP_SUB, x, m, at);
  Value v = binop(L, OP_MUL, xc, xc, at);
  v = v.kind == V_TENSOR ? add_node(L, OP_MEAN, &v.node, 1, &red, at) : v;
  Value sd = unop(L, OP_SQRT, binop(L, OP_ADD, v, num(L, arg[1].v.num, at), at), at);
  Value y = binop(L, OP_MUL, binop(L, OP_DIV, xc, sd, at), fe_tensor(gain, at), at);
  return binop(L, OP_ADD, y, fe_tensor(bias, at), at);
}

/* x [..., D] times W<tag> [D, units] plus b<tag> [units], params of layer. */
static Value linear(Lower *L, const char *layer, const char *tag, Value x,
                    int64_t units, Loc at) {
  int64_t D = L->g->node[x.node].shape.d[L->g->node[x.node].shape.rank - 1];
  Shape ws = {.rank = 2, .d = {D, units}}, bs = {.rank = 1, .d = {units}};
  int w = fe_new_param(L, arena_printf(L->a, "%s.W%s", layer, tag), ws,
                       (Init){.kind = INIT_XAVIER_UNIFORM}, at);
  int b = w < 0 ? -1 : fe_new_param(L, arena_printf(L->a, "%s.b%s", layer, tag), bs,
                                    (Init){.kind = INIT_ZEROS}, at);
  if (b < 0)
    return fe_poison(at);
  return binop(L, OP_ADD, binop(L, OP_MATMUL, x, fe_tensor(w, at), at), fe_tensor(b, at), at);
}

/* [N, T, H*dh] <-> [N, H, T, dh]: split the features into heads, or merge
 * them back (heads is then 0). */
static Value heads_of(Lower *L, Value x, int64_t heads, Loc at) {
  if (x.kind != V_TENSOR)
    return x;
  Attrs perm = {.ints = {0, 2, 1, 3}, .nints = 4};
  Shape s = L->g->node[x.node].shape;
  if (heads) {
    s = (Shape){.rank = 4, .d = {s.d[0], s.d[1], heads, s.d[2] / heads}};
    x = reshape_to(L, x.node, s, at);
    return x.kind == V_TENSOR ? add_node(L, OP_TRANSPOSE, &x.node, 1, &perm, at) : x;
  }
  Value y = add_node(L, OP_TRANSPOSE, &x.node, 1, &perm, at);
  s = (Shape){.rank = 3, .d = {s.d[0], s.d[2], s.d[1] * s.d[3]}};
  return y.kind == V_TENSOR ? reshape_to(L, y.node, s, at) : y;
}

/* multihead_attention(x, heads, causal): self-attention over x [N, T, D]
 * with heads heads of D/heads features: projections q, k, v and o, each
 * W [D, D] (xavier) and b [D] (zeros). */
static Value build_mha(Lower *L, const Builtin *b, const Expr *call,
                       ArgVal *arg, const char *layer) {
  if (!check_seq(L, b, &arg[0], 3, "[N, T, D]"))
    return fe_poison(call->loc);
  Loc at = call->loc;
  Value x = arg[0].v;
  int64_t H = (int64_t)arg[1].v.num, D = L->g->node[x.node].shape.d[2];
  if (L->g->node[x.node].shape.rank != 3 || D % H) {
    fe_error(L, arg[1].loc, "multihead_attention: %lld heads must divide the "
             "%lld features of %s, which must be [N, T, D]", (long long)H,
             (long long)D, fe_type_str(L, x.node));
    return fe_poison(at);
  }
  Value q = heads_of(L, linear(L, layer, "q", x, D, at), H, at);
  Value k = heads_of(L, linear(L, layer, "k", x, D, at), H, at);
  Value v = heads_of(L, linear(L, layer, "v", x, D, at), H, at);
  Value a = heads_of(L, attend(L, q, k, v, arg[2].v.num != 0, at), 0, at);
  return a.kind == V_TENSOR ? linear(L, layer, "o", a, D, at) : a;
}

/* learned_positions(x): x [N, T, D] plus a param table [T, D], one row
 * per position (default init normal(0, 0.02), as BERT's). */
static Value build_learned_positions(Lower *L, const Builtin *b,
                                     const Expr *call, ArgVal *arg,
                                     const char *layer) {
  if (!check_seq(L, b, &arg[0], 3, "[N, T, D]"))
    return fe_poison(call->loc);
  const Shape *xs = &L->g->node[arg[0].v.node].shape;
  Shape ps = {.rank = 2, .d = {xs->d[xs->rank - 2], xs->d[xs->rank - 1]}};
  Init init = arg[1].given ? arg[1].v.init : (Init){.kind = INIT_NORMAL, .b = 0.02};
  int p = fe_new_param(L, arena_printf(L->a, "%s.table", layer), ps, init, call->loc);
  if (p < 0)
    return fe_poison(call->loc);
  return binop(L, OP_ADD, arg[0].v, fe_tensor(p, call->loc), call->loc);
}

/* A parameter of the layer called name in this scope, or -1. */
static int find_layer(Lower *L, const char *name) {
  const char *prefix = arena_printf(L->a, "%s%s.", L->scope->prefix, name);
  size_t n = strlen(prefix);
  for (int i = 0; i < L->g->nnode; i++) {
    const Node *p = &L->g->node[i];
    if (p->op == OP_PARAM && strncmp(p->name, prefix, n) == 0)
      return i;
  }
  return -1;
}

/* A layer's name: name = "..." if given, else the layer and how many
 * layers of its kind this scope has called (dense1, dense2, ...). */
static const char *layer_name(Lower *L, const Builtin *b, const Sig *s,
                              const ArgVal *arg, const Expr *call) {
  int k = fe_count_call(L, b->name);
  for (int i = 0; i < s->n; i++) {
    if (strcmp(s->p[i].name, "name") != 0 || !arg[i].given)
      continue;
    const char *nm = arg[i].v.str;
    bool ok = (*nm >= 'a' && *nm <= 'z') || (*nm >= 'A' && *nm <= 'Z') ||
              *nm == '_';
    for (const char *c = nm; ok && *c; c++)
      ok = *c == '_' || (*c >= 'a' && *c <= 'z') ||
           (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9');
    if (!ok) {
      fe_error(L, arg[i].loc, "layer name \"%s\" must be a name: letters, "
               "digits and '_', not starting with a digit", nm);
      return NULL;
    }
    int prev = find_layer(L, nm);
    if (prev >= 0) {
      if (fe_error(L, arg[i].loc, "a layer named \"%s\" already exists", nm))
        diag_note(L->g->node[prev].loc, "previous definition is here");
      return NULL;
    }
    return nm;
  }
  (void)call;
  return arena_printf(L->a, "%s%d", b->name, k);
}

/* One direction of a recurrent layer over x[N, T, I]: the input
 * projection of every step as one product, x Wih + b, then the loop
 * (ops.def), then h of every step [N, T, H], or of the step the layer
 * ends on [N, H] when last. Parameters are initialised as PyTorch's are,
 * uniform in +-1/sqrt(H). */
static Value recur_direction(Lower *L, Op op, const char *layer, const char *sfx, int x,
                             int64_t H, bool rev, bool last, int mask, Loc loc) {
  const Cell *c = ir_cell(op);
  int64_t I = L->g->node[x].shape.d[2], G = c->gates * H;
  double a = 1 / sqrt((double)H);
  Init u = {.kind = INIT_UNIFORM, .a = -a, .b = a};
  int wih = fe_new_param(L, arena_printf(L->a, "%s.Wih%s", layer, sfx),
                         (Shape){.rank = 2, .d = {I, G}}, u, loc);
  int whh = fe_new_param(L, arena_printf(L->a, "%s.Whh%s", layer, sfx),
                         (Shape){.rank = 2, .d = {H, G}}, u, loc);
  int bias = fe_new_param(L, arena_printf(L->a, "%s.b%s", layer, sfx),
                          (Shape){.rank = 1, .d = {G}}, u, loc);
  if (wih < 0 || whh < 0 || bias < 0)
    return fe_poison(loc);
  Value xp = add_node(L, OP_MATMUL, (int[]){x, wih}, 2, NULL, loc);
  if (xp.kind == V_POISON) return xp;
  xp = add_node(L, OP_ADD, (int[]){xp.node, bias}, 2, NULL, loc);
  if (xp.kind == V_POISON) return xp;
  if (mask >= 0) {
    xp = add_node(L, OP_MUL, (int[]){xp.node, mask}, 2, NULL, loc);
    if (xp.kind == V_POISON) return xp;
  }
  Attrs ra = {.ints = {rev}, .nints = 1};
  Value seq = add_node(L, op, (int[]){xp.node, whh}, 2, &ra, loc);
  if (seq.kind == V_POISON) return seq;
  Attrs hs = {.ints = {2, c->h * H, (c->h + 1) * H}, .nints = 3};
  Value h = add_node(L, OP_SLICE, &seq.node, 1, &hs, loc);
  if (!last || h.kind == V_POISON) return h;
  int64_t T = L->g->node[x].shape.d[1], end = rev ? 0 : T - 1;
  Attrs ls = {.ints = {1, end, end + 1}, .nints = 3};
  h = add_node(L, OP_SLICE, &h.node, 1, &ls, loc);
  if (h.kind == V_POISON) return h;
  Shape s = {.rank = 2, .d = {L->g->node[x].shape.d[0], H}};
  return reshape_to(L, h.node, s, loc);
}

/* A constant [T+1, T] matrix: 1 where step t counts for a sequence of
 * length s, that is t < s (last: t == s - 1). */
static int length_matrix(Lower *L, int64_t T, bool last, Loc loc) {
  double *m = arena_alloc(L->a, sizeof(double) * (size_t)((T + 1) * T));
  for (int64_t s = 0; s <= T; s++)
    for (int64_t t = 0; t < T; t++) m[s * T + t] = last ? t == s - 1 : t < s;
  return ir_const(L->g, DT_F32, (Shape){.rank = 2, .d = {T + 1, T}}, 0, m, loc);
}

/* The mask of sequences of lengths len (i32[N], each 0..T) padded at
 * the end: f32[N, T, 1], 1 at a sequence's steps and 0 past its end (last:
 * 1 only at its last step), one_hot(len) [N, T+1] times a constant
 * matrix; -1 after an error (reported). */
static int length_mask(Lower *L, const char *fname, const ArgVal *len, int64_t N, int64_t T,
                       bool last, Loc loc) {
  const Node *n = &L->g->node[len->v.node];
  if (n->dtype != DT_I32 || n->shape.rank != 1 || n->shape.d[0] != N) {
    fe_error(L, len->loc, "%s: lengths must be i32[%s], one per sequence, got %s", fname,
             N == -1 ? "N" : "batch", fe_type_str(L, len->v.node));
    return -1;
  }
  Attrs oh = {.ints = {T + 1}, .nints = 1};
  Value m = add_node(L, OP_ONE_HOT, &len->v.node, 1, &oh, loc);
  if (m.kind == V_POISON) return -1;
  m = add_node(L, OP_MATMUL, (int[]){m.node, length_matrix(L, T, last, loc)}, 2, NULL, loc);
  if (m.kind == V_POISON) return -1;
  m = reshape_to(L, m.node, (Shape){.rank = 3, .d = {N, T, 1}}, loc);
  return m.kind == V_POISON ? -1 : m.node;
}

/* h[N, T, H] of a forward layer over sequences padded at the end: h at
 * each one's last step, [N, H] (zeros for length 0), or h with the steps
 * past the end zeroed. The recurrence is causal, so the padding after a
 * sequence never reaches its own steps. */
static Value apply_lengths(Lower *L, const char *fname, Value h, const ArgVal *len,
                           int64_t T, bool last, Loc loc) {
  int m = length_mask(L, fname, len, L->g->node[h.node].shape.d[0], T, last, loc);
  if (m < 0) return fe_poison(loc);
  Value y = add_node(L, OP_MUL, (int[]){h.node, m}, 2, NULL, loc);
  if (!last || y.kind == V_POISON) return y;
  Attrs sa = {.ints = {0, 1}, .nints = 2};
  return add_node(L, OP_SUM, &y.node, 1, &sa, loc);
}

/* lstm / gru / rnn (x, units, last, reverse, bidirectional, lengths): h of
 * every step, or the last; lengths: sequences padded at the end;
 * bidirectional: both directions' h side by side,
 * [N, T, 2H] (or [N, 2H]: the forward pass's last step beside the
 * reverse pass's, which ends at step 0). */
static Value build_recurrent(Lower *L, const Builtin *b, const Expr *call,
                             ArgVal *arg, const char *layer) {
  int x = arg[0].v.node;
  const Node *n = &L->g->node[x];
  int64_t H = (int64_t)arg[1].v.num;
  bool last = arg[2].v.num, rev = arg[3].v.num, bi = arg[4].v.num;
  if (n->dtype != DT_F32 || n->shape.rank != 3 || n->shape.d[1] < 0 ||
      n->shape.d[2] < 0) {
    if (fe_error(L, call->loc, "%s: the input must be a sequence f32[N, T, features] "
                 "with fixed T and features, got %s", b->name, fe_type_str(L, x)) &&
        n->shape.rank == 2 && n->shape.d[1] > 0)
      diag_hint("one feature per step: reshape(x, [N, %lld, 1])", (long long)n->shape.d[1]);
    return fe_poison(call->loc);
  }
  if (bi && rev) {
    fe_error(L, arg[3].loc, "%s: a bidirectional layer runs both ways; leave out reverse",
             b->name);
    return fe_poison(call->loc);
  }
  /* With lengths, the forward direction masks its h past each end; the
   * reverse direction zeroes its input projection (bias included) there
   * instead: from a zero state, a step with a zero projection leaves the
   * state at zero for every cell (the hidden side has no bias), so the
   * reverse pass starts at each sequence's own last step and its h past
   * the end is zero. */
  int64_t N = n->shape.d[0], T = n->shape.d[1];
  int mask = -1;
  if (arg[5].given && (rev || bi) &&
      (mask = length_mask(L, b->name, &arg[5], N, T, false, call->loc)) < 0)
    return fe_poison(call->loc);
  Value f;
  if (rev) return recur_direction(L, b->op, layer, "", x, H, true, last, mask, call->loc);
  if (arg[5].given) {
    f = recur_direction(L, b->op, layer, "", x, H, false, false, -1, call->loc);
    if (f.kind != V_POISON) f = apply_lengths(L, b->name, f, &arg[5], T, last, call->loc);
  } else {
    f = recur_direction(L, b->op, layer, "", x, H, false, last, -1, call->loc);
  }
  if (!bi || f.kind == V_POISON) return f;
  Value r = recur_direction(L, b->op, layer, "_reverse", x, H, true, last, mask, call->loc);
  if (r.kind == V_POISON) return r;
  Attrs ca = {.ints = {last ? 1 : 2}, .nints = 1};
  return add_node(L, OP_CONCAT, (int[]){f.node, r.node}, 2, &ca, call->loc);
}

/* ---- calls --------------------------------------------------------------- */

static Value call_init(Lower *L, int i, const Expr *call, const Value *vals) {
  const Sig *s = init_sig(i);
  ArgVal arg[MAX_PARAMS];
  if (!fe_bind(L, s, call, vals, arg))
    return fe_poison(call->loc);
  Init init = {.kind = inits[i].kind};
  if (s->n > 0)
    init.a = arg[0].v.num;
  if (s->n > 1)
    init.b = arg[1].v.num;
  if (init.kind == INIT_UNIFORM && !(init.a < init.b)) {
    fe_error(L, call->loc, "uniform: low (%s) must be less than high (%s)",
             fe_num_str(L->a, init.a), fe_num_str(L->a, init.b));
    return fe_poison(call->loc);
  }
  return (Value){.kind = V_INIT, .init = init, .loc = call->loc};
}

bool fe_call_builtin(Lower *L, const Expr *call, const Value *vals,
                     Value *out) {
  int i = find_builtin(call->str);
  if (i < 0) {
    int k = find_init(call->str);
    if (k >= 0)
      *out = call_init(L, k, call, vals);
    return k >= 0;
  }
  const Builtin *b = &builtins[i];
  const Sig *s = builtin_sig(i);
  ArgVal arg[MAX_PARAMS];
  const char *layer = NULL;
  *out = fe_poison(call->loc);
  if (!fe_bind(L, s, call, vals, arg))
    return true;
  if (b->layer && !(layer = layer_name(L, b, s, arg, call)))
    return true;
  *out = b->build(L, b, call, arg, layer);
  out->loc = call->loc;
  return true;
}
