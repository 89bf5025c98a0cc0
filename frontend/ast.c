/* ast.c — the syntax tree: the builders the grammar's actions call, and
 * the canonical text of an expression.
 *
 * The one idea: the tree records what was written and where, nothing
 * more; all meaning is given by lowering (lower.c, eval.c). Everything is
 * allocated from the parse's arena.
 */
#include "frontend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parser.h"

Loc fe_loc(const Parse *p, int line, int col) {
  return (Loc){p->file, line, col};
}

static Expr *new_expr(Parse *p, ExprKind k, Loc loc) {
  Expr *e = arena_alloc(p->a, sizeof *e);
  e->kind = k;
  e->loc = loc;
  e->depth = 1;
  return e;
}

static int max_int(int a, int b) { return a > b ? a : b; }

/* The deepest tree among the values of a list of arguments, 0 if none. */
static int args_depth(const Arg *a) {
  int d = 0;
  for (; a; a = a->next)
    if (a->e)
      d = max_int(d, a->e->depth);
  return d;
}

/* Numbers are read with strtod: the lexer only passes decimal literals. */
Expr *fe_num(Parse *p, const char *text, Loc loc) {
  Expr *e = new_expr(p, E_NUM, loc);
  e->num = strtod(text, NULL);
  return e;
}

Expr *fe_str(Parse *p, const char *value, Loc loc) {
  Expr *e = new_expr(p, E_STR, loc);
  e->str = value;
  return e;
}

Expr *fe_bool(Parse *p, bool b, Loc loc) {
  Expr *e = new_expr(p, E_BOOL, loc);
  e->num = b;
  return e;
}

Expr *fe_name(Parse *p, const char *name, Loc loc) {
  Expr *e = new_expr(p, E_NAME, loc);
  e->str = name;
  return e;
}

static int count_args(const Arg *a) {
  int n = 0;
  for (; a; a = a->next)
    n++;
  return n;
}

Expr *fe_call(Parse *p, const char *callee, Loc loc, Arg *args) {
  Expr *e = new_expr(p, E_CALL, loc);
  e->str = callee;
  e->args = args;
  e->nargs = count_args(args);
  e->depth = 1 + args_depth(args);
  return e;
}

Expr *fe_list(Parse *p, Arg *items, Loc loc) {
  Expr *e = new_expr(p, E_LIST, loc);
  e->args = items;
  e->nargs = count_args(items);
  e->depth = 1 + args_depth(items);
  return e;
}

Expr *fe_unary(Parse *p, int op, Expr *x, Loc loc) {
  Expr *e = new_expr(p, E_UNARY, loc);
  e->op = op;
  e->lhs = x;
  e->depth = 1 + x->depth;
  return e;
}

Expr *fe_binary(Parse *p, int op, Expr *l, Expr *r, Loc loc) {
  Expr *e = new_expr(p, E_BINARY, loc);
  e->op = op;
  e->lhs = l;
  e->rhs = r;
  e->depth = 1 + max_int(l->depth, r->depth);
  return e;
}

Arg *fe_arg(Parse *p, const char *name, Expr *e, Loc loc, Loc vloc) {
  Arg *a = arena_alloc(p->a, sizeof *a);
  a->name = name;
  a->e = e;
  a->loc = loc;
  a->vloc = vloc;
  return a;
}

Arg *fe_args_append(Parse *p, Arg *list, Arg *a) {
  (void)p;
  if (!list)
    return a;
  Arg *t = list->tail ? list->tail : list;
  while (t->next)
    t = t->next;
  t->next = a;
  list->tail = a;
  return list;
}

Arg *fe_items_append(Parse *p, Arg *list, Expr *e, Loc loc) {
  return fe_args_append(p, list, fe_arg(p, NULL, e, loc, loc));
}

TypeExpr *fe_type(Parse *p, const char *dtype, Loc loc, Arg *dims) {
  TypeExpr *t = arena_alloc(p->a, sizeof *t);
  t->dtype = dtype;
  t->loc = loc;
  t->dims = dims;
  return t;
}

/* ---- statements ---------------------------------------------------------- */

/* s, or a statement lost to an error when its expression trees (depth d)
 * are deeper than MAX_EXPR_DEPTH: reported here, before anything walks
 * them. */
static Stmt *bounded(Parse *p, Stmt *s, int d) {
  if (d <= MAX_EXPR_DEPTH)
    return s;
  diag_error(s->loc, "expression nested too deeply (%d levels, at most %d); split it "
             "into several statements", d, MAX_EXPR_DEPTH);
  p->errors++;
  return fe_stmt_error(p, s->loc);
}

static int type_depth(const TypeExpr *t) { return t ? args_depth(t->dims) : 0; }
static int expr_depth(const Expr *e) { return e ? e->depth : 0; }

static Stmt *new_stmt(Parse *p, StmtKind k, const char *name, Loc nloc,
                      Loc loc) {
  Stmt *s = arena_alloc(p->a, sizeof *s);
  s->kind = k;
  s->name = name;
  s->name_loc = nloc;
  s->loc = loc;
  return s;
}

Stmt *fe_input(Parse *p, const char *name, Loc nloc, TypeExpr *t, Loc loc) {
  Stmt *s = new_stmt(p, S_INPUT, name, nloc, loc);
  s->type = t;
  return bounded(p, s, type_depth(t));
}

Stmt *fe_label(Parse *p, const char *name, Loc nloc, TypeExpr *t,
               Expr *classes, Loc loc) {
  Stmt *s = new_stmt(p, S_LABEL, name, nloc, loc);
  s->type = t;
  s->e = classes;
  return bounded(p, s, max_int(type_depth(t), expr_depth(classes)));
}

Stmt *fe_param(Parse *p, const char *name, Loc nloc, TypeExpr *t, Expr *init,
               Loc loc) {
  Stmt *s = new_stmt(p, S_PARAM, name, nloc, loc);
  s->type = t;
  s->e = init;
  return bounded(p, s, max_int(type_depth(t), expr_depth(init)));
}

Stmt *fe_assign(Parse *p, const char *name, Expr *e, Loc loc, Loc vloc) {
  Stmt *s = new_stmt(p, S_ASSIGN, name, loc, loc);
  s->e = e;
  s->vloc = vloc;
  return bounded(p, s, expr_depth(e));
}

Stmt *fe_output(Parse *p, const char *name, Loc nloc, Expr *e, Loc loc) {
  Stmt *s = new_stmt(p, S_OUTPUT, name, nloc, loc);
  s->e = e;
  return bounded(p, s, expr_depth(e));
}

Stmt *fe_return(Parse *p, Expr *e, Loc loc) {
  Stmt *s = new_stmt(p, S_RETURN, NULL, loc, loc);
  s->e = e;
  return bounded(p, s, expr_depth(e));
}

Stmt *fe_block(Parse *p, const char *name, Loc nloc, Arg *params, Stmt *body,
               Loc end, Loc loc) {
  Stmt *s = new_stmt(p, S_BLOCK, name, nloc, loc);
  s->params = params;
  s->body = body;
  s->end = end;
  return bounded(p, s, args_depth(params));
}

Stmt *fe_train(Parse *p, Stmt *items, Loc end, Loc loc) {
  Stmt *s = new_stmt(p, S_TRAIN, NULL, loc, loc);
  s->body = items;
  s->end = end;
  return s;
}

Stmt *fe_model(Parse *p, const char *name, Loc nloc, Loc loc) {
  return new_stmt(p, S_MODEL, name, nloc, loc);
}

Stmt *fe_decode(Parse *p, const char *name, Loc nloc, Expr *e, Loc loc) {
  Stmt *s = new_stmt(p, S_DECODE, name, nloc, loc);
  s->e = e;
  return bounded(p, s, expr_depth(e));
}

/* What the lexer's head of the statement at loc says it declared. */
Stmt *fe_stmt_error(Parse *p, Loc loc) {
  Stmt *s = new_stmt(p, S_ERROR, NULL, loc, loc);
  s->head = S_ERROR;
  const Head *h = p->head;
  while (h && !(h->loc.line == loc.line && h->loc.col == loc.col))
    h = h->next;
  if (!h || h->ntok == 0)
    return s;
  static const struct {
    int tok;
    StmtKind kind;
  } decl[] = {
    {INPUT, S_INPUT}, {LABEL, S_LABEL}, {PARAM, S_PARAM},
    {OUTPUT, S_OUTPUT}, {BLOCK, S_BLOCK}, {MODEL, S_MODEL}, {DECODE, S_DECODE},
  };
  if (h->tok[0] == NAME && h->ntok == 2 && h->tok[1] == '=') {
    s->head = S_ASSIGN;
    s->name = h->text[0];
  } else if (h->tok[0] == RETURN) {
    s->head = S_RETURN;
  } else if (h->tok[0] == TRAIN) {
    s->head = S_TRAIN;
  }
  for (size_t i = 0; i < sizeof decl / sizeof decl[0]; i++)
    if (h->tok[0] == decl[i].tok && h->ntok == 2 && h->tok[1] == NAME) {
      s->head = decl[i].kind;
      s->name = h->text[1];
      s->name_loc = h->loc;
    }
  return s;
}

Stmt *fe_stmts_append(Parse *p, Stmt *list, Stmt *s) {
  (void)p;
  if (!list)
    return s;
  Stmt *t = list;
  while (t->next)
    t = t->next;
  t->next = s;
  return list;
}

void fe_top(Parse *p, Stmt *s) {
  if (!s)
    return;
  if (p->last)
    p->last->next = s;
  else
    p->stmts = s;
  p->last = s;
}

/* ---- canonical text ------------------------------------------------------ */

/* The shortest %g text that reads back as x; whole numbers in full (10,
 * not 1e+01). */
static void num_text(char buf[40], double x) {
  if (x == floor(x) && fabs(x) < 1e15) {
    snprintf(buf, 40, "%.0f", x == 0 ? 0.0 : x);
    return;
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, 40, "%.*g", prec, x);
    if (strtod(buf, NULL) == x)
      return;
  }
}

char *fe_num_str(Arena *a, double x) {
  char buf[40];
  num_text(buf, x);
  return arena_strdup(a, buf);
}

bool fe_fold(const Expr *e, double *out) {
  double l, r;
  switch (e->kind) {
  case E_NUM:
    *out = e->num;
    return true;
  case E_UNARY:
    if (!fe_fold(e->lhs, &l))
      return false;
    *out = -l;
    return true;
  case E_BINARY:
    if (!fe_fold(e->lhs, &l) || !fe_fold(e->rhs, &r))
      return false;
    *out = e->op == '+' ? l + r : e->op == '-' ? l - r
         : e->op == '*' ? l * r : l / r;
    return true;
  default:
    return false;
  }
}

static int prec_of(const Expr *e) {
  if (e->kind == E_BINARY)
    return e->op == '+' || e->op == '-' ? 1 : 2;
  if (e->kind == E_UNARY)
    return 3;
  return 4;
}

static void print_expr(Str *b, const Expr *e);

/* An operand needs parentheses if it binds less tightly than its parent,
 * or equally as the right operand (a - (b - c)). */
static void print_operand(Str *b, const Expr *e, int parent, bool right) {
  double x;
  int p = fe_fold(e, &x) ? (x < 0 ? 3 : 4) : prec_of(e);
  bool paren = p < parent || (right && p == parent);
  if (paren)
    str_putc(b, '(');
  print_expr(b, e);
  if (paren)
    str_putc(b, ')');
}

static void print_string(Str *b, const char *s) {
  str_putc(b, '"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      str_putc(b, '\\');
    if (*s == '\n')
      str_printf(b, "\\n");
    else if (*s == '\t')
      str_printf(b, "\\t");
    else
      str_putc(b, *s);
  }
  str_putc(b, '"');
}

static void print_args(Str *b, const Arg *a) {
  for (; a; a = a->next) {
    if (a->name)
      str_printf(b, "%s=", a->name);
    print_expr(b, a->e);
    if (a->next)
      str_printf(b, ", ");
  }
}

static void print_expr(Str *b, const Expr *e) {
  double x;
  char buf[40];
  if (fe_fold(e, &x)) {
    num_text(buf, x);
    str_printf(b, "%s", buf);
    return;
  }
  switch (e->kind) {
  case E_STR:
    print_string(b, e->str);
    break;
  case E_BOOL:
    str_printf(b, "%s", e->num ? "true" : "false");
    break;
  case E_NAME:
    str_printf(b, "%s", e->str);
    break;
  case E_CALL:
    str_printf(b, "%s(", e->str);
    print_args(b, e->args);
    str_putc(b, ')');
    break;
  case E_LIST:
    str_putc(b, '[');
    print_args(b, e->args);
    str_putc(b, ']');
    break;
  case E_UNARY:
    str_putc(b, '-');
    print_operand(b, e->lhs, 3, false);
    break;
  case E_BINARY:
    print_operand(b, e->lhs, prec_of(e), false);
    str_printf(b, " %c ", e->op);
    print_operand(b, e->rhs, prec_of(e), true);
    break;
  default:
    die("print_expr: bad expression kind %d", e->kind);
  }
}

char *fe_expr_str(Arena *a, const Expr *e) {
  Str b = {0};
  print_expr(&b, e);
  char *s = arena_strdup(a, b.s ? b.s : "");
  str_free(&b);
  return s;
}
