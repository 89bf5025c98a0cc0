/* eval.c — values and expressions: names, operators, calls, and the error
 * channel of lowering.
 *
 * The one idea: an expression evaluates to a Value. Numbers are folded at
 * compile time; a number meeting a tensor becomes a scalar constant node;
 * a tensor operation becomes a graph node whose shape the IR's shape rule
 * checks. Anything that fails yields V_POISON, and every operation on a
 * poison value returns poison without a message: one mistake, one error.
 */
#include "frontend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

Value fe_poison(Loc loc) {
  return (Value){.kind = V_POISON, .loc = loc};
}

Value fe_number(double x, Loc loc) {
  return (Value){.kind = V_NUM, .num = x, .loc = loc};
}

Value fe_tensor(int node, Loc loc) {
  return (Value){.kind = V_TENSOR, .node = node, .loc = loc};
}

/* ---- errors -------------------------------------------------------------- */

/* Inside a block the same mistake would repeat at every call: report it
 * for the first call only. */
static bool seen_before(Lower *L, Loc loc, const char *msg) {
  for (Seen *s = L->seen; s; s = s->next)
    if (s->loc.line == loc.line && s->loc.col == loc.col &&
        strcmp(s->msg, msg) == 0)
      return true;
  Seen *s = arena_alloc(L->a, sizeof *s);
  s->loc = loc;
  s->msg = msg;
  s->next = L->seen;
  L->seen = s;
  return false;
}

bool fe_error(Lower *L, Loc loc, const char *fmt, ...) {
  Str b = {0};
  va_list ap;
  va_start(ap, fmt);
  str_vprintf(&b, fmt, ap);
  va_end(ap);
  const char *msg = arena_strdup(L->a, b.s ? b.s : "");
  str_free(&b);
  fe_flush_notes(L);
  bool in_block = L->scope && L->scope->block;
  if (in_block && seen_before(L, loc, msg))
    return false;
  diag_error(loc, "%s", msg);
  L->note_scope = in_block ? L->scope : NULL;
  return true;
}

void fe_flush_notes(Lower *L) {
  for (Scope *s = L->note_scope; s && s->block; s = s->caller)
    diag_note(s->call, "in block '%s', called here", s->block);
  L->note_scope = NULL;
}

/* ---- descriptions and suggestions ---------------------------------------- */

const char *fe_type_str(Lower *L, int node) {
  char buf[160];
  const Node *n = &L->g->node[node];
  shape_str(buf, sizeof buf, n->dtype, &n->shape);
  return arena_strdup(L->a, buf);
}

static const char *dim_text(Lower *L, int64_t d) {
  return d == -1 ? "N" : arena_printf(L->a, "%lld*N", (long long)-d);
}

const char *fe_describe(Lower *L, const Value *v) {
  switch (v->kind) {
  case V_TENSOR:
    return arena_printf(L->a, "tensor %s", fe_type_str(L, v->node));
  case V_NUM:
    return arena_printf(L->a, "number %s", fe_num_str(L->a, v->num));
  case V_BOOL:
    return v->num ? "true" : "false";
  case V_STR:
    return arena_printf(L->a, "string \"%s\"", v->str);
  case V_LIST:
    return arena_printf(L->a, "a list of %d item%s", v->nitem,
                        v->nitem == 1 ? "" : "s");
  case V_DIM:
    return arena_printf(L->a, "the batch dimension %s", dim_text(L, v->dim));
  case V_INIT:
    return arena_printf(L->a, "initializer %s", init_name[v->init.kind]);
  default:
    return "an invalid value";
  }
}

/* Optimal string alignment distance: edits plus adjacent swaps. */
static int distance(const char *a, const char *b) {
  int n = (int)strlen(a), m = (int)strlen(b);
  if (n > 40 || m > 40)
    return 99;
  int d[41][41];
  for (int i = 0; i <= n; i++)
    d[i][0] = i;
  for (int j = 0; j <= m; j++)
    d[0][j] = j;
  for (int i = 1; i <= n; i++)
    for (int j = 1; j <= m; j++) {
      int c = a[i - 1] != b[j - 1];
      int v = d[i - 1][j - 1] + c;
      if (d[i - 1][j] + 1 < v)
        v = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < v)
        v = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < v)
        v = d[i - 2][j - 2] + 1;
      d[i][j] = v;
    }
  return d[n][m];
}

const char *fe_closest(const char *name, const char *const *cand, int n) {
  int limit = ((int)strlen(name) + 2) / 3;
  const char *best = NULL;
  int bestd = limit + 1;
  for (int i = 0; i < n; i++) {
    if (strcmp(cand[i], name) == 0)
      continue;
    int d = distance(name, cand[i]);
    if (d < bestd) {
      bestd = d;
      best = cand[i];
    }
  }
  return best;
}

/* ---- names --------------------------------------------------------------- */

Binding *fe_lookup(Lower *L, const char *name) {
  for (Binding *b = L->scope->vars; b; b = b->next)
    if (strcmp(b->name, name) == 0)
      return b;
  for (Binding *b = L->globals; b; b = b->next)
    if (strcmp(b->name, name) == 0)
      return b;
  Init init;
  Binding *b = NULL;
  if (strcmp(name, "N") == 0) {
    b = arena_alloc(L->a, sizeof *b);
    b->v = (Value){.kind = V_DIM, .dim = -1};
  } else if (fe_init_named(name, &init)) {
    b = arena_alloc(L->a, sizeof *b);
    b->v = (Value){.kind = V_INIT, .init = init};
  }
  if (b) {
    b->name = name;
    b->kind = B_LOCAL;
  }
  return b;
}

/* Every name visible in the current scope, for "did you mean". */
static const char *const *visible_names(Lower *L, int *n) {
  int cap = 0;
  for (Binding *b = L->scope->vars; b; b = b->next)
    cap++;
  for (Binding *b = L->globals; b; b = b->next)
    cap++;
  const char **v = arena_alloc(L->a, sizeof *v * (size_t)(cap + 1));
  *n = 0;
  for (Binding *b = L->scope->vars; b; b = b->next)
    v[(*n)++] = b->name;
  for (Binding *b = L->globals; b; b = b->next)
    v[(*n)++] = b->name;
  return v;
}

static Value eval_name(Lower *L, const Expr *e) {
  Binding *b = fe_lookup(L, e->str);
  if (b) {
    Value v = b->v;
    v.loc = e->loc;
    return v;
  }
  if (fe_find_block(L, e->str) || fe_is_builtin(e->str)) {
    if (fe_error(L, e->loc, "'%s' is a function, not a value", e->str))
      diag_hint("call it with arguments: %s(...)", e->str);
    return fe_poison(e->loc);
  }
  int n;
  const char *const *names = visible_names(L, &n);
  if (fe_error(L, e->loc, "unknown name '%s'", e->str)) {
    const char *s = fe_closest(e->str, names, n);
    if (s)
      diag_hint("did you mean '%s'?", s);
  }
  return fe_poison(e->loc);
}

/* ---- operators ----------------------------------------------------------- */

static const char *op_text(int op) {
  switch (op) {
  case '+': return "'+'";
  case '-': return "'-'";
  case '*': return "'*'";
  case '/': return "'/'";
  case 'M': return "maximum";
  default: return "minimum";
  }
}

static Op op_of(int op) {
  switch (op) {
  case '+': return OP_ADD;
  case '-': return OP_SUB;
  case '*': return OP_MUL;
  case '/': return OP_DIV;
  case 'M': return OP_MAXIMUM;
  default: return OP_MINIMUM;
  }
}

static Value fold(Lower *L, int op, double a, double b, Loc loc) {
  double r;
  switch (op) {
  case '+': r = a + b; break;
  case '-': r = a - b; break;
  case '*': r = a * b; break;
  case '/':
    if (b == 0) {
      fe_error(L, loc, "division by zero");
      return fe_poison(loc);
    }
    r = a / b;
    break;
  case 'M': r = a > b ? a : b; break;
  default: r = a < b ? a : b; break;
  }
  if (!isfinite(r)) {
    fe_error(L, loc, "%s of %s and %s is not a finite number", op_text(op),
             fe_num_str(L->a, a), fe_num_str(L->a, b));
    return fe_poison(loc);
  }
  return fe_number(r, loc);
}

/* k*N times a whole number: the only arithmetic on the batch dimension. */
static Value scale_dim(Lower *L, int op, Value a, Value b, Loc loc) {
  Value d = a.kind == V_DIM ? a : b, k = a.kind == V_DIM ? b : a;
  if (op == '*' && k.kind == V_NUM && k.num >= 1 && k.num == floor(k.num) &&
      k.num * (double)-d.dim < 1e12)
    return (Value){.kind = V_DIM, .dim = d.dim * (int64_t)k.num, .loc = loc};
  if (fe_error(L, loc, "the batch dimension N can only be multiplied by a "
               "positive whole number, not combined with %s by %s",
               fe_describe(L, &k), op_text(op)))
    diag_hint("write multiples of the batch size as k*N, e.g. 28*N");
  return fe_poison(loc);
}

/* For a binary operator, "add: shapes cannot ..." reads better as
 * "invalid operands to '+': shapes cannot ...". */
static void report_ir(Lower *L, Op op, int uop, const char *why, Loc loc) {
  const char *name = op_info[op].name;
  size_t n = strlen(name);
  if (uop >= '*' && uop <= '/' && strncmp(why, name, n) == 0 &&
      why[n] == ':')
    fe_error(L, loc, "invalid operands to %s:%s", op_text(uop), why + n + 1);
  else
    fe_error(L, loc, "%s", why);
}

static int scalar_const(Lower *L, int like, double x, Loc loc) {
  return ir_const(L->g, L->g->node[like].dtype, (Shape){0}, x, NULL, loc);
}

Value fe_binop(Lower *L, int op, Value a, Value b, Loc loc) {
  if (a.kind == V_POISON || b.kind == V_POISON)
    return fe_poison(loc);
  if (a.kind == V_NUM && b.kind == V_NUM)
    return fold(L, op, a.num, b.num, loc);
  if (a.kind == V_DIM || b.kind == V_DIM)
    return scale_dim(L, op, a, b, loc);
  bool ta = a.kind == V_TENSOR, tb = b.kind == V_TENSOR;
  if (!(ta || a.kind == V_NUM) || !(tb || b.kind == V_NUM)) {
    fe_error(L, loc, "invalid operands to %s: %s and %s", op_text(op),
             fe_describe(L, &a), fe_describe(L, &b));
    return fe_poison(loc);
  }
  int in[2];
  in[0] = ta ? a.node : scalar_const(L, b.node, a.num, a.loc);
  in[1] = tb ? b.node : scalar_const(L, a.node, b.num, b.loc);
  char why[256];
  int n = ir_add(L->g, op_of(op), in, 2, NULL, loc, why);
  if (n < 0) {
    report_ir(L, op_of(op), op, why, loc);
    return fe_poison(loc);
  }
  return fe_tensor(n, loc);
}

static Value eval_unary(Lower *L, const Expr *e) {
  Value x = fe_eval(L, e->lhs);
  switch (x.kind) {
  case V_POISON:
    return x;
  case V_NUM:
    return fe_number(-x.num, e->loc);
  case V_TENSOR: {
    char why[256];
    int n = ir_add(L->g, OP_NEG, &x.node, 1, NULL, e->loc, why);
    if (n >= 0)
      return fe_tensor(n, e->loc);
    fe_error(L, e->loc, "%s", why);
    return fe_poison(e->loc);
  }
  default:
    fe_error(L, e->loc, "invalid operand to unary '-': %s",
             fe_describe(L, &x));
    return fe_poison(e->loc);
  }
}

/* ---- calls and lists ------------------------------------------------------ */

static Value eval_list(Lower *L, const Expr *e) {
  Value v = {.kind = V_LIST, .loc = e->loc, .nitem = e->nargs};
  v.item = arena_alloc(L->a, sizeof *v.item * (size_t)(e->nargs + 1));
  int i = 0;
  for (const Arg *a = e->args; a; a = a->next, i++) {
    v.item[i] = fe_eval(L, a->e);
    v.item[i].loc = a->vloc;
  }
  return v;
}

static void unknown_function(Lower *L, const Expr *e) {
  if (fe_lookup(L, e->str)) {
    fe_error(L, e->loc, "'%s' is not a function", e->str);
    return;
  }
  int nb, nblock = L->nblock;
  const char *const *builtin = fe_builtin_names(L, &nb);
  const char **cand = arena_alloc(L->a, sizeof *cand * (size_t)(nb + nblock + 1));
  int n = 0;
  for (int i = 0; i < nb; i++)
    cand[n++] = builtin[i];
  for (int i = 0; i < nblock; i++)
    if (L->block[i].def->name)
      cand[n++] = L->block[i].def->name;
  if (fe_error(L, e->loc, "unknown function '%s'", e->str)) {
    const char *s = fe_closest(e->str, cand, n);
    if (s)
      diag_hint("did you mean '%s'?", s);
  }
}

static Value eval_call(Lower *L, const Expr *e) {
  Value *vals = arena_alloc(L->a, sizeof *vals * (size_t)(e->nargs + 1));
  int i = 0;
  for (const Arg *a = e->args; a; a = a->next, i++) {
    vals[i] = fe_eval(L, a->e);
    vals[i].loc = a->vloc;
  }
  BlockDef *b = fe_find_block(L, e->str);
  if (b)
    return fe_call_block(L, b, e, vals);
  Value out;
  if (fe_call_builtin(L, e, vals, &out))
    return out;
  unknown_function(L, e);
  return fe_poison(e->loc);
}

static Value eval(Lower *L, const Expr *e);

Value fe_eval(Lower *L, const Expr *e) {
  if (L->depth >= MAX_EVAL_DEPTH) {
    fe_error(L, e->loc, "expressions and block calls nested too deeply (more than %d "
             "levels)", MAX_EVAL_DEPTH);
    return fe_poison(e->loc);
  }
  L->depth++;
  Value v = eval(L, e);
  L->depth--;
  return v;
}

static Value eval(Lower *L, const Expr *e) {
  switch (e->kind) {
  case E_NUM:
    return fe_number(e->num, e->loc);
  case E_STR:
    return (Value){.kind = V_STR, .str = e->str, .loc = e->loc};
  case E_BOOL:
    return (Value){.kind = V_BOOL, .num = e->num, .loc = e->loc};
  case E_NAME:
    return eval_name(L, e);
  case E_CALL:
    return eval_call(L, e);
  case E_LIST:
    return eval_list(L, e);
  case E_UNARY:
    return eval_unary(L, e);
  case E_BINARY: {
    Value a = fe_eval(L, e->lhs);  /* left first: nodes in source order */
    Value b = fe_eval(L, e->rhs);
    return fe_binop(L, e->op, a, b, e->loc);
  }
  default:
    die("fe_eval: bad expression kind %d", e->kind);
  }
}
