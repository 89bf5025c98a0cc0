/* test_grad.c — a finite-difference gradient check for every
 * differentiable op, generated from the op table.
 *
 * Each case makes the op's operands parameters, reduces its result to a
 * scalar loss sum(y * R) with a fixed random R (so that every element of
 * the gradient matters and differs), and asks ad_gradcheck to compare
 * autodiff's gradients with central differences on the reference
 * interpreter. Cases cover broadcasting in both directions, reductions
 * over the batch dimension and every axis kind. An op that has a gradient
 * rule but no case here fails the test.
 */
#include "passes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const Loc L0 = {0};
static uint64_t rng = 12345;

static double urand(void) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(rng >> 11) / 9007199254740992.0;
}

static int param(Graph *g, const char *name, int rank, const int64_t *d) {
  return ir_param(g, name, DT_F32, shape_make(rank, d), (Init){0}, L0);
}

static int add(Graph *g, Op op, const int *in, int nin, Attrs a) {
  char why[256];
  int i = ir_add(g, op, in, nin, &a, L0, why);
  if (i < 0) die("test case: %s", why);
  return i;
}

static int shaped(Graph *g, Op op, int x, Shape s) {
  char why[256];
  int i = ir_add_shaped(g, op, &x, 1, NULL, DT_F32, s, L0, why);
  if (i < 0) die("test case: %s", why);
  return i;
}

/* loss = sum(y * R), R random of y's static shape (or its per-sample
 * shape, broadcast over N). */
static void loss_of(Graph *g, int y) {
  Shape s = g->node[y].shape;
  Shape rs = s;
  if (rs.rank && rs.d[0] < 0) { /* drop the batch dim: R broadcasts over it */
    for (int i = 1; i < rs.rank; i++) rs.d[i - 1] = rs.d[i];
    rs.rank--;
  }
  int64_t n = numel_eval(&rs, 1);
  double *r = malloc(sizeof *r * (size_t)(n ? n : 1));
  for (int64_t i = 0; i < n; i++) r[i] = urand() * 2 - 1;
  int R = ir_const(g, DT_F32, rs, 0, r, L0);
  free(r);
  int m = add(g, OP_MUL, (int[]){y, R}, 2, (Attrs){0});
  g->loss = add(g, OP_SUM, &m, 1, (Attrs){.nints = 1});
}

typedef struct Case {
  Op op;
  const char *name;
  void (*build)(Graph *g, Op op);
  bool positive;
} Case;

static void unary(Graph *g, Op op) {
  int a = param(g, "a", 2, (int64_t[]){3, 4});
  Attrs at = {0};
  at.f[0] = 0.2;
  if (op == OP_DROPOUT) { at.ints[0] = 7; at.nints = 1; at.f[0] = 0.3; }
  loss_of(g, add(g, op, &a, 1, at));
}

static void binary(Graph *g, Op op) {
  int a = param(g, "a", 2, (int64_t[]){3, 4});
  int b = param(g, "b", 2, (int64_t[]){3, 4});
  loss_of(g, add(g, op, (int[]){a, b}, 2, (Attrs){0}));
}

static void binary_bcast(Graph *g, Op op) {
  int a = param(g, "a", 2, (int64_t[]){3, 1});
  int b = param(g, "b", 1, (int64_t[]){4});
  loss_of(g, add(g, op, (int[]){a, b}, 2, (Attrs){0}));
}

/* y = x * a with x an input [N,3]: the gradient of a sums over N. */
static void binary_batch(Graph *g, Op op) {
  int x = ir_input(g, "x", DT_F32, shape_make(2, (int64_t[]){-1, 3}), IN_DATA, 0, L0);
  int a = param(g, "a", 1, (int64_t[]){3});
  loss_of(g, add(g, op, (int[]){x, a}, 2, (Attrs){0}));
}

static void reduce_axes(Graph *g, Op op) {
  int a = param(g, "a", 3, (int64_t[]){2, 3, 4});
  loss_of(g, add(g, op, &a, 1, (Attrs){.ints = {0, 0, 2}, .nints = 3}));
}

static void reduce_keep(Graph *g, Op op) {
  int a = param(g, "a", 3, (int64_t[]){2, 3, 4});
  loss_of(g, add(g, op, &a, 1, (Attrs){.ints = {1, 1}, .nints = 2}));
}

/* mean over everything, batch included: the count involves N */
static void reduce_batch(Graph *g, Op op) {
  int x = ir_input(g, "x", DT_F32, shape_make(2, (int64_t[]){-1, 3}), IN_DATA, 0, L0);
  int a = param(g, "a", 1, (int64_t[]){3});
  int y = add(g, OP_MUL, (int[]){x, a}, 2, (Attrs){0});
  int r = add(g, op, &y, 1, (Attrs){.nints = 1});
  int sq = add(g, OP_MUL, (int[]){r, r}, 2, (Attrs){0}); /* nonlinear in a */
  g->loss = sq;
}

static void axis(Graph *g, Op op) {
  int a = param(g, "a", 2, (int64_t[]){3, 5});
  loss_of(g, add(g, op, &a, 1, (Attrs){.ints = {1}, .nints = 1}));
}

static void axis0(Graph *g, Op op) {
  int a = param(g, "a", 3, (int64_t[]){4, 2, 3});
  loss_of(g, add(g, op, &a, 1, (Attrs){.ints = {0}, .nints = 1}));
}

static void reshape(Graph *g, Op op) {
  int a = param(g, "a", 2, (int64_t[]){3, 4});
  int r = shaped(g, op, a, shape_make(3, (int64_t[]){2, 3, 2}));
  loss_of(g, add(g, OP_TANH, &r, 1, (Attrs){0}));
}

/* a [3, 10, 2] blocked on its channels and back ([3, 2, 2, 8]; 6
 * padding lanes), each conversion checked on its own */
static void blocked(Graph *g, Op op) {
  int a = param(g, "a", 3, (int64_t[]){3, 10, 2});
  int b = add(g, OP_TO_BLOCKED, &a, 1, (Attrs){.ints = {1}, .nints = 1});
  if (op == OP_TO_BLOCKED) {
    loss_of(g, add(g, OP_TANH, &b, 1, (Attrs){0}));
    return;
  }
  int p = param(g, "p", 4, (int64_t[]){3, 2, 2, BLOCK_C});
  int s = add(g, OP_ADD, (int[]){b, p}, 2, (Attrs){0});
  loss_of(g, add(g, op, &s, 1, (Attrs){.ints = {1, 10}, .nints = 2}));
}

static void broadcast(Graph *g, Op op) {
  int a = param(g, "a", 2, (int64_t[]){1, 4});
  loss_of(g, shaped(g, op, a, shape_make(3, (int64_t[]){2, 3, 4})));
}

static void transpose(Graph *g, Op op) {
  int a = param(g, "a", 3, (int64_t[]){2, 3, 4});
  loss_of(g, add(g, op, &a, 1, (Attrs){.ints = {2, 0, 1}, .nints = 3}));
}

static void slice(Graph *g, Op op) {
  int a = param(g, "a", 2, (int64_t[]){3, 6});
  loss_of(g, add(g, op, &a, 1, (Attrs){.ints = {1, 1, 4}, .nints = 3}));
}

static void concat(Graph *g, Op op) {
  int a = param(g, "a", 2, (int64_t[]){3, 2});
  int b = param(g, "b", 2, (int64_t[]){3, 4});
  loss_of(g, add(g, op, (int[]){a, b, a}, 3, (Attrs){.ints = {1}, .nints = 1}));
}

static void matmul(Graph *g, Op op) {
  int a = param(g, "a", 2, (int64_t[]){3, 5});
  int b = param(g, "b", 2, (int64_t[]){5, 4});
  loss_of(g, add(g, op, (int[]){a, b}, 2, (Attrs){0}));
}

static void matmul_rows(Graph *g, Op op) { /* [2,3,5] x [5,4] */
  int a = param(g, "a", 3, (int64_t[]){2, 3, 5});
  int b = param(g, "b", 2, (int64_t[]){5, 4});
  loss_of(g, add(g, op, (int[]){a, b}, 2, (Attrs){0}));
}

static void matmul_batched(Graph *g, Op op) {
  int a = param(g, "a", 3, (int64_t[]){2, 3, 5});
  int b = param(g, "b", 3, (int64_t[]){2, 5, 4});
  loss_of(g, add(g, op, (int[]){a, b}, 2, (Attrs){0}));
}

static void matmul_shared(Graph *g, Op op) { /* [3,5] x [2,5,4] */
  int a = param(g, "a", 2, (int64_t[]){3, 5});
  int b = param(g, "b", 3, (int64_t[]){2, 5, 4});
  loss_of(g, add(g, op, (int[]){a, b}, 2, (Attrs){0}));
}

static void cross_entropy(Graph *g, Op op) {
  int x = param(g, "logits", 2, (int64_t[]){4, 5});
  int y = ir_input(g, "y", DT_I32, shape_make(1, (int64_t[]){4}), IN_LABEL, 5, L0);
  int l = add(g, op, (int[]){x, y}, 2, (Attrs){0});
  g->loss = add(g, OP_MEAN, &l, 1, (Attrs){.nints = 1});
}

/* conv2d(x, w) with x and w both params: checks conv2d_grad_input and
 * conv2d_grad_weight, which exist only as conv2d's gradient. */
static void conv_with(Graph *g, Attrs a, int64_t C, int64_t O, int64_t KH, int64_t KW) {
  int x = param(g, "x", 4, (int64_t[]){2, C, 5, 6});
  int w = param(g, "w", 4, (int64_t[]){O, C / a.ints[6], KH, KW});
  loss_of(g, add(g, OP_CONV2D, (int[]){x, w}, 2, a));
}

static void conv(Graph *g, Op op) {
  (void)op;
  conv_with(g, (Attrs){.ints = {1, 1, 0, 0, 1, 1, 1}, .nints = 7}, 3, 2, 3, 3);
}

/* stride 2 by 1, pad 1 by 2, dilation 1 by 2, two groups */
static void conv_strided(Graph *g, Op op) {
  (void)op;
  conv_with(g, (Attrs){.ints = {2, 1, 1, 2, 1, 2, 2}, .nints = 7}, 4, 6, 3, 2);
}

static void conv_depthwise(Graph *g, Op op) {
  (void)op;
  conv_with(g, (Attrs){.ints = {2, 2, 1, 1, 2, 1, 3}, .nints = 7}, 3, 3, 2, 3);
}

/* im2col of x [2,3,5,6] and col2im to [2,2,5,6]: a 3x2 kernel, stride 2
 * by 1, pad 1 by 2, dilation 1 by 2 (OH*OW = 3*8 positions, C*3*2 taps) */
static void columns(Graph *g, Op op) {
  Attrs a = {.ints = {2, 1, 1, 2, 1, 2, 3, 2, 5, 6}, .nints = 8};
  if (op == OP_IM2COL) {
    int x = param(g, "x", 4, (int64_t[]){2, 3, 5, 6});
    loss_of(g, add(g, op, &x, 1, a));
    return;
  }
  a.nints = 10; /* two channels: the columns are [2, 2*3*2, 24] */
  int d = param(g, "dcol", 3, (int64_t[]){2, 12, 24});
  loss_of(g, add(g, op, &d, 1, a));
}

/* a 3x2 window, stride 2 by 1, padding 1 by 1 (overlapping columns) */
static void pool(Graph *g, Op op) {
  int x = param(g, "x", 4, (int64_t[]){2, 3, 5, 6});
  loss_of(g, add(g, op, &x, 1, (Attrs){.ints = {3, 2, 2, 1, 1, 1}, .nints = 6}));
}

/* dropout2d as the frontend builds it: x times the dropout of a constant
 * 1 of shape [N,C,1,1], so whole channels are dropped */
static void dropout2d(Graph *g, Op op) {
  int x = param(g, "x", 4, (int64_t[]){2, 3, 2, 2});
  int one = ir_const(g, DT_F32, shape_make(4, (int64_t[]){2, 3, 1, 1}), 1, NULL, L0);
  int mask = add(g, op, &one, 1, (Attrs){.ints = {5}, .nints = 1, .f = {0.5}});
  loss_of(g, add(g, OP_MUL, (int[]){x, mask}, 2, (Attrs){0}));
}

/* running_stat(batch, avg, sample): the gradient goes to batch only */
static void running_stat(Graph *g, Op op) {
  int a = param(g, "batch", 2, (int64_t[]){3, 4});
  int b = param(g, "avg", 2, (int64_t[]){3, 4});
  int c = param(g, "sample", 2, (int64_t[]){3, 4});
  loss_of(g, add(g, op, (int[]){a, b, c}, 3, (Attrs){.f = {0.1}}));
}

static int bin(Graph *g, Op op, int a, int b) { return add(g, op, (int[]){a, b}, 2, (Attrs){0}); }

/* batch norm of x [4,3,2,2] as the frontend builds it (frontend/
 * builtins.c): the batch statistics, so the gradient of x flows through
 * the mean and the variance too */
static void batchnorm(Graph *g, Op op) {
  int x = param(g, "x", 4, (int64_t[]){4, 3, 2, 2});
  int gamma = param(g, "gamma", 1, (int64_t[]){3}), beta = param(g, "beta", 1, (int64_t[]){3});
  int rm = param(g, "running_mean", 1, (int64_t[]){3});
  int rv = param(g, "running_var", 1, (int64_t[]){3});
  Attrs red = {.ints = {0, 0, 2, 3}, .nints = 4}, mom = {.f = {0.1}};
  Shape cb = shape_make(3, (int64_t[]){3, 1, 1});
  int m = add(g, OP_MEAN, &x, 1, red);
  int xc = bin(g, OP_SUB, x, shaped(g, OP_RESHAPE, add(g, op, (int[]){m, rm, m}, 3, mom), cb));
  int sq = bin(g, OP_MUL, xc, xc);
  int v = add(g, OP_MEAN, &sq, 1, red);
  int var = add(g, op, (int[]){v, rv, v}, 3, mom);
  int sd = bin(g, OP_ADD, var, ir_const(g, DT_F32, (Shape){0}, 1e-5, NULL, L0));
  sd = add(g, OP_SQRT, &sd, 1, (Attrs){0});
  int y = bin(g, OP_MUL, xc, shaped(g, OP_RESHAPE, bin(g, OP_DIV, gamma, sd), cb));
  loss_of(g, bin(g, OP_ADD, y, shaped(g, OP_RESHAPE, beta, cb)));
}

/* ids [2, 4] with repeats, and -1 and 7 out of [0, 5): clamped to rows
 * 0 and 4 (ops.def), so those rows get several contributions */
static int ids(Graph *g) {
  static const double v[8] = {1, 3, 1, 4, -1, 0, 7, 3};
  return ir_const(g, DT_I32, shape_make(2, (int64_t[]){2, 4}), 0, v, L0);
}

static void gather(Graph *g, Op op) {
  int t = param(g, "table", 2, (int64_t[]){5, 3});
  loss_of(g, add(g, op, (int[]){t, ids(g)}, 2, (Attrs){0}));
}

static void scatter_add(Graph *g, Op op) {
  int x = param(g, "rows", 3, (int64_t[]){2, 4, 3});
  loss_of(g, add(g, op, (int[]){x, ids(g)}, 2, (Attrs){.ints = {5}, .nints = 1}));
}

/* A recurrent layer over 4 steps, H = 3, 2 sequences: the loss weighs
 * every column of its result (gates, cell state, h), so the _grad op's
 * handling of each is checked, and the gradient reaches both operands. */
static void recur_case(Graph *g, Op op, bool rev) {
  const Cell *c = ir_cell(op);
  int xp = param(g, "xp", 3, (int64_t[]){2, 4, c->gates * 3});
  int w = param(g, "Whh", 2, (int64_t[]){3, c->gates * 3});
  loss_of(g, add(g, op, (int[]){xp, w}, 2, (Attrs){.ints = {rev}, .nints = 1}));
}
static void recur(Graph *g, Op op) { recur_case(g, op, false); }
static void recur_reverse(Graph *g, Op op) { recur_case(g, op, true); }

static const Case cases[] = {
    {OP_NEG, "neg", unary, false},           {OP_EXP, "exp", unary, false},
    {OP_LOG, "log", unary, true},            {OP_SQRT, "sqrt", unary, true},
    {OP_ABS, "abs", unary, false},           {OP_RELU, "relu", unary, false},
    {OP_LEAKY_RELU, "leaky_relu", unary, false}, {OP_SIGMOID, "sigmoid", unary, false},
    {OP_TANH, "tanh", unary, false},         {OP_DROPOUT, "dropout", unary, false},
    {OP_ADD, "add", binary, false},          {OP_ADD, "add_bcast", binary_bcast, false},
    {OP_ADD, "add_batch", binary_batch, false},
    {OP_SUB, "sub_bcast", binary_bcast, false}, {OP_MUL, "mul", binary, false},
    {OP_MUL, "mul_bcast", binary_bcast, false}, {OP_MUL, "mul_batch", binary_batch, false},
    {OP_DIV, "div", binary, true},           {OP_DIV, "div_bcast", binary_bcast, true},
    {OP_MAXIMUM, "maximum", binary, false},  {OP_MAXIMUM, "maximum_bcast", binary_bcast, false},
    {OP_MINIMUM, "minimum", binary, false},  {OP_MINIMUM, "minimum_bcast", binary_bcast, false},
    {OP_SUM, "sum_axes", reduce_axes, false}, {OP_SUM, "sum_keep", reduce_keep, false},
    {OP_MEAN, "mean_axes", reduce_axes, false}, {OP_MEAN, "mean_keep", reduce_keep, false},
    {OP_MEAN, "mean_batch", reduce_batch, false}, {OP_MAX, "max_axes", reduce_axes, false},
    {OP_MAX, "max_keep", reduce_keep, false}, {OP_SOFTMAX, "softmax", axis, false},
    {OP_SOFTMAX, "softmax_axis0", axis0, false}, {OP_LOG_SOFTMAX, "log_softmax", axis, false},
    {OP_LOG_SOFTMAX, "log_softmax_axis0", axis0, false},
    {OP_RESHAPE, "reshape", reshape, false}, {OP_BROADCAST, "broadcast", broadcast, false},
    {OP_TO_BLOCKED, "to_blocked", blocked, false}, {OP_FROM_BLOCKED, "from_blocked", blocked, false},
    {OP_TRANSPOSE, "transpose", transpose, false}, {OP_SLICE, "slice", slice, false},
    {OP_CONCAT, "concat", concat, false},    {OP_MATMUL, "matmul", matmul, false},
    {OP_MATMUL, "matmul_rows", matmul_rows, false},
    {OP_MATMUL, "matmul_batched", matmul_batched, false},
    {OP_MATMUL, "matmul_shared", matmul_shared, false},
    {OP_CROSS_ENTROPY, "cross_entropy", cross_entropy, false},
    {OP_CONV2D, "conv2d", conv, false},      {OP_CONV2D, "conv2d_strided", conv_strided, false},
    {OP_CONV2D, "conv2d_depthwise", conv_depthwise, false},
    {OP_MAX_POOL2D, "max_pool2d", pool, false}, {OP_AVG_POOL2D, "avg_pool2d", pool, false},
    {OP_IM2COL, "im2col", columns, false},   {OP_COL2IM, "col2im", columns, false},
    {OP_DROPOUT, "dropout2d", dropout2d, false},
    {OP_RUNNING_STAT, "running_stat", running_stat, false},
    {OP_RUNNING_STAT, "batchnorm", batchnorm, false},
    {OP_GATHER, "gather", gather, false},
    {OP_SCATTER_ADD, "scatter_add", scatter_add, false},
    {OP_LSTM, "lstm", recur, false},         {OP_LSTM, "lstm_reverse", recur_reverse, false},
    {OP_GRU, "gru", recur, false},           {OP_GRU, "gru_reverse", recur_reverse, false},
    {OP_RNN, "rnn", recur, false},           {OP_RNN, "rnn_reverse", recur_reverse, false},
};

/* Param values: in [-1, 1) away from the kinks at 0, or in [0.5, 1.5). */
static Tensor *values(const Graph *g, bool positive) {
  int np;
  int *idx = ir_params(g, &np);
  Tensor *t = calloc((size_t)np + 1, sizeof *t);
  for (int j = 0; j < np; j++) {
    t[j] = tensor_new(DT_F32, g->node[idx[j]].shape);
    for (int64_t i = 0; i < t[j].n; i++) {
      double u = urand();
      t[j].v[i] = positive ? 0.5 + u : (u < 0.5 ? -1 + u : u);
    }
  }
  return t;
}

int main(void) {
  int failed = 0;
  bool covered[OP_COUNT] = {0};
  interp_set_step(NULL, 3, 11);
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    Graph *g = ir_new_graph(cases[c].name);
    cases[c].build(g, cases[c].op);
    covered[cases[c].op] = true;
    int np;
    ir_params(g, &np);
    Tensor *p = values(g, cases[c].positive);
    char *log = NULL;
    size_t loglen = 0;
    FILE *f = open_memstream(&log, &loglen);
    bool ok = ad_gradcheck(g, 3, NULL, p, 0, 99, 1e-6, f);
    fclose(f);
    printf("%s grad/%s\n", ok ? "PASS" : "FAIL", cases[c].name);
    if (!ok) {
      printf("%s", log);
      failed++;
    }
    free(log);
    for (int j = 0; j < np; j++) tensor_free(&p[j]);
    free(p);
    ir_free_graph(g);
  }
  /* The gradient ops are checked through the gradient of their forward op. */
  covered[OP_CONV2D_GRAD_INPUT] = covered[OP_CONV2D_GRAD_WEIGHT] = covered[OP_CONV2D];
  covered[OP_MAX_POOL2D_GRAD] = covered[OP_MAX_POOL2D];
  covered[OP_AVG_POOL2D_GRAD] = covered[OP_AVG_POOL2D];
  covered[OP_LSTM_GRAD] = covered[OP_LSTM];
  covered[OP_GRU_GRAD] = covered[OP_GRU];
  covered[OP_RNN_GRAD] = covered[OP_RNN];
  /* made by the layout pass, after autodiff, outside training: no rule */
  covered[OP_CONV2D_BLOCKED] = true;
  for (int op = 0; op < OP_COUNT; op++) {
    unsigned fl = op_info[op].flags;
    if (!(fl & (F_SOURCE | F_NOGRAD | F_EFFECT)) && !covered[op]) {
      printf("FAIL grad/%s (no gradient check)\n", op_info[op].name);
      failed++;
    }
  }
  return failed ? 1 : 0;
}
