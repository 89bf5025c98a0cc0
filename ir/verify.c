/* verify.c — the graph invariants, checked after every pass (--verify-each)
 * and in tests.
 *
 * The one idea: a graph is valid when rebuilding it node by node with the
 * builders would give the same graph. So besides structure (operands point at
 * earlier nodes, operand counts, attribute counts, ranks, names) the verifier
 * re-runs each op's shape rule and compares the result with the stored type.
 * Rules write into the node they check, so they run on a scratch copy of
 * the node array, never on the graph itself.
 *
 * Every broken invariant is reported, one line each, on stderr:
 *   dlc: verify after fuse: node %7 (add @m.dlm:3:5): operand 1 is %9, ...
 */
#include "ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct Verifier {
  const Graph *g;
  const char *after; /* pass just run, or NULL */
  int nbad;          /* violations so far */
  Graph scratch;     /* g with a private copy of the node array */
  bool *ok;          /* ok[i]: node i is sound enough for rules to read */
} Verifier;

static void head(Verifier *v) {
  fprintf(stderr, "dlc: verify%s%s: ", v->after ? " after " : "",
          v->after ? v->after : "");
  v->nbad++;
}

/* " @file:line:col" or, for an output, " (@file:line:col)"; nothing
 * without a position. */
static void put_loc(Loc loc, bool parens) {
  if (loc.line > 0)
    fprintf(stderr, " %s@%s:%d:%d%s", parens ? "(" : "", loc.file ? loc.file : "?",
            loc.line, loc.col, parens ? ")" : "");
}

__attribute__((format(printf, 3, 4)))
static void bad_node(Verifier *v, int i, const char *fmt, ...) {
  const Node *n = &v->g->node[i];
  head(v);
  bool known = n->op >= 0 && n->op < OP_COUNT;
  fprintf(stderr, "node %%%d (%s", i, known ? op_info[n->op].name : "?");
  put_loc(n->loc, false);
  fprintf(stderr, "): ");
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

__attribute__((format(printf, 3, 4)))
static void bad_output(Verifier *v, int o, const char *fmt, ...) {
  const Output *out = &v->g->out[o];
  head(v);
  fprintf(stderr, "output \"%s\"", out->name ? out->name : "?");
  put_loc(out->loc, true);
  fprintf(stderr, ": ");
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* Op, dtype, rank, dims and attribute counts; false if the node cannot be
 * looked at further. */
static bool check_fields(Verifier *v, int i) {
  const Node *n = &v->g->node[i];
  if (n->op < 0 || n->op >= OP_COUNT) {
    bad_node(v, i, "invalid op %d", (int)n->op);
    return false;
  }
  bool sound = true;
  if (n->dtype < 0 || n->dtype >= DT_COUNT) {
    bad_node(v, i, "invalid dtype %d", (int)n->dtype);
    sound = false;
  }
  if (n->shape.rank < 0 || n->shape.rank > MAX_RANK) {
    bad_node(v, i, "rank %d is not in [0, %d]", n->shape.rank, MAX_RANK);
    return false;
  }
  int nsym = 0;
  for (int k = 0; k < n->shape.rank; k++) {
    nsym += n->shape.d[k] < 0;
    if (n->shape.d[k] == 0) {
      bad_node(v, i, "dimension %d is 0", k);
      sound = false;
    }
  }
  if (nsym > 1) {
    char b[128];
    dims_str(b, sizeof b, &n->shape);
    bad_node(v, i, "shape %s has more than one batch-dependent dimension", b);
  }
  bool list;
  int fixed = op_fixed_ints(n->op, &list);
  if (n->a.nints < 0 || n->a.nints > MAX_INTS) {
    bad_node(v, i, "%d int attributes, not in [0, %d]", n->a.nints, MAX_INTS);
    sound = false;
  } else if (!list && n->a.nints > fixed) {
    bad_node(v, i, "%d int attributes, %s takes %d", n->a.nints,
             op_info[n->op].name, fixed);
  }
  /* Floats the op does not define would be lost by the printer. */
  AttrField ff[MAX_FLOATS];
  int nf = ir_attr_fields(n->op, true, ff);
  for (int k = nf; k < MAX_FLOATS; k++)
    if (n->a.f[k] != 0 || signbit(n->a.f[k]))
      bad_node(v, i, "float attribute %d is set, %s has %d", k, op_info[n->op].name, nf);
  return sound;
}

/* Operand count and order; false if the shape rule cannot run. */
static bool check_operands(Verifier *v, int i) {
  const Node *n = &v->g->node[i];
  int want = op_info[n->op].nin;
  if (n->nin < 0 || (n->nin > 0 && !n->in)) {
    bad_node(v, i, "operand count %d with operands %p", n->nin, (void *)n->in);
    return false;
  }
  bool sound = true;
  if (want >= 0 && n->nin != want) {
    bad_node(v, i, "%d operands, %s takes %d", n->nin, op_info[n->op].name, want);
    sound = false;
  } else if (want < 0 && n->nin < 1) {
    bad_node(v, i, "no operands, %s takes at least one", op_info[n->op].name);
    sound = false;
  }
  for (int k = 0; k < n->nin; k++) {
    int j = n->in[k];
    if (j < 0 || j >= i) {
      bad_node(v, i, "operand %d is %%%d, not an earlier node", k, j);
      sound = false;
    } else if (!v->ok[j]) {
      sound = false; /* reported at j */
    }
  }
  return sound;
}

/* Names, init and data of input, param and const nodes; data only there. */
static void check_source(Verifier *v, int i) {
  const Node *n = &v->g->node[i];
  if (n->op != OP_CONST && n->data)
    bad_node(v, i, "constant data on a non-const node");
  if (n->op == OP_INPUT || n->op == OP_PARAM) {
    if (!n->name || !*n->name) bad_node(v, i, "%s has no name", op_info[n->op].name);
  }
  if (n->op == OP_INPUT) {
    if (n->ikind != IN_DATA && n->ikind != IN_LABEL)
      bad_node(v, i, "invalid input kind %d", (int)n->ikind);
    if (n->classes < 0) bad_node(v, i, "negative class count %lld", (long long)n->classes);
  }
  if (n->op == OP_PARAM && (n->init.kind < 0 || n->init.kind >= INIT_COUNT))
    bad_node(v, i, "invalid init kind %d", (int)n->init.kind);
  if (n->op == OP_CONST && n->data && shape_numel(&n->shape).sym)
    bad_node(v, i, "constant data with a batch-dependent shape");
}

/* Re-run the shape rule on a scratch copy and compare with the stored type. */
static void check_rule(Verifier *v, int i) {
  const Node *n = &v->g->node[i];
  Node *s = &v->scratch.node[i];
  char why[256], b0[128], b1[128];
  if (!ir_infer(&v->scratch, i, why)) {
    bad_node(v, i, "shape rule fails: %s", why);
  } else if (s->dtype != n->dtype || !shape_equal(&s->shape, &n->shape)) {
    shape_str(b0, sizeof b0, n->dtype, &n->shape);
    shape_str(b1, sizeof b1, s->dtype, &s->shape);
    bad_node(v, i, "stored type %s, the shape rule infers %s", b0, b1);
  }
  *s = *n;
}

typedef struct Named {
  const char *name;
  int index;
} Named;

static int cmp_named(const void *a, const void *b) {
  const Named *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Names of op nodes (or of outputs when op is OP_COUNT) must be unique. */
static void check_unique(Verifier *v, Op op) {
  const Graph *g = v->g;
  int cap = op == OP_COUNT ? g->nout : g->nnode, n = 0;
  Named *list = malloc(sizeof *list * (size_t)(cap + 1));
  if (!list) die("out of memory");
  for (int i = 0; i < cap; i++) {
    const char *name = op == OP_COUNT ? g->out[i].name
                       : g->node[i].op == op ? g->node[i].name : NULL;
    if (name) list[n++] = (Named){name, i};
  }
  qsort(list, (size_t)n, sizeof *list, cmp_named);
  for (int k = 1; k < n; k++) {
    if (strcmp(list[k - 1].name, list[k].name) != 0) continue;
    if (op == OP_COUNT)
      bad_output(v, list[k].index, "name also used by output %d", list[k - 1].index);
    else
      bad_node(v, list[k].index, "%s name \"%s\" also used by %%%d",
               op_info[op].name, list[k].name, list[k - 1].index);
  }
  free(list);
}

static void check_outputs(Verifier *v) {
  const Graph *g = v->g;
  for (int o = 0; o < g->nout; o++) {
    if (!g->out[o].name || !*g->out[o].name) bad_output(v, o, "output has no name");
    if (g->out[o].node < 0 || g->out[o].node >= g->nnode)
      bad_output(v, o, "node %%%d does not exist", g->out[o].node);
  }
  for (int t = 0; t < g->ntrain; t++)
    if (!g->train[t].key || !g->train[t].value) {
      head(v);
      fprintf(stderr, "train entry %d has no key or value\n", t);
    }
  if (g->loss >= g->nnode || g->loss < -1) {
    head(v);
    fprintf(stderr, "loss node %%%d does not exist\n", g->loss);
  } else if (g->loss >= 0 && (g->node[g->loss].dtype != DT_F32 || g->node[g->loss].shape.rank != 0)) {
    head(v);
    fprintf(stderr, "loss node %%%d is not a scalar f32\n", g->loss);
  }
}

bool ir_verify(const Graph *g, const char *after) {
  Verifier v = {.g = g, .after = after, .scratch = *g};
  size_t nn = (size_t)(g->nnode > 0 ? g->nnode : 1);
  v.scratch.node = malloc(sizeof(Node) * nn);
  v.ok = calloc(nn, sizeof(bool));
  if (!v.scratch.node || !v.ok) die("out of memory");
  if (g->nnode > 0) memcpy(v.scratch.node, g->node, sizeof(Node) * (size_t)g->nnode);
  for (int i = 0; i < g->nnode; i++) {
    if (!check_fields(&v, i)) continue;
    bool sound = check_operands(&v, i);
    check_source(&v, i);
    if (sound && !(op_info[g->node[i].op].flags & F_SOURCE)) check_rule(&v, i);
    v.ok[i] = sound;
  }
  check_unique(&v, OP_INPUT);
  check_unique(&v, OP_PARAM);
  check_unique(&v, OP_COUNT);
  check_outputs(&v);
  free(v.scratch.node);
  free(v.ok);
  return v.nbad == 0;
}
