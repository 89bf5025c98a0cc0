/* test_interp.c — the reference interpreter on small hand-computed cases.
 *
 * Every op, including broadcasting in both directions, keepdims, unordered
 * axes, batched matmul, three-way concat and softmax on large inputs; then
 * interp_node against interp_run on a mixed graph, the element-count check
 * on inputs, and the speed of an MLP forward pass. One line per check; on a
 * mismatch the first few indices with expected and actual values.
 */
#include "ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int npass, nfail;

static void report(bool ok, const char *name) {
  printf("%s %s\n", ok ? "PASS" : "FAIL", name);
  ok ? npass++ : nfail++;
}

static bool close_to(double want, double got, double tol) {
  if (isnan(want) || isnan(got)) return isnan(want) && isnan(got);
  if (isinf(want)) return want == got;
  return fabs(want - got) <= tol * (1 + fabs(want));
}

/* PASS/FAIL name comparing t with want[n]; prints the first mismatches. */
static void check_vals(const char *name, const Tensor *t, const double *want,
                       int64_t n, double tol) {
  if (!t || !t->v || t->n != n) {
    report(false, name);
    printf("    got %lld values, expected %lld\n", (long long)(t ? t->n : -1),
           (long long)n);
    return;
  }
  int bad = 0;
  for (int64_t i = 0; i < n; i++)
    if (!close_to(want[i], t->v[i], tol) && bad++ < 4)
      printf("    [%lld] expected %.17g, got %.17g\n", (long long)i, want[i], t->v[i]);
  if (bad) printf("    (%d mismatches in %s)\n", bad, name);
  report(!bad, name);
}

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

static Attrs ints(int n, ...) {
  Attrs a = {.nints = n};
  va_list ap;
  va_start(ap, n);
  for (int k = 0; k < n; k++) a.ints[k] = va_arg(ap, int);
  va_end(ap);
  return a;
}

/* An operand: its type ("f32[N,3]") and values for the given N. */
typedef struct Arg {
  const char *type;
  const double *v;
} Arg;

/* Runs op on inputs built from args, with the graph evaluated at N; the
 * result belongs to the caller. shaped: the result type of reshape and
 * broadcast. */
static Tensor run_op(Op op, int nin, const Arg *args, Attrs a, const char *shaped,
                     int64_t N) {
  Graph *g = ir_new_graph("t");
  int in[8];
  Tensor vals[8];
  for (int k = 0; k < nin; k++) {
    DType t;
    Shape s = type_of(args[k].type, &t);
    char name[16];
    snprintf(name, sizeof name, "a%d", k);
    in[k] = ir_input(g, name, t, s, IN_DATA, 0, (Loc){0});
    vals[k] = (Tensor){.dtype = t, .n = numel_eval(&s, N), .v = (double *)args[k].v};
  }
  DType t = DT_F32;
  Shape s = {0};
  if (shaped) s = type_of(shaped, &t);
  char why[256];
  int i = ir_add_shaped(g, op, in, nin, &a, t, s, (Loc){0}, why);
  if (i < 0) die("run_op %s: %s", op_info[op].name, why);
  Tensor *v = interp_run(g, N, vals, NULL);
  if (!v) die("run_op %s: interp_run failed", op_info[op].name);
  Tensor out = v[i];
  v[i] = (Tensor){0};
  interp_free(g, v);
  ir_free_graph(g);
  return out;
}

#define LEN(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))
#define CHECK(name, t, ...)                                       \
  do {                                                            \
    const double want_[] = {__VA_ARGS__};                         \
    Tensor t_ = (t);                                              \
    check_vals(name, &t_, want_, LEN(want_), 1e-12);              \
    tensor_free(&t_);                                             \
  } while (0)

static const Arg X5 = {"f32[5]", (const double[]){-2, -0.5, 0, 0.5, 2}};

static Tensor un(Op op, Arg x) {
  Attrs a = {.f = {*op_info[op].floats ? 0.1 : 0}}; /* leaky_relu's alpha */
  return run_op(op, 1, &x, a, NULL, 1);
}

static void test_unary(void) {
  CHECK("unary_neg", un(OP_NEG, X5), 2, 0.5, 0, -0.5, -2);
  CHECK("unary_abs", un(OP_ABS, X5), 2, 0.5, 0, 0.5, 2);
  CHECK("unary_relu", un(OP_RELU, X5), 0, 0, 0, 0.5, 2);
  CHECK("unary_leaky_relu", un(OP_LEAKY_RELU, X5), -0.2, -0.05, 0, 0.5, 2);
  CHECK("unary_sigmoid", un(OP_SIGMOID, X5), 0.11920292202211755, 0.3775406687981454,
        0.5, 0.6224593312018546, 0.8807970779778823);
  CHECK("unary_tanh", un(OP_TANH, X5), -0.9640275800758169, -0.46211715726000974, 0,
        0.46211715726000974, 0.9640275800758169);
  CHECK("unary_exp", un(OP_EXP, X5), 0.1353352832366127, 0.6065306597126334, 1,
        1.6487212707001282, 7.38905609893065);
  Arg pos = {"f32[4]", (const double[]){1, 2.718281828459045, 0.5, 4}};
  CHECK("unary_log", un(OP_LOG, pos), 0, 1, -0.6931471805599453, 1.3862943611198906);
  Arg sq = {"f32[4]", (const double[]){0, 1, 2, 9}};
  CHECK("unary_sqrt", un(OP_SQRT, sq), 0, 1, 1.4142135623730951, 3);
  Arg big = {"f32[2]", (const double[]){-1000, 1000}};
  CHECK("unary_sigmoid_extremes", un(OP_SIGMOID, big), 0, 1);
}

static Tensor bin(Op op, Arg a, Arg b, int64_t N) {
  Arg args[2] = {a, b};
  return run_op(op, 2, args, (Attrs){.nints = 0}, NULL, N);
}

static const double ONE_TO_SIX[] = {1, 2, 3, 4, 5, 6};

static void test_binary(void) {
  Arg a23 = {"f32[2,3]", ONE_TO_SIX}, b3 = {"f32[3]", (const double[]){10, 20, 30}};
  CHECK("binary_add_right_broadcast", bin(OP_ADD, a23, b3, 1), 11, 22, 33, 14, 25, 36);
  CHECK("binary_sub_left_broadcast", bin(OP_SUB, b3, a23, 1), 9, 18, 27, 6, 15, 24);
  Arg c21 = {"f32[2,1]", (const double[]){1, 2}}, r13 = {"f32[1,3]", (const double[]){10, 20, 30}};
  CHECK("binary_mul_both_broadcast", bin(OP_MUL, c21, r13, 1), 10, 20, 30, 20, 40, 60);
  Arg two = {"f32[]", (const double[]){2}};
  CHECK("binary_div_scalar", bin(OP_DIV, a23, two, 1), 0.5, 1, 1.5, 2, 2.5, 3);
  CHECK("binary_div_scalar_left", bin(OP_DIV, two, (Arg){"f32[2]", (const double[]){4, -8}}, 1),
        0.5, -0.25);
  Arg m = {"f32[2,3]", (const double[]){1, 5, 3, 4, 2, 6}}, c = {"f32[2,1]", (const double[]){3, 4}};
  CHECK("binary_maximum", bin(OP_MAXIMUM, m, c, 1), 3, 5, 3, 4, 4, 6);
  CHECK("binary_minimum", bin(OP_MINIMUM, m, c, 1), 1, 3, 3, 4, 2, 4);
  Arg nan2 = {"f32[2]", (const double[]){NAN, 1}}, one2 = {"f32[2]", (const double[]){1, NAN}};
  CHECK("binary_maximum_nan", bin(OP_MAXIMUM, nan2, one2, 1), NAN, NAN);
  Arg n2 = {"f32[N,2]", ONE_TO_SIX}, b2 = {"f32[2]", (const double[]){100, 200}};
  CHECK("binary_add_batch_n3", bin(OP_ADD, n2, b2, 3), 101, 202, 103, 204, 105, 206);
  /* [2,1,3] + [4,1] -> [2,4,3]: out[i,j,k] = a[i,0,k] + b[j,0]. */
  Arg a213 = {"f32[2,1,3]", ONE_TO_SIX}, b41 = {"f32[4,1]", (const double[]){10, 20, 30, 40}};
  double want[24];
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 4; j++)
      for (int k = 0; k < 3; k++) want[i * 12 + j * 3 + k] = ONE_TO_SIX[i * 3 + k] + 10 * (j + 1);
  Tensor t = bin(OP_ADD, a213, b41, 1);
  check_vals("binary_add_rank3_both_ways", &t, want, 24, 0);
  report(t.shape.rank == 3 && t.shape.d[0] == 2 && t.shape.d[1] == 4 && t.shape.d[2] == 3,
         "binary_result_shape");
  tensor_free(&t);
}

static double IOTA24[24];

static Tensor red(Op op, const char *type, const double *v, Attrs a, int64_t N) {
  Arg x = {type, v};
  return run_op(op, 1, &x, a, NULL, N);
}

static void test_reduce(void) {
  for (int i = 0; i < 24; i++) IOTA24[i] = i; /* x[i,j,k] = 12i + 4j + k */
  const char *x = "f32[2,3,4]";
  CHECK("reduce_sum_axis1", red(OP_SUM, x, IOTA24, ints(2, 0, 1), 1), 12, 15, 18, 21, 48,
        51, 54, 57);
  Tensor t = red(OP_SUM, x, IOTA24, ints(3, 1, 0, 2), 1);
  report(t.shape.rank == 3 && t.shape.d[0] == 1 && t.shape.d[1] == 3 && t.shape.d[2] == 1,
         "reduce_keepdims_shape");
  check_vals("reduce_sum_keepdims_axes02", &t, (const double[]){60, 92, 124}, 3, 0);
  tensor_free(&t);
  CHECK("reduce_sum_axes_unordered", red(OP_SUM, x, IOTA24, ints(3, 0, 2, 0), 1), 60, 92, 124);
  CHECK("reduce_sum_all", red(OP_SUM, x, IOTA24, ints(1, 0), 1), 276);
  CHECK("reduce_sum_all_no_attrs", red(OP_SUM, x, IOTA24, (Attrs){.nints = 0}, 1), 276);
  CHECK("reduce_mean_axis2", red(OP_MEAN, x, IOTA24, ints(2, 0, 2), 1), 1.5, 5.5, 9.5, 13.5,
        17.5, 21.5);
  CHECK("reduce_mean_all", red(OP_MEAN, x, IOTA24, ints(1, 1), 1), 11.5);
  CHECK("reduce_max_axis1", red(OP_MAX, x, IOTA24, ints(2, 0, 1), 1), 8, 9, 10, 11, 20, 21,
        22, 23);
  CHECK("reduce_max_negative", red(OP_MAX, "f32[3]", (const double[]){-5, -3, -9},
                                   ints(1, 0), 1), -3);
  CHECK("reduce_sum_batch_keepdims", red(OP_SUM, "f32[N,3]", ONE_TO_SIX, ints(2, 1, 1), 2),
        6, 15);
  CHECK("reduce_mean_over_batch", red(OP_MEAN, "f32[N,3]", ONE_TO_SIX, ints(2, 0, 0), 2),
        2.5, 3.5, 4.5);
}

static void test_softmax(void) {
  const double p0 = 0.09003057317038046, p1 = 0.24472847105479767, p2 = 0.6652409557748219;
  Arg x = {"f32[2,3]", (const double[]){0, 1, 2, 1000, 1001, 1002}};
  Tensor t = run_op(OP_SOFTMAX, 1, &x, ints(1, 1), NULL, 1);
  check_vals("softmax_rows_and_large_inputs", &t, (const double[]){p0, p1, p2, p0, p1, p2}, 6,
             1e-12);
  report(fabs(t.v[0] + t.v[1] + t.v[2] - 1) < 1e-15 && fabs(t.v[3] + t.v[4] + t.v[5] - 1) < 1e-15,
         "softmax_rows_sum_to_1");
  tensor_free(&t);
  CHECK("log_softmax_large_inputs", run_op(OP_LOG_SOFTMAX, 1, &x, ints(1, 1), NULL, 1),
        log(p0), log(p1), log(p2), log(p0), log(p1), log(p2));
  const double s0 = 0.11920292202211755, s1 = 0.8807970779778823;
  Arg y = {"f32[2,3]", (const double[]){0, 1, 2, 2, 1, 0}};
  CHECK("softmax_axis0", run_op(OP_SOFTMAX, 1, &y, ints(1, 0), NULL, 1), s0, 0.5, s1, s1, 0.5,
        s0);
  /* Middle axis of [2,2,2]: pairs (x[i,0,k], x[i,1,k]) differ by 2. */
  Arg z = {"f32[2,2,2]", (const double[]){0, 1, 2, 3, 4, 5, 6, 7}};
  CHECK("softmax_middle_axis", run_op(OP_SOFTMAX, 1, &z, ints(1, 1), NULL, 1), s0, s0, s1, s1,
        s0, s0, s1, s1);
  Arg w = {"f32[N,2]", (const double[]){-1e308, 1e308, 5, 5}};
  CHECK("softmax_extremes_batch", run_op(OP_SOFTMAX, 1, &w, ints(1, 1), NULL, 2), 0, 1, 0.5,
        0.5);
}

static void test_movement(void) {
  Arg a23 = {"f32[2,3]", ONE_TO_SIX};
  CHECK("reshape_copies", run_op(OP_RESHAPE, 1, &a23, (Attrs){.nints = 0}, "f32[3,2]", 1), 1,
        2, 3, 4, 5, 6);
  Arg n3 = {"f32[N,3]", ONE_TO_SIX};
  CHECK("reshape_batch", run_op(OP_RESHAPE, 1, &n3, (Attrs){.nints = 0}, "f32[3N]", 2), 1, 2,
        3, 4, 5, 6);
  Arg r3 = {"f32[3]", (const double[]){1, 2, 3}}, c2 = {"f32[2,1]", (const double[]){1, 2}};
  CHECK("broadcast_rows", run_op(OP_BROADCAST, 1, &r3, (Attrs){.nints = 0}, "f32[2,3]", 1), 1,
        2, 3, 1, 2, 3);
  CHECK("broadcast_columns", run_op(OP_BROADCAST, 1, &c2, (Attrs){.nints = 0}, "f32[2,3]", 1),
        1, 1, 1, 2, 2, 2);
  Arg s = {"f32[]", (const double[]){7}};
  CHECK("broadcast_scalar_batch", run_op(OP_BROADCAST, 1, &s, (Attrs){.nints = 0}, "f32[N,2]", 2),
        7, 7, 7, 7);
  CHECK("transpose_2d", run_op(OP_TRANSPOSE, 1, &a23, ints(2, 1, 0), NULL, 1), 1, 4, 2, 5, 3, 6);
  Arg x = {"f32[2,3,4]", IOTA24};
  Tensor t = run_op(OP_TRANSPOSE, 1, &x, ints(3, 2, 0, 1), NULL, 1);
  double want[24]; /* out[k,i,j] = x[i,j,k] */
  for (int k = 0; k < 4; k++)
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 3; j++) want[k * 6 + i * 3 + j] = 12 * i + 4 * j + k;
  check_vals("transpose_3d", &t, want, 24, 0);
  report(t.shape.d[0] == 4 && t.shape.d[1] == 2 && t.shape.d[2] == 3, "transpose_shape");
  tensor_free(&t);
  Arg ints3 = {"i32[2,3]", ONE_TO_SIX};
  t = run_op(OP_TRANSPOSE, 1, &ints3, ints(2, 1, 0), NULL, 1);
  report(t.dtype == DT_I32 && t.v[1] == 4, "transpose_i32");
  tensor_free(&t);
}

static void test_concat(void) {
  Arg three[3] = {{"f32[2,1]", (const double[]){1, 2}},
                  {"f32[2,2]", (const double[]){3, 4, 5, 6}},
                  {"f32[2,1]", (const double[]){7, 8}}};
  CHECK("concat3_axis1", run_op(OP_CONCAT, 3, three, ints(1, 1), NULL, 1), 1, 3, 4, 7, 2, 5, 6, 8);
  Arg rows[3] = {{"f32[1,2]", (const double[]){1, 2}},
                 {"f32[2,2]", (const double[]){3, 4, 5, 6}},
                 {"f32[1,2]", (const double[]){7, 8}}};
  CHECK("concat3_axis0", run_op(OP_CONCAT, 3, rows, ints(1, 0), NULL, 1), 1, 2, 3, 4, 5, 6, 7, 8);
  Arg batch[2] = {{"f32[N,2]", (const double[]){1, 2, 3, 4}},
                  {"f32[N,1]", (const double[]){9, 8}}};
  CHECK("concat_batch_axis1", run_op(OP_CONCAT, 2, batch, ints(1, 1), NULL, 2), 1, 2, 9, 3, 4, 8);
  Arg one[1] = {{"f32[2]", (const double[]){1, 2}}};
  CHECK("concat_single", run_op(OP_CONCAT, 1, one, ints(1, 0), NULL, 1), 1, 2);
}

static void test_matmul(void) {
  Arg b = {"f32[3,2]", (const double[]){7, 8, 9, 10, 11, 12}};
  Arg a[2] = {{"f32[2,3]", ONE_TO_SIX}, b};
  CHECK("matmul_2d", run_op(OP_MATMUL, 2, a, (Attrs){.nints = 0}, NULL, 1), 58, 64, 139, 154);
  Arg lead[2] = {{"f32[2,2,3]", (const double[]){1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1}}, b};
  CHECK("matmul_leading_dims", run_op(OP_MATMUL, 2, lead, (Attrs){.nints = 0}, NULL, 1), 58,
        64, 139, 154, 131, 146, 50, 56);
  Arg bat[2] = {{"f32[2,2,2]", (const double[]){1, 2, 3, 4, 1, 0, 0, 1}},
                {"f32[2,2,2]", (const double[]){5, 6, 7, 8, 2, 3, 4, 5}}};
  CHECK("matmul_batched", run_op(OP_MATMUL, 2, bat, (Attrs){.nints = 0}, NULL, 1), 19, 22, 43,
        50, 2, 3, 4, 5);
  Arg batn[2] = {{"f32[N,1,2]", (const double[]){1, 2, 3, 4}},
                 {"f32[N,2,1]", (const double[]){5, 6, 7, 8}}};
  CHECK("matmul_batched_n", run_op(OP_MATMUL, 2, batn, (Attrs){.nints = 0}, NULL, 2), 17, 53);
  Arg rowv[2] = {{"f32[N,3]", ONE_TO_SIX}, b};
  CHECK("matmul_batch_rows", run_op(OP_MATMUL, 2, rowv, (Attrs){.nints = 0}, NULL, 2), 58, 64,
        139, 154);
}

/* Captures what a call writes to fd 2. */
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

static int add(Graph *g, Op op, int a, int b, Attrs at) {
  int in[2] = {a, b};
  char why[256];
  int i = ir_add(g, op, in, b < 0 ? 1 : 2, &at, (Loc){0}, why);
  if (i < 0) die("test graph: %s", why);
  return i;
}

static Shape shp(int rank, int64_t d0, int64_t d1) {
  return shape_make(rank, (int64_t[]){d0, d1});
}

/* x[N,4] -> dense(5) -> relu -> dense(3) -> softmax, plus consts,
 * transpose, concat and a reduction, for interp_node vs interp_run. */
static void test_sources_and_node(void) {
  Graph *g = ir_new_graph("mixed");
  int x = ir_input(g, "x", DT_F32, shp(2, -1, 4), IN_DATA, 0, (Loc){0});
  int w1 = ir_param(g, "w1", DT_F32, shp(2, 4, 5), (Init){0}, (Loc){0});
  int b1 = ir_const(g, DT_F32, shp(1, 5, 0), 0, (const double[]){1, -1, 2, -2, 0.5}, (Loc){0});
  int w2 = ir_param(g, "w2", DT_F32, shp(2, 5, 3), (Init){0}, (Loc){0});
  int half = ir_const(g, DT_F32, shp(0, 0, 0), 0.5, NULL, (Loc){0});
  int h = add(g, OP_RELU, add(g, OP_ADD, add(g, OP_MATMUL, x, w1, (Attrs){.nints = 0}), b1,
                              (Attrs){.nints = 0}), -1, (Attrs){.nints = 0});
  int y = add(g, OP_SOFTMAX, add(g, OP_MATMUL, h, w2, (Attrs){.nints = 0}), -1, ints(1, 1));
  int ht = add(g, OP_TRANSPOSE, h, -1, ints(2, 1, 0));
  int cat[3] = {y, y, add(g, OP_MUL, y, half, (Attrs){.nints = 0})};
  Attrs ax = ints(1, 1);
  char why[256];
  ir_add(g, OP_CONCAT, cat, 3, &ax, (Loc){0}, why);
  add(g, OP_MEAN, ht, -1, ints(2, 0, 1));
  double xv[12], w1v[20], w2v[15];
  for (int i = 0; i < 12; i++) xv[i] = sin(i + 1);
  for (int i = 0; i < 20; i++) w1v[i] = cos(i) / 2;
  for (int i = 0; i < 15; i++) w2v[i] = (i % 4) - 1.5;
  Tensor in = {DT_F32, shp(2, 3, 4), 12, xv};
  Tensor ps[2] = {{DT_F32, shp(2, 4, 5), 20, w1v}, {DT_F32, shp(2, 5, 3), 15, w2v}};
  Tensor *v = interp_run(g, 3, &in, ps);
  report(v && v[w1].v[7] == w1v[7] && v[w2].v[14] == w2v[14] && v[x].v[11] == xv[11],
         "interp_sources_in_node_order");
  report(v && v[b1].v[3] == -2 && v[half].n == 1 && v[half].v[0] == 0.5, "interp_consts");
  int bad = -1;
  for (int i = 0; v && i < g->nnode; i++) {
    const Node *n = &g->node[i];
    if (n->op == OP_INPUT || n->op == OP_PARAM) continue;
    Tensor ops[3];
    for (int k = 0; k < n->nin; k++) ops[k] = v[n->in[k]];
    Tensor t = interp_node(g, i, ops, 3);
    if (t.n != v[i].n || memcmp(t.v, v[i].v, sizeof(double) * (size_t)t.n)) bad = i;
    tensor_free(&t);
  }
  report(v && bad < 0, "interp_node_agrees_with_run");
  if (bad >= 0) printf("    node %%%d differs\n", bad);
  interp_free(g, v);
  /* Wrong element count: NULL and a message naming the input. */
  in.n = 11;
  capture_begin();
  v = interp_run(g, 3, &in, ps);
  char *msg = capture_end();
  report(!v && strstr(msg, "input \"x\" needs 12 values (f32[N,4] with N=3), got 11"),
         "interp_input_count_checked");
  if (v || !strstr(msg, "needs 12")) printf("    %s\n", msg);
  free(msg);
  interp_free(g, v);
  in.n = 12;
  capture_begin();
  v = interp_run(g, 3, &in, NULL);
  msg = capture_end();
  report(!v && strstr(msg, "no values given for param \"w1\""), "interp_missing_params");
  free(msg);
  ir_free_graph(g);
}

/* The MLP 784-256-128-10 forward pass at N=256 must take well under a
 * second (about 0.15 s): the oracle must be usable on real models.
 * Sanitizer builds run several times slower and get more room. */
#if defined(__SANITIZE_ADDRESS__) /* gcc */
#define MLP_SECONDS 5.0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) /* clang */
#define MLP_SECONDS 5.0
#endif
#endif
#ifndef MLP_SECONDS
#define MLP_SECONDS 1.0
#endif

static void test_mlp_speed(void) {
  Graph *g = ir_new_graph("mlp");
  int h = ir_input(g, "x", DT_F32, shp(2, -1, 784), IN_DATA, 0, (Loc){0});
  const int64_t sizes[] = {784, 256, 128, 10};
  Tensor params[6];
  for (int l = 0; l < 3; l++) {
    char wn[16], bn[16];
    snprintf(wn, sizeof wn, "w%d", l);
    snprintf(bn, sizeof bn, "b%d", l);
    int w = ir_param(g, wn, DT_F32, shp(2, sizes[l], sizes[l + 1]), (Init){0}, (Loc){0});
    int b = ir_param(g, bn, DT_F32, shp(1, sizes[l + 1], 0), (Init){0}, (Loc){0});
    params[2 * l] = tensor_new(DT_F32, g->node[w].shape);
    params[2 * l + 1] = tensor_new(DT_F32, g->node[b].shape);
    for (int64_t i = 0; i < params[2 * l].n; i++) params[2 * l].v[i] = sin((double)i) * 0.05;
    h = add(g, OP_ADD, add(g, OP_MATMUL, h, w, (Attrs){.nints = 0}), b, (Attrs){.nints = 0});
    if (l < 2) h = add(g, OP_RELU, h, -1, (Attrs){.nints = 0});
  }
  add(g, OP_SOFTMAX, h, -1, ints(1, 1));
  Tensor x = tensor_new(DT_F32, shp(2, 256, 784));
  for (int64_t i = 0; i < x.n; i++) x.v[i] = (double)(i % 255) / 255;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  Tensor *v = interp_run(g, 256, &x, params);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  const Tensor *out = v ? &v[g->nnode - 1] : NULL;
  double row = 0;
  for (int j = 0; out && j < 10; j++) row += out->v[j];
  report(out && out->n == 2560 && fabs(row - 1) < 1e-12 && s < MLP_SECONDS, "interp_mlp_speed");
  printf("    mlp 784-256-128-10, N=256: %.3f s (limit %.0f s)\n", s, MLP_SECONDS);
  interp_free(g, v);
  tensor_free(&x);
  for (int k = 0; k < 6; k++) tensor_free(&params[k]);
  ir_free_graph(g);
}

int main(void) {
  test_unary();
  test_binary();
  test_reduce();
  test_softmax();
  test_movement();
  test_concat();
  test_matmul();
  test_sources_and_node();
  test_mlp_speed();
  printf("%d passed, %d failed\n", npass, nfail);
  return nfail != 0;
}
