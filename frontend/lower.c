/* lower.c — from syntax tree to graph: declarations, names and blocks.
 *
 * The one idea: lowering runs the program once, statement by statement,
 * binding names to values (eval.c) in scopes. A block call is expanded in
 * place, in a fresh scope that sees the globals (inputs, top-level params,
 * blocks) but not the caller's locals; parameters created inside get the
 * prefix "<block><k>." so that every expansion owns its own weights.
 *
 * Order of work: blocks are collected first (so a block may be called
 * before its definition); then top-level statements are lowered in order,
 * a block's definition being checked once (returns, misplaced statements,
 * recursion) where it stands or at its first call; then the train section
 * (train.c); then the decode statement (decode.c); then the model is
 * checked for an output.
 */
#include "frontend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* File names and source texts must outlive the graph: Loc.file and the
 * caret lines of later diagnostics point into them. Names are interned;
 * the text of each file is kept for the life of the process, and loading
 * a file of the same name again replaces (and frees) its old text, so that
 * a program that loads many texts (a fuzzer, tests) does not grow. Nothing
 * but the diagnostics' source table points into the text: the tree copies
 * every string it keeps. */
static const char *keep_text(const char *file, const char *text) {
  static struct {
    const char *file;
    char *text;
  } kept[64];
  static int nkept;
  int k = 0;
  while (k < nkept && kept[k].file != file) k++;
  if (k == 64) { /* too many files: keep this one for good */
    static Arena *a;
    if (!a) a = arena_new();
    return arena_strdup(a, text);
  }
  char *copy = strdup(text);
  if (!copy) die("out of memory");
  diag_add_source(file, copy);
  free(kept[k].text);
  kept[k].file = file;
  kept[k].text = copy;
  if (k == nkept) nkept++;
  return copy;
}

/* ---- bindings ------------------------------------------------------------ */

static Binding *find_var(Binding *list, const char *name) {
  for (Binding *b = list; b; b = b->next)
    if (strcmp(b->name, name) == 0)
      return b;
  return NULL;
}

static Binding *push_var(Lower *L, Binding **list, const char *name,
                         BindKind k, Value v, Loc loc) {
  Binding *b = arena_alloc(L->a, sizeof *b);
  *b = (Binding){.name = name, .kind = k, .v = v, .loc = loc, .next = *list};
  *list = b;
  return b;
}

BlockDef *fe_find_block(Lower *L, const char *name) {
  for (int i = 0; i < L->nblock; i++)
    if (L->block[i].def->name && strcmp(L->block[i].def->name, name) == 0)
      return &L->block[i];
  return NULL;
}

/* Where name was defined, if it names an input, a param, a local of this
 * scope or a block. */
static bool defined_at(Lower *L, const char *name, Loc *loc) {
  Binding *b = find_var(L->scope->vars, name);
  if (!b)
    b = find_var(L->globals, name);
  BlockDef *blk = fe_find_block(L, name);
  if (b)
    *loc = b->loc;
  else if (blk)
    *loc = blk->def->name_loc;
  return b || blk;
}

static bool reserved(Lower *L, const char *name, Loc loc) {
  if (strcmp(name, "N") != 0)
    return false;
  fe_error(L, loc, "'N' is the batch dimension and cannot be redefined");
  return true;
}

static void duplicate(Lower *L, const char *name, Loc loc, Loc prev) {
  if (fe_error(L, loc, "duplicate definition of '%s'", name))
    diag_note(prev, "previous definition is here");
}

/* A new input, param or block-local param: the name must be fresh. */
static bool fresh_name(Lower *L, const char *name, Loc loc) {
  Loc prev;
  if (reserved(L, name, loc))
    return false;
  if (defined_at(L, name, &prev)) {
    duplicate(L, name, loc, prev);
    return false;
  }
  return true;
}

/* name = value: rebinding a local is normal; binding an input, a param or
 * a block's name is a duplicate definition. */
static void assign(Lower *L, const char *name, Value v, Loc loc) {
  if (reserved(L, name, loc))
    return;
  Binding *b = find_var(L->scope->vars, name);
  if (b && b->kind == B_LOCAL) {
    b->v = v;
    b->loc = loc;
    return;
  }
  Loc prev;
  if (defined_at(L, name, &prev)) {
    duplicate(L, name, loc, prev);
    return;
  }
  push_var(L, &L->scope->vars, name, B_LOCAL, v, loc);
}

/* A statement lost to a syntax error: bind what it declared to poison, so
 * that uses of the name say nothing more. */
static void bind_broken(Lower *L, const Stmt *s) {
  Binding *local = s->name ? find_var(L->scope->vars, s->name) : NULL;
  if (local && local->kind == B_LOCAL)
    local->v = fe_poison(s->loc);  /* a rebinding: the old value is stale */
  if (!s->name || local || find_var(L->globals, s->name))
    return;
  bool global = (s->head == S_INPUT || s->head == S_LABEL ||
                 s->head == S_PARAM) && L->scope == L->top;
  if (s->head == S_OUTPUT)
    push_var(L, &L->outputs, s->name, B_LOCAL, fe_poison(s->loc), s->loc);
  if (s->head == S_ASSIGN || s->head == S_OUTPUT || s->head == S_PARAM ||
      global)
    push_var(L, global ? &L->globals : &L->scope->vars, s->name,
             global ? B_INPUT : B_LOCAL, fe_poison(s->loc), s->loc);
}

static void ensure_checked(Lower *L, BlockDef *b);
static void check_unique(Lower *L, const Stmt *s);

/* ---- declarations -------------------------------------------------------- */

/* Element type and shape; dloc[i] gets where dimension i was written.
 * batch: whether N may appear. False after an error. */
static bool eval_type(Lower *L, const TypeExpr *t, bool batch, DType *dt,
                      Shape *s, Loc *dloc) {
  static const char *const types[] = {"f32", "i32"};
  int k = 0;
  while (k < DT_COUNT && strcmp(dtype_name[k], t->dtype) != 0)
    k++;
  if (k == DT_COUNT) {
    const char *near = fe_closest(t->dtype, types, 2);
    if (fe_error(L, t->loc, "unknown element type '%s'", t->dtype))
      diag_hint(near ? "did you mean '%s'?" : "the element types are f32 "
                "and i32%s", near ? near : "");
    return false;
  }
  *dt = (DType)k;
  *s = (Shape){0};
  bool ok = true, sym = false;
  for (const Arg *a = t->dims; a; a = a->next) {
    Value v = fe_eval(L, a->e);
    v.loc = a->vloc;
    if (s->rank == MAX_RANK) {
      fe_error(L, v.loc, "a shape has at most %d dimensions", MAX_RANK);
      return false;
    }
    dloc[s->rank] = v.loc;
    if (v.kind == V_DIM && !batch) {
      if (fe_error(L, v.loc, "a parameter's shape cannot depend on the "
                   "batch size N"))
        diag_hint("parameters are shared by all samples of a batch");
      return false;
    } else if (v.kind == V_DIM && sym) {
      fe_error(L, v.loc, "only one dimension may be the batch dimension N");
      return false;
    } else if (v.kind == V_NUM && fe_convert(L, A_COUNT, "a dimension", &v)) {
      s->d[s->rank] = (int64_t)v.num;
    } else if (v.kind == V_DIM) {
      s->d[s->rank] = v.dim;
      sym = true;
    } else {
      if (v.kind != V_POISON && v.kind != V_NUM)
        fe_error(L, v.loc, "a dimension must be a positive whole number%s, "
                 "got %s", batch ? " or N" : "", fe_describe(L, &v));
      ok = false;
    }
    s->rank++;
  }
  if (ok && shape_too_big(s)) {
    char buf[96];
    shape_str(buf, sizeof buf, *dt, s);
    fe_error(L, t->loc, "%s has more than 2^40 elements%s", buf,
             shape_numel(s).sym ? " per sample" : "");
    return false;
  }
  return ok;
}

/* Inputs carry the batch dimension N first, exactly once. */
static bool check_batch_dim(Lower *L, const Stmt *s, const Shape *sh,
                            const Loc *dloc) {
  for (int i = 1; i < sh->rank; i++)
    if (sh->d[i] < 0) {
      if (fe_error(L, dloc[i], "the batch dimension N must be the first "
                   "dimension of input '%s'", s->name))
        diag_hint("write the shape of one sample after N, e.g. f32[N, 1, "
                  "28, 28]");
      return false;
    }
  if (sh->rank > 0 && sh->d[0] < -1) {
    fe_error(L, dloc[0], "the first dimension of input '%s' must be N "
             "itself, not a multiple of it", s->name);
    return false;
  }
  if (sh->rank == 0 || sh->d[0] != -1) {
    if (fe_error(L, s->type->loc, "input '%s' has no batch dimension",
                 s->name))
      diag_hint("its first dimension must be N, e.g. f32[N, 784]");
    return false;
  }
  return true;
}

static int64_t eval_classes(Lower *L, const Stmt *s, DType dt, bool *ok) {
  if (!s->e)
    return 0;
  Value v = fe_eval(L, s->e);
  if (!fe_convert(L, A_COUNT, "'classes'", &v)) {
    *ok = false;
    return 0;
  }
  if (dt != DT_I32) {
    fe_error(L, v.loc, "'classes' needs an i32 label, but '%s' is %s",
             s->name, dtype_name[dt]);
    *ok = false;
  }
  return (int64_t)v.num;
}

static void lower_input(Lower *L, const Stmt *s) {
  DType dt;
  Shape sh;
  Loc dloc[MAX_RANK];
  bool ok = eval_type(L, s->type, true, &dt, &sh, dloc) &&
            check_batch_dim(L, s, &sh, dloc);
  int64_t classes = eval_classes(L, s, ok ? dt : DT_I32, &ok);
  if (!fresh_name(L, s->name, s->name_loc))
    return;
  Value v = fe_poison(s->loc);
  if (ok)
    v = fe_tensor(ir_input(L->g, s->name, dt, sh,
                           s->kind == S_LABEL ? IN_LABEL : IN_DATA, classes,
                           s->name_loc), s->name_loc);
  push_var(L, &L->globals, s->name, B_INPUT, v, s->name_loc);
}

/* `init EXPR`: an initializer's name or call. */
static bool eval_init(Lower *L, const Stmt *s, Init *init) {
  const Expr *e = s->e;
  int n;
  const char *const *names = fe_init_names(&n);
  bool unknown = (e->kind == E_NAME && !fe_lookup(L, e->str)) ||
                 (e->kind == E_CALL && !fe_is_builtin(e->str) &&
                  !fe_find_block(L, e->str));
  if (unknown) {
    const char *near = fe_closest(e->str, names, n);
    if (fe_error(L, e->loc, "unknown initializer '%s'", e->str)) {
      if (near)
        diag_hint("did you mean '%s'?", near);
      else
        diag_hint("the initializers are zeros, ones, const(v), uniform(a, "
                  "b), normal(mean, std), xavier, xavier_normal, he, "
                  "he_uniform");
    }
    return false;
  }
  Value v = fe_eval(L, e);
  const char *what = arena_printf(L->a, "the initializer of '%s'", s->name);
  if (!fe_convert(L, A_INIT, what, &v))
    return false;
  *init = v.init;
  return true;
}

static void lower_param(Lower *L, const Stmt *s) {
  DType dt;
  Shape sh;
  Loc dloc[MAX_RANK];
  bool ok = eval_type(L, s->type, false, &dt, &sh, dloc);
  if (ok && dt != DT_F32) {
    if (fe_error(L, s->type->loc, "parameter '%s' must be f32, not %s",
                 s->name, dtype_name[dt]))
      diag_hint("parameters are trained; integer data such as labels and "
                "token ids are inputs");
    ok = false;
  }
  Init init = fe_default_init(&sh);
  if (s->e && !eval_init(L, s, &init))
    ok = false;
  if (!fresh_name(L, s->name, s->name_loc))
    return;
  int node = ok ? fe_new_param(L, s->name, sh, init, s->name_loc) : -1;
  Value v = node >= 0 ? fe_tensor(node, s->name_loc) : fe_poison(s->loc);
  bool top = L->scope == L->top;
  push_var(L, top ? &L->globals : &L->scope->vars, s->name, B_PARAM, v,
           s->name_loc);
}

static void lower_output(Lower *L, const Stmt *s) {
  Value v;
  if (s->e) {
    v = fe_eval(L, s->e);
    assign(L, s->name, v, s->name_loc);
  } else {
    Expr name = {.kind = E_NAME, .str = s->name, .loc = s->name_loc};
    v = fe_eval(L, &name);
  }
  Binding *prev = find_var(L->outputs, s->name);
  push_var(L, &L->outputs, s->name, B_LOCAL, v, s->name_loc);
  if (prev) {
    if (fe_error(L, s->name_loc, "duplicate output '%s'", s->name))
      diag_note(prev->loc, "previous definition is here");
  } else if (v.kind != V_TENSOR && v.kind != V_POISON) {
    fe_error(L, s->e ? s->e->loc : s->name_loc, "output '%s' must be a "
             "tensor, got %s", s->name, fe_describe(L, &v));
  } else if (v.kind == V_TENSOR) {
    ir_output(L->g, s->name, v.node, s->name_loc);
  }
}

/* One statement of the top level or of a block expansion. Statements that
 * do not belong in a block were reported by check_block. */
static void lower_stmt(Lower *L, const Stmt *s) {
  bool top = L->scope == L->top;
  switch (s->kind) {
  case S_INPUT:
  case S_LABEL:
    if (top)
      lower_input(L, s);
    break;
  case S_PARAM:
    lower_param(L, s);
    break;
  case S_ASSIGN:
    assign(L, s->name, fe_eval(L, s->e), s->loc);
    break;
  case S_OUTPUT:
    if (top)
      lower_output(L, s);
    break;
  case S_RETURN:
    if (top && fe_error(L, s->loc, "'return' outside a block"))
      diag_hint("the model's results are declared with 'output NAME = "
                "EXPR'");
    break;
  case S_ERROR:
    bind_broken(L, s);
    break;
  case S_BLOCK:
  case S_TRAIN:
  case S_MODEL:
  case S_DECODE:
    if (top)
      check_unique(L, s);
    break;
  default:
    break;
  }
}

/* ---- blocks -------------------------------------------------------------- */

int fe_count_call(Lower *L, const char *name) {
  Counter *c = L->scope->counts;
  while (c && strcmp(c->name, name) != 0)
    c = c->next;
  if (!c) {
    c = arena_alloc(L->a, sizeof *c);
    *c = (Counter){.name = name, .next = L->scope->counts};
    L->scope->counts = c;
  }
  return ++c->n;
}

static void block_sig(const Stmt *def, Sig *s) {
  memset(s, 0, sizeof *s);
  s->fname = def->name;
  s->what = "block";
  for (const Arg *a = def->params; a && s->n < MAX_PARAMS; a = a->next)
    s->p[s->n++] = (ParamSpec){.name = a->name, .kind = A_ANY,
                               .def_expr = a->e};
}

/* Bind the block's parameters in the new scope; defaults are evaluated
 * there, so they may use the parameters before them. */
static bool bind_params(Lower *L, const Stmt *def, const ArgVal *arg) {
  int i = 0;
  for (const Arg *a = def->params; a; a = a->next, i++) {
    Value v = arg[i].given ? arg[i].v : fe_eval(L, a->e);
    if (v.kind == V_POISON)
      return false;
    push_var(L, &L->scope->vars, a->name, B_LOCAL, v, a->loc);
  }
  return true;
}

static Value expand_body(Lower *L, const Stmt *def) {
  for (const Stmt *s = def->body; s; s = s->next) {
    if (s->kind == S_RETURN)
      return fe_eval(L, s->e);
    if (s->kind == S_ERROR && s->head == S_RETURN)
      break;
    lower_stmt(L, s);
  }
  return fe_poison(def->loc);
}

Value fe_call_block(Lower *L, BlockDef *b, const Expr *call,
                    const Value *vals) {
  Sig sig;
  ArgVal arg[MAX_PARAMS];
  ensure_checked(L, b);
  if (b->bad)
    return fe_poison(call->loc);
  block_sig(b->def, &sig);
  if (!fe_bind(L, &sig, call, vals, arg))
    return fe_poison(call->loc);
  if (L->calls >= MAX_BLOCK_DEPTH) {
    fe_error(L, call->loc, "block calls nested more than %d deep", MAX_BLOCK_DEPTH);
    return fe_poison(call->loc);
  }
  int k = fe_count_call(L, b->def->name);
  Scope *s = arena_alloc(L->a, sizeof *s);
  *s = (Scope){.block = b->def->name, .call = call->loc, .caller = L->scope,
               .prefix = arena_printf(L->a, "%s%s%d.", L->scope->prefix,
                                      b->def->name, k)};
  L->scope = s;
  L->calls++;
  Value r = bind_params(L, b->def, arg) ? expand_body(L, b->def)
                                        : fe_poison(call->loc);
  L->calls--;
  L->scope = s->caller;
  r.loc = call->loc;
  return r;
}

/* ---- block definitions --------------------------------------------------- */

/* Blocks are declared before anything is lowered, so that a block may be
 * called above its definition; a second definition of a name is reported
 * when the walk reaches it (lower_stmt). */
static void declare_block(Lower *L, Stmt *s) {
  if (s->name && fe_find_block(L, s->name))
    return;
  arena_grow(L->a, (void **)&L->block, &L->capblock, L->nblock + 1,
             sizeof *L->block);
  L->block[L->nblock++] = (BlockDef){.def = s, .bad = s->kind == S_ERROR};
}

static const char *misplaced(StmtKind k) {
  switch (k) {
  case S_INPUT: case S_LABEL: return "inputs are declared at the top level";
  case S_OUTPUT: return "outputs are declared at the top level";
  case S_BLOCK: return "blocks are defined at the top level";
  case S_TRAIN: return "the train section belongs at the top level";
  case S_MODEL: return "'model' belongs at the top level";
  case S_DECODE: return "'decode' belongs at the top level";
  default: return NULL;
  }
}

static bool check_params(Lower *L, const Stmt *def) {
  bool ok = true;
  int n = 0;
  for (const Arg *a = def->params; a; a = a->next, n++) {
    for (const Arg *b = def->params; b != a; b = b->next)
      if (strcmp(a->name, b->name) == 0) {
        duplicate(L, a->name, a->loc, b->loc);
        ok = false;
      }
    ok = !reserved(L, a->name, a->loc) && ok;
  }
  if (n > MAX_PARAMS) {
    fe_error(L, def->name_loc, "block '%s' has %d parameters; at most %d "
             "are allowed", def->name, n, MAX_PARAMS);
    ok = false;
  }
  return ok;
}

/* A block's body: only assignments, params and a final return. */
static bool check_block(Lower *L, const Stmt *def) {
  bool ok = check_params(L, def), returned = false, broken = false;
  for (const Stmt *s = def->body; s; s = s->next) {
    if (returned) {
      fe_error(L, s->loc, "statement after 'return' is never reached");
      return false;
    }
    const char *why = misplaced(s->kind);
    if (why) {
      if (fe_error(L, s->loc, "%s, not inside a block", why) &&
          s->kind == S_OUTPUT)
        diag_hint("return the value, and declare the output where the "
                  "block is called");
      ok = false;
    }
    returned = s->kind == S_RETURN ||
               (s->kind == S_ERROR && s->head == S_RETURN);
    broken = broken || (s->kind == S_ERROR && s->head == S_ERROR);
  }
  if (!returned && !broken) {
    if (fe_error(L, def->end, "block '%s' has no 'return'", def->name))
      diag_hint("end the block with 'return EXPR'; its value is the "
                "block's result");
    ok = false;
  }
  return ok && !broken;
}

/* ---- recursion ----------------------------------------------------------- */

static void collect_calls(Lower *L, const Expr *e, const Expr ***calls,
                          int *n, int *cap) {
  if (!e)
    return;
  if (e->kind == E_CALL && fe_find_block(L, e->str)) {
    arena_grow(L->a, (void **)calls, cap, *n + 1, sizeof **calls);
    (*calls)[(*n)++] = e;
  }
  collect_calls(L, e->lhs, calls, n, cap);
  collect_calls(L, e->rhs, calls, n, cap);
  for (const Arg *a = e->args; a; a = a->next)
    collect_calls(L, a->e, calls, n, cap);
}

static void block_calls(Lower *L, const Stmt *def, const Expr ***calls,
                        int *n) {
  int cap = 0;
  *n = 0;
  *calls = NULL;
  for (const Arg *a = def->params; a; a = a->next)
    collect_calls(L, a->e, calls, n, &cap);
  for (const Stmt *s = def->body; s; s = s->next) {
    collect_calls(L, s->e, calls, n, &cap);
    for (const Arg *d = s->type ? s->type->dims : NULL; d; d = d->next)
      collect_calls(L, d->e, calls, n, &cap);
  }
}

static void report_cycle(Lower *L, BlockDef **stack, int depth, int from,
                         const Expr *call) {
  BlockDef *to = fe_find_block(L, call->str);
  if (to == stack[depth - 1]) {
    fe_error(L, call->loc, "block '%s' calls itself", call->str);
  } else {
    Str path = {0};
    for (int i = from; i < depth; i++)
      str_printf(&path, "%s -> ", stack[i]->def->name);
    fe_error(L, call->loc, "recursive blocks: %s%s", path.s, call->str);
    str_free(&path);
  }
  diag_hint("blocks are expanded at each call, so they cannot call "
            "themselves, directly or through other blocks");
  for (int i = from; i < depth; i++)
    stack[i]->bad = true;
}

/* Depth-first search over calls; a call to a block on the stack closes a
 * cycle. mark: 0 unvisited, 1 on the stack, 2 done. */
static void find_cycles(Lower *L, BlockDef *b, BlockDef **stack, int depth) {
  const Expr **calls;
  int n;
  if (depth == MAX_BLOCK_DEPTH) { /* deeper calls fail at expansion anyway */
    fe_error(L, b->def->name_loc, "blocks call each other more than %d deep "
             "(through '%s')", MAX_BLOCK_DEPTH, b->def->name);
    b->bad = true;
    b->mark = 2;
    return;
  }
  b->mark = 1;
  stack[depth++] = b;
  block_calls(L, b->def, &calls, &n);
  for (int i = 0; i < n; i++) {
    BlockDef *to = fe_find_block(L, calls[i]->str);
    if (to->mark == 1) {
      int from = depth - 1;
      while (stack[from] != to)
        from--;
      report_cycle(L, stack, depth, from, calls[i]);
    } else if (to->mark == 0 && to->def->kind == S_BLOCK) {
      find_cycles(L, to, stack, depth);
    }
  }
  b->mark = 2;
}

/* A block's definition is checked when the top level reaches it, or at
 * its first call if that comes earlier, so that errors come out in source
 * order. Checks are made from the top-level scope: they are about the
 * definition, not about one expansion. */
static void ensure_checked(Lower *L, BlockDef *b) {
  if (b->checked || b->def->kind != S_BLOCK)
    return;
  b->checked = true;
  Scope *scope = L->scope;
  L->scope = L->top;
  if (fe_is_builtin(b->def->name)) {
    fe_error(L, b->def->name_loc, "block '%s' has the name of a built-in "
             "function", b->def->name);
    b->bad = true;
  }
  if (!check_block(L, b->def))
    b->bad = true;
  if (b->mark == 0) {
    BlockDef *stack[MAX_BLOCK_DEPTH]; /* find_cycles goes no deeper */
    find_cycles(L, b, stack, 0);
  }
  L->scope = scope;
}

/* ---- the whole program --------------------------------------------------- */

/* First pass: blocks, and the first model statement and train section
 * (later ones are reported in order by lower_stmt). */
static void collect(Lower *L, const Parse *p) {
  for (Stmt *s = p->stmts; s; s = s->next) {
    StmtKind k = s->kind == S_ERROR ? s->head : s->kind;
    if (k == S_BLOCK)
      declare_block(L, s);
    if (k == S_MODEL && !L->model)
      L->model = s;
    if (k == S_TRAIN && !L->train)
      L->train = s;
    if (k == S_DECODE && !L->decode)
      L->decode = s;
  }
}

/* A block, model or train statement other than the first of its kind. */
static void check_unique(Lower *L, const Stmt *s) {
  if (s->kind == S_BLOCK) {
    BlockDef *b = fe_find_block(L, s->name);
    if (b->def != s)
      duplicate(L, s->name, s->name_loc, b->def->name_loc);
    else
      ensure_checked(L, b);
    return;
  }
  const Stmt *first = s->kind == S_MODEL ? L->model
                      : s->kind == S_DECODE ? L->decode : L->train;
  if (first != s && fe_error(L, s->loc, "duplicate %s", s->kind == S_MODEL
                             ? "'model' statement" : s->kind == S_DECODE
                             ? "'decode' statement" : "train section"))
    diag_note(first->loc, "previous one is here");
}

static const char *default_name(Arena *a, const char *file) {
  const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
  size_t n = strlen(base);
  if (n > 4 && strcmp(base + n - 4, ".dlm") == 0)
    n -= 4;
  return arena_strndup(a, base, n);
}

/* Whether a top-level statement may have been meant as the output: one
 * lost to a syntax error without a trace of what it declared, or a
 * misplaced 'return' (already reported). */
static bool output_attempted(const Parse *p) {
  for (const Stmt *s = p->stmts; s; s = s->next) {
    StmtKind k = s->kind == S_ERROR ? s->head : s->kind;
    if (k == S_ERROR || k == S_RETURN)
      return true;
  }
  return false;
}

static Graph *lower(Parse *p) {
  Lower L = {.a = p->a};
  Scope top = {.prefix = ""};
  L.scope = L.top = &top;
  collect(&L, p);
  bool named = L.model && L.model->kind == S_MODEL;
  L.g = ir_new_graph(named ? L.model->name : default_name(p->a, p->file));
  for (const Stmt *s = p->stmts; s; s = s->next)
    lower_stmt(&L, s);
  if (L.train && L.train->kind == S_TRAIN)
    fe_lower_train(&L, L.train);
  if (L.decode && L.decode->kind == S_DECODE)
    fe_lower_decode(&L, L.decode);
  if (!L.outputs && !output_attempted(p)) {
    Loc end = fe_loc(p, p->end_line ? p->end_line : 1,
                     p->end_line ? p->end_col : 1);
    if (fe_error(&L, end, "the model has no output"))
      diag_hint("declare one, e.g. 'output probs = softmax(logits)'");
  }
  fe_flush_notes(&L);
  return L.g;
}

Graph *fe_load_text(const char *file, const char *text) {
  file = intern(file);
  text = keep_text(file, text);
  diag_add_source(file, text);
  int errors = diag_count();
  Arena *a = arena_new();
  Parse p = {.a = a, .file = file};
  Graph *g = NULL;
  if (fe_parse(&p, text))
    g = lower(&p);
  arena_free(a);
  if (g && diag_count() > errors) {
    ir_free_graph(g);
    g = NULL;
  }
  return g;
}

Graph *fe_load(const char *path) {
  size_t len;
  char *text = read_file(path, &len);
  if (!text) {
    diag_error((Loc){intern(path), 0, 0}, "cannot read the file: %s",
               strerror(errno));
    return NULL;
  }
  if (strlen(text) != len) {
    diag_error((Loc){intern(path), 0, 0}, "the file contains a NUL byte; "
               "is it a .dlm text file?");
    free(text);
    return NULL;
  }
  Graph *g = fe_load_text(path, text);
  free(text);
  return g;
}
