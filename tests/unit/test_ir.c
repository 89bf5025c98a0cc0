/* test_ir.c — unit tests of the graph IR: shape rules through ir_add, the
 * text format (round trip, errors, robustness against mutated input), the
 * verifier and the Graphviz writer.
 *
 * One line per check (PASS name / FAIL name plus indented detail lines), the
 * last line "N passed, N failed"; the exit status is non-zero on a failure.
 */
#include "ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int npass, nfail;

__attribute__((format(printf, 3, 4)))
static bool check(bool ok, const char *name, const char *fmt, ...) {
  printf("%s %s\n", ok ? "PASS" : "FAIL", name);
  if (!ok && fmt) {
    va_list ap;
    va_start(ap, fmt);
    printf("    ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
  }
  ok ? npass++ : nfail++;
  return ok;
}

static Loc at(int line) { return (Loc){intern("t.dlm"), line, 1}; }

/* A type from text like "f32[N,4,2N]" (test inputs are well formed). */
static Shape type_of(const char *s, DType *t) {
  *t = strncmp(s, "i32", 3) == 0 ? DT_I32 : DT_F32;
  Shape sh = {0};
  const char *p = strchr(s, '[') + 1;
  while (*p && *p != ']') {
    int64_t k = 1;
    if (*p != 'N') k = strtoll(p, (char **)&p, 10);
    sh.d[sh.rank++] = *p == 'N' ? -k : k;
    if (*p == 'N') p++;
    if (*p == ',') p++;
  }
  return sh;
}

static int src(Graph *g, const char *type) {
  DType t;
  Shape s = type_of(type, &t);
  char name[32];
  snprintf(name, sizeof name, "in%d", g->nnode);
  return ir_input(g, name, t, s, IN_DATA, 0, at(g->nnode + 1));
}

static Attrs ints(int n, ...) {
  Attrs a = {.nints = n};
  va_list ap;
  va_start(ap, n);
  for (int k = 0; k < n; k++) a.ints[k] = va_arg(ap, int);
  va_end(ap);
  return a;
}

/* Captures what a call writes to stderr (fd 2), so that verifier and
 * interpreter messages can be checked. */
static FILE *cap_file;
static int cap_saved = -1;

static void capture_begin(void) {
  fflush(stderr);
  cap_file = tmpfile();
  cap_saved = dup(2);
  dup2(fileno(cap_file), 2);
}

static char *capture_end(void) {
  fflush(stderr);
  dup2(cap_saved, 2);
  close(cap_saved);
  long n = ftell(cap_file);
  char *s = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
  rewind(cap_file);
  if (n > 0 && fread(s, 1, (size_t)n, cap_file) != (size_t)n) s[0] = 0;
  fclose(cap_file);
  return s;
}

/* ---- shape rules ---- */

typedef struct RuleCase {
  const char *name;
  Op op;
  const char *in[3];  /* operand types, NULL-terminated */
  Attrs a;
  const char *shaped; /* reshape/broadcast: the requested type */
  const char *want;   /* the result type, or a substring of the error */
} RuleCase;

static void test_rule(const RuleCase *c) {
  Graph *g = ir_new_graph("rules");
  int in[3], nin = 0;
  for (; nin < 3 && c->in[nin]; nin++) in[nin] = src(g, c->in[nin]);
  DType t = DT_F32;
  Shape s = {0};
  if (c->shaped) s = type_of(c->shaped, &t);
  char why[256] = "", got[128] = "", name[96];
  int before = g->nnode;
  int i = ir_add_shaped(g, c->op, in, nin, &c->a, t, s, at(9), why);
  if (i >= 0) shape_str(got, sizeof got, g->node[i].dtype, &g->node[i].shape);
  bool want_err = (strncmp(c->want, "f32[", 4) != 0 && strncmp(c->want, "i32[", 4) != 0) ||
                  strchr(c->want, ' ');
  snprintf(name, sizeof name, "rule_%s", c->name);
  if (want_err)
    check(i < 0 && strstr(why, c->want) && g->nnode == before, name,
          "want error containing \"%s\", got %s%s (graph %d -> %d nodes)", c->want,
          i < 0 ? "error: " : "type ", i < 0 ? why : got, before, g->nnode);
  else
    check(i >= 0 && strcmp(got, c->want) == 0, name, "want %s, got %s", c->want,
          i >= 0 ? got : why);
  ir_free_graph(g);
}

static const RuleCase rule_cases[] = {
    {"unary", OP_RELU, {"f32[N,4]"}, {.nints = 0}, NULL, "f32[N,4]"},
    {"unary_i32", OP_EXP, {"i32[N]"}, {.nints = 0}, NULL, "exp: expected a f32 operand, got i32[N]"},
    {"binary_same", OP_ADD, {"f32[N,4]", "f32[N,4]"}, {.nints = 0}, NULL, "f32[N,4]"},
    {"binary_bias", OP_ADD, {"f32[N,4]", "f32[4]"}, {.nints = 0}, NULL, "f32[N,4]"},
    {"binary_left", OP_SUB, {"f32[4]", "f32[N,4]"}, {.nints = 0}, NULL, "f32[N,4]"},
    {"binary_both", OP_MUL, {"f32[4,1]", "f32[1,3]"}, {.nints = 0}, NULL, "f32[4,3]"},
    {"binary_scalar", OP_DIV, {"f32[N,2,3]", "f32[]"}, {.nints = 0}, NULL, "f32[N,2,3]"},
    {"binary_n_vs_1", OP_MAXIMUM, {"f32[N,1]", "f32[1,5]"}, {.nints = 0}, NULL, "f32[N,5]"},
    {"binary_mismatch", OP_ADD, {"f32[N,4]", "f32[3]"}, {.nints = 0}, NULL,
     "add: shapes cannot be broadcast together: f32[N,4] and f32[3]"},
    {"binary_n_vs_2n", OP_MINIMUM, {"f32[N,4]", "f32[2N,4]"}, {.nints = 0}, NULL,
     "cannot be broadcast together"},
    {"binary_i32", OP_ADD, {"f32[4]", "i32[4]"}, {.nints = 0}, NULL, "expected a f32 operand"},
    {"reduce_axis", OP_SUM, {"f32[N,4,5]"}, {.nints = 2, .ints = {0, 1}}, NULL, "f32[N,5]"},
    {"reduce_keep", OP_MEAN, {"f32[N,4,5]"}, {.nints = 3, .ints = {1, 2, 1}}, NULL,
     "f32[N,1,1]"},
    {"reduce_all", OP_MAX, {"f32[N,4]"}, {.nints = 1, .ints = {0}}, NULL, "f32[]"},
    {"reduce_all_keep", OP_SUM, {"f32[N,4]"}, {.nints = 1, .ints = {1}}, NULL, "f32[1,1]"},
    {"reduce_no_attrs", OP_SUM, {"f32[3,4]"}, {.nints = 0}, NULL, "f32[]"},
    {"reduce_range", OP_SUM, {"f32[N,4,5]"}, {.nints = 2, .ints = {0, 3}}, NULL,
     "sum: axis 3 is out of range for rank 3"},
    {"reduce_twice", OP_MEAN, {"f32[N,4,5]"}, {.nints = 3, .ints = {0, 1, 1}}, NULL,
     "mean: axis 1 is listed twice"},
    {"softmax", OP_SOFTMAX, {"f32[N,10]"}, {.nints = 1, .ints = {1}}, NULL, "f32[N,10]"},
    {"softmax_range", OP_LOG_SOFTMAX, {"f32[N,10]"}, {.nints = 1, .ints = {2}}, NULL,
     "log_softmax: axis 2 is out of range for rank 2"},
    {"softmax_no_axis", OP_SOFTMAX, {"f32[N,10]"}, {.nints = 0}, NULL, "out of range"},
    {"reshape", OP_RESHAPE, {"f32[N,1,28,28]"}, {.nints = 0}, "f32[N,784]", "f32[N,784]"},
    {"reshape_move_n", OP_RESHAPE, {"f32[N,4]"}, {.nints = 0}, "f32[4,N]", "f32[4,N]"},
    {"reshape_i32", OP_RESHAPE, {"i32[N,2]"}, {.nints = 0}, "i32[2N]", "i32[2N]"},
    {"reshape_count", OP_RESHAPE, {"f32[N,4]"}, {.nints = 0}, "f32[N,5]",
     "reshape: element counts differ: f32[N,4] to f32[N,5]"},
    {"reshape_static_to_n", OP_RESHAPE, {"f32[2,4]"}, {.nints = 0}, "f32[N,8]",
     "element counts differ"},
    {"reshape_two_n", OP_RESHAPE, {"f32[N,4]"}, {.nints = 0}, "f32[N,N]",
     "reshape: only one dimension may depend on the batch size N"},
    {"broadcast", OP_BROADCAST, {"f32[4]"}, {.nints = 0}, "f32[N,4]", "f32[N,4]"},
    {"broadcast_ones", OP_BROADCAST, {"f32[N,1]"}, {.nints = 0}, "f32[N,3]", "f32[N,3]"},
    {"broadcast_bad", OP_BROADCAST, {"f32[3]"}, {.nints = 0}, "f32[N,4]",
     "broadcast: f32[3] cannot be broadcast to f32[N,4]"},
    {"broadcast_shrink", OP_BROADCAST, {"f32[N,4]"}, {.nints = 0}, "f32[4]", "cannot be broadcast"},
    {"transpose", OP_TRANSPOSE, {"f32[N,3,5]"}, {.nints = 3, .ints = {2, 0, 1}}, NULL,
     "f32[5,N,3]"},
    {"transpose_len", OP_TRANSPOSE, {"f32[N,3]"}, {.nints = 3, .ints = {0, 1, 2}}, NULL,
     "transpose: permutation has 3 axes, operand has rank 2"},
    {"transpose_repeat", OP_TRANSPOSE, {"f32[N,3]"}, {.nints = 2, .ints = {1, 1}}, NULL,
     "transpose: perm is not a permutation of the 2 axes"},
    {"concat3", OP_CONCAT, {"f32[N,3]", "f32[N,4]", "f32[N,1]"}, {.nints = 1, .ints = {1}},
     NULL, "f32[N,8]"},
    {"concat_n", OP_CONCAT, {"f32[N,3]", "f32[2N,3]"}, {.nints = 1, .ints = {0}}, NULL,
     "f32[3N,3]"},
    {"concat_i32", OP_CONCAT, {"i32[2]", "i32[3]"}, {.nints = 1, .ints = {0}}, NULL, "i32[5]"},
    {"concat_static_n", OP_CONCAT, {"f32[2,3]", "f32[N,3]"}, {.nints = 1, .ints = {0}}, NULL,
     "concat: operands differ outside axis 0: f32[2,3] and f32[N,3]"},
    {"concat_other_axis", OP_CONCAT, {"f32[N,3]", "f32[N,4]"}, {.nints = 1, .ints = {0}},
     NULL, "operands differ outside axis 0"},
    {"concat_dtype", OP_CONCAT, {"f32[3]", "i32[3]"}, {.nints = 1, .ints = {0}}, NULL,
     "operands differ"},
    {"concat_axis", OP_CONCAT, {"f32[3]"}, {.nints = 1, .ints = {1}}, NULL,
     "concat: axis 1 is out of range for rank 1"},
    {"concat_none", OP_CONCAT, {NULL}, {.nints = 1}, NULL, "concat: takes at least one operand"},
    {"matmul", OP_MATMUL, {"f32[N,784]", "f32[784,256]"}, {.nints = 0}, NULL, "f32[N,256]"},
    {"matmul_lead", OP_MATMUL, {"f32[N,3,4]", "f32[4,5]"}, {.nints = 0}, NULL, "f32[N,3,5]"},
    {"matmul_batched", OP_MATMUL, {"f32[2,3,4]", "f32[2,4,5]"}, {.nints = 0}, NULL, "f32[2,3,5]"},
    {"matmul_batched_n", OP_MATMUL, {"f32[N,3,4]", "f32[N,4,5]"}, {.nints = 0}, NULL, "f32[N,3,5]"},
    {"matmul_shared", OP_MATMUL, {"f32[3,4]", "f32[N,4,5]"}, {.nints = 0}, NULL, "f32[N,3,5]"},
    {"matmul_shared_2", OP_MATMUL, {"f32[3,4]", "f32[2,N,4,5]"}, {.nints = 0}, NULL, "f32[2,N,3,5]"},
    {"matmul_inner", OP_MATMUL, {"f32[N,128]", "f32[256,10]"}, {.nints = 0}, NULL,
     "matmul: inner dimensions differ: f32[N,128] x f32[256,10]"},
    {"matmul_rank1", OP_MATMUL, {"f32[4]", "f32[4,5]"}, {.nints = 0}, NULL,
     "matmul: operands must have rank 2 or more"},
    {"matmul_rank", OP_MATMUL, {"f32[2,2,3,4]", "f32[2,4,5]"}, {.nints = 0}, NULL,
     "matmul: batched operands must have the same rank"},
    {"matmul_batch", OP_MATMUL, {"f32[2,3,4]", "f32[3,4,5]"}, {.nints = 0}, NULL,
     "matmul: batch dimensions differ"},
    {"matmul_two_n", OP_MATMUL, {"f32[N,4]", "f32[4,N]"}, {.nints = 0}, NULL,
     "would have two batch-dependent dimensions"},
    {"arity", OP_ADD, {"f32[4]"}, {.nints = 0}, NULL, "add: takes 2 operands, got 1"},
    {"arity_unary", OP_NEG, {"f32[4]", "f32[4]"}, {.nints = 0}, NULL, "neg: takes 1 operand, got 2"},
};

static void test_rules(void) {
  for (size_t k = 0; k < sizeof rule_cases / sizeof rule_cases[0]; k++)
    test_rule(&rule_cases[k]);
}

/* ---- a graph with every op and every attribute kind ---- */

static int add(Graph *g, Op op, int a, int b, Attrs at_) {
  int in[2] = {a, b};
  char why[256];
  int i = ir_add(g, op, in, b < 0 ? 1 : 2, &at_, at(g->nnode + 1), why);
  if (i < 0) die("test graph: %s", why);
  return i;
}

static Graph *build_all(void) {
  Graph *g = ir_new_graph("all \"ops\"\tmodel\\");
  char why[256];
  int x = ir_input(g, "x", DT_F32, shape_make(2, (int64_t[]){-1, 4}), IN_DATA, 0, at(1));
  ir_input(g, "y\t\"q\"\\\n\x01\xc3\xa9", DT_I32, shape_make(1, (int64_t[]){-1}),
           IN_LABEL, 10, (Loc){0});
  ir_input(g, "z", DT_I32, shape_make(1, (int64_t[]){-1}), IN_LABEL, 0,
           (Loc){intern("we\"ird\\ file.dlm"), 7, 0});
  int w = ir_param(g, "W", DT_F32, shape_make(2, (int64_t[]){4, 3}),
                   (Init){INIT_XAVIER_UNIFORM, -0.5, 0.25, 4, 3}, at(2));
  for (int k = 0; k < INIT_COUNT; k++) {
    char name[32];
    snprintf(name, sizeof name, "p.%s", init_name[k]);
    ir_param(g, name, DT_F32, shape_make(1, (int64_t[]){3}),
             (Init){(InitKind)k, 0.1 * k, -1e-30, k, 2 * k}, at(3));
  }
  double special[] = {0.1, 1e-30, -0.0, 1.0 / 3, 5e-324, 1.7976931348623157e308,
                      INFINITY, -INFINITY, 123456789012345678.0, -2.5};
  int c = ir_const(g, DT_F32, shape_make(2, (int64_t[]){2, 5}), 0, special, at(4));
  int s = ir_const(g, DT_F32, shape_make(0, NULL), 0.1, NULL, at(5));
  ir_const(g, DT_F32, shape_make(1, (int64_t[]){2}), -0.0, (double[]){1, 2}, at(5));
  ir_const(g, DT_I32, shape_make(1, (int64_t[]){-3}), NAN, NULL, (Loc){0});
  ir_const(g, DT_F32, shape_make(1, (int64_t[]){1}), 2, (double[]){3}, (Loc){0});
  for (int op = 0; op < OP_COUNT; op++) {
    const OpInfo *oi = &op_info[op];
    if (!(oi->flags & F_ELEMWISE)) continue;
    bool list;
    Attrs a = {.f = {*oi->floats ? 0.1 : 0}, .nints = op_fixed_ints((Op)op, &list)};
    add(g, (Op)op, x, oi->nin == 2 ? s : -1, a);
  }
  add(g, OP_SUM, x, -1, ints(2, 0, 1));
  add(g, OP_MEAN, x, -1, ints(3, 1, 1, 0));
  add(g, OP_MAX, x, -1, ints(1, 1));
  add(g, OP_SUM, c, -1, ints(1, 0));
  add(g, OP_SOFTMAX, x, -1, ints(1, 1));
  add(g, OP_LOG_SOFTMAX, c, -1, ints(1, 0));
  int r = ir_add_shaped(g, OP_RESHAPE, &x, 1, NULL, DT_F32,
                        shape_make(3, (int64_t[]){2, -1, 2}), at(6), why);
  int b = ir_add_shaped(g, OP_BROADCAST, &s, 1, NULL, DT_F32,
                        shape_make(2, (int64_t[]){-1, 4}), at(6), why);
  add(g, OP_TRANSPOSE, r, -1, ints(3, 2, 0, 1));
  int cat[3] = {x, b, x};
  Attrs ax = ints(1, 0);
  ir_add(g, OP_CONCAT, cat, 3, &ax, at(7), why);
  int m = add(g, OP_MATMUL, x, w, (Attrs){.nints = 0});
  int k = ir_const(g, DT_F32, shape_make(3, (int64_t[]){2, 2, 3}), 1.5, NULL, at(8));
  add(g, OP_MATMUL, r, k, (Attrs){.nints = 0});
  add(g, OP_SLICE, x, -1, ints(3, 1, 1, 3));
  add(g, OP_ONE_HOT, 1, -1, ints(1, 10));
  add(g, OP_DROPOUT, m, -1, (Attrs){.ints = {7}, .nints = 1, .f = {0.25}});
  /* images: x as [N,1,2,2], convolved and pooled with padding */
  int img = ir_add_shaped(g, OP_RESHAPE, &x, 1, NULL, DT_F32,
                          shape_make(4, (int64_t[]){-1, 1, 2, 2}), at(14), why);
  int kern = ir_const(g, DT_F32, shape_make(4, (int64_t[]){2, 1, 2, 1}), 0.5, NULL, at(14));
  int cv = add(g, OP_CONV2D, img, kern, ints(7, 1, 2, 1, 0, 1, 1, 1));
  add(g, OP_CONV2D_GRAD_INPUT, cv, kern, ints(9, 1, 2, 1, 0, 1, 1, 1, 2, 2));
  add(g, OP_CONV2D_GRAD_WEIGHT, img, cv, ints(9, 1, 2, 1, 0, 1, 1, 1, 2, 1));
  int col = add(g, OP_IM2COL, img, -1, ints(8, 1, 1, 1, 0, 1, 1, 2, 1));
  add(g, OP_COL2IM, col, -1, ints(10, 1, 1, 1, 0, 1, 1, 2, 1, 2, 2));
  int mp = add(g, OP_MAX_POOL2D, img, -1, ints(6, 2, 1, 1, 1, 1, 0));
  add(g, OP_MAX_POOL2D_GRAD, img, mp, ints(6, 2, 1, 1, 1, 1, 0));
  int ap = add(g, OP_AVG_POOL2D, img, -1, ints(6, 2, 1, 1, 1, 1, 0));
  add(g, OP_AVG_POOL2D_GRAD, ap, -1, ints(8, 2, 1, 1, 1, 1, 0, 2, 2));
  /* the blocked layout: img as [N,1,2,2,8], convolved, and back */
  int bl = add(g, OP_TO_BLOCKED, img, -1, ints(1, 1));
  add(g, OP_FROM_BLOCKED, bl, -1, ints(2, 1, 1));
  int bk = ir_const(g, DT_F32, shape_make(6, (int64_t[]){1, 1, 2, 1, 8, 8}), 0.25, NULL, at(14));
  add(g, OP_CONV2D_BLOCKED, bl, bk, ints(6, 1, 1, 0, 0, 1, 1));
  /* recurrent layers over 3 steps, H = 2, and their gradients */
  static const Op recurrent[3] = {OP_LSTM, OP_GRU, OP_RNN};
  for (int ri = 0; ri < 3; ri++) {
    Op op = recurrent[ri];
    const Cell *cl = ir_cell(op);
    int xp = ir_param(g, op_info[op].name, DT_F32, shape_make(3, (int64_t[]){2, 3, 2 * cl->gates}),
                      (Init){.kind = INIT_ZEROS}, at(16));
    int wh = ir_param(g, arena_printf(g->arena, "%s.Whh", op_info[op].name), DT_F32,
                      shape_make(2, (int64_t[]){2, 2 * cl->gates}), (Init){.kind = INIT_ZEROS}, at(16));
    int sq = add(g, op, xp, wh, ints(1, op == OP_GRU));
    if (ir_add(g, cl->grad_op, (int[]){sq, sq, wh}, 3, &(Attrs){.ints = {op == OP_GRU}, .nints = 1},
               at(17), why) < 0)
      die("test graph: %s", why);
  }
  /* training: a loss, runtime scalars, optimiser state and the update */
  int bs = ir_add(g, OP_BATCH, NULL, 0, NULL, at(11), why);
  int ce = add(g, OP_CROSS_ENTROPY, m, 1, (Attrs){.nints = 0});
  int loss = add(g, OP_DIV, add(g, OP_SUM, ce, -1, ints(1, 0)), bs, (Attrs){.nints = 0});
  int lr = ir_hyper(g, H_LR, at(12));
  ir_hyper(g, H_BC2, (Loc){0});
  int st = ir_state(g, "momentum.W", shape_make(2, (int64_t[]){4, 3}), at(13));
  int upd = add(g, OP_SUB, w, add(g, OP_MUL, lr, st, (Attrs){.nints = 0}), (Attrs){.nints = 0});
  add(g, OP_ASSIGN, st, upd, (Attrs){.nints = 0});
  add(g, OP_ASSIGN, w, upd, (Attrs){.nints = 0});
  ir_add(g, OP_RUNNING_STAT, (int[]){upd, st, w}, 3, &(Attrs){.f = {0.1}}, at(15), why);
  /* embeddings: rows of W at the i32 ids of input 1, and their adjoints */
  int rows = add(g, OP_GATHER, w, 1, (Attrs){.nints = 0});
  add(g, OP_SCATTER_ADD, rows, 1, ints(1, 4));
  ir_add(g, OP_SCATTER_UPDATE, (int[]){w, rows, 1}, 3, &(Attrs){.nints = 0}, at(16), why);
  g->loss = loss;
  if (r < 0 || b < 0 || bs < 0 || img < 0) die("test graph: %s", why);
  ir_output(g, "probs", m, at(9));
  ir_output(g, "o\"2", x, (Loc){0});
  ir_train_kv(g, "optimizer", "sgd(lr=0.01, momentum=0.9)", at(10));
  ir_train_kv(g, "note", "a \"quoted\" \\ value", (Loc){0});
  return g;
}

static bool same_double(double a, double b) {
  return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static bool same_str(const char *a, const char *b) {
  return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_loc(Loc a, Loc b) {
  if (a.line == 0 && b.line == 0) return true;
  return a.file == b.file && a.line == b.line && a.col == b.col;
}

/* Field-by-field equality of node i in a and b; a reason on difference. */
static const char *node_diff(const Node *x, const Node *y) {
  if (x->op != y->op || x->dtype != y->dtype || !shape_equal(&x->shape, &y->shape))
    return "op or type";
  if (x->nin != y->nin || (x->nin && memcmp(x->in, y->in, sizeof(int) * (size_t)x->nin)))
    return "operands";
  if (x->a.nints != y->a.nints ||
      memcmp(x->a.ints, y->a.ints, sizeof(int64_t) * (size_t)x->a.nints))
    return "ints";
  for (int k = 0; k < MAX_FLOATS; k++)
    if (!same_double(x->a.f[k], y->a.f[k])) return "floats";
  if (!same_str(x->name, y->name)) return "name";
  if (x->init.kind != y->init.kind || !same_double(x->init.a, y->init.a) ||
      !same_double(x->init.b, y->init.b) || x->init.fan_in != y->init.fan_in ||
      x->init.fan_out != y->init.fan_out)
    return "init";
  if (x->ikind != y->ikind || x->classes != y->classes) return "input kind";
  if (!x->data != !y->data) return "data presence";
  for (int64_t k = 0; x->data && k < numel_eval(&x->shape, 1); k++)
    if (!same_double(x->data[k], y->data[k])) return "data";
  if (!same_loc(x->loc, y->loc)) return "loc";
  return NULL;
}

static bool same_graph(const Graph *a, const Graph *b, char *why, size_t n) {
  if (!same_str(a->name, b->name)) return snprintf(why, n, "model name"), false;
  if (a->nnode != b->nnode || a->nout != b->nout || a->ntrain != b->ntrain)
    return snprintf(why, n, "counts differ"), false;
  if (a->loss != b->loss) return snprintf(why, n, "loss %d vs %d", a->loss, b->loss), false;
  for (int i = 0; i < a->nnode; i++) {
    const char *d = node_diff(&a->node[i], &b->node[i]);
    if (d) return snprintf(why, n, "node %%%d: %s", i, d), false;
  }
  for (int o = 0; o < a->nout; o++)
    if (!same_str(a->out[o].name, b->out[o].name) || a->out[o].node != b->out[o].node ||
        !same_loc(a->out[o].loc, b->out[o].loc))
      return snprintf(why, n, "output %d", o), false;
  for (int t = 0; t < a->ntrain; t++)
    if (!same_str(a->train[t].key, b->train[t].key) ||
        !same_str(a->train[t].value, b->train[t].value) ||
        !same_loc(a->train[t].loc, b->train[t].loc))
      return snprintf(why, n, "train entry %d", t), false;
  return true;
}

/* The first line where two texts differ, for failure details. */
static void show_first_diff(const char *a, const char *b) {
  int line = 1;
  while (*a && *a == *b) line += *a++ == '\n', b++;
  printf("    first difference on line %d: \"%.60s\" vs \"%.60s\"\n", line, a, b);
}

static void test_round_trip(void) {
  Graph *g = build_all();
  bool seen[OP_COUNT] = {0};
  for (int i = 0; i < g->nnode; i++) seen[g->node[i].op] = true;
  int missing = -1;
  for (int op = 0; op < OP_COUNT; op++)
    if (!seen[op]) missing = op;
  check(missing < 0, "roundtrip_covers_every_op", "op %s is not in the test graph",
        missing >= 0 ? op_info[missing].name : "");
  check(ir_verify(g, "build_all"), "roundtrip_source_verifies", NULL);
  char *t1 = ir_print_str(g);
  Graph *p = ir_parse("rt.ir", t1);
  char why[128] = "parse failed";
  check(p && same_graph(g, p, why, sizeof why), "roundtrip_same_graph", "%s", why);
  char *t2 = p ? ir_print_str(p) : NULL;
  if (!check(t2 && strcmp(t1, t2) == 0, "roundtrip_print_parse_print", "texts differ") &&
      t2)
    show_first_diff(t1, t2);
  check(p && ir_verify(p, NULL), "roundtrip_parsed_verifies", NULL);
  check(strstr(t1, "data=[0.1,1e-30,-0,0.33333333333333331,4.94065645841247e-324,"
                   "1.7976931348623157e+308,inf,-inf,1.2345678901234568e+17,-2.5]") &&
            strstr(t1, "const value=-0 data=[1,2] : f32[2]") &&
            strstr(t1, "const value=nan : i32[3N]") &&
            strstr(t1, "const value=2 data=[3] : f32[1]"),
        "print_doubles", "%s", t1);
  check(strstr(t1, "%1 = input \"y\\t\\\"q\\\"\\\\\\n\\x01\xc3\xa9\" label classes=10 : i32[N]\n") &&
            strstr(t1, "model \"all \\\"ops\\\"\\tmodel\\\\\"\n") &&
            strstr(t1, "@\"we\\\"ird\\\\ file.dlm\":7:0\n"),
        "print_strings", "%s", t1);
  check(strstr(t1, "= sum %0 keepdims=0 axes=[1] : f32[N] @\"t.dlm\"") &&
            strstr(t1, "= mean %0 keepdims=1 axes=[1,0] : f32[1,1]") &&
            strstr(t1, "= max %0 keepdims=1 axes=[] : f32[1,1]") &&
            strstr(t1, "keepdims=0 axes=[] : f32[]") &&
            strstr(t1, "= leaky_relu %0 alpha=0.1 : f32[N,4]") &&
            strstr(t1, "= transpose %") && strstr(t1, " perm=[2,0,1] : f32[2,2,N]") &&
            strstr(t1, "= concat %0, %") && strstr(t1, ", %0 axis=0 : f32[3N,4]") &&
            strstr(t1, "init=xavier_uniform a=-0.5 b=0.25 fan_in=4 fan_out=3 : f32[4,3]") &&
            strstr(t1, "output \"probs\" %") &&
            strstr(t1, "train \"optimizer\" \"sgd(lr=0.01, momentum=0.9)\" @\"t.dlm\":10:1\n"),
        "print_attributes", "%s", t1);
  check(strstr(t1, "= slice %0 axis=1 start=1 end=3 : f32[N,2] @") &&
            strstr(t1, "= one_hot %1 classes=10 : f32[N,10] @") &&
            strstr(t1, " salt=7 rate=0.25 : f32[N,3] @") &&
            strstr(t1, "= batch_size : f32[] @\"t.dlm\"") &&
            strstr(t1, "= hyper \"lr\" slot=0 : f32[] @\"t.dlm\":12:1\n") &&
            strstr(t1, "= hyper \"bias_correction2\" slot=11 : f32[]\n") &&
            strstr(t1, "= state \"momentum.W\" : f32[4,3] @\"t.dlm\":13:1\n") &&
            strstr(t1, "= assign %") && strstr(t1, "= cross_entropy %") &&
            strstr(t1, " = running_stat %") && strstr(t1, " momentum=0.1 : f32[4,3] @"),
        "print_training_nodes", "%s", t1);
  /* The loss line follows the outputs and precedes the train entries. */
  const char *lossl = strstr(t1, "\nloss %"), *outl = strstr(t1, "\noutput \"o\\\"2\"");
  check(lossl && outl && lossl > outl && lossl < strstr(t1, "\ntrain ") &&
            strncmp(strchr(lossl, '@'), "@\"t.dlm\"", 7) == 0,
        "print_loss_line", "%s", t1);
  free(t1);
  free(t2);
  ir_free_graph(p);
  ir_free_graph(g);
  /* A builder that leaves fixed ints out gets them printed as 0. */
  g = ir_new_graph("m");
  int x = src(g, "f32[2,3]");
  add(g, OP_SUM, x, -1, (Attrs){.nints = 0});
  t1 = ir_print_str(g);
  check(strstr(t1, "%1 = sum %0 keepdims=0 axes=[] : f32[] @") != NULL,
        "print_unset_ints_as_zero", "%s", t1);
  free(t1);
  ir_free_graph(g);
}

/* The example of doc/ir.txt, and hand-written text (other names, comments,
 * blank lines, spacing) printing in canonical form. */
static void test_parse_text(void) {
  const char *text =
      "# a comment\n"
      "\n"
      "model \"mlp\"\n"
      "%image = input \"image\" data : f32[N,1,28,28] @\"mlp.dlm\":2:7   # trailing\n"
      "  %W=param \"W\" init=zeros : f32[784,10]\r\n"
      "%flat = reshape %image : f32[ N , 784 ]\n"
      "%logits = matmul %flat,%W : f32[N,10]\n"
      "%3 = softmax %logits axis=1 : f32[N,10]\n"
      "%s.1 = sum %3 axes=[1] keepdims=1 : f32[N,1]\n"
      "output \"probs\" %3\n";
  const char *want =
      "# dlc graph IR\n"
      "model \"mlp\"\n"
      "%0 = input \"image\" data : f32[N,1,28,28] @\"mlp.dlm\":2:7\n"
      "%1 = param \"W\" init=zeros a=0 b=0 fan_in=0 fan_out=0 : f32[784,10]\n"
      "%2 = reshape %0 : f32[N,784]\n"
      "%3 = matmul %2, %1 : f32[N,10]\n"
      "%4 = softmax %3 axis=1 : f32[N,10]\n"
      "%5 = sum %4 keepdims=1 axes=[1] : f32[N,1]\n"
      "output \"probs\" %4\n";
  Graph *g = ir_parse("hand.ir", text);
  char *got = g ? ir_print_str(g) : NULL;
  if (!check(got && strcmp(got, want) == 0, "parse_hand_written", "canonical text differs") &&
      got)
    show_first_diff(want, got);
  check(g && g->node[0].loc.file == intern("mlp.dlm") && g->node[1].loc.line == 0,
        "parse_locs_interned", NULL);
  free(got);
  ir_free_graph(g);
  g = ir_parse("empty.ir", "");
  check(g && g->nnode == 0 && g->loss == -1 && strcmp(g->name, "model") == 0, "parse_empty",
        NULL);
  ir_free_graph(g);
  /* A hyper-parameter by name or by slot; the loss by any %name. */
  g = ir_parse("hyper.ir", "%a = hyper slot=2 : f32[]\n%b = hyper \"eps\" : f32[]\n"
                           "%c = add %a, %b : f32[]\nloss %c @\"x.dlm\":9:9\n");
  got = g ? ir_print_str(g) : NULL;
  check(got && strcmp(got, "# dlc graph IR\nmodel \"model\"\n"
                           "%0 = hyper \"beta1\" slot=2 : f32[]\n"
                           "%1 = hyper \"eps\" slot=5 : f32[]\n"
                           "%2 = add %0, %1 : f32[]\nloss %2\n") == 0 && g->loss == 2,
        "parse_hyper_and_loss", "%s", got ? got : "parse failed");
  free(got);
  ir_free_graph(g);
}

/* ---- parse errors ---- */

typedef struct ErrCase {
  const char *name;
  const char *line; /* line 3, after an input %x: f32[N,4] and a param %w: f32[4,3] */
  const char *want; /* substring of the diagnostics */
} ErrCase;

static const ErrCase err_cases[] = {
    {"unknown_op", "%1 = rleu %x : f32[N,4]",
     "e.ir:3:6: error: unknown op 'rleu'\n%1 = rleu %x : f32[N,4]\n     ^\nhint: did you mean 'relu'?"},
    {"unknown_op_far", "%1 = frobnicate %x : f32[N,4]", "3:6: error: unknown op 'frobnicate'\n"},
    {"undefined_operand", "%1 = add %x, %y : f32[N,4]", "3:14: error: use of undefined value %y"},
    {"forward_reference", "%1 = neg %1 : f32[N,4]", "3:10: error: use of undefined value %1"},
    {"type_mismatch", "%1 = matmul %x, %w : f32[N,10]",
     "3:22: error: type mismatch: written f32[N,10], inferred f32[N,3]"},
    {"dtype_mismatch", "%1 = reshape %x : i32[4N]",
     "type mismatch: written i32[4N], inferred f32[4N]"},
    {"shape_rule", "%1 = matmul %w, %x : f32[4,4]",
     "3:6: error: matmul: inner dimensions differ: f32[4,3] x f32[N,4]"},
    {"arity", "%1 = add %x : f32[N,4]", "3:6: error: add: takes 2 operands, got 1"},
    {"no_operands", "%1 = relu : f32[N,4]", "relu: takes 1 operand, got 0"},
    {"missing_equals", "%1 neg %x : f32[N,4]", "3:4: error: expected '=' after the name, found 'neg'"},
    {"missing_type", "%1 = neg %x", "3:12: error: expected ':' before the type, found end of line"},
    {"missing_comma", "%1 = add %x %x : f32[N,4]", "3:13: error: expected an attribute or ':'"},
    {"bad_dtype", "%1 = neg %x : f64[N,4]", "3:15: error: expected an element type (f32 or i32)"},
    {"bad_dim", "%1 = neg %x : f32[N,x]", "3:21: error: expected a dimension (k, N or kN)"},
    {"zero_dim", "%1 = input \"a\" data : f32[0]", "dimension out of range: 0"},
    {"huge_dim", "%1 = input \"a\" data : f32[1099511627777]", "dimension out of range"},
    {"overflow_dim", "%1 = input \"a\" data : f32[999999999999999999999999]",
     "dimension out of range"},
    {"too_many_elements", "%1 = input \"a\" data : f32[1048576,1048577]",
     "3:35: error: shape has more than 2^40 elements"},
    {"rank", "%1 = input \"a\" data : f32[1,1,1,1,1,1,1]", "3:39: error: rank exceeds 6"},
    {"two_n", "%1 = input \"a\" data : f32[N,2N]", "only one dimension may depend on the batch size N"},
    {"unclosed_shape", "%1 = neg %x : f32[N,4", "expected ',' or ']', found end of line"},
    {"unknown_attr", "%1 = sum %x keepdims=0 axis=[1] : f32[N]",
     "3:24: error: sum: unknown attribute 'axis'\n%1 = sum %x keepdims=0 axis=[1] : f32[N]\n"
     "                       ^\nhint: sum takes keepdims, axes"},
    {"missing_attr", "%1 = softmax %x : f32[N,4]", "softmax: missing attribute 'axis'"},
    {"attr_twice", "%1 = softmax %x axis=1 axis=1 : f32[N,4]", "attribute 'axis' given twice"},
    {"attr_float_as_int", "%1 = softmax %x axis=1.5 : f32[N,4]", "3:22: error: expected an integer, found '1.5'"},
    {"attr_overflow", "%1 = softmax %x axis=99999999999999999999 : f32[N,4]", "out of range: 99999999999999999999"},
    {"too_many_values", "%1 = transpose %x perm=[0,1,0,1,0,1,0,1,0,1,0,1,0,1,0,1,0] : f32[N,4]",
     "too many values for perm (at most 16)"},
    {"bad_float", "%1 = leaky_relu %x alpha=0.1x : f32[N,4]", "expected a number, found '0.1x'"},
    {"float_overflow", "%1 = leaky_relu %x alpha=1e400 : f32[N,4]", "number out of range: 1e400"},
    {"redefinition", "%x = neg %x : f32[N,4]", "3:1: error: redefinition of %x"},
    {"duplicate_input", "%1 = input \"x\" label : i32[N]", "3:12: error: duplicate input name \"x\""},
    {"duplicate_param", "%1 = param \"w\" init=ones : f32[1]", "duplicate param name \"w\""},
    {"empty_name", "%1 = param \"\" init=ones : f32[1]", "3:12: error: param: the name is empty"},
    {"bad_input_kind", "%1 = input \"a\" image : f32[1]", "expected 'data' or 'label', found 'image'"},
    {"unknown_init", "%1 = param \"a\" init=glorot : f32[1]", "unknown initializer 'glorot'\n%1 = param \"a\" init=glorot : f32[1]\n                    ^\nhint: initializers are zeros, ones, const, uniform, normal, xavier_uniform"},
    {"missing_init", "%1 = param \"a\" a=1 : f32[1]", "param: missing attribute 'init'"},
    {"const_count", "%1 = const data=[1,2] : f32[3]", "const: 2 data values for a shape of 3 elements"},
    {"const_symbolic", "%1 = const data=[1] : f32[N]", "const: data needs a static shape"},
    {"const_empty", "%1 = const : f32[]", "const: needs value=v or data=[...]"},
    {"unterminated_string", "%1 = input \"abc : f32[1]", "3:12: error: unterminated string"},
    {"bad_escape", "%1 = input \"a\\q\" data : f32[1]", "3:14: error: unknown escape sequence"},
    {"nul_escape", "%1 = input \"a\\x00\" data : f32[1]", "strings cannot contain \\x00"},
    {"short_hex", "%1 = input \"a\\x4\" data : f32[1]", "\\x needs two hex digits"},
    {"bad_loc", "%1 = neg %x : f32[N,4] @\"f\":0:1", "out of range: 0 is not in [1, 2147483647] for a line number"},
    {"loc_no_col", "%1 = neg %x : f32[N,4] @\"f\":3", "expected ':' after the line number"},
    {"trailing", "%1 = neg %x : f32[N,4] junk", "3:24: error: unexpected 'junk' at end of line"},
    {"garbage_line", "hello world", "3:1: error: expected %name, 'model', 'output', 'loss' or 'train', found 'hello'"},
    {"loss_not_scalar", "loss %x", "3:6: error: the loss must be a scalar f32 node, %x is f32[N,4]"},
    {"loss_twice", "%1 = sum %x keepdims=0 axes=[] : f32[]\nloss %1\nloss %1",
     "5:1: error: the loss is given twice"},
    {"loss_undefined", "loss %q", "3:6: error: use of undefined value %q"},
    {"hyper_slot_range", "%1 = hyper slot=12 : f32[]",
     "out of range: 12 is not in [0, 11] for a hyper-parameter slot"},
    {"hyper_mismatch", "%1 = hyper \"lr\" slot=1 : f32[]",
     "3:22: error: hyper: slot 1 is \"momentum\", not \"lr\""},
    {"hyper_unknown", "%1 = hyper \"learning_rate\" : f32[]",
     "3:12: error: hyper: unknown hyper-parameter \"learning_rate\"\n"},
    {"hyper_type", "%1 = hyper slot=0 : f32[1]", "type mismatch: written f32[1], inferred f32[]"},
    {"hyper_bare", "%1 = hyper : f32[]", "hyper: needs a name or slot=K"},
    {"state_i32", "%1 = state \"s\" : i32[3]", "3:18: error: state: optimizer state is f32, not i32"},
    {"state_duplicate", "%1 = state \"s\" : f32[3]\n%2 = state \"s\" : f32[3]",
     "4:12: error: duplicate state name \"s\""},
    {"batch_size_type", "%1 = batch_size : f32[N]", "type mismatch: written f32[N], inferred f32[]"},
    {"batch_size_operand", "%1 = batch_size %x : f32[]", "batch_size: takes 0 operands, got 1"},
    {"bad_name", "% = neg %x : f32[N,4]", "3:1: error: expected a name after '%'"},
    {"duplicate_output", "output \"o\" %x\noutput \"o\" %w", "4:8: error: duplicate output name \"o\""},
    {"output_undefined", "output \"o\" %q", "use of undefined value %q"},
    {"model_twice", "model \"a\"\nmodel \"b\"", "4:1: error: the model name is given twice"},
    {"train_one_string", "train \"k\"", "expected a quoted value, found end of line"},
};

static char *parse_errors(const char *file, const char *text, Graph **g) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  diag_set_stream(f);
  *g = ir_parse(file, text);
  diag_set_stream(NULL);
  fclose(f);
  return buf;
}

static void test_parse_errors(void) {
  for (size_t k = 0; k < sizeof err_cases / sizeof err_cases[0]; k++) {
    const ErrCase *c = &err_cases[k];
    char text[512], name[64];
    snprintf(text, sizeof text,
             "%%x = input \"x\" data : f32[N,4]\n%%w = param \"w\" init=zeros : f32[4,3]\n%s\n",
             c->line);
    Graph *g;
    char *msg = parse_errors("e.ir", text, &g);
    snprintf(name, sizeof name, "parse_error_%s", c->name);
    check(!g && strstr(msg, c->want), name, "want \"%s\"\n    got \"%s\"", c->want, msg);
    ir_free_graph(g);
    free(msg);
  }
}

/* Several errors in one run, each once: a failed line poisons its name, so
 * its uses do not report again. */
static void test_parse_recovery(void) {
  const char *text =
      "%x = input \"x\" data : f32[N,4]\n"
      "%a = rleu %x : f32[N,4]\n"        /* error 1 */
      "%b = neg %a : f32[N,4]\n"         /* uses poisoned %a: quiet */
      "%c = neg %x : f32[N,5]\n"         /* error 2 */
      "%d = add %b, %c : f32[N,4]\n"     /* quiet */
      "%e = neg %x : f32[N,4]\n"         /* fine */
      "%f = sum %e keepdims=0 axes=[7] : f32[N]\n" /* error 3 */
      "output \"o\" %d\n";               /* quiet */
  Graph *g;
  char *msg = parse_errors("r.ir", text, &g);
  int n = 0;
  for (const char *p = msg; (p = strstr(p, "error:")); p++) n++;
  check(!g && n == 3 && strstr(msg, "r.ir:2:6:") && strstr(msg, "r.ir:4:15:") &&
            strstr(msg, "r.ir:7:6: error: sum: axis 7 is out of range for rank 2"),
        "parse_several_errors_no_cascade", "%d errors:\n%s", n, msg);
  free(msg);
}

/* Deterministic mutation fuzzing: cut, duplicate and insert bytes of a valid
 * text. Whatever parses must verify and print back to the same text. */
static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static char *mutate(const char *src) {
  static const char alphabet[] = "%=:[],@\"\\#N0123456789-+.eE\n \tabcfixnN_2";
  size_t n = strlen(src);
  char *s = malloc(2 * n + 64);
  memcpy(s, src, n + 1);
  for (int m = (int)(next_rand() % 4) + 1; m > 0; m--) {
    size_t at_ = n ? next_rand() % n : 0, len = next_rand() % 8;
    switch (next_rand() % 3) {
    case 0: /* delete */
      if (at_ + len > n) len = n - at_;
      memmove(s + at_, s + at_ + len, n - at_ - len + 1);
      n -= len;
      break;
    case 1: /* insert a byte */
      memmove(s + at_ + 1, s + at_, n - at_ + 1);
      s[at_] = alphabet[next_rand() % (sizeof alphabet - 1)];
      n++;
      break;
    default: /* overwrite */
      if (at_ < n) s[at_] = alphabet[next_rand() % (sizeof alphabet - 1)];
    }
    if (n > 3 * strlen(src) / 2) break;
  }
  return s;
}

static void test_parse_fuzz(void) {
  Graph *g = build_all();
  char *base = ir_print_str(g);
  ir_free_graph(g);
  FILE *null = fopen("/dev/null", "w");
  diag_set_stream(null);
  int parsed = 0, bad = 0;
  for (int it = 0; it < 3000; it++) {
    char *t = mutate(base);
    Graph *p = ir_parse("fuzz.ir", t);
    if (p) {
      parsed++;
      char *t1 = ir_print_str(p);
      Graph *q = ir_parse("fuzz2.ir", t1);
      char *t2 = q ? ir_print_str(q) : NULL;
      capture_begin();
      bool ok = ir_verify(p, "parse");
      free(capture_end());
      if (!ok || !t2 || strcmp(t1, t2) != 0) {
        if (!bad++) printf("    unstable or unverified parse of:\n%s\n", t);
      }
      free(t1);
      free(t2);
      ir_free_graph(q);
      ir_free_graph(p);
    }
    free(t);
  }
  const char *nasty[] = {"%", "%x = ", "%x = input \"", "\"\\", "%x = neg %", "[[[[",
                         "%a = const data=[", "%a = input \"a\" data : f32[", "model",
                         "output \"", "train \"a\" \"b\" @\"f\":1:", "\xff\xfe%\x80"};
  for (size_t k = 0; k < sizeof nasty / sizeof nasty[0]; k++) ir_free_graph(ir_parse("n.ir", nasty[k]));
  diag_set_stream(NULL);
  fclose(null);
  diag_reset();
  free(base);
  check(bad == 0 && parsed > 0, "parse_fuzz_mutations", "%d of %d parsed inputs were bad",
        bad, parsed);
}

/* ---- the verifier ---- */

/* x:f32[N,4], w:f32[4,3] param, mm = matmul, r = relu, output "y" r. */
static Graph *small(void) {
  Graph *g = ir_new_graph("small");
  int x = ir_input(g, "x", DT_F32, shape_make(2, (int64_t[]){-1, 4}), IN_DATA, 0, at(1));
  int w = ir_param(g, "w", DT_F32, shape_make(2, (int64_t[]){4, 3}), (Init){0}, at(2));
  int m = add(g, OP_MATMUL, x, w, (Attrs){.nints = 0});
  int r = add(g, OP_RELU, m, -1, (Attrs){.nints = 0});
  add(g, OP_SUM, r, -1, ints(2, 0, 1));
  ir_const(g, DT_F32, shape_make(1, (int64_t[]){2}), 0, (double[]){1, 2}, (Loc){0});
  ir_output(g, "y", r, at(9));
  return g;
}

typedef struct VerifyCase {
  const char *name;
  void (*breakit)(Graph *g);
  const char *want;
} VerifyCase;

static void v_later(Graph *g) { g->node[2].in[0] = 3; }
static void v_negative(Graph *g) { g->node[3].in[0] = -1; }
static void v_arity(Graph *g) { g->node[2].nin = 1; }
static void v_shape(Graph *g) { g->node[3].shape.d[1] = 7; }
static void v_dtype(Graph *g) { g->node[3].dtype = DT_I32; }
static void v_rule(Graph *g) { g->node[4].a.ints[1] = 5; }
static void v_two_n(Graph *g) { g->node[1].shape.d[0] = -1; g->node[1].shape.d[1] = -2; }
static void v_noname(Graph *g) { g->node[0].name = NULL; }
static void v_dup_input(Graph *g) {
  ir_input(g, "x", DT_F32, shape_make(0, NULL), IN_DATA, 0, (Loc){0});
}
static void v_dup_param(Graph *g) {
  ir_param(g, "w", DT_F32, shape_make(0, NULL), (Init){0}, (Loc){0});
}
static void v_dup_output(Graph *g) { ir_output(g, "y", 2, (Loc){0}); }
static void v_output_range(Graph *g) { g->out[0].node = 99; }
static void v_const_sym(Graph *g) { g->node[5].shape.d[0] = -2; }
static void v_nints(Graph *g) { g->node[4].a.nints = MAX_INTS + 1; }
static void v_extra_ints(Graph *g) { g->node[3].a.nints = 1; }
static void v_rank(Graph *g) { g->node[3].shape.rank = MAX_RANK + 1; }
static void v_op(Graph *g) { g->node[3].op = OP_COUNT; }
static void v_data_elsewhere(Graph *g) { g->node[3].data = g->node[5].data; }
static void v_zero_dim(Graph *g) { g->node[1].shape.d[0] = 0; }
static void v_stray_float(Graph *g) { g->node[3].a.f[0] = 0.5; }

static const VerifyCase verify_cases[] = {
    {"topological", v_later, "dlc: verify after test: node %2 (matmul @t.dlm:3:1): operand 0 is %3, not an earlier node"},
    {"negative_operand", v_negative, "node %3 (relu @t.dlm:4:1): operand 0 is %-1, not an earlier node"},
    {"arity", v_arity, "node %2 (matmul @t.dlm:3:1): 1 operands, matmul takes 2"},
    {"stored_shape", v_shape, "node %3 (relu @t.dlm:4:1): stored type f32[N,7], the shape rule infers f32[N,3]"},
    {"stored_dtype", v_dtype, "stored type i32[N,3], the shape rule infers f32[N,3]"},
    {"rule_fails", v_rule, "node %4 (sum @t.dlm:5:1): shape rule fails: sum: axis 5 is out of range for rank 2"},
    {"two_batch_dims", v_two_n, "node %1 (param @t.dlm:2:1): shape [N,2N] has more than one batch-dependent dimension"},
    {"no_name", v_noname, "node %0 (input @t.dlm:1:1): input has no name"},
    {"dup_input", v_dup_input, "node %6 (input): input name \"x\" also used by %0"},
    {"dup_param", v_dup_param, "node %6 (param): param name \"w\" also used by %1"},
    {"dup_output", v_dup_output, "output \"y\": name also used by output 0"},
    {"output_range", v_output_range, "output \"y\" (@t.dlm:9:1): node %99 does not exist"},
    {"const_symbolic", v_const_sym, "node %5 (const): constant data with a batch-dependent shape"},
    {"nints", v_nints, "node %4 (sum @t.dlm:5:1): 17 int attributes, not in [0, 16]"},
    {"extra_ints", v_extra_ints, "node %3 (relu @t.dlm:4:1): 1 int attributes, relu takes 0"},
    {"rank", v_rank, "node %3 (relu @t.dlm:4:1): rank 7 is not in [0, 6]"},
    {"op", v_op, "node %3 (? @t.dlm:4:1): invalid op"},
    {"data_elsewhere", v_data_elsewhere, "node %3 (relu @t.dlm:4:1): constant data on a non-const node"},
    {"zero_dim", v_zero_dim, "node %1 (param @t.dlm:2:1): dimension 0 is 0"},
    {"stray_float", v_stray_float, "node %3 (relu @t.dlm:4:1): float attribute 0 is set, relu has 0"},
};

static void test_verify(void) {
  Graph *g = small();
  capture_begin();
  bool ok = ir_verify(g, NULL);
  char *msg = capture_end();
  check(ok && !*msg, "verify_valid", "%s", msg);
  free(msg);
  ir_free_graph(g);
  for (size_t k = 0; k < sizeof verify_cases / sizeof verify_cases[0]; k++) {
    const VerifyCase *c = &verify_cases[k];
    char name[64];
    g = small();
    c->breakit(g);
    capture_begin();
    ok = ir_verify(g, "test");
    msg = capture_end();
    snprintf(name, sizeof name, "verify_%s", c->name);
    check(!ok && strstr(msg, c->want), name, "want \"%s\"\n    got \"%s\"", c->want, msg);
    free(msg);
    ir_free_graph(g);
  }
  /* Without a pass name, and one line per violation. */
  g = small();
  v_shape(g);
  v_noname(g);
  capture_begin();
  ir_verify(g, NULL);
  msg = capture_end();
  int lines = 0;
  for (const char *p = msg; *p; p++) lines += *p == '\n';
  check(strncmp(msg, "dlc: verify: node %0", 20) == 0 && lines == 2, "verify_each_violation",
        "%s", msg);
  free(msg);
  ir_free_graph(g);
}

/* ---- Graphviz ---- */

static void test_dot(void) {
  Graph *g = build_all();
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  ir_dot(f, g);
  fclose(f);
  int missing = 0;
  char edge[64];
  for (int i = 0; i < g->nnode; i++)
    for (int k = 0; k < g->node[i].nin; k++) {
      snprintf(edge, sizeof edge, "  n%d -> n%d", g->node[i].in[k], i);
      if (!strstr(buf, edge) && !missing++) printf("    no edge \"%s\"\n", edge);
    }
  snprintf(edge, sizeof edge, "  n%d -> out0;", g->out[0].node);
  check(strncmp(buf, "digraph \"all \\\"ops\\\" model\\\\\" {", 30) == 0 && !missing &&
            strstr(buf, edge) && strstr(buf, "shape=invhouse") && strstr(buf, "shape=cylinder") &&
            strstr(buf, "shape=note") && strstr(buf, "shape=house"),
        "dot_nodes_and_edges", "%s", buf);
  if (system("command -v dot >/dev/null 2>&1") == 0) {
    FILE *p = popen("dot -Tsvg >/dev/null 2>&1", "w");
    fputs(buf, p);
    check(pclose(p) == 0, "dot_valid", "dot rejected:\n%s", buf);
  } else {
    printf("SKIP dot_valid (dot is not installed)\n");
  }
  free(buf);
  ir_free_graph(g);
}

int main(void) {
  diag_set_limit(0);
  test_rules();
  test_round_trip();
  test_parse_text();
  test_parse_errors();
  test_parse_recovery();
  test_parse_fuzz();
  test_verify();
  test_dot();
  printf("%d passed, %d failed\n", npass, nfail);
  return nfail != 0;
}
