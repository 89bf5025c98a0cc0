/* sig.c — signatures: matching a call's arguments to a function's
 * parameters, and checking that each value is of the kind wanted.
 *
 * The one idea: every callable thing (built-in functions, layers,
 * initializers, user blocks, optimizers, schedules, data formats) is
 * described by a Sig, mostly written as text in a table row
 * ("x: tensor, axis: int = -1"), so arity, keyword and type errors are
 * found and worded in one place, the same way for all of them.
 */
#include "frontend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct {
  const char *name, *text;
} kinds[A_KIND_COUNT] = {
  [A_ANY] = {"any", "anything"},
  [A_TENSOR] = {"tensor", "a tensor"},
  [A_OPERAND] = {"operand", "a tensor or a number"},
  [A_TENSORS] = {"tensors...", "a tensor"},
  [A_INT] = {"int", "a whole number"},
  [A_COUNT] = {"count", "a positive whole number"},
  [A_NAT] = {"nat", "a whole number >= 0"},
  [A_FLOAT] = {"float", "a number"},
  [A_POS] = {"pos", "a positive number"},
  [A_NONNEG] = {"nonneg", "a number >= 0"},
  [A_FRAC] = {"frac", "a number in [0, 1)"},
  [A_BOOL] = {"bool", "true or false"},
  [A_STR] = {"string", "a string"},
  [A_INIT] = {"init", "an initializer"},
  [A_INTS] = {"ints", "a whole number or a list of them"},
  [A_FLOATS] = {"floats", "a number or a list of numbers"},
  [A_DIMS] = {"dims", "a list of dimensions"},
};

/* ---- signature text ------------------------------------------------------ */

static char *trim(char *s) {
  while (*s == ' ')
    s++;
  char *e = s + strlen(s);
  while (e > s && e[-1] == ' ')
    *--e = 0;
  return s;
}

/* Signatures are parsed once and kept for the life of the process. */
static const char *keep(const char *s) {
  static Arena *a;
  if (!a)
    a = arena_new();
  return arena_strdup(a, s);
}

static Value parse_default(const char *fname, const char *text, bool *opt) {
  Value v = {.kind = V_NUM};
  char *end;
  *opt = false;
  if (strcmp(text, "none") == 0) {
    *opt = true;
  } else if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
    v.kind = V_BOOL;
    v.num = text[0] == 't';
  } else if (fe_init_named(text, &v.init)) {
    v.kind = V_INIT;
  } else {
    v.num = strtod(text, &end);
    if (*end)
      die("signature of %s: bad default '%s'", fname, text);
  }
  return v;
}

void fe_parse_sig(Sig *s, const char *fname, const char *what,
                  const char *text) {
  char buf[512];
  if (strlen(text) >= sizeof buf)
    die("signature of %s too long", fname);
  strcpy(buf, text);
  memset(s, 0, sizeof *s);
  s->fname = fname;
  s->what = what;
  for (char *item = strtok(buf, ","); item; item = strtok(NULL, ",")) {
    if (s->n == MAX_PARAMS)
      die("signature of %s: too many parameters", fname);
    ParamSpec *ps = &s->p[s->n++];
    char *colon = strchr(item, ':'), *eq = strchr(item, '=');
    if (!colon)
      die("signature of %s: '%s' has no kind", fname, item);
    *colon = 0;
    if (eq)
      *eq = 0;
    ps->name = keep(trim(item));
    const char *kind = trim(colon + 1);
    ps->kind = A_KIND_COUNT;
    for (int k = 0; k < A_KIND_COUNT; k++)
      if (strcmp(kind, kinds[k].name) == 0)
        ps->kind = (ArgKind)k;
    if (ps->kind == A_KIND_COUNT)
      die("signature of %s: unknown kind '%s'", fname, kind);
    if (eq) {
      ps->def = parse_default(fname, trim(eq + 1), &ps->opt);
      ps->has_def = !ps->opt;
    }
  }
}

static const char *default_str(Lower *L, const ParamSpec *ps) {
  if (ps->def_expr)
    return fe_expr_str(L->a, ps->def_expr);
  if (ps->opt)
    return "none";
  switch (ps->def.kind) {
  case V_BOOL:
    return ps->def.num ? "true" : "false";
  case V_INIT:
    return init_name[ps->def.init.kind];
  default:
    return fe_num_str(L->a, ps->def.num);
  }
}

const char *fe_sig_str(Lower *L, const Sig *s) {
  Str b = {0};
  str_printf(&b, "%s(", s->fname);
  for (int i = 0; i < s->n; i++) {
    const ParamSpec *ps = &s->p[i];
    str_printf(&b, "%s%s%s", i ? ", " : "", ps->name,
               ps->kind == A_TENSORS ? "..." : "");
    if (ps->has_def || ps->opt || ps->def_expr)
      str_printf(&b, " = %s", default_str(L, ps));
  }
  str_putc(&b, ')');
  const char *r = arena_strdup(L->a, b.s);
  str_free(&b);
  return r;
}

/* ---- kinds --------------------------------------------------------------- */

static bool whole(double x) {
  return x == floor(x) && fabs(x) < 9007199254740992.0;
}

static bool number_fits(ArgKind k, double x) {
  switch (k) {
  case A_INT: return whole(x);
  case A_COUNT: return whole(x) && x >= 1;
  case A_NAT: return whole(x) && x >= 0;
  case A_POS: return x > 0;
  case A_NONNEG: return x >= 0;
  case A_FRAC: return x >= 0 && x < 1;
  default: return true;
  }
}

static bool item_fits(ArgKind k, const Value *v) {
  switch (k) {
  case A_TENSORS: return v->kind == V_TENSOR;
  case A_INTS: return v->kind == V_NUM && whole(v->num);
  case A_FLOATS: return v->kind == V_NUM;
  default:  /* A_DIMS */
    return v->kind == V_DIM ||
           (v->kind == V_NUM && whole(v->num) && v->num >= 1);
  }
}

/* A list's items, checked one by one so the caret points at the bad one. */
static bool convert_list(Lower *L, ArgKind k, const char *what, Value *v) {
  for (int i = 0; i < v->nitem; i++) {
    Value *it = &v->item[i];
    if (it->kind == V_POISON)
      return false;
    if (!item_fits(k, it)) {
      const char *want = k == A_TENSORS ? "a tensor"
                       : k == A_INTS ? "a whole number"
                       : k == A_FLOATS ? "a number"
                       : "a positive whole number or a multiple of N";
      fe_error(L, it->loc, "item %d of %s must be %s, got %s", i + 1, what,
               want, fe_describe(L, it));
      return false;
    }
  }
  return true;
}

bool fe_convert(Lower *L, ArgKind k, const char *what, Value *v) {
  bool ok;
  if (v->kind == V_POISON)
    return false;
  switch (k) {
  case A_ANY: return true;
  case A_TENSOR: ok = v->kind == V_TENSOR; break;
  case A_OPERAND: ok = v->kind == V_TENSOR || v->kind == V_NUM; break;
  case A_BOOL: ok = v->kind == V_BOOL; break;
  case A_STR: ok = v->kind == V_STR; break;
  case A_INIT: ok = v->kind == V_INIT; break;
  case A_TENSORS:
  case A_DIMS:
    ok = v->kind == V_LIST;
    if (ok)
      return convert_list(L, k, what, v);
    break;
  case A_INTS:
  case A_FLOATS:
    if (v->kind == V_NUM && (k == A_FLOATS || whole(v->num))) {
      Value *one = arena_alloc(L->a, sizeof *one);
      *one = *v;
      *v = (Value){.kind = V_LIST, .item = one, .nitem = 1, .loc = v->loc};
      return true;
    }
    ok = v->kind == V_LIST;
    if (ok)
      return convert_list(L, k, what, v);
    break;
  default:
    ok = v->kind == V_NUM && number_fits(k, v->num);
    break;
  }
  if (!ok)
    fe_error(L, v->loc, "%s must be %s, got %s", what, kinds[k].text,
             fe_describe(L, v));
  return ok;
}

int64_t fe_int(const Value *v) {
  return (int64_t)v->num;
}

/* ---- binding ------------------------------------------------------------- */

static int find_param(const Sig *s, const char *name) {
  for (int i = 0; i < s->n; i++)
    if (strcmp(s->p[i].name, name) == 0)
      return i;
  return -1;
}

static void unknown_keyword(Lower *L, const Sig *s, const Arg *a) {
  if (!fe_error(L, a->loc, "%s '%s' has no parameter named '%s'", s->what,
                s->fname, a->name))
    return;
  const char *names[MAX_PARAMS];
  for (int i = 0; i < s->n; i++)
    names[i] = s->p[i].name;
  const char *near = fe_closest(a->name, names, s->n);
  if (near)
    diag_hint("did you mean '%s'?", near);
  else
    diag_hint("usage: %s", fe_sig_str(L, s));
}

/* Positional argument k (value v) goes to parameter *pos, or is gathered
 * into a variadic one. */
static bool bind_positional(Lower *L, const Sig *s, const Expr *call,
                            int *pos, const Value *v, ArgVal *out) {
  if (*pos < s->n && s->p[*pos].kind == A_TENSORS) {
    ArgVal *va = &out[*pos];
    if (!va->given) {
      va->given = true;
      va->loc = v->loc;
      va->v = (Value){.kind = V_LIST, .loc = v->loc};
      va->v.item = arena_alloc(L->a, sizeof(Value) * (size_t)call->nargs);
    }
    va->v.item[va->v.nitem++] = *v;
    return true;
  }
  if (*pos >= s->n) {
    if (fe_error(L, v->loc, "too many arguments to %s '%s': expected %s%d, "
                 "got %d", s->what, s->fname, s->n ? "at most " : "", s->n,
                 call->nargs))
      diag_hint("usage: %s", fe_sig_str(L, s));
    return false;
  }
  out[*pos] = (ArgVal){.given = true, .v = *v, .loc = v->loc};
  (*pos)++;
  return true;
}

static bool bind_written(Lower *L, const Sig *s, const Expr *call,
                         const Value *vals, ArgVal *out) {
  int pos = 0, k = 0;
  bool keywords = false, ok = true;
  for (const Arg *a = call->args; a; a = a->next, k++) {
    if (!a->name) {
      if (keywords) {
        fe_error(L, a->loc, "positional argument after keyword arguments");
        ok = false;
      } else if (!bind_positional(L, s, call, &pos, &vals[k], out)) {
        return false;
      }
      continue;
    }
    keywords = true;
    int j = find_param(s, a->name);
    if (j < 0) {
      unknown_keyword(L, s, a);
      ok = false;
    } else if (out[j].given) {
      fe_error(L, a->loc, "argument '%s' is given twice", a->name);
      ok = false;
    } else {
      out[j] = (ArgVal){.given = true, .v = vals[k], .loc = a->vloc};
    }
  }
  return ok;
}

bool fe_bind(Lower *L, const Sig *s, const Expr *call, const Value *vals,
             ArgVal *out) {
  memset(out, 0, sizeof *out * (size_t)s->n);
  if (!bind_written(L, s, call, vals, out))
    return false;
  bool ok = true;
  for (int i = 0; i < s->n; i++) {
    const ParamSpec *ps = &s->p[i];
    ArgVal *av = &out[i];
    if (!av->given && ps->has_def) {
      *av = (ArgVal){.given = true, .dflt = true, .v = ps->def,
                     .loc = call->loc};
      av->v.loc = call->loc;
    } else if (!av->given && !ps->opt && !ps->def_expr) {
      if (fe_error(L, call->loc, "missing argument '%s' in call to %s '%s'",
                   ps->name, s->what, s->fname))
        diag_hint("usage: %s", fe_sig_str(L, s));
      ok = false;
    }
  }
  for (int i = 0; ok && i < s->n; i++) {
    if (!out[i].given)
      continue;
    out[i].v.loc = out[i].loc;
    const char *what = arena_printf(L->a, "argument '%s' of '%s'",
                                    s->p[i].name, s->fname);
    if (s->p[i].kind == A_TENSORS && out[i].v.nitem == 1 &&
        out[i].v.item[0].kind == V_LIST)
      out[i].v = out[i].v.item[0];  /* concat([a, b]) */
    ok = fe_convert(L, s->p[i].kind, what, &out[i].v);
  }
  return ok;
}
