/* test_frontend.c — unit tests of the .dlm frontend: the example models
 * lower to the graphs they describe, language rules (folding, scopes,
 * block expansion, parameter naming, initializers, the train section's
 * canonical text), error counts (one error per mistake, no cascades), and
 * robustness against mutated input. Message wording is covered by the
 * golden files in tests/parse/.
 *
 * One line per check (PASS name / FAIL name plus indented detail lines), the
 * last line "N passed, N failed"; the exit status is non-zero on a failure.
 */
#include "frontend.h"

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

/* Diagnostics of expected failures go to a scratch file, not the log. */
static FILE *quiet;

static Graph *load(const char *text) {
  diag_reset();
  return fe_load_text("t.dlm", text);
}

/* How many errors text produces (its graph must be NULL). */
static int errors_of(const char *text) {
  diag_set_stream(quiet);
  Graph *g = load(text);
  diag_set_stream(NULL);
  int n = diag_count();
  ir_free_graph(g);
  return g ? -1 : n;
}

static const char *train_value(const Graph *g, const char *key) {
  for (int i = 0; i < g->ntrain; i++)
    if (strcmp(g->train[i].key, key) == 0)
      return g->train[i].value;
  return "(missing)";
}

static const char *type_of(const Graph *g, int node) {
  static char buf[64];
  if (node < 0)
    return "(none)";
  shape_str(buf, sizeof buf, g->node[node].dtype, &g->node[node].shape);
  return buf;
}

static bool has_param(const Graph *g, const char *name, const char *type) {
  int i = ir_find_param(g, name);
  return i >= 0 && strcmp(type_of(g, i), type) == 0;
}

/* The repository's models/ folder: the test may run in any directory, so
 * it is found from this program's path (build/unit/test_frontend). */
static const char *model_path(const char *name) {
  static char buf[4096];
  snprintf(buf, sizeof buf, "models/%s", name);
  if (access(buf, R_OK) == 0)
    return buf;
  char exe[4000];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = 0;
  for (int up = 0; up < 3; up++) {
    char *slash = strrchr(exe, '/');
    if (slash)
      *slash = 0;
  }
  snprintf(buf, sizeof buf, "%s/models/%s", exe, name);
  return buf;
}

static Graph *load_model(const char *name) {
  const char *path = model_path(name);
  diag_reset();
  Graph *g = fe_load(path);
  if (!check(g != NULL && ir_verify(g, "frontend"), name, "%s does not load",
             path))
    return NULL;
  return g;
}

/* ---- the example models --------------------------------------------------- */

static void test_mlp(void) {
  Graph *g = load_model("mlp.dlm");
  if (!g)
    return;
  static const char *const params[][2] = {
    {"dense1.W", "f32[784,256]"}, {"dense1.b", "f32[256]"},
    {"dense2.W", "f32[256,128]"}, {"dense2.b", "f32[128]"},
    {"dense3.W", "f32[128,10]"}, {"dense3.b", "f32[10]"},
  };
  bool ok = true;
  for (int i = 0; i < 6; i++)
    ok = ok && has_param(g, params[i][0], params[i][1]);
  check(ok && ir_param_count(g) == 784 * 256 + 256 + 256 * 128 + 128 +
                                       128 * 10 + 10,
        "mlp params", "wrong parameters");
  int w = ir_find_param(g, "dense1.W");
  check(g->node[w].init.kind == INIT_XAVIER_UNIFORM &&
        g->node[w].init.fan_in == 784 && g->node[w].init.fan_out == 256,
        "mlp init", "dense1.W init %s %lld %lld", init_name[g->node[w].init.kind],
        (long long)g->node[w].init.fan_in, (long long)g->node[w].init.fan_out);
  check(g->nout == 1 && strcmp(g->out[0].name, "probs") == 0 &&
        g->node[g->out[0].node].op == OP_SOFTMAX &&
        strcmp(type_of(g, g->out[0].node), "f32[N,10]") == 0,
        "mlp output", "output is %s", type_of(g, g->out[0].node));
  int y = ir_find_input(g, "y");
  check(y >= 0 && g->node[y].ikind == IN_LABEL && g->node[y].classes == 10,
        "mlp label", NULL);
  check(strcmp(g->name, "mlp") == 0, "mlp name", "name %s", g->name);
  /* The loss lowers to the mean of the per-sample cross-entropy of the
     logits (dense3's add) against the label y. */
  const Node *loss = g->loss >= 0 ? &g->node[g->loss] : NULL;
  const Node *ce = loss && loss->nin == 1 ? &g->node[loss->in[0]] : NULL;
  check(loss && loss->op == OP_MEAN && strcmp(type_of(g, g->loss), "f32[]") == 0 &&
        ce && ce->op == OP_CROSS_ENTROPY && ce->in[1] == y &&
        g->node[ce->in[0]].op == OP_ADD && g->node[ce->in[0]].in[1] ==
        ir_find_param(g, "dense3.b") && loss->loc.line == 16,
        "mlp loss node", "loss %d: %s of %s", g->loss,
        loss ? op_info[loss->op].name : "-", ce ? op_info[ce->op].name : "-");
  check(strcmp(train_value(g, "loss"), "cross_entropy(logits, y)") == 0 &&
        strcmp(train_value(g, "optimizer"), "sgd(lr=0.01, momentum=0.9)") == 0 &&
        strcmp(train_value(g, "batch"), "64") == 0 &&
        strcmp(train_value(g, "epochs"), "5") == 0 &&
        strcmp(train_value(g, "data.format"), "idx") == 0 &&
        strcmp(train_value(g, "data.scale"), "0.0039215686274509803") == 0 &&
        strstr(train_value(g, "data.images"), "train-images-idx3-ubyte.gz"),
        "mlp train", "optimizer %s scale %s", train_value(g, "optimizer"),
        train_value(g, "data.scale"));
  ir_free_graph(g);
}

/* The explicit version has the same parameters under other names. */
static void test_mlp_explicit(void) {
  Graph *g = load_model("mlp_explicit.dlm");
  Graph *d = load_model("mlp.dlm");
  if (!g || !d)
    return;
  int ng, nd;
  int *pg = ir_params(g, &ng), *pd = ir_params(d, &nd);
  bool same = ng == nd;
  for (int i = 0; same && i < ng; i++) {
    const Node *a = &g->node[pg[i]], *b = &d->node[pd[i]];
    same = shape_equal(&a->shape, &b->shape) && a->init.kind == b->init.kind &&
           a->init.fan_in == b->init.fan_in &&
           a->init.fan_out == b->init.fan_out;
  }
  check(same && has_param(g, "linear3.W", "f32[128,10]"),
        "mlp_explicit params", "parameters differ from mlp.dlm");
  ir_free_graph(g);
  ir_free_graph(d);
}

static double unit_random(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(*s >> 11) / 9007199254740992.0;
}

/* Every op once; the outputs must be finite for inputs in [0, 1). */
static void test_ops(void) {
  Graph *g = load_model("ops.dlm");
  if (!g)
    return;
  /* The ops the language exposes (internal ops such as broadcast, and
     those used only by passes, are not written in .dlm). */
  static const Op exposed[] = {
    OP_NEG, OP_EXP, OP_LOG, OP_SQRT, OP_ABS, OP_RELU, OP_LEAKY_RELU,
    OP_SIGMOID, OP_TANH, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MAXIMUM,
    OP_MINIMUM, OP_SUM, OP_MEAN, OP_MAX, OP_SOFTMAX, OP_LOG_SOFTMAX,
    OP_RESHAPE, OP_TRANSPOSE, OP_CONCAT, OP_MATMUL, OP_SLICE, OP_DROPOUT,
    OP_ONE_HOT, OP_CROSS_ENTROPY,
  };
  bool seen[OP_COUNT] = {0};
  for (int i = 0; i < g->nnode; i++)
    seen[g->node[i].op] = true;
  int missing = -1;
  for (size_t k = 0; k < sizeof exposed / sizeof exposed[0]; k++)
    if (!seen[exposed[k]])
      missing = exposed[k];
  check(missing < 0, "ops covers every op", "no %s",
        missing >= 0 ? op_info[missing].name : "");
  enum { BATCH = 5 };
  uint64_t seed = 1;
  int nin, npar;
  int *in = ir_inputs(g, &nin), *par = ir_params(g, &npar);
  Tensor *inputs = calloc((size_t)nin, sizeof *inputs);
  Tensor *params = calloc((size_t)npar, sizeof *params);
  for (int i = 0; i < nin + npar; i++) {
    const Node *n = &g->node[i < nin ? in[i] : par[i - nin]];
    Shape s = n->shape;
    for (int k = 0; k < s.rank; k++)
      s.d[k] = dim_eval(s.d[k], BATCH);
    Tensor *t = i < nin ? &inputs[i] : &params[i - nin];
    *t = tensor_new(n->dtype, s);
    for (int64_t k = 0; k < t->n; k++)
      t->v[k] = n->dtype == DT_I32 ? floor(unit_random(&seed) * (double)n->classes)
              : i < nin ? unit_random(&seed) : unit_random(&seed) - 0.5;
  }
  Tensor *vals = interp_run(g, BATCH, inputs, params);
  bool finite = vals != NULL;
  for (int o = 0; finite && o < g->nout; o++) {
    const Tensor *t = &vals[g->out[o].node];
    for (int64_t k = 0; k < t->n; k++)
      finite = finite && isfinite(t->v[k]);
  }
  check(finite, "ops outputs are finite", NULL);
  if (vals)
    interp_free(g, vals);
  for (int i = 0; i < nin; i++)
    tensor_free(&inputs[i]);
  for (int i = 0; i < npar; i++)
    tensor_free(&params[i]);
  free(inputs);
  free(params);
  ir_free_graph(g);
}

/* ---- language rules ------------------------------------------------------- */

static void test_folding(void) {
  Graph *g = load("input x: f32[N, 4]\n"
                  "k = 2 * (3 + 1) - 1/4\n"
                  "output y = x * k\n");
  bool ok = g && g->node[1].op == OP_CONST && g->node[1].a.f[0] == 7.75 &&
            g->node[2].op == OP_MUL;
  check(ok, "numbers fold", NULL);
  ir_free_graph(g);
  g = load("input x: f32[N, 2, 28]\n"
           "output y = reshape(x, [N * 2, 28])\n");
  check(g && strcmp(type_of(g, g->out[0].node), "f32[2N,28]") == 0,
        "reshape with k*N", "got %s", g ? type_of(g, g->out[0].node) : "");
  ir_free_graph(g);
}

static void test_blocks(void) {
  Graph *g = load("input x: f32[N, 8]\n"
                  "block res(a) {\n"
                  "  return a + dense(relu(a), 8)\n"
                  "}\n"
                  "block two(a) {\n"
                  "  return res(res(a))\n"
                  "}\n"
                  "h = res(x)\n"
                  "h = two(h)\n"
                  "h = dense(h, 8, name = \"head\", bias = false)\n"
                  "output y = dense(h, 8)\n");
  bool ok = g && has_param(g, "res1.dense1.W", "f32[8,8]") &&
            has_param(g, "two1.res1.dense1.b", "f32[8]") &&
            has_param(g, "two1.res2.dense1.W", "f32[8,8]") &&
            has_param(g, "head.W", "f32[8,8]") &&
            ir_find_param(g, "head.b") < 0 &&
            has_param(g, "dense2.W", "f32[8,8]");
  check(ok, "block and layer parameter names", NULL);
  ir_free_graph(g);
  g = load("input x: f32[N, 4]\n"
           "block lin(v, n, m = n) {\n"
           "  param W: f32[n, m]\n"
           "  return matmul(v, W)\n"
           "}\n"
           "output y = lin(x, 4)\n");
  check(g && has_param(g, "lin1.W", "f32[4,4]"), "block defaults", NULL);
  ir_free_graph(g);
}

static void test_params(void) {
  Graph *g = load("input x: f32[N, 3, 8, 8]\n"
                  "param K: f32[16, 3, 5, 5] init he\n"
                  "param v: f32[16]\n"
                  "param M: f32[4, 4]\n"
                  "param c: f32[4] init normal(0, 0.5)\n"
                  "output y = x\n");
  bool ok = g != NULL;
  if (ok) {
    const Node *k = &g->node[ir_find_param(g, "K")];
    ok = k->init.kind == INIT_HE_NORMAL && k->init.fan_in == 75 &&
         k->init.fan_out == 400 &&
         g->node[ir_find_param(g, "v")].init.kind == INIT_ZEROS &&
         g->node[ir_find_param(g, "M")].init.kind == INIT_XAVIER_UNIFORM &&
         g->node[ir_find_param(g, "c")].init.b == 0.5;
  }
  check(ok, "initializers and fans", NULL);
  ir_free_graph(g);
}

static void test_axes_and_train(void) {
  Graph *g = load("model net\n"
                  "input x: f32[N, 4, 3]\n"
                  "label t: f32[N, 4]\n"
                  "s = sum(x, axis = -1, keepdims = true)\n"
                  "output y = softmax(x, axis = -2)\n"
                  "train {\n"
                  "  loss = mse(sum(x, axis = -1), t) * (1 + 1)\n"
                  "  optimizer = adam\n"
                  "  lr_schedule = step(every = 2)\n"
                  "  l2 = 1e-4; seed = 7; shuffle = true; epochs = 10\n"
                  "}\n");
  bool ok = g && strcmp(g->name, "net") == 0 &&
            g->node[2].a.ints[0] == 1 && g->node[2].a.ints[1] == 2 &&
            g->node[3].a.ints[0] == 1;
  check(ok, "negative axes", NULL);
  ok = g && strcmp(train_value(g, "loss"), "mse(sum(x, axis=-1), t) * 2") == 0 &&
       strcmp(train_value(g, "optimizer"), "adam()") == 0 &&
       strcmp(train_value(g, "lr_schedule"), "step(every=2)") == 0 &&
       strcmp(train_value(g, "l2"), "0.0001") == 0 &&
       strcmp(train_value(g, "shuffle"), "true") == 0 &&
       strcmp(train_value(g, "epochs"), "10") == 0;
  check(ok, "train canonical text", "loss '%s'",
        g ? train_value(g, "loss") : "");
  ir_free_graph(g);
}

/* ---- training: losses, dropout, slicing, labels ---------------------------- */

/* The op of node i and of its operands, as text: "mean(mul(sub,sub))". */
static const char *tree(const Graph *g, int i, int depth) {
  static char buf[8][256];
  char *b = buf[depth & 7];
  const Node *n = &g->node[i];
  int len = snprintf(b, 256, "%s", op_info[n->op].name);
  if (depth < 3 && n->nin > 0 && !(op_info[n->op].flags & F_SOURCE)) {
    len += snprintf(b + len, 256 - (size_t)len, "(");
    for (int k = 0; k < n->nin && len < 200; k++)
      len += snprintf(b + len, 256 - (size_t)len, "%s%s", k ? "," : "",
                      tree(g, n->in[k], depth + 1));
    snprintf(b + len, 256 - (size_t)len, ")");
  }
  return b;
}

static void test_losses(void) {
  static const struct {
    const char *name, *loss, *want;
  } cases[] = {
    {"loss mse", "mse(p, t)", "mean(mul(sub(add,input),sub(add,input)))"},
    {"loss binary_cross_entropy", "binary_cross_entropy(p, t)",
     "mean(add(sub(relu,mul),log(add)))"},
    {"loss expression", "mse(p, t) + 0.0001 * sum(W * W)",
     "add(mean(mul(sub,sub)),mul(const,sum(mul)))"},
    {"loss cross_entropy with weight decay",
     "cross_entropy(q, y) + 0.0001 * sum(W * W)",
     "add(mean(cross_entropy(add,input)),mul(const,sum(mul)))"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char text[1024];
    snprintf(text, sizeof text,
             "input x: f32[N, 3]\nlabel t: f32[N, 2]\nlabel y: i32[N] classes 2\n"
             "param W: f32[3, 2]\nparam b: f32[2]\n"
             "p = matmul(x, W) + b\nq = p\noutput o = p\n"
             "train {\n  loss = %s\n}\n", cases[i].loss);
    Graph *g = load(text);
    const char *got = g && g->loss >= 0 ? tree(g, g->loss, 0) : "(no loss)";
    check(g && g->loss >= 0 && strcmp(type_of(g, g->loss), "f32[]") == 0 &&
          strcmp(got, cases[i].want) == 0 && ir_verify(g, "frontend"),
          cases[i].name, "got %s", got);
    ir_free_graph(g);
  }
  /* Loss functions are built-ins like any other: usable outside train. */
  Graph *g = load("input x: f32[N, 4]\nlabel y: i32[N]\n"
                  "output l = cross_entropy(x, y)\n");
  check(g && g->loss == -1 && g->node[g->out[0].node].op == OP_MEAN,
        "loss function as an output", NULL);
  ir_free_graph(g);
  g = load("input x: f32[N, 4]\noutput y = x\n");
  check(g && g->loss == -1, "no train section, no loss", NULL);
  ir_free_graph(g);
}

static void test_dropout(void) {
  Graph *g = load("input x: f32[N, 8]\n"
                  "block drop(v, r = 0.5) {\n"
                  "  return dropout(relu(v), rate = r)\n"
                  "}\n"
                  "h = drop(x, 0.2)\n"
                  "h = dropout(h)\n"
                  "h = drop(drop(h))\n"
                  "output y = h\n");
  int64_t salts[8];
  double rates[8];
  int n = 0;
  for (int i = 0; g && i < g->nnode && n < 8; i++)
    if (g->node[i].op == OP_DROPOUT) {
      salts[n] = g->node[i].a.ints[0];
      rates[n++] = g->node[i].a.f[0];
    }
  bool ok = n == 4;
  for (int i = 0; ok && i < n; i++)
    ok = salts[i] == i + 1;
  check(ok, "dropout salts 1..4 across block expansions", "%d dropouts", n);
  check(ok && rates[0] == 0.2 && rates[1] == 0.5 && rates[3] == 0.5,
        "dropout rates", NULL);
  ir_free_graph(g);
}

static void test_slice_one_hot(void) {
  Graph *g = load("input x: f32[N, 4, 5]\nlabel y: i32[N] classes 10\n"
                  "output a = slice(x, -1, 1, 3)\n"
                  "output b = slice(x, 1, 0, 4)\n"
                  "output c = one_hot(y)\n"
                  "output d = one_hot(y, classes = 10)\n");
  const Node *a = g ? &g->node[g->out[0].node] : NULL;
  check(a && a->op == OP_SLICE && a->a.nints == 3 && a->a.ints[0] == 2 &&
        a->a.ints[1] == 1 && a->a.ints[2] == 3 &&
        strcmp(type_of(g, g->out[0].node), "f32[N,4,2]") == 0 &&
        strcmp(type_of(g, g->out[1].node), "f32[N,4,5]") == 0,
        "slice lowering", "%s", g ? type_of(g, g->out[0].node) : "");
  bool ok = g != NULL;
  for (int o = 2; ok && o < 4; o++) {
    const Node *c = &g->node[g->out[o].node];
    ok = c->op == OP_ONE_HOT && c->a.ints[0] == 10 &&
         strcmp(type_of(g, g->out[o].node), "f32[N,10]") == 0;
  }
  check(ok, "one_hot lowering", NULL);
  ir_free_graph(g);
}

static void test_train_keys(void) {
  Graph *g = load("input x: f32[N, 3, 4, 4]\nlabel y: i32[N] classes 2\n"
                  "logits = dense(flatten(x), 2)\noutput p = softmax(logits)\n"
                  "train {\n"
                  "  loss = cross_entropy(logits, y)\n"
                  "  optimizer = adamw(weight_decay = 0.05, lr = 1e-3)\n"
                  "  data = csv(\"d.csv\", label_column = 0, skip_header = false,\n"
                  "             mean = [0.5, 0.25, 0.125], std = [1, 2, 4])\n"
                  "  test = npy(\"x.npy\", \"y.npy\", normalize = [0.1307, 0.3081])\n"
                  "}\n");
  bool ok = g && strcmp(train_value(g, "optimizer"),
                        "adamw(lr=0.001, weight_decay=0.05)") == 0;
  check(ok, "adamw canonical text", "%s", g ? train_value(g, "optimizer") : "");
  ok = g && strcmp(train_value(g, "data.format"), "csv") == 0 &&
       strcmp(train_value(g, "data.path"), "d.csv") == 0 &&
       strcmp(train_value(g, "data.label_column"), "0") == 0 &&
       strcmp(train_value(g, "data.scale"), "(missing)") == 0 &&
       strcmp(train_value(g, "data.skip_header"), "false") == 0 &&
       strcmp(train_value(g, "data.mean"), "0.5,0.25,0.125") == 0 &&
       strcmp(train_value(g, "data.std"), "1,2,4") == 0;
  check(ok, "csv data keys", NULL);
  ok = g && strcmp(train_value(g, "test.format"), "npy") == 0 &&
       strcmp(train_value(g, "test.images"), "x.npy") == 0 &&
       strcmp(train_value(g, "test.labels"), "y.npy") == 0 &&
       strcmp(train_value(g, "test.mean"), "0.1307") == 0 &&
       strcmp(train_value(g, "test.std"), "0.3081") == 0;
  check(ok, "npy data keys and normalize", NULL);
  ir_free_graph(g);
  g = load("input x: f32[N, 4]\nlabel y: i32[N] classes 4\noutput p = x\n"
           "train {\n  loss = cross_entropy(x, y)\n  optimizer = rmsprop\n"
           "  data = csv(\"a.csv\")\n}\n");
  ok = g && strcmp(train_value(g, "optimizer"), "rmsprop()") == 0 &&
       strcmp(train_value(g, "data.label_column"), "-1") == 0 &&
       strcmp(train_value(g, "data.skip_header"), "true") == 0 &&
       strcmp(train_value(g, "data.mean"), "(missing)") == 0;
  check(ok, "csv defaults stored", NULL);
  ir_free_graph(g);
  g = load("input x: f32[N, 1, 8, 8]\nlabel t: f32[N, 1]\n"
           "logit = dense(flatten(x), 1)\noutput p = sigmoid(logit)\n"
           "train {\n  loss = binary_cross_entropy(logit, t)\n"
           "  augment = [flip, crop(pad = 1 + 1), scale(0.9, high = 1.1),\n"
           "             rotate(degrees = 5)]\n"
           "  data = idx(\"x.idx\", \"y.idx\", classes = [6, 0])\n}\n");
  ok = g && strcmp(train_value(g, "augment"), "flip(), crop(pad=2), "
                   "scale(low=0.9, high=1.1), rotate(degrees=5)") == 0 &&
       strcmp(train_value(g, "data.classes"), "6,0") == 0 &&
       strcmp(train_value(g, "test.classes"), "(missing)") == 0;
  check(ok, "augment and classes stored", "%s / %s", g ? train_value(g, "augment") : "",
        g ? train_value(g, "data.classes") : "");
  ir_free_graph(g);
  g = load("input x: f32[N, 1, 8, 8]\nlabel y: i32[N] classes 2\n"
           "logits = dense(flatten(x), 2)\noutput p = softmax(logits)\n"
           "train {\n  loss = cross_entropy(logits, y)\n  augment = none\n"
           "  data = idx(\"x.idx\", \"y.idx\", classes = [3, 5])\n}\n");
  ok = g && strcmp(train_value(g, "augment"), "none") == 0 &&
       strcmp(train_value(g, "data.classes"), "3,5") == 0;
  check(ok, "augment none, classes of an i32 label", NULL);
  ir_free_graph(g);
}

/* ---- errors: one per mistake ------------------------------------------------ */

static void test_error_counts(void) {
  static const struct {
    const char *name, *text;
    int errors;
  } cases[] = {
    {"unknown name once", "input x: f32[N, 4]\nh = relu(q)\nh = h + h\n"
     "output y = h * 2\n", 1},
    {"syntax error keeps its name", "input x: f32[N, 4]\nh = relu(x))\n"
     "output y = h\n", 1},
    {"broken block is silent", "input x: f32[N, 4]\nblock f(a,, b) {\n"
     "  return a\n}\noutput y = f(x)\n", 1},
    {"error inside a block once", "input x: f32[N, 4]\nblock f(a) {\n"
     "  return a + q\n}\nh = f(x)\nh = f(h)\noutput y = f(x)\n", 1},
    {"no output", "input x: f32[N, 4]\nh = relu(x)\n", 1},
    {"three statements, three errors", "input x: f32[N, 4]\nh = relu(x, 1)\n"
     "g = matmul(x, x)\nk = softmax(x, axis = 5)\noutput y = x\n", 3},
    {"unclosed at end of file", "input x: f32[N, 4]\noutput y = relu(x\n", 1},
    {"non-scalar loss once", "input x: f32[N, 4]\nlabel y: i32[N]\noutput p = x\n"
     "train {\n  loss = x * 2\n  epochs = 0\n}\n", 2},
    {"bad loss argument once", "input x: f32[N, 4]\nlabel y: f32[N]\noutput p = x\n"
     "train {\n  loss = cross_entropy(x, y) + mse(x, y)\n}\n", 2},
    {"loss with unknown name once", "input x: f32[N, 4]\noutput p = x\n"
     "train {\n  loss = mse(x, q) * 2 + sum(x)\n}\n", 1},
    {"nesterov without momentum", "input x: f32[N, 4]\noutput p = x\n"
     "train {\n  loss = mse(x, x)\n  optimizer = sgd(nesterov = true)\n}\n", 1},
    {"normalize mistakes", "input x: f32[N, 3, 2]\noutput p = x\n"
     "train {\n  loss = mse(x, x)\n"
     "  data = idx(\"a\", \"b\", mean = [0, 0], std = [1, 1])\n"
     "  test = idx(\"a\", \"b\", normalize = [0, 0])\n}\n", 2},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int n = errors_of(cases[i].text);
    check(n == cases[i].errors, cases[i].name, "%d errors, want %d", n,
          cases[i].errors);
  }
}

/* Random edits of a valid model must never crash the frontend. */
static void test_mutations(void) {
  size_t len;
  char *text = read_file(model_path("ops.dlm"), &len);
  if (!check(text != NULL, "mutations: read model", NULL))
    return;
  static const char alphabet[] = "()[]{},:=+-*/;#\"\n xN0123456789.eabc_";
  uint64_t seed = 42;
  char *buf = malloc(len + 16);
  for (int round = 0; round < 1500; round++) {
    memcpy(buf, text, len + 1);
    size_t n = len;
    for (int k = 0; k < 1 + round % 4; k++) {
      size_t at = (size_t)(unit_random(&seed) * (double)n);
      int what = (int)(unit_random(&seed) * 3);
      char c = alphabet[(int)(unit_random(&seed) * (sizeof alphabet - 1))];
      if (what == 0 && n > 1) {
        memmove(buf + at, buf + at + 1, n - at);
        n--;
      } else if (what == 1 && n < len + 8) {
        memmove(buf + at + 1, buf + at, n - at + 1);
        buf[at] = c;
        n++;
      } else {
        buf[at] = c;
      }
    }
    diag_set_stream(quiet);
    Graph *g = load(buf);
    diag_set_stream(NULL);
    if (g && !ir_verify(g, "frontend")) {
      check(false, "mutations", "round %d: invalid graph", round);
      ir_free_graph(g);
      free(buf);
      free(text);
      return;
    }
    ir_free_graph(g);
  }
  check(true, "mutations", NULL);
  free(buf);
  free(text);
}

int main(void) {
  quiet = tmpfile();
  if (!quiet)
    quiet = stderr;
  diag_set_limit(0);
  test_mlp();
  test_mlp_explicit();
  test_ops();
  test_folding();
  test_blocks();
  test_params();
  test_axes_and_train();
  test_losses();
  test_dropout();
  test_slice_one_hot();
  test_train_keys();
  test_error_counts();
  test_mutations();
  printf("%d passed, %d failed\n", npass, nfail);
  return nfail > 0;
}
