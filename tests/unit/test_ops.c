/* test_ops.c — every op, compiled, against the reference interpreter.
 *
 * For each row of the op table this test builds small graphs that use the
 * op (broadcasting, several axes, batch-dependent dimensions), writes them
 * as IR text, compiles each with `dlc build`, runs the executable's
 * `predict` on seeded random inputs, at N = 1 and 70 (reductions also at
 * 5 and 64), and compares with `dlc run` (the reference interpreter)
 * using npycmp at 1e-5 relative. An op with no case
 * here fails the test, so a new op cannot go untested (dropout, assign and
 * scatter_update, which only training steps contain, are covered by
 * tests/e2e/train_step.sh).
 *
 * With DLC_OPS_PREPARE=DIR (an absolute path; tests/gpu/prepare.sh sets
 * it) each case that passes is also built with --target cuda into DIR,
 * beside its inputs, weights and the interpreter's output, and listed in
 * DIR/ops.list, for tests/gpu/run.sh to compare on a machine with a GPU.
 * With DLC_OPS_TARGET=cuda (tests/e2e/cuda_emu.sh) the cases are built with
 * --target cuda instead and run on the CPU emulation of the CUDA driver
 * (tests/tools/cudaemu.c, at $DLC_CUDAEMU_LIB), named op/cuda/NAME.
 */
#include "ir.h"
#include "dlrt.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct Case {
  Op op;
  const char *name;
  void (*build)(Graph *g, Op op);
  bool positive;  /* inputs must be > 0 (log, sqrt) */
} Case;

/* The batch sizes a case runs at, 0-terminated: 1 and 70; for sum, mean
 * and max also fewer rows than a CUDA block reduction's 8 row groups (5)
 * and exactly a multiple of them (64). */
static const int64_t *batches_of(const Case *c) {
  static const int64_t plain[] = {1, 70, 0}, reduce[] = {1, 5, 64, 70, 0};
  return c->op == OP_SUM || c->op == OP_MEAN || c->op == OP_MAX ? reduce : plain;
}

static const Loc L0 = {0};

static int input(Graph *g, const char *name, int rank, const int64_t *d) {
  return ir_input(g, name, DT_F32, shape_make(rank, d), IN_DATA, 0, L0);
}

static int add(Graph *g, Op op, const int *in, int nin, Attrs a) {
  char why[256];
  int i = ir_add(g, op, in, nin, &a, L0, why);
  if (i < 0) die("test case: %s", why);
  return i;
}

static void out(Graph *g, int node) { ir_output(g, "y", node, L0); }

static void unary(Graph *g, Op op) {
  int x = input(g, "x", 3, (int64_t[]){-1, 3, 5});
  Attrs a = {0};
  a.f[0] = 0.1;
  out(g, add(g, op, &x, 1, a));
}

static void binary_same(Graph *g, Op op) {
  int x = input(g, "x", 3, (int64_t[]){-1, 3, 5});
  int y = input(g, "w", 3, (int64_t[]){-1, 3, 5});
  out(g, add(g, op, (int[]){x, y}, 2, (Attrs){0}));
}

static void binary_bcast(Graph *g, Op op) {
  int x = input(g, "x", 3, (int64_t[]){-1, 1, 5});
  int y = ir_param(g, "p", DT_F32, shape_make(2, (int64_t[]){3, 1}),
                   (Init){.kind = INIT_UNIFORM, .a = 0.5, .b = 1.5}, L0);
  out(g, add(g, op, (int[]){y, x}, 2, (Attrs){0}));
}

static void binary_const(Graph *g, Op op) {
  int x = input(g, "x", 2, (int64_t[]){-1, 4});
  int c = ir_const(g, DT_F32, shape_make(1, (int64_t[]){4}), 0,
                   (double[]){0.5, 1.5, 2.5, 3.5}, L0);
  int s = ir_const(g, DT_F32, shape_make(0, NULL), 1.25, NULL, L0);
  int t = add(g, op, (int[]){x, c}, 2, (Attrs){0});
  out(g, add(g, op, (int[]){t, s}, 2, (Attrs){0}));
}

static void reduce_last(Graph *g, Op op) {
  int x = input(g, "x", 3, (int64_t[]){-1, 3, 5});
  out(g, add(g, op, &x, 1, (Attrs){.ints = {0, 2}, .nints = 2}));
}

static void reduce_keep(Graph *g, Op op) {
  int x = input(g, "x", 3, (int64_t[]){-1, 3, 5});
  out(g, add(g, op, &x, 1, (Attrs){.ints = {1, 0, 2}, .nints = 3}));
}

static void reduce_all(Graph *g, Op op) {
  int x = input(g, "x", 2, (int64_t[]){-1, 6});
  out(g, add(g, op, &x, 1, (Attrs){.ints = {0}, .nints = 1}));
}

/* reductions whose trailing reduced axes form a contiguous run of 16 or
 * more elements, which the compiled code sums in eight partial results:
 * over (H, W) of [N, 3, 5, 7] (a run of 35: four rounds and a tail of 3),
 * and over (N, H, W) keeping the channel, as a bias gradient does */
static void reduce_run(Graph *g, Op op) {
  int x = input(g, "x", 4, (int64_t[]){-1, 3, 5, 7});
  out(g, add(g, op, &x, 1, (Attrs){.ints = {0, 2, 3}, .nints = 3}));
}

static void reduce_channels(Graph *g, Op op) {
  int x = input(g, "x", 4, (int64_t[]){-1, 3, 4, 6});
  out(g, add(g, op, &x, 1, (Attrs){.ints = {0, 0, 2, 3}, .nints = 4}));
}

/* over the batch and the next axis, keeping 70 contiguous columns (more
 * than one block of codegen's sum over rows, the last one partial) */
static void reduce_rows(Graph *g, Op op) {
  int x = input(g, "x", 4, (int64_t[]){-1, 3, 7, 10});
  out(g, add(g, op, &x, 1, (Attrs){.ints = {0, 0, 1}, .nints = 3}));
}

/* Reductions whose reduced range is long, which the CUDA target runs as
 * block reductions (codegen/cuda.c, "reductions as blocks"): over N of
 * [N] (the mean of a loss); over N of [N, 10] (too few columns for a
 * block per 32 columns: a block per output); over (H, W) of
 * [N, 2, 24, 40] (960 elements: each thread of a block takes several);
 * over the middle axis of [N, 300, 20] (a block per 32 columns of each
 * sample). */
static void reduce_batch(Graph *g, Op op) {
  int x = input(g, "x", 1, (int64_t[]){-1});
  out(g, add(g, op, &x, 1, (Attrs){.ints = {0, 0}, .nints = 2}));
}

static void reduce_bias(Graph *g, Op op) {
  int x = input(g, "x", 2, (int64_t[]){-1, 10});
  out(g, add(g, op, &x, 1, (Attrs){.ints = {0, 0}, .nints = 2}));
}

static void reduce_wide(Graph *g, Op op) {
  int x = input(g, "x", 4, (int64_t[]){-1, 2, 24, 40});
  out(g, add(g, op, &x, 1, (Attrs){.ints = {0, 2, 3}, .nints = 3}));
}

static void reduce_mid(Graph *g, Op op) {
  int x = input(g, "x", 3, (int64_t[]){-1, 300, 20});
  out(g, add(g, op, &x, 1, (Attrs){.ints = {0, 1}, .nints = 2}));
}

static void axis_last(Graph *g, Op op) {
  int x = input(g, "x", 2, (int64_t[]){-1, 10});
  out(g, add(g, op, &x, 1, (Attrs){.ints = {1}, .nints = 1}));
}

static void axis_mid(Graph *g, Op op) {
  int x = input(g, "x", 3, (int64_t[]){-1, 4, 3});
  out(g, add(g, op, &x, 1, (Attrs){.ints = {1}, .nints = 1}));
}

static void reshape(Graph *g, Op op) {
  char why[256];
  int x = input(g, "x", 3, (int64_t[]){-1, 3, 5});
  int r = ir_add_shaped(g, op, &x, 1, NULL, DT_F32, shape_make(2, (int64_t[]){-1, 15}), L0, why);
  int e = add(g, OP_EXP, &r, 1, (Attrs){0}); /* a reshape feeding a kernel */
  out(g, add(g, OP_ADD, (int[]){e, r}, 2, (Attrs){0}));
}

static void broadcast(Graph *g, Op op) {
  char why[256];
  int x = input(g, "x", 3, (int64_t[]){-1, 1, 5});
  out(g, ir_add_shaped(g, op, &x, 1, NULL, DT_F32, shape_make(3, (int64_t[]){-1, 4, 5}), L0, why));
}

static void transpose2(Graph *g, Op op) {
  int x = input(g, "x", 2, (int64_t[]){-1, 7});
  out(g, add(g, op, &x, 1, (Attrs){.ints = {1, 0}, .nints = 2}));
}

static void transpose3(Graph *g, Op op) {
  int x = input(g, "x", 3, (int64_t[]){-1, 3, 5});
  out(g, add(g, op, &x, 1, (Attrs){.ints = {2, 0, 1}, .nints = 3}));
}

static void concat_mid(Graph *g, Op op) {
  int x = input(g, "x", 3, (int64_t[]){-1, 3, 5});
  int y = input(g, "w", 3, (int64_t[]){-1, 2, 5});
  int z = add(g, OP_TANH, &x, 1, (Attrs){0});
  out(g, add(g, op, (int[]){x, y, z}, 3, (Attrs){.ints = {1}, .nints = 1}));
}

static void concat_batch(Graph *g, Op op) {
  int x = input(g, "x", 2, (int64_t[]){-1, 4});
  int y = input(g, "w", 2, (int64_t[]){-1, 4});
  out(g, add(g, op, (int[]){x, y}, 2, (Attrs){.ints = {0}, .nints = 1}));
}

static void matmul_param(Graph *g, Op op) {
  int x = input(g, "x", 2, (int64_t[]){-1, 37});
  int w = ir_param(g, "W", DT_F32, shape_make(2, (int64_t[]){37, 19}),
                   (Init){.kind = INIT_XAVIER_UNIFORM, .fan_in = 37, .fan_out = 19}, L0);
  out(g, add(g, op, (int[]){x, w}, 2, (Attrs){0}));
}

static void matmul_3d(Graph *g, Op op) {
  int x = input(g, "x", 3, (int64_t[]){-1, 3, 8});
  int w = ir_param(g, "W", DT_F32, shape_make(2, (int64_t[]){8, 5}),
                   (Init){.kind = INIT_NORMAL, .a = 0, .b = 1}, L0);
  out(g, add(g, op, (int[]){x, w}, 2, (Attrs){0}));
}

static void matmul_batched(Graph *g, Op op) {
  int x = input(g, "x", 3, (int64_t[]){-1, 3, 6});
  int y = input(g, "w", 3, (int64_t[]){-1, 6, 4});
  out(g, add(g, op, (int[]){x, y}, 2, (Attrs){0}));
}

static void matmul_over_batch(Graph *g, Op op) { /* x^T y: contracts over N */
  int x = input(g, "x", 2, (int64_t[]){-1, 5});
  int y = input(g, "w", 2, (int64_t[]){-1, 3});
  int xt = add(g, OP_TRANSPOSE, &x, 1, (Attrs){.ints = {1, 0}, .nints = 2});
  out(g, add(g, op, (int[]){xt, y}, 2, (Attrs){0}));
}

/* A shared matrix times a batch read transposed: W [9, 300] x (x [N, 37,
 * 300])^T per sample. K = 300 spans two K blocks, 37 columns a full and a
 * partial panel; the transposed operand is packed in tiles with ragged
 * edges in both directions. */
static void matmul_shared_bt(Graph *g, Op op) {
  int x = input(g, "x", 3, (int64_t[]){-1, 37, 300});
  int w = ir_param(g, "W", DT_F32, shape_make(2, (int64_t[]){9, 300}),
                   (Init){.kind = INIT_NORMAL, .a = 0, .b = 1}, L0);
  int xt = add(g, OP_TRANSPOSE, &x, 1, (Attrs){.ints = {0, 2, 1}, .nints = 3});
  out(g, add(g, op, (int[]){w, xt}, 2, (Attrs){0}));
}

/* Rows times a transposed matrix: x [N, 21] x (W [45, 21])^T, 20+ rows so
 * the panel is packed. */
static void matmul_rows_bt(Graph *g, Op op) {
  int x = input(g, "x", 3, (int64_t[]){-1, 20, 21});
  int w = ir_param(g, "W", DT_F32, shape_make(2, (int64_t[]){45, 21}),
                   (Init){.kind = INIT_NORMAL, .a = 0, .b = 1}, L0);
  int wt = add(g, OP_TRANSPOSE, &w, 1, (Attrs){.ints = {1, 0}, .nints = 2});
  out(g, add(g, op, (int[]){x, wt}, 2, (Attrs){0}));
}

static void slice(Graph *g, Op op) {
  int x = input(g, "x", 3, (int64_t[]){-1, 3, 5});
  out(g, add(g, op, &x, 1, (Attrs){.ints = {2, 1, 4}, .nints = 3}));
}

static int labels(Graph *g, int64_t classes) {
  return ir_input(g, "y", DT_I32, shape_make(1, (int64_t[]){-1}), IN_LABEL, classes, L0);
}

static void one_hot(Graph *g, Op op) {
  int y = labels(g, 4);
  out(g, add(g, op, &y, 1, (Attrs){.ints = {4}, .nints = 1}));
}

static void cross_entropy(Graph *g, Op op) {
  int x = input(g, "x", 2, (int64_t[]){-1, 5});
  int y = labels(g, 5);
  out(g, add(g, op, (int[]){x, y}, 2, (Attrs){0}));
}

/* ids [N, 3] drawn from [0, 9) for a table of 7 rows: ids 7 and 8 are
 * out of range and clamped to row 6 (ops.def) */
static int ids(Graph *g) {
  return ir_input(g, "ids", DT_I32, shape_make(2, (int64_t[]){-1, 3}), IN_DATA, 9, L0);
}

static void gather(Graph *g, Op op) {
  int t = ir_param(g, "table", DT_F32, shape_make(2, (int64_t[]){7, 5}),
                   (Init){.kind = INIT_NORMAL, .a = 0, .b = 1}, L0);
  out(g, add(g, op, (int[]){t, ids(g)}, 2, (Attrs){0}));
}

static void scatter_add(Graph *g, Op op) {
  int x = input(g, "x", 3, (int64_t[]){-1, 3, 5});
  out(g, add(g, op, (int[]){x, ids(g)}, 2, (Attrs){.ints = {7}, .nints = 1}));
}

/* conv2d of x [N, C, 7, 6] by a weight param [O, C/groups, KH, KW]; a is
 * stride, pad, dilation (each (h, w)) and groups. */
static int conv(Graph *g, int64_t C, int64_t O, int64_t KH, int64_t KW, Attrs a) {
  int x = input(g, "x", 4, (int64_t[]){-1, C, 7, 6});
  int w = ir_param(g, "W", DT_F32, shape_make(4, (int64_t[]){O, C / a.ints[6], KH, KW}),
                   (Init){.kind = INIT_NORMAL, .a = 0, .b = 1}, L0);
  return add(g, OP_CONV2D, (int[]){x, w}, 2, a);
}

static void conv_plain(Graph *g, Op op) {
  (void)op;
  out(g, conv(g, 3, 4, 3, 3, (Attrs){.ints = {1, 1, 0, 0, 1, 1, 1}, .nints = 7}));
}

/* stride 2 by 1, padding 2 by 1, a 3x2 kernel */
static void conv_stride_pad(Graph *g, Op op) {
  (void)op;
  out(g, conv(g, 3, 5, 3, 2, (Attrs){.ints = {2, 1, 2, 1, 1, 1, 1}, .nints = 7}));
}

static void conv_dilated(Graph *g, Op op) {
  (void)op;
  out(g, conv(g, 2, 3, 3, 3, (Attrs){.ints = {1, 2, 1, 1, 2, 2, 1}, .nints = 7}));
}

static void conv_groups(Graph *g, Op op) {
  (void)op;
  out(g, conv(g, 4, 6, 3, 3, (Attrs){.ints = {1, 1, 1, 1, 1, 1, 2}, .nints = 7}));
}

static void conv_depthwise(Graph *g, Op op) {
  (void)op;
  out(g, conv(g, 4, 8, 3, 3, (Attrs){.ints = {2, 2, 1, 1, 1, 1, 4}, .nints = 7}));
}

/* The gradient ops of conv2d with dy an input of the result's shape. */
static void conv_grad(Graph *g, Op op) {
  Attrs a = {.ints = {2, 1, 1, 2, 2, 1, 2, 7, 6}, .nints = 9};
  int x = input(g, "x", 4, (int64_t[]){-1, 4, 7, 6});
  int dy = input(g, "dy", 4, (int64_t[]){-1, 6, 3, 9});
  int w = ir_param(g, "W", DT_F32, shape_make(4, (int64_t[]){6, 2, 3, 2}),
                   (Init){.kind = INIT_NORMAL, .a = 0, .b = 1}, L0);
  if (op == OP_CONV2D_GRAD_INPUT) {
    out(g, add(g, op, (int[]){dy, w}, 2, a));
  } else {
    a.ints[7] = 3, a.ints[8] = 2;
    out(g, add(g, op, (int[]){x, dy}, 2, a));
  }
}

/* conv2d_grad_input / _weight with groups == 1: passes/convgemm.c
 * rewrites these into matmuls, so the compiled result checks it. */
static void conv_grad_dense(Graph *g, Op op) {
  Attrs a = {.ints = {2, 1, 1, 2, 2, 1, 1, 7, 6}, .nints = 9};
  int x = input(g, "x", 4, (int64_t[]){-1, 4, 7, 6});
  int dy = input(g, "dy", 4, (int64_t[]){-1, 6, 3, 9});
  int w = ir_param(g, "W", DT_F32, shape_make(4, (int64_t[]){6, 4, 3, 2}),
                   (Init){.kind = INIT_NORMAL, .a = 0, .b = 1}, L0);
  if (op == OP_CONV2D_GRAD_INPUT) {
    out(g, add(g, op, (int[]){dy, w}, 2, a));
  } else {
    a.ints[7] = 3, a.ints[8] = 2;
    out(g, add(g, op, (int[]){x, dy}, 2, a));
  }
}

/* conv2d_grad_weight over 420 output positions: a product of two
 * K-contiguous operands whose K spans two of the micro-kernel's K blocks
 * of packed transposed panels, 5 rows and 18 columns partial tiles. */
static void conv_grad_weight_long(Graph *g, Op op) {
  Attrs a = {.ints = {1, 1, 1, 1, 1, 1, 1, 3, 3}, .nints = 9};
  int x = input(g, "x", 4, (int64_t[]){-1, 2, 21, 20});
  int dy = input(g, "dy", 4, (int64_t[]){-1, 5, 21, 20});
  out(g, add(g, op, (int[]){x, dy}, 2, a));
}

/* im2col of x [N, 3, 7, 6] and col2im back: a 3x2 kernel, stride 2 by 1,
 * pad 1 by 2, dilation 1 by 2; OH*OW = 4*8 positions, 3*3*2 taps. */
static void columns(Graph *g, Op op) {
  Attrs a = {.ints = {2, 1, 1, 2, 1, 2, 3, 2, 7, 6}, .nints = 8};
  if (op == OP_IM2COL) {
    int x = input(g, "x", 4, (int64_t[]){-1, 3, 7, 6});
    out(g, add(g, op, &x, 1, a));
    return;
  }
  a.nints = 10;
  int d = input(g, "dcol", 3, (int64_t[]){-1, 18, 32});
  out(g, add(g, op, &d, 1, a));
}

/* a 3x3 kernel, stride 1, no padding: every tap inside the image */
static void columns_plain(Graph *g, Op op) {
  Attrs a = {.ints = {1, 1, 0, 0, 1, 1, 3, 3, 5, 6}, .nints = 8};
  if (op == OP_IM2COL) {
    int x = input(g, "x", 4, (int64_t[]){-1, 2, 5, 6});
    out(g, add(g, op, &x, 1, a));
    return;
  }
  a.nints = 10;
  int d = input(g, "dcol", 3, (int64_t[]){-1, 18, 12});
  out(g, add(g, op, &d, 1, a));
}

/* rows wider than a vector register (the LLVM backend's KCols path runs
 * 16 or 8 lanes at a time): 37 columns, a 5x5 kernel padded by 2 */
static void columns_wide(Graph *g, Op op) {
  Attrs a = {.ints = {1, 1, 2, 2, 1, 1, 5, 5}, .nints = 8};
  int x = input(g, "x", 4, (int64_t[]){-1, 2, 9, 37});
  out(g, add(g, op, &x, 1, a));
}

/* ---- the blocked layout (passes/layout.c) ---- */

/* x [N, 10, 3] blocked on its channels: 2 blocks, 6 lanes of padding */
static void blocked_to(Graph *g, Op op) {
  int x = input(g, "x", 3, (int64_t[]){-1, 10, 3});
  out(g, add(g, op, &x, 1, (Attrs){.ints = {1}, .nints = 1}));
}

/* a param [5, 3, 2] blocked on axis 0 (a result without N) */
static void blocked_to_param(Graph *g, Op op) {
  int p = ir_param(g, "p", DT_F32, shape_make(3, (int64_t[]){5, 3, 2}),
                   (Init){.kind = INIT_NORMAL, .a = 0, .b = 1}, L0);
  int x = input(g, "x", 5, (int64_t[]){-1, 1, 3, 2, BLOCK_C});
  int b = add(g, op, &p, 1, (Attrs){.ints = {0}, .nints = 1});          /* [1, 3, 2, 8] */
  out(g, add(g, OP_ADD, (int[]){x, b}, 2, (Attrs){0}));
}

static void blocked_from(Graph *g, Op op) {
  int x = input(g, "x", 5, (int64_t[]){-1, 2, 3, 4, BLOCK_C});
  out(g, add(g, op, &x, 1, (Attrs){.ints = {1, 13}, .nints = 2}));
}

/* conv2d_blocked of x [N, 2, 7, W, 8] by weights [2, 2, KH, KW, 8, 8];
 * a: stride, pad, dilation. W = 20 gives a row of tiles of which the
 * middle ones have no padding taps. */
static void blocked_conv(Graph *g, int64_t W, int64_t KH, int64_t KW, Attrs a) {
  int x = input(g, "x", 5, (int64_t[]){-1, 2, 7, W, BLOCK_C});
  int w = ir_param(g, "W", DT_F32, shape_make(6, (int64_t[]){2, 2, KH, KW, BLOCK_C, BLOCK_C}),
                   (Init){.kind = INIT_NORMAL, .a = 0, .b = 0.5}, L0);
  out(g, add(g, OP_CONV2D_BLOCKED, (int[]){x, w}, 2, a));
}

static void blocked_conv_pad(Graph *g, Op op) {
  (void)op;
  blocked_conv(g, 20, 3, 3, (Attrs){.ints = {1, 1, 1, 1, 1, 1}, .nints = 6});
}

static void blocked_conv_strided(Graph *g, Op op) {
  (void)op;
  blocked_conv(g, 20, 3, 2, (Attrs){.ints = {2, 1, 2, 1, 1, 2}, .nints = 6});
}

static void blocked_conv_narrow(Graph *g, Op op) {
  (void)op;
  blocked_conv(g, 5, 2, 3, (Attrs){.ints = {1, 2, 0, 2, 2, 1}, .nints = 6});
}

/* a plain image with one lane, x [N, 3, 7, 20, 1], as the layout pass
 * passes a first layer's input */
static void blocked_conv_plain_input(Graph *g, Op op) {
  int x = input(g, "x", 5, (int64_t[]){-1, 3, 7, 20, 1});
  int w = ir_param(g, "W", DT_F32, shape_make(6, (int64_t[]){2, 3, 3, 3, 1, BLOCK_C}),
                   (Init){.kind = INIT_NORMAL, .a = 0, .b = 0.5}, L0);
  out(g, add(g, op, (int[]){x, w}, 2, (Attrs){.ints = {1, 2, 1, 2, 1, 1}, .nints = 6}));
}

/* pooling a blocked image [N, 2, 7, 6, 8] lane by lane */
static void blocked_pool(Graph *g, Op op) {
  int x = input(g, "x", 5, (int64_t[]){-1, 2, 7, 6, BLOCK_C});
  out(g, add(g, op, &x, 1, (Attrs){.ints = {3, 2, 2, 1, 1, 1}, .nints = 6}));
}

/* What the layout pass keeps blocked, between two convolutions that it
 * claims: a bias, relu, a residual add, pooling; then a reshape, which
 * reads it back in NCHW. */
static void layout_chain(Graph *g, Op op) {
  (void)op;
  int x = input(g, "x", 4, (int64_t[]){-1, 8, 9, 20});
  int w1 = ir_param(g, "W1", DT_F32, shape_make(4, (int64_t[]){12, 8, 3, 3}),
                    (Init){.kind = INIT_NORMAL, .a = 0, .b = 0.3}, L0);
  int w2 = ir_param(g, "W2", DT_F32, shape_make(4, (int64_t[]){12, 12, 3, 3}),
                    (Init){.kind = INIT_NORMAL, .a = 0, .b = 0.3}, L0);
  int b = ir_param(g, "b", DT_F32, shape_make(3, (int64_t[]){12, 1, 1}),
                   (Init){.kind = INIT_UNIFORM, .a = -1, .b = 1}, L0);
  Attrs pad1 = {.ints = {1, 1, 1, 1, 1, 1, 1}, .nints = 7};
  int c1 = add(g, OP_CONV2D, (int[]){x, w1}, 2, pad1);
  int biased = add(g, OP_ADD, (int[]){c1, b}, 2, (Attrs){0});
  int r1 = add(g, OP_RELU, &biased, 1, (Attrs){0});
  int c2 = add(g, OP_CONV2D, (int[]){r1, w2}, 2, pad1);
  int s = add(g, OP_ADD, (int[]){c2, r1}, 2, (Attrs){0});
  int p = add(g, OP_MAX_POOL2D, &s, 1, (Attrs){.ints = {2, 2, 2, 2, 0, 0}, .nints = 6});
  char why[256];
  int r = ir_add_shaped(g, OP_RESHAPE, &p, 1, NULL, DT_F32, shape_make(2, (int64_t[]){-1, 480}),
                        L0, why);
  if (r < 0) die("test case: %s", why);
  out(g, r);
}

/* x [N, 3, 7, 6]: a 3x2 window, stride 2 by 1, padding 1 by 1 */
static void pool(Graph *g, Op op) {
  int x = input(g, "x", 4, (int64_t[]){-1, 3, 7, 6});
  out(g, add(g, op, &x, 1, (Attrs){.ints = {3, 2, 2, 1, 1, 1}, .nints = 6}));
}

/* overlapping windows (stride 1 < kernel 3) after relu, whose zeros tie */
static void pool_overlap(Graph *g, Op op) {
  int x = input(g, "x", 4, (int64_t[]){-1, 2, 6, 5});
  int r = add(g, OP_RELU, &x, 1, (Attrs){0});
  out(g, add(g, op, &r, 1, (Attrs){.ints = {3, 3, 1, 1, 1, 0}, .nints = 6}));
}

static void pool_grad(Graph *g, Op op) {
  Attrs a = {.ints = {3, 2, 2, 1, 1, 1, 7, 6}, .nints = 8};
  int dy = input(g, "dy", 4, (int64_t[]){-1, 3, 4, 7});
  if (op == OP_AVG_POOL2D_GRAD) {
    out(g, add(g, op, &dy, 1, a));
    return;
  }
  int x = input(g, "x", 4, (int64_t[]){-1, 3, 7, 6});
  a.nints = 6;
  out(g, add(g, op, (int[]){x, dy}, 2, a));
}

static void pool_grad_overlap(Graph *g, Op op) {
  int x = input(g, "x", 4, (int64_t[]){-1, 2, 6, 5});
  int dy = input(g, "dy", 4, (int64_t[]){-1, 2, 6, 5});
  int r = add(g, OP_RELU, &x, 1, (Attrs){0});
  out(g, add(g, op, (int[]){r, dy}, 2, (Attrs){.ints = {3, 3, 1, 1, 1, 1}, .nints = 6}));
}

/* 2x2 windows that tile the image (stride 2, no padding) after relu, whose
 * zeros tie: x [N, 2, 7, 6] leaves row 6 outside every window, x [N, 2,
 * 6, 4] none. */
static void pool_grad_tiles(Graph *g, Op op, int64_t H, int64_t W) {
  int x = input(g, "x", 4, (int64_t[]){-1, 2, H, W});
  int dy = input(g, "dy", 4, (int64_t[]){-1, 2, H / 2, W / 2});
  int r = add(g, OP_RELU, &x, 1, (Attrs){0});
  out(g, add(g, op, (int[]){r, dy}, 2, (Attrs){.ints = {2, 2, 2, 2, 0, 0}, .nints = 6}));
}

static void pool_grad_tiles_left(Graph *g, Op op) { pool_grad_tiles(g, op, 7, 6); }
static void pool_grad_tiles_exact(Graph *g, Op op) { pool_grad_tiles(g, op, 6, 4); }

/* Windows of KH x 2 that tile rows wider than a vector register (the
 * LLVM backend's KPool path: codegen/llvm_vec.c), with a row and a column
 * left over, or none; relu makes ties. */
static void pool_pairs(Graph *g, Op op, int64_t KH, int64_t H, int64_t W) {
  int x = input(g, "x", 4, (int64_t[]){-1, 3, H, W});
  int r = add(g, OP_RELU, &x, 1, (Attrs){0});
  Attrs a = {.ints = {KH, 2, KH, 2, 0, 0}, .nints = 6};
  if (op == OP_MAX_POOL2D) {
    out(g, add(g, op, &r, 1, a));
    return;
  }
  int dy = input(g, "dy", 4, (int64_t[]){-1, 3, H / KH, W / 2});
  out(g, add(g, op, (int[]){r, dy}, 2, a));
}

static void pool_pairs_left(Graph *g, Op op) { pool_pairs(g, op, 2, 7, 37); }
static void pool_pairs_exact(Graph *g, Op op) { pool_pairs(g, op, 2, 28, 28); }
static void pool_pairs_tall(Graph *g, Op op) { pool_pairs(g, op, 3, 10, 40); }

/* running_stat outside training (the compiled predict and `dlc run` both
 * run the inference mode) reads its running average. */
static void running_stat(Graph *g, Op op) {
  int x = input(g, "x", 3, (int64_t[]){-1, 3, 5});
  int avg = ir_param(g, "avg", DT_F32, shape_make(2, (int64_t[]){3, 5}),
                     (Init){.kind = INIT_NORMAL, .a = 0, .b = 1}, L0);
  int m = add(g, OP_MEAN, &x, 1, (Attrs){.ints = {0, 0}, .nints = 2});
  int r = add(g, op, (int[]){m, avg, m}, 3, (Attrs){.f = {0.1}});
  out(g, add(g, OP_SUB, (int[]){x, r}, 2, (Attrs){0}));
}

static int channel_param(Graph *g, const char *name, int64_t C, Init init) {
  return ir_param(g, name, DT_F32, shape_make(1, (int64_t[]){C}), init, L0);
}

static int to_channels(Graph *g, int v, int64_t C, int rank) {
  char why[256];
  Shape s = {.rank = rank - 1, .d = {C, 1, 1, 1, 1}};
  return rank == 2 ? v : ir_add_shaped(g, OP_RESHAPE, &v, 1, NULL, DT_F32, s, L0, why);
}

/* y + b, then batch norm over channel axis 1 of y [N, C, ...] as the
 * frontend builds it, with running averages and gamma, beta away from
 * their initial 0 and 1. Compiled, the inference mode folds it into the
 * conv2d or matmul before it (passes/bnfold.c); the interpreter runs it as
 * written. */
static int bias_batchnorm(Graph *g, int y, int64_t C) {
  int rank = g->node[y].shape.rank;
  Init normal = {.kind = INIT_NORMAL, .a = 0.5, .b = 1};
  int b = channel_param(g, "b", C, normal), gamma = channel_param(g, "gamma", C, normal);
  int beta = channel_param(g, "beta", C, normal), rm = channel_param(g, "rm", C, normal);
  int rv = channel_param(g, "rv", C, (Init){.kind = INIT_UNIFORM, .a = 0.5, .b = 2});
  Attrs red = {.ints = {0, 0, 2, 3}, .nints = rank}, mom = {.f = {0.1}};
  y = add(g, OP_ADD, (int[]){y, to_channels(g, b, C, rank)}, 2, (Attrs){0});
  int m = add(g, OP_MEAN, &y, 1, red);
  int mu = add(g, OP_RUNNING_STAT, (int[]){m, rm, m}, 3, mom);
  int var = add(g, OP_RUNNING_STAT, (int[]){m, rv, m}, 3, mom);
  int eps = ir_const(g, DT_F32, shape_make(0, NULL), 1e-5, NULL, L0);
  int sd = add(g, OP_ADD, (int[]){var, eps}, 2, (Attrs){0});
  sd = add(g, OP_SQRT, &sd, 1, (Attrs){0});
  int s = add(g, OP_DIV, (int[]){gamma, sd}, 2, (Attrs){0});
  int xc = add(g, OP_SUB, (int[]){y, to_channels(g, mu, C, rank)}, 2, (Attrs){0});
  y = add(g, OP_MUL, (int[]){xc, to_channels(g, s, C, rank)}, 2, (Attrs){0});
  return add(g, OP_ADD, (int[]){y, to_channels(g, beta, C, rank)}, 2, (Attrs){0});
}

static void bn_conv(Graph *g, Op op) {
  (void)op;
  out(g, bias_batchnorm(g, conv(g, 3, 4, 3, 3, (Attrs){.ints = {1, 1, 1, 1, 1, 1, 1}, .nints = 7}), 4));
}

static void bn_conv_groups(Graph *g, Op op) {
  (void)op;
  out(g, bias_batchnorm(g, conv(g, 4, 6, 3, 2, (Attrs){.ints = {2, 1, 1, 0, 1, 1, 2}, .nints = 7}), 6));
}

static void bn_dense(Graph *g, Op op) {
  (void)op;
  int x = input(g, "x", 2, (int64_t[]){-1, 37});
  int w = ir_param(g, "W", DT_F32, shape_make(2, (int64_t[]){37, 19}),
                   (Init){.kind = INIT_XAVIER_UNIFORM, .fan_in = 37, .fan_out = 19}, L0);
  out(g, bias_batchnorm(g, add(g, OP_MATMUL, (int[]){x, w}, 2, (Attrs){0}), 19));
}

/* Recurrent layers over 5 steps of H = 5, forwards and reversed: the
 * forward op from an input projection xp, and the _grad op from a dS and
 * the forward result of the same layer. */
static void recur_case(Graph *g, Op op, bool rev, bool h_only) {
  const Cell *c = ir_cell(op);
  int64_t H = 5, T = 5;
  Attrs a = {.ints = {rev}, .nints = 1};
  int xp = input(g, "xp", 3, (int64_t[]){-1, T, c->gates * H});
  int w = ir_param(g, "Whh", DT_F32, shape_make(2, (int64_t[]){H, c->gates * H}),
                   (Init){.kind = INIT_UNIFORM, .a = -0.6, .b = 0.6}, L0);
  int s = add(g, c->op, (int[]){xp, w}, 2, a);
  if (op == c->op) {
    out(g, s);
    return;
  }
  int ds = input(g, "ds", 3, (int64_t[]){-1, T, (h_only ? 1 : c->state) * H});
  out(g, add(g, op, (int[]){ds, s, w}, 3, a));
}
static void recur(Graph *g, Op op) { recur_case(g, op, false, false); }
static void recur_reverse(Graph *g, Op op) { recur_case(g, op, true, false); }
/* the _grad op given the gradient of h alone */
static void recur_h(Graph *g, Op op) { recur_case(g, op, false, true); }

/* A channel concat of a blocked value and the plain input, each of 8
 * channels, stays blocked (a concat of blocks) into the next conv. */
static void layout_concat(Graph *g, Op op) {
  int x = input(g, "x", 4, (int64_t[]){-1, 8, 6, 10});
  int w1 = ir_param(g, "W1", DT_F32, shape_make(4, (int64_t[]){8, 8, 3, 3}),
                    (Init){.kind = INIT_NORMAL, .a = 0, .b = 0.3}, L0);
  int w2 = ir_param(g, "W2", DT_F32, shape_make(4, (int64_t[]){5, 16, 3, 3}),
                    (Init){.kind = INIT_NORMAL, .a = 0, .b = 0.3}, L0);
  Attrs pad1 = {.ints = {1, 1, 1, 1, 1, 1, 1}, .nints = 7};
  int c1 = add(g, OP_CONV2D, (int[]){x, w1}, 2, pad1);
  int r1 = add(g, OP_RELU, &c1, 1, (Attrs){0});
  int cat = add(g, op, (int[]){r1, x}, 2, (Attrs){.ints = {1}, .nints = 1});
  out(g, add(g, OP_CONV2D, (int[]){cat, w2}, 2, pad1));
}

static const Case cases[] = {
    {OP_NEG, "neg", unary, false},
    {OP_EXP, "exp", unary, false},
    {OP_LOG, "log", unary, true},
    {OP_SQRT, "sqrt", unary, true},
    {OP_ABS, "abs", unary, false},
    {OP_RELU, "relu", unary, false},
    {OP_LEAKY_RELU, "leaky_relu", unary, false},
    {OP_SIGMOID, "sigmoid", unary, false},
    {OP_TANH, "tanh", unary, false},
    {OP_ADD, "add", binary_same, false},
    {OP_ADD, "add_bcast", binary_bcast, false},
    {OP_ADD, "add_const", binary_const, false},
    {OP_SUB, "sub_bcast", binary_bcast, false},
    {OP_SUB, "sub_const", binary_const, false},
    {OP_MUL, "mul", binary_same, false},
    {OP_MUL, "mul_bcast", binary_bcast, false},
    {OP_DIV, "div_bcast", binary_bcast, false},
    {OP_DIV, "div", binary_same, true},
    {OP_MAXIMUM, "maximum", binary_same, false},
    {OP_MAXIMUM, "maximum_bcast", binary_bcast, false},
    {OP_MINIMUM, "minimum_bcast", binary_bcast, false},
    {OP_GT, "gt", binary_same, false},
    {OP_GE, "ge_bcast", binary_bcast, false},
    {OP_SLICE, "slice", slice, false},
    {OP_ONE_HOT, "one_hot", one_hot, false},
    {OP_CROSS_ENTROPY, "cross_entropy", cross_entropy, false},
    {OP_SUM, "sum_last", reduce_last, false},
    {OP_SUM, "sum_keep", reduce_keep, false},
    {OP_SUM, "sum_all", reduce_all, false},
    {OP_MEAN, "mean_keep", reduce_keep, false},
    {OP_MEAN, "mean_all", reduce_all, false},
    {OP_MAX, "max_last", reduce_last, false},
    {OP_MAX, "max_keep", reduce_keep, false},
    {OP_MAX, "max_all", reduce_all, false},
    {OP_SUM, "sum_run", reduce_run, false},
    {OP_SUM, "sum_channels", reduce_channels, false},
    {OP_SUM, "sum_rows", reduce_rows, false},
    {OP_MEAN, "mean_rows", reduce_rows, false},
    {OP_MEAN, "mean_run", reduce_run, false},
    {OP_MEAN, "mean_channels", reduce_channels, false},
    {OP_MAX, "max_run", reduce_run, false},
    {OP_MAX, "max_channels", reduce_channels, false},
    {OP_MAX, "max_rows", reduce_rows, false},
    {OP_SUM, "sum_batch", reduce_batch, false},
    {OP_MEAN, "mean_batch", reduce_batch, false},
    {OP_MAX, "max_batch", reduce_batch, false},
    {OP_SUM, "sum_bias", reduce_bias, false},
    {OP_MEAN, "mean_bias", reduce_bias, false},
    {OP_MAX, "max_bias", reduce_bias, false},
    {OP_SUM, "sum_wide", reduce_wide, false},
    {OP_MEAN, "mean_wide", reduce_wide, false},
    {OP_MAX, "max_wide", reduce_wide, false},
    {OP_SUM, "sum_mid", reduce_mid, false},
    {OP_MEAN, "mean_mid", reduce_mid, false},
    {OP_MAX, "max_mid", reduce_mid, false},
    {OP_SOFTMAX, "softmax_last", axis_last, false},
    {OP_SOFTMAX, "softmax_mid", axis_mid, false},
    {OP_LOG_SOFTMAX, "log_softmax_last", axis_last, false},
    {OP_LOG_SOFTMAX, "log_softmax_mid", axis_mid, false},
    {OP_RESHAPE, "reshape", reshape, false},
    {OP_BROADCAST, "broadcast", broadcast, false},
    {OP_TRANSPOSE, "transpose2", transpose2, false},
    {OP_TRANSPOSE, "transpose3", transpose3, false},
    {OP_CONCAT, "concat_mid", concat_mid, false},
    {OP_CONCAT, "concat_batch", concat_batch, false},
    {OP_MATMUL, "matmul_param", matmul_param, false},
    {OP_MATMUL, "matmul_3d", matmul_3d, false},
    {OP_MATMUL, "matmul_batched", matmul_batched, false},
    {OP_MATMUL, "matmul_over_batch", matmul_over_batch, false},
    {OP_MATMUL, "matmul_shared_bt", matmul_shared_bt, false},
    {OP_MATMUL, "matmul_rows_bt", matmul_rows_bt, false},
    {OP_CONV2D, "conv2d", conv_plain, false},
    {OP_CONV2D, "conv2d_stride_pad", conv_stride_pad, false},
    {OP_CONV2D, "conv2d_dilated", conv_dilated, false},
    {OP_CONV2D, "conv2d_groups", conv_groups, false},
    {OP_CONV2D, "conv2d_depthwise", conv_depthwise, false},
    {OP_CONV2D_GRAD_INPUT, "conv2d_grad_input", conv_grad, false},
    {OP_CONV2D_GRAD_WEIGHT, "conv2d_grad_weight", conv_grad, false},
    {OP_CONV2D_GRAD_INPUT, "conv2d_grad_input_dense", conv_grad_dense, false},
    {OP_CONV2D_GRAD_WEIGHT, "conv2d_grad_weight_dense", conv_grad_dense, false},
    {OP_CONV2D_GRAD_WEIGHT, "conv2d_grad_weight_long", conv_grad_weight_long, false},
    {OP_IM2COL, "im2col", columns, false},
    {OP_IM2COL, "im2col_plain", columns_plain, false},
    {OP_IM2COL, "im2col_wide", columns_wide, false},
    {OP_COL2IM, "col2im", columns, false},
    {OP_COL2IM, "col2im_plain", columns_plain, false},
    {OP_MAX_POOL2D, "max_pool2d", pool, false},
    {OP_MAX_POOL2D, "max_pool2d_overlap", pool_overlap, false},
    {OP_AVG_POOL2D, "avg_pool2d", pool, false},
    {OP_AVG_POOL2D, "avg_pool2d_overlap", pool_overlap, false},
    {OP_MAX_POOL2D_GRAD, "max_pool2d_grad", pool_grad, false},
    {OP_MAX_POOL2D_GRAD, "max_pool2d_grad_overlap", pool_grad_overlap, false},
    {OP_MAX_POOL2D_GRAD, "max_pool2d_grad_tiles_left", pool_grad_tiles_left, false},
    {OP_MAX_POOL2D_GRAD, "max_pool2d_grad_tiles_exact", pool_grad_tiles_exact, false},
    {OP_MAX_POOL2D, "max_pool2d_pairs_left", pool_pairs_left, false},
    {OP_MAX_POOL2D, "max_pool2d_pairs_exact", pool_pairs_exact, false},
    {OP_MAX_POOL2D, "max_pool2d_pairs_tall", pool_pairs_tall, false},
    {OP_MAX_POOL2D_GRAD, "max_pool2d_grad_pairs_left", pool_pairs_left, false},
    {OP_MAX_POOL2D_GRAD, "max_pool2d_grad_pairs_exact", pool_pairs_exact, false},
    {OP_MAX_POOL2D_GRAD, "max_pool2d_grad_pairs_tall", pool_pairs_tall, false},
    {OP_AVG_POOL2D_GRAD, "avg_pool2d_grad", pool_grad, false},
    {OP_TO_BLOCKED, "to_blocked", blocked_to, false},
    {OP_TO_BLOCKED, "to_blocked_param", blocked_to_param, false},
    {OP_FROM_BLOCKED, "from_blocked", blocked_from, false},
    {OP_CONV2D_BLOCKED, "conv2d_blocked_pad", blocked_conv_pad, false},
    {OP_CONV2D_BLOCKED, "conv2d_blocked_strided", blocked_conv_strided, false},
    {OP_CONV2D_BLOCKED, "conv2d_blocked_narrow", blocked_conv_narrow, false},
    {OP_CONV2D_BLOCKED, "conv2d_blocked_plain_input", blocked_conv_plain_input, false},
    {OP_MAX_POOL2D, "max_pool2d_blocked", blocked_pool, false},
    {OP_AVG_POOL2D, "avg_pool2d_blocked", blocked_pool, false},
    {OP_CONV2D, "layout_chain", layout_chain, false},
    {OP_CONCAT, "layout_concat", layout_concat, false},
    {OP_RUNNING_STAT, "running_stat", running_stat, false},
    {OP_RUNNING_STAT, "bnfold_conv2d", bn_conv, false},
    {OP_RUNNING_STAT, "bnfold_conv2d_groups", bn_conv_groups, false},
    {OP_RUNNING_STAT, "bnfold_dense", bn_dense, false},
    {OP_GATHER, "gather", gather, false},
    {OP_SCATTER_ADD, "scatter_add", scatter_add, false},
    {OP_LSTM, "lstm", recur, false},
    {OP_LSTM, "lstm_reverse", recur_reverse, false},
    {OP_LSTM_GRAD, "lstm_grad", recur, false},
    {OP_LSTM_GRAD, "lstm_grad_reverse", recur_reverse, false},
    {OP_LSTM_GRAD, "lstm_grad_h", recur_h, false},
    {OP_GRU, "gru", recur, false},
    {OP_GRU, "gru_reverse", recur_reverse, false},
    {OP_GRU_GRAD, "gru_grad", recur, false},
    {OP_GRU_GRAD, "gru_grad_reverse", recur_reverse, false},
    {OP_GRU_GRAD, "gru_grad_h", recur_h, false},
    {OP_RNN, "rnn", recur, false},
    {OP_RNN_GRAD, "rnn_grad", recur, false},
    {OP_RNN_GRAD, "rnn_grad_reverse", recur_reverse, false},
};

/* Random inputs for every input of g, N samples, written as x_<name>.npy. */
static bool write_inputs(const Graph *g, int64_t N, bool positive, unsigned seed, Str *flags) {
  dlrt_rng r;
  dlrt_rng_seed(&r, seed);
  for (int i = 0; i < g->nnode; i++) {
    const Node *n = &g->node[i];
    if (n->op != OP_INPUT) continue;
    bool lab = n->dtype == DT_I32;
    dlrt_array a = {.dtype = lab ? DLRT_I32 : DLRT_F32, .rank = n->shape.rank};
    for (int d = 0; d < n->shape.rank; d++) a.dim[d] = dim_eval(n->shape.d[d], N);
    int64_t cnt = numel_eval(&n->shape, N);
    float *v = malloc(sizeof *v * (size_t)cnt);
    for (int64_t k = 0; k < cnt; k++) {
      if (lab)  /* class indices in [0, classes) */
        ((int32_t *)v)[k] = (int32_t)(dlrt_rng_next(&r) % (uint64_t)n->classes);
      else
        v[k] = positive ? (float)(0.1 + dlrt_rng_uniform(&r)) : (float)(4 * dlrt_rng_uniform(&r) - 2);
    }
    a.data = v;
    char path[128], err[512];
    snprintf(path, sizeof path, "x_%s.npy", n->name);
    bool ok = dlrt_npy_save(path, &a, err);
    free(v);
    if (!ok) {
      printf("  %s\n", err);
      return false;
    }
    str_printf(flags, " --input %s=%s", n->name, path);
  }
  return true;
}

static int sh(const char *cmd) {
  int rc = system(cmd);
  return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* Copy the case's files for N into $DLC_OPS_PREPARE as <name>.<N>.*, build
 * its CUDA executable there, and add a line to ops.list:
 *   name N exe weights|- want.npy input-flags... */
static bool prepare_gpu(const char *name, int64_t N, const char *dlc, const char *ir,
                        bool has_params, const char *inputs) {
  const char *dir = getenv("DLC_OPS_PREPARE");
  Str cmd = {0}, flags = {0};
  str_printf(&cmd, "%s build --target cuda %s -o %s/%s.cuda --emit-cuda %s/%s.cu 2>&1 && "
             "cp want.npy %s/%s.%lld.want.npy", dlc, ir, dir, name, dir, name, dir, name,
             (long long)N);
  if (has_params) str_printf(&cmd, " && cp w.ckpt %s/%s.%lld.ckpt", dir, name, (long long)N);
  /* inputs: " --input NAME=x_NAME.npy" each */
  for (const char *p = strstr(inputs, "--input "); p; p = strstr(p + 1, "--input ")) {
    const char *eq = strchr(p, '='), *end = strchr(eq, ' ');
    if (!end) end = p + strlen(p);
    str_printf(&cmd, " && cp %.*s %s/%s.%lld.%.*s", (int)(end - eq - 1), eq + 1, dir, name,
               (long long)N, (int)(end - eq - 1), eq + 1);
    str_printf(&flags, " --input %.*s%s.%lld.%.*s", (int)(eq + 1 - (p + 8)), p + 8, name,
               (long long)N, (int)(end - eq - 1), eq + 1);
  }
  bool ok = sh(cmd.s) == 0;
  if (ok) {
    char list[4096];
    snprintf(list, sizeof list, "%s/ops.list", dir);
    FILE *f = fopen(list, "a");
    ok = f != NULL;
    if (f) {
      char w[256] = "-";
      if (has_params) snprintf(w, sizeof w, "%s.%lld.ckpt", name, (long long)N);
      fprintf(f, "%s %lld %s.cuda %s %s.%lld.want.npy%s\n", name, (long long)N, name, w, name,
              (long long)N, flags.s ? flags.s : "");
      fclose(f);
    }
  }
  str_free(&cmd);
  str_free(&flags);
  return ok;
}

/* Build case c's IR file ir (CUDA for the emulator when emulated);
 * false after printing its FAIL line. */
static bool build_case(const Case *c, const char *dlc, const char *ir, bool emulated) {
  Str cmd = {0};
  if (emulated)
    str_printf(&cmd, "%s build --target cuda %s -o %s.bin --emit-cuda %s.cu 2>&1 && "
               "${CXX:-c++} -O1 -shared -fPIC -include %s/tests/tools/cudaemu.h -x c++ %s.cu "
               "-o %s.so", dlc, ir, c->name, c->name,
               getenv("DLC_ROOT") ? getenv("DLC_ROOT") : ".", c->name, c->name);
  else
    str_printf(&cmd, "%s build %s -o %s.bin 2>&1", dlc, ir, c->name);
  bool ok = sh(cmd.s) == 0;
  if (!ok) printf("FAIL op/%s%s (build)\n  %s\n", emulated ? "cuda/" : "", c->name, cmd.s);
  str_free(&cmd);
  return ok;
}

/* Compile and compare one case at each of its batch sizes; prints its
 * result line. */
static bool run_case(const Case *c, const char *dlc, const char *tools) {
  Graph *g = ir_new_graph(c->name);
  c->build(g, c->op);
  char ir[128];
  snprintf(ir, sizeof ir, "%s.ir", c->name);
  FILE *f = fopen(ir, "w");
  ir_print(f, g);
  fclose(f);
  bool has_params = false;
  for (int i = 0; i < g->nnode; i++) has_params |= g->node[i].op == OP_PARAM;
  Str in = {0}, cmd = {0};
  const char *target = getenv("DLC_OPS_TARGET");
  bool emulated = target && strcmp(target, "cuda") == 0;
  bool ok = build_case(c, dlc, ir, emulated);
  for (const int64_t *b = batches_of(c); ok && *b; b++) {
    int64_t N = *b;
    str_free(&in);
    str_printf(&in, "%s", "");
    ok = write_inputs(g, N, c->positive, 7u + (unsigned)N, &in);
    const char *w = has_params ? " --weights w.ckpt" : "";
    str_free(&cmd);
    /* the stand-in driver only in the program's environment */
    if (emulated)
      str_printf(&cmd, "R='env LD_LIBRARY_PATH=%s DLC_CUDAEMU_MODULE=./%s.so'",
                 getenv("DLC_CUDAEMU_LIB"), c->name);
    else
      str_printf(&cmd, "R=");
    if (has_params) str_printf(&cmd, " && $R ./%s.bin init --seed 5 -o w.ckpt >/dev/null", c->name);
    str_printf(&cmd, " && $R ./%s.bin predict%s%s -o got.npy >/dev/null && %s run %s%s%s -o want.npy"
               " && %s/npycmp got.npy want.npy >/dev/null", c->name, w, in.s, dlc, ir, w, in.s, tools);
    if (ok && sh(cmd.s) != 0) {
      printf("FAIL op/%s%s (N=%lld)\n  %s\n", emulated ? "cuda/" : "", c->name, (long long)N,
             cmd.s);
      ok = false;
    }
    if (ok && getenv("DLC_OPS_PREPARE") && !prepare_gpu(c->name, N, dlc, ir, has_params, in.s)) {
      printf("FAIL op/%s (N=%lld: cannot prepare its CUDA case)\n", c->name, (long long)N);
      ok = false;
    }
  }
  if (ok) printf("PASS op/%s%s\n", emulated ? "cuda/" : "", c->name);
  str_free(&in);
  str_free(&cmd);
  ir_free_graph(g);
  return ok;
}

/* With an argument, only the cases whose name contains it run (and the
 * coverage check is skipped): test_ops gather. */
int main(int argc, char **argv) {
  const char *only = argc > 1 ? argv[1] : NULL;
  const char *dlc = getenv("DLC") ? getenv("DLC") : "build/dlc";
  const char *tools = getenv("TOOLS") ? getenv("TOOLS") : "build/tools";
  char dir[] = "/tmp/dlc-ops.XXXXXX";
  if (!mkdtemp(dir) || chdir(dir) != 0) return 2;
  int failed = 0;
  bool covered[OP_COUNT] = {0};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    covered[cases[i].op] = true;
    if (only && !strstr(cases[i].name, only)) continue;
    failed += !run_case(&cases[i], dlc, tools);
  }
  /* Ops that exist only in training steps are compared with the
   * interpreter through a whole compiled step: tests/e2e/train_step.sh. */
  covered[OP_DROPOUT] = covered[OP_ASSIGN] = covered[OP_SCATTER_UPDATE] = true;
  for (int op = 0; op < OP_COUNT && !only; op++)
    if (!(op_info[op].flags & F_SOURCE) && !covered[op]) {
      printf("FAIL op/%s (no test case)\n", op_info[op].name);
      failed++;
    }
  char rm[64];
  snprintf(rm, sizeof rm, "rm -rf %s", dir);
  if (!failed) sh(rm);
  return failed ? 1 : 0;
}
