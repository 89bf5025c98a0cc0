/* train.c — the train section: checked key = value pairs, stored in the
 * graph as canonical text for the training code (ir_train_kv).
 *
 * The one idea: one table row per key says how its value is checked — a
 * number or flag of some kind, one of a few named choices with keyword
 * arguments (optimizers, schedules, data formats: each a signature), or
 * the loss expression. Values are stored in a normal form: numbers folded
 * and printed shortest, choices as `name(k=v, ...)` with only the
 * arguments written, in signature order. `data = idx(...)` becomes the
 * keys data.format, data.images, data.labels, data.scale.
 */
#include "frontend.h"

#include <string.h>

typedef struct Choice {
  const char *name;
  const char *sig;
} Choice;

static const Choice optimizers[] = {
  {"sgd", "lr: pos = 0.01, momentum: frac = 0, nesterov: bool = false"},
  {"adagrad", "lr: pos = 0.01, eps: pos = 1e-10"},
  {"rmsprop", "lr: pos = 0.001, rho: frac = 0.9, eps: pos = 1e-8, "
              "momentum: frac = 0"},
  {"adam", "lr: pos = 0.001, beta1: frac = 0.9, beta2: frac = 0.999, "
           "eps: pos = 1e-8"},
};

static const Choice schedules[] = {
  {"constant", ""},
  {"step", "every: count, gamma: pos = 0.1"},
  {"exponential", "gamma: pos"},
  {"cosine", "min_lr: nonneg = 0"},
};

static const Choice formats[] = {
  {"idx", "images: string, labels: string, scale: float = 1"},
};

/* Functions a loss may call besides the built-ins and blocks. */
static const Choice losses[] = {
  {"cross_entropy", "logits: tensor, labels: tensor"},
  {"mse", "pred: tensor, target: tensor"},
  {"binary_cross_entropy", "pred: tensor, target: tensor"},
};

typedef enum How { T_LOSS, T_CHOICE, T_DATA, T_VALUE } How;

typedef struct Key {
  const char *key;
  How how;
  ArgKind kind;           /* T_VALUE */
  const Choice *choice;   /* T_CHOICE, T_DATA */
  int nchoice;
  const char *what;       /* the choices' name: "optimizer" */
} Key;

#define CHOICES(c, what) T_CHOICE, 0, c, sizeof c / sizeof c[0], what
static const Key keys[] = {
  {"loss", T_LOSS, 0, NULL, 0, NULL},
  {"optimizer", CHOICES(optimizers, "optimizer")},
  {"lr_schedule", CHOICES(schedules, "schedule")},
  {"batch", T_VALUE, A_COUNT, NULL, 0, NULL},
  {"epochs", T_VALUE, A_COUNT, NULL, 0, NULL},
  {"data", T_DATA, 0, formats, 1, "data format"},
  {"test", T_DATA, 0, formats, 1, "data format"},
  {"validation_split", T_VALUE, A_FRAC, NULL, 0, NULL},
  {"early_stopping", T_VALUE, A_NAT, NULL, 0, NULL},
  {"l1", T_VALUE, A_NONNEG, NULL, 0, NULL},
  {"l2", T_VALUE, A_NONNEG, NULL, 0, NULL},
  {"clip_norm", T_VALUE, A_NONNEG, NULL, 0, NULL},
  {"seed", T_VALUE, A_NAT, NULL, 0, NULL},
  {"shuffle", T_VALUE, A_BOOL, NULL, 0, NULL},
};
#undef CHOICES
enum { NKEY = sizeof keys / sizeof keys[0] };

static const char *value_str(Lower *L, const Value *v) {
  switch (v->kind) {
  case V_BOOL:
    return v->num ? "true" : "false";
  case V_STR: {
    Expr e = {.kind = E_STR, .str = v->str};
    return fe_expr_str(L->a, &e);
  }
  default:
    return fe_num_str(L->a, v->num);
  }
}

/* "sgd, adagrad, rmsprop or adam" */
static const char *choice_list(Lower *L, const Key *k) {
  Str b = {0};
  for (int i = 0; i < k->nchoice; i++)
    str_printf(&b, "%s%s", i == 0 ? "" : i == k->nchoice - 1 ? " or " : ", ",
               k->choice[i].name);
  const char *s = arena_strdup(L->a, b.s);
  str_free(&b);
  return s;
}

/* `adam` or `sgd(lr = 0.1)`: the choice's index, its arguments in arg. */
static int eval_choice(Lower *L, const Key *k, const Expr *e, Sig *sig,
                       ArgVal *arg) {
  int i = -1;
  if (e->kind == E_NAME || e->kind == E_CALL)
    for (int j = 0; j < k->nchoice; j++)
      if (strcmp(k->choice[j].name, e->str) == 0)
        i = j;
  if (i < 0) {
    const char *names[8];
    for (int j = 0; j < k->nchoice; j++)
      names[j] = k->choice[j].name;
    const char *near = e->kind == E_NAME || e->kind == E_CALL
                           ? fe_closest(e->str, names, k->nchoice) : NULL;
    bool shown = e->kind == E_NAME || e->kind == E_CALL
        ? fe_error(L, e->loc, "unknown %s '%s'", k->what, e->str)
        : fe_error(L, e->loc, "'%s' must be a %s such as %s(...)", k->key,
                   k->what, k->choice[0].name);
    if (shown)
      diag_hint(near ? "did you mean '%s'?" : "the %ss are %s",
                near ? near : k->what, choice_list(L, k));
    return -1;
  }
  fe_parse_sig(sig, k->choice[i].name, k->what, k->choice[i].sig);
  Expr call = *e;
  if (e->kind == E_NAME)
    call = (Expr){.kind = E_CALL, .str = e->str, .loc = e->loc};
  Value *vals = arena_alloc(L->a, sizeof *vals * (size_t)(call.nargs + 1));
  int n = 0;
  for (const Arg *a = call.args; a; a = a->next, n++) {
    vals[n] = fe_eval(L, a->e);
    vals[n].loc = a->vloc;
  }
  return fe_bind(L, sig, &call, vals, arg) ? i : -1;
}

static void store_choice(Lower *L, const Key *k, const Stmt *s) {
  Sig sig;
  ArgVal arg[MAX_PARAMS];
  if (eval_choice(L, k, s->e, &sig, arg) < 0)
    return;
  Str b = {0};
  str_printf(&b, "%s(", sig.fname);
  bool first = true;
  for (int i = 0; i < sig.n; i++)
    if (arg[i].given && !arg[i].dflt) {
      str_printf(&b, "%s%s=%s", first ? "" : ", ", sig.p[i].name,
                 value_str(L, &arg[i].v));
      first = false;
    }
  str_putc(&b, ')');
  ir_train_kv(L->g, k->key, b.s, s->loc);
  str_free(&b);
}

/* data = idx(images, labels, scale = s): four keys under "data.". */
static void store_data(Lower *L, const Key *k, const Stmt *s) {
  Sig sig;
  ArgVal arg[MAX_PARAMS];
  if (eval_choice(L, k, s->e, &sig, arg) < 0)
    return;
  const char *key = k->key;
  ir_train_kv(L->g, arena_printf(L->a, "%s.format", key), sig.fname, s->loc);
  ir_train_kv(L->g, arena_printf(L->a, "%s.images", key), arg[0].v.str,
              arg[0].loc);
  ir_train_kv(L->g, arena_printf(L->a, "%s.labels", key), arg[1].v.str,
              arg[1].loc);
  ir_train_kv(L->g, arena_printf(L->a, "%s.scale", key),
              arena_printf(L->a, "%.17g", arg[2].v.num), s->loc);
}

static void store_value(Lower *L, const Key *k, const Stmt *s) {
  Value v = fe_eval(L, s->e);
  if (fe_convert(L, k->kind, arena_printf(L->a, "'%s'", k->key), &v))
    ir_train_kv(L->g, k->key, value_str(L, &v), s->loc);
}

/* ---- the loss ------------------------------------------------------------ */

static int find_loss(const char *name) {
  for (size_t i = 0; i < sizeof losses / sizeof losses[0]; i++)
    if (strcmp(losses[i].name, name) == 0)
      return (int)i;
  return -1;
}

static bool simple_args(const Expr *call) {
  for (const Arg *a = call->args; a; a = a->next)
    if (a->e->kind != E_NAME && a->e->kind != E_NUM)
      return false;
  return true;
}

static void unknown_loss(Lower *L, const Expr *e) {
  int nb;
  const char *const *builtin = fe_builtin_names(L, &nb);
  enum { NLOSS = sizeof losses / sizeof losses[0] };
  const char **cand = arena_alloc(L->a, sizeof *cand * (size_t)(nb + NLOSS));
  for (int i = 0; i < NLOSS; i++)
    cand[i] = losses[i].name;
  for (int i = 0; i < nb; i++)
    cand[NLOSS + i] = builtin[i];
  const char *near = fe_closest(e->str, cand, nb + NLOSS);
  if (fe_error(L, e->loc, "unknown loss function '%s'", e->str))
    diag_hint(near ? "did you mean '%s'?" : "the losses are %s",
              near ? near : "cross_entropy, mse and binary_cross_entropy");
}

/* The loss is lowered by the training code; here its names and functions
 * are checked, and a loss call with plain names as arguments is checked
 * against its signature. */
static bool check_loss(Lower *L, const Expr *e) {
  if (!e)
    return true;
  if (e->kind == E_NAME)
    return fe_eval(L, e).kind != V_POISON;
  if (e->kind == E_CALL) {
    int k = find_loss(e->str);
    if (k < 0 && !fe_is_builtin(e->str) && !fe_find_block(L, e->str)) {
      unknown_loss(L, e);
      return false;
    }
    bool ok = true;
    for (const Arg *a = e->args; a; a = a->next)
      ok = check_loss(L, a->e) && ok;
    if (ok && k >= 0 && simple_args(e)) {
      Sig sig;
      ArgVal arg[MAX_PARAMS];
      Value vals[MAX_PARAMS + 1];
      int n = 0;
      fe_parse_sig(&sig, losses[k].name, "loss function", losses[k].sig);
      for (const Arg *a = e->args; a && n <= MAX_PARAMS; a = a->next, n++) {
        vals[n] = fe_eval(L, a->e);
        vals[n].loc = a->vloc;
      }
      ok = fe_bind(L, &sig, e, vals, arg);
    }
    return ok;
  }
  bool ok = check_loss(L, e->lhs);
  ok = check_loss(L, e->rhs) && ok;
  for (const Arg *a = e->args; a; a = a->next)
    ok = check_loss(L, a->e) && ok;
  return ok;
}

/* ---- the section --------------------------------------------------------- */

static const Key *find_key(Lower *L, const Stmt *s) {
  const char *names[NKEY];
  for (int i = 0; i < NKEY; i++) {
    names[i] = keys[i].key;
    if (strcmp(keys[i].key, s->name) == 0)
      return &keys[i];
  }
  const char *near = fe_closest(s->name, names, NKEY);
  if (fe_error(L, s->loc, "unknown train key '%s'", s->name)) {
    if (near) {
      diag_hint("did you mean '%s'?", near);
    } else {
      Str b = {0};
      for (int i = 0; i < NKEY; i++)
        str_printf(&b, "%s%s", i ? ", " : "", keys[i].key);
      diag_hint("the keys are %s", b.s);
      str_free(&b);
    }
  }
  return NULL;
}

void fe_lower_train(Lower *L, const Stmt *train) {
  const Stmt *seen[NKEY] = {0};
  bool loss = false;
  for (const Stmt *s = train->body; s; s = s->next) {
    if (s->kind == S_ERROR) {
      loss = loss || (s->name && strcmp(s->name, "loss") == 0) ||
             s->head == S_ERROR;
      continue;
    }
    const Key *k = find_key(L, s);
    if (!k)
      continue;
    const Stmt **prev = &seen[k - keys];
    if (*prev) {
      if (fe_error(L, s->loc, "duplicate train key '%s'", s->name))
        diag_note((*prev)->loc, "previous definition is here");
      continue;
    }
    *prev = s;
    switch (k->how) {
    case T_LOSS:
      loss = true;
      if (check_loss(L, s->e))
        ir_train_kv(L->g, "loss", fe_expr_str(L->a, s->e), s->loc);
      break;
    case T_CHOICE: store_choice(L, k, s); break;
    case T_DATA: store_data(L, k, s); break;
    case T_VALUE: store_value(L, k, s); break;
    }
  }
  if (!loss && fe_error(L, train->loc, "the train section has no 'loss'"))
    diag_hint("add one, e.g. 'loss = cross_entropy(logits, y)'");
}
