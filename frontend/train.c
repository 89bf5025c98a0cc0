/* train.c — the train section: checked key = value pairs, stored in the
 * graph as canonical text for the training code (ir_train_kv), and the
 * loss, lowered into graph nodes (g->loss).
 *
 * The one idea: one table row per key says how its value is checked — a
 * number or flag of some kind, one of a few named choices with keyword
 * arguments (optimizers, schedules, data formats: each a signature), or
 * the loss expression. Values are stored in a normal form: numbers folded
 * and printed shortest, choices as `name(k=v, ...)` with only the
 * arguments written, in signature order (the compiler applies the
 * defaults: passes/optim.c). A data source becomes several keys,
 * data.format and one per argument of its format with defaults applied
 * (data.images, data.labels for idx; data.path, data.label_column,
 * data.skip_header for csv), but scale, classes and normalisation only
 * when written. The augmentation is a list of choices (transforms), stored
 * as one key: "crop(pad=2), flip()".
 */
#include "frontend.h"

#include <string.h>

typedef struct Choice {
  const char *name;
  const char *sig;
} Choice;

/* The defaults are PyTorch's (torch.optim), and passes/optim.c applies
 * the same ones; they are here for messages and hints. */
static const Choice optimizers[] = {
  {"sgd", "lr: pos = 0.01, momentum: frac = 0, nesterov: bool = false"},
  {"adagrad", "lr: pos = 0.01, eps: pos = 1e-10"},
  {"rmsprop", "lr: pos = 0.001, rho: frac = 0.99, eps: pos = 1e-8, "
              "momentum: frac = 0"},
  {"adam", "lr: pos = 0.001, beta1: frac = 0.9, beta2: frac = 0.999, "
           "eps: pos = 1e-8"},
  {"adamw", "lr: pos = 0.001, beta1: frac = 0.9, beta2: frac = 0.999, "
            "eps: pos = 1e-8, weight_decay: nonneg = 0.01"},
};

static const Choice schedules[] = {
  {"constant", ""},
  {"step", "every: count, gamma: pos = 0.1"},
  {"exponential", "gamma: pos"},
  {"cosine", "min_lr: nonneg = 0"},
};

/* Every format of features ends with the classes to keep and the
 * normalisation arguments (NORM), which store_data handles apart from the
 * others; text (characters for a character model) has neither. */
#define NORM ", classes: ints = none, normalize: floats = none, " \
             "mean: floats = none, std: floats = none"
static const Choice formats[] = {
  {"idx", "images: string, labels: string, scale: float = 1" NORM},
  {"csv", "path: string, label_column: int = -1, scale: float = 1, "
          "skip_header: bool = true" NORM},
  {"npy", "images: string, labels: string, scale: float = 1" NORM},
  {"text", "path: string, part: floats = none"},
};
#undef NORM
enum { NNORM = 3, NTAIL = 4 };  /* normalize, mean, std: the last three
                                  parameters; classes and those: four */

/* The transforms of augment, in the order of runtime/augment.c. */
enum { CROP, FLIP, ROTATE, SCALE, NTRANSFORM };
static const Choice transforms[NTRANSFORM] = {
  [CROP] = {"crop", "pad: count"},
  [FLIP] = {"flip", "p: nonneg = 0.5"},
  [ROTATE] = {"rotate", "degrees: pos"},
  [SCALE] = {"scale", "low: pos, high: pos"},
};

/* The loss functions (rows of builtins.c), for hints. */
static const char *const losses[] = {
  "cross_entropy", "mse", "binary_cross_entropy",
};
enum { NLOSS = sizeof losses / sizeof losses[0] };

typedef enum How { T_LOSS, T_CHOICE, T_DATA, T_AUGMENT, T_VALUE } How;

typedef struct Key {
  const char *key;
  How how;
  ArgKind kind;           /* T_VALUE */
  const Choice *choice;   /* T_CHOICE, T_DATA, T_AUGMENT */
  int nchoice;
  const char *what;       /* the choices' name: "optimizer" */
} Key;

#define CHOICES(c, what) 0, c, sizeof c / sizeof c[0], what
static const Key keys[] = {
  {"loss", T_LOSS, 0, NULL, 0, NULL},
  {"optimizer", T_CHOICE, CHOICES(optimizers, "optimizer")},
  {"lr_schedule", T_CHOICE, CHOICES(schedules, "schedule")},
  {"batch", T_VALUE, A_COUNT, NULL, 0, NULL},
  {"epochs", T_VALUE, A_COUNT, NULL, 0, NULL},
  {"data", T_DATA, CHOICES(formats, "data format")},
  {"test", T_DATA, CHOICES(formats, "data format")},
  {"validation_split", T_VALUE, A_FRAC, NULL, 0, NULL},
  {"early_stopping", T_VALUE, A_NAT, NULL, 0, NULL},
  {"l1", T_VALUE, A_NONNEG, NULL, 0, NULL},
  {"l2", T_VALUE, A_NONNEG, NULL, 0, NULL},
  {"clip_norm", T_VALUE, A_NONNEG, NULL, 0, NULL},
  {"seed", T_VALUE, A_NAT, NULL, 0, NULL},
  {"shuffle", T_VALUE, A_BOOL, NULL, 0, NULL},
  {"augment", T_AUGMENT, CHOICES(transforms, "transform")},
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

/* Nesterov momentum without momentum is no update rule at all (PyTorch
 * refuses it too). */
static bool check_choice(Lower *L, const Sig *sig, const ArgVal *arg) {
  if (strcmp(sig->fname, "sgd") != 0 || !arg[2].v.num || arg[1].v.num > 0)
    return true;
  if (fe_error(L, arg[2].loc, "sgd: nesterov needs momentum > 0"))
    diag_hint("e.g. sgd(lr = 0.01, momentum = 0.9, nesterov = true)");
  return false;
}

/* Append the canonical text of a choice, "name(k=v, ...)" with the
 * arguments written, to b. */
static void put_choice(Lower *L, Str *b, const Sig *sig, const ArgVal *arg) {
  str_printf(b, "%s(", sig->fname);
  bool first = true;
  for (int i = 0; i < sig->n; i++)
    if (arg[i].given && !arg[i].dflt) {
      str_printf(b, "%s%s=%s", first ? "" : ", ", sig->p[i].name,
                 value_str(L, &arg[i].v));
      first = false;
    }
  str_putc(b, ')');
}

static void store_choice(Lower *L, const Key *k, const Stmt *s) {
  Sig sig;
  ArgVal arg[MAX_PARAMS];
  if (eval_choice(L, k, s->e, &sig, arg) < 0 || !check_choice(L, &sig, arg))
    return;
  Str b = {0};
  put_choice(L, &b, &sig, arg);
  ir_train_kv(L->g, k->key, b.s, s->loc);
  str_free(&b);
}

/* "0.5,0.25,0.125": a list of numbers as stored. */
static const char *numbers_str(Lower *L, const Value *list) {
  Str b = {0};
  for (int i = 0; i < list->nitem; i++)
    str_printf(&b, "%s%s", i ? "," : "", fe_num_str(L->a, list->item[i].num));
  const char *r = arena_strdup(L->a, b.s ? b.s : "");
  str_free(&b);
  return r;
}

/* The model's first input, or -1: what a data source's samples feed (the
 * targets feed the second). */
static int data_input(Lower *L) {
  for (int i = 0; i < L->g->nnode; i++)
    if (L->g->node[i].op == OP_INPUT)
      return i;
  return -1;
}

/* The model's second input (the targets), or -1. */
static int target_input(Lower *L) {
  int first = data_input(L);
  for (int i = first + 1; first >= 0 && i < L->g->nnode; i++)
    if (L->g->node[i].op == OP_INPUT)
      return i;
  return -1;
}

/* Per-channel values must come one per channel: axis 1 of the first input
 * ([N, C, H, W] images, [N, F] features). */
static bool check_channels(Lower *L, const char *fname, const char *what,
                           const ArgVal *a) {
  int x = data_input(L);
  if (a->v.nitem == 1 || x < 0 || L->g->node[x].shape.rank < 2 ||
      L->g->node[x].shape.d[1] == a->v.nitem)
    return true;
  fe_error(L, a->loc, "%s: %s has %d values, one per channel, but axis 1 of "
           "input '%s' %s has size %lld", fname, what, a->v.nitem,
           L->g->node[x].name, fe_type_str(L, x),
           (long long)L->g->node[x].shape.d[1]);
  return false;
}

/* normalize = [mean, std], or mean = [...] and std = [...] (the last NNORM
 * arguments of every format): checked, then stored as the keys
 * <key>.mean and <key>.std. */
static bool check_norm(Lower *L, const Sig *sig, ArgVal *arg, Value *mean,
                       Value *std, Loc *at) {
  const char *f = sig->fname;
  ArgVal *norm = &arg[sig->n - NNORM], *m = norm + 1, *d = norm + 2;
  *mean = *std = (Value){.kind = V_POISON};
  if (norm->given && (m->given || d->given)) {
    fe_error(L, (m->given ? m : d)->loc, "%s: give normalize = [mean, std] "
             "or mean = [...] and std = [...], not both", f);
    return false;
  }
  if (norm->given && norm->v.nitem != 2) {
    if (fe_error(L, norm->loc, "%s: normalize takes two numbers, [mean, "
                 "std], got %d", f, norm->v.nitem))
      diag_hint("for one value per channel write mean = [...] and "
                "std = [...]");
    return false;
  }
  if (m->given != d->given) {
    fe_error(L, (m->given ? m : d)->loc, "%s: %s needs %s too", f,
             m->given ? "mean" : "std", m->given ? "std" : "mean");
    return false;
  }
  if (norm->given) {
    *mean = (Value){.kind = V_LIST, .item = &norm->v.item[0], .nitem = 1};
    *std = (Value){.kind = V_LIST, .item = &norm->v.item[1], .nitem = 1};
    *at = norm->loc;
  } else if (m->given) {
    if (m->v.nitem != d->v.nitem) {
      fe_error(L, d->loc, "%s: mean has %d values, but std has %d", f,
               m->v.nitem, d->v.nitem);
      return false;
    }
    if (!check_channels(L, f, "mean", m))
      return false;
    *mean = m->v;
    *std = d->v;
    *at = m->loc;
  }
  for (int i = 0; i < std->nitem && std->kind == V_LIST; i++)
    if (!(std->item[i].num > 0)) {
      fe_error(L, std->item[i].loc, "%s: a standard deviation must be "
               "positive, got %s", f, fe_num_str(L->a, std->item[i].num));
      return false;
    }
  return true;
}

/* classes = [c0, c1, ...]: distinct classes (whole numbers >= 0), at
 * least two, of a target input with one value per sample; as many as the
 * classes of an i32 label, which sees them relabelled 0, 1, ... */
static bool check_classes(Lower *L, const Sig *sig, const ArgVal *a) {
  const char *f = sig->fname;
  const Value *v = &a->v;
  for (int i = 0; i < v->nitem; i++) {
    if (v->item[i].num < 0) {
      if (fe_error(L, v->item[i].loc, "%s: class %s is out of range", f,
                   fe_num_str(L->a, v->item[i].num)))
        diag_hint("classes are the labels' values, whole numbers >= 0");
      return false;
    }
    for (int j = 0; j < i; j++)
      if (v->item[j].num == v->item[i].num) {
        fe_error(L, v->item[i].loc, "%s: class %s is listed twice", f,
                 fe_num_str(L->a, v->item[i].num));
        return false;
      }
  }
  if (v->nitem < 2) {
    fe_error(L, a->loc, "%s: classes keeps %d class; keep at least two", f,
             v->nitem);
    return false;
  }
  int y = target_input(L);
  const Node *n = y >= 0 ? &L->g->node[y] : NULL;
  Size per = n ? shape_numel(&n->shape) : (Size){0};
  if (!n || !per.sym || per.k != 1) {
    if (fe_error(L, a->loc, "%s: classes needs a target input with one value "
                 "per sample%s%s%s", f, n ? ", but '" : "", n ? n->name : "",
                 n ? arena_printf(L->a, "' is %s", fe_type_str(L, y)) : ""))
      diag_hint("e.g. label y: i32[N] classes %d, or label t: f32[N, 1]",
                v->nitem);
    return false;
  }
  if (n->dtype == DT_I32 && n->classes > 0 && n->classes != v->nitem) {
    if (fe_error(L, a->loc, "%s: classes keeps %d classes, but label '%s' "
                 "has classes %lld", f, v->nitem, n->name,
                 (long long)n->classes))
      diag_hint("the kept classes are relabelled 0..%d: declare label %s: "
                "i32[N] classes %d", v->nitem - 1, n->name, v->nitem);
    return false;
  }
  return true;
}

/* text(path, part = [lo, hi]): the model reads characters, input
 * i32[N, T], and predicts the next ones, a label i32[N, T] classes V
 * with V <= 256 (bytes); part is two fractions 0 <= lo < hi <= 1. The
 * keys <key>.format, <key>.path and, when written, <key>.part "lo,hi". */
static void store_text(Lower *L, const Key *k, const Stmt *s, const Sig *sig,
                       const ArgVal *arg) {
  int x = data_input(L), y = target_input(L);
  const Node *nx = x >= 0 ? &L->g->node[x] : NULL, *ny = y >= 0 ? &L->g->node[y] : NULL;
  bool fit = nx && ny && nx->dtype == DT_I32 && ny->dtype == DT_I32 &&
             nx->shape.rank == 2 && ny->shape.rank == 2 && nx->shape.d[0] < 0 &&
             shape_equal(&nx->shape, &ny->shape) && ny->classes >= 2 &&
             ny->classes <= 256;
  if (!fit) {
    if (fe_error(L, s->vloc, "text: the model must read characters and predict "
                 "the next ones: an input i32[N, T] and a label i32[N, T] classes V "
                 "(V <= 256)%s%s%s%s%s", nx ? ", but input '" : "", nx ? nx->name : "",
                 nx ? arena_printf(L->a, "' is %s", fe_type_str(L, x)) : "",
                 ny ? arena_printf(L->a, " and '%s' ", ny->name) : "",
                 ny ? arena_printf(L->a, "is %s%s", fe_type_str(L, y), ny->classes ?
                      arena_printf(L->a, " classes %lld", (long long)ny->classes)
                      : "") : ""))
      diag_hint("input text: i32[N, 64] and label next: i32[N, 64] classes 128");
    return;
  }
  const ArgVal *part = &arg[1];
  if (part->given && (part->v.nitem != 2 || !(part->v.item[0].num >= 0) ||
                      !(part->v.item[0].num < part->v.item[1].num) ||
                      !(part->v.item[1].num <= 1))) {
    if (fe_error(L, part->loc, "text: part must be [lo, hi] with 0 <= lo < hi <= 1"))
      diag_hint("the fraction of every file read, e.g. part = [0, 0.9] for "
                "training and part = [0.9, 1] for the held-out text");
    return;
  }
  ir_train_kv(L->g, arena_printf(L->a, "%s.format", k->key), sig->fname, s->loc);
  ir_train_kv(L->g, arena_printf(L->a, "%s.path", k->key), arg[0].v.str, arg[0].loc);
  if (part->given)
    ir_train_kv(L->g, arena_printf(L->a, "%s.part", k->key), numbers_str(L, &part->v),
                part->loc);
}

/* data = FORMAT(...): the keys <key>.format and <key>.<argument> for every
 * argument of the format, defaults included, except scale, then
 * <key>.classes, <key>.mean and <key>.std when they are asked for. Scale,
 * classes and normalisation are stored only when written: the test set
 * takes the training set's when it has none of its own
 * (runtime/data.c). Strings are stored without quotes and scale with
 * %.17g. */
static void store_data(Lower *L, const Key *k, const Stmt *s) {
  Sig sig;
  ArgVal arg[MAX_PARAMS];
  Value mean, std;
  Loc at;
  if (eval_choice(L, k, s->e, &sig, arg) < 0)
    return;
  if (strcmp(sig.fname, "text") == 0) {
    store_text(L, k, s, &sig, arg);
    return;
  }
  if (!check_norm(L, &sig, arg, &mean, &std, &at))
    return;
  const ArgVal *classes = &arg[sig.n - NTAIL];
  if (classes->given && !check_classes(L, &sig, classes))
    return;
  const char *key = k->key;
  ir_train_kv(L->g, arena_printf(L->a, "%s.format", key), sig.fname, s->loc);
  for (int i = 0; i < sig.n - NTAIL; i++) {
    const Value *v = &arg[i].v;
    if (strcmp(sig.p[i].name, "scale") == 0 && arg[i].dflt)
      continue;
    const char *text = v->kind == V_STR ? v->str
                     : sig.p[i].kind == A_FLOAT
                         ? arena_printf(L->a, "%.17g", v->num)
                         : value_str(L, v);
    ir_train_kv(L->g, arena_printf(L->a, "%s.%s", key, sig.p[i].name), text,
                arg[i].loc);
  }
  if (classes->given)
    ir_train_kv(L->g, arena_printf(L->a, "%s.classes", key),
                numbers_str(L, &classes->v), classes->loc);
  if (mean.kind != V_LIST)
    return;
  ir_train_kv(L->g, arena_printf(L->a, "%s.mean", key),
              numbers_str(L, &mean), at);
  ir_train_kv(L->g, arena_printf(L->a, "%s.std", key), numbers_str(L, &std),
              at);
}

/* ---- augmentation -------------------------------------------------------- */

/* The transforms work on images: the model's first input must be
 * f32[N, C, H, W]. Its node, or -1 after an error. */
static int image_input(Lower *L, const Stmt *s) {
  int x = data_input(L);
  const Node *n = x >= 0 ? &L->g->node[x] : NULL;
  if (n && n->dtype == DT_F32 && n->shape.rank == 4 && n->shape.d[0] < 0)
    return x;
  if (fe_error(L, s->vloc, "augment: the transforms need an image input "
               "f32[N, C, H, W]%s%s%s", n ? ", but input '" : "",
               n ? n->name : "", n ? arena_printf(L->a, "' is %s",
                                                  fe_type_str(L, x)) : ""))
    diag_hint("augmentation transforms the model's first input");
  return -1;
}

/* The ranges a signature cannot say: a probability, an angle of at most
 * half a turn, low <= high, a crop smaller than the image. */
static bool check_transform(Lower *L, int t, const ArgVal *arg, int x) {
  const Shape *sh = &L->g->node[x].shape;
  const char *f = transforms[t].name;
  double a = arg[0].v.num, b = t == SCALE ? arg[1].v.num : 0;
  const char *msg = NULL;
  if (t == FLIP && a > 1)
    msg = "p is a probability, at most 1";
  else if (t == ROTATE && a > 180)
    msg = "degrees is at most 180";
  else if (t == SCALE && a > b)
    msg = arena_printf(L->a, "low %s is above high %s", fe_num_str(L->a, a),
                       fe_num_str(L->a, b));
  else if (t == CROP && (a >= (double)sh->d[2] || a >= (double)sh->d[3]))
    msg = arena_printf(L->a, "pad %s is not smaller than the %lldx%lld image",
                       fe_num_str(L->a, a), (long long)sh->d[2],
                       (long long)sh->d[3]);
  if (msg)
    fe_error(L, arg[0].loc, "%s: %s", f, msg);
  return msg == NULL;
}

/* augment = [t1, t2, ...] (or one transform, or none): each transform at
 * most once, stored as "t1(k=v), t2()" in the order written; none or []
 * as "none". */
static void store_augment(Lower *L, const Key *k, const Stmt *s) {
  const Expr *e = s->e;
  if ((e->kind == E_NAME && strcmp(e->str, "none") == 0) ||
      (e->kind == E_LIST && !e->args)) {
    ir_train_kv(L->g, k->key, "none", s->loc);
    return;
  }
  int x = image_input(L, s);
  if (x < 0)
    return;
  Arg one = {.e = (Expr *)e};
  const Loc *seen[NTRANSFORM] = {0};
  Str b = {0};
  bool ok = true;
  for (const Arg *a = e->kind == E_LIST ? e->args : &one; a; a = a->next) {
    Sig sig;
    ArgVal arg[MAX_PARAMS];
    int t = eval_choice(L, k, a->e, &sig, arg);
    if (t >= 0 && seen[t]) {
      if (fe_error(L, a->e->loc, "augment: %s is given twice", sig.fname))
        diag_note(*seen[t], "previous %s is here", sig.fname);
      t = -1;
    }
    if (t >= 0)
      seen[t] = &a->e->loc;
    if (t < 0 || !check_transform(L, t, arg, x)) {
      ok = false;
      continue;
    }
    str_printf(&b, "%s", b.s ? ", " : "");
    put_choice(L, &b, &sig, arg);
  }
  if (ok)
    ir_train_kv(L->g, k->key, b.s, s->loc);
  str_free(&b);
}

static void store_value(Lower *L, const Key *k, const Stmt *s) {
  Value v = fe_eval(L, s->e);
  if (fe_convert(L, k->kind, arena_printf(L->a, "'%s'", k->key), &v))
    ir_train_kv(L->g, k->key, value_str(L, &v), s->loc);
}

/* ---- the loss ------------------------------------------------------------ */

/* A loss written as a call of an unknown function: the loss functions
 * come first among the suggestions. */
static void unknown_loss(Lower *L, const Expr *e) {
  int nb;
  const char *const *builtin = fe_builtin_names(L, &nb);
  const char **cand = arena_alloc(L->a, sizeof *cand * (size_t)(nb + NLOSS));
  for (int i = 0; i < NLOSS; i++)
    cand[i] = losses[i];
  for (int i = 0; i < nb; i++)
    cand[NLOSS + i] = builtin[i];
  const char *near = fe_closest(e->str, cand, nb + NLOSS);
  if (fe_error(L, e->loc, "unknown loss function '%s'", e->str))
    diag_hint(near ? "did you mean '%s'?" : "the losses are %s",
              near ? near : "cross_entropy, mse and binary_cross_entropy");
}

/* loss = EXPR: evaluated like any expression, in the top-level scope; the
 * result must be a scalar f32 tensor, and becomes g->loss. The text is
 * kept too (the key "loss"), for reading the IR and the manifest. */
static void lower_loss(Lower *L, const Stmt *s) {
  const Expr *e = s->e;
  if (e->kind == E_CALL && !fe_is_builtin(e->str) &&
      !fe_find_block(L, e->str)) {
    unknown_loss(L, e);
    return;
  }
  Value v = fe_eval(L, e);
  Loc at = s->vloc;  /* the start of the expression */
  if (v.kind == V_POISON)
    return;
  if (v.kind != V_TENSOR) {
    if (fe_error(L, at, "the loss must be computed by the model, got %s",
                 fe_describe(L, &v)))
      diag_hint("e.g. loss = cross_entropy(logits, y)");
    return;
  }
  const Node *n = &L->g->node[v.node];
  if (n->shape.rank != 0) {
    if (fe_error(L, at, "the loss must be a scalar, got %s",
                 fe_type_str(L, v.node)))
      diag_hint("take the mean, e.g. mean(...)");
    return;
  }
  if (n->dtype != DT_F32) {
    fe_error(L, at, "the loss must be f32, got %s", fe_type_str(L, v.node));
    return;
  }
  L->g->loss = v.node;
  ir_train_kv(L->g, "loss", fe_expr_str(L->a, e), s->loc);
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
      lower_loss(L, s);
      break;
    case T_CHOICE: store_choice(L, k, s); break;
    case T_DATA: store_data(L, k, s); break;
    case T_AUGMENT: store_augment(L, k, s); break;
    case T_VALUE: store_value(L, k, s); break;
    }
  }
  if (!loss && fe_error(L, train->loc, "the train section has no 'loss'"))
    diag_hint("add one, e.g. 'loss = cross_entropy(logits, y)'");
}
