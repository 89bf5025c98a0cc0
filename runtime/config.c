/* config.c — the train section as values: calls, numbers, learning-rate
 * schedules and the runtime scalars of a train step.
 *
 * The one idea: the train section reaches the runtime as text (the
 * manifest's `train` lines, canonical calls such as `step(every=2,
 * gamma=0.5)`) and the command line may replace any of it with text a
 * person typed (`--lr-schedule 'step(2, 0.5)'`), so both go through the
 * same small parsers here, and everything a train step needs from them is
 * computed by pure functions of (values, epoch, step) that the tests can
 * check against formulas: the schedule's learning rate for an epoch, and
 * frame.hyper with Adam's bias corrections for a step.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dlrt.h"

bool dlrt_fail(char *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, DLRT_ERR_LEN, fmt, ap);
  va_end(ap);
  return false;
}

/* ---- numbers ------------------------------------------------------------- */

bool dlrt_parse_number(const char *s, double *out) {
  char *end;
  double v = strtod(s, &end);
  if (end == s)
    return false;
  while (isspace((unsigned char)*end))
    end++;
  if (*end == '/') {
    const char *d = end + 1;
    double den = strtod(d, &end);
    if (end == d || den == 0)
      return false;
    v /= den;
    while (isspace((unsigned char)*end))
      end++;
  }
  if (*end || !isfinite(v))
    return false;
  *out = v;
  return true;
}

/* ---- calls --------------------------------------------------------------- */

static const char *skip_space(const char *s) {
  while (isspace((unsigned char)*s))
    s++;
  return s;
}

/* Copy [s, e) without surrounding spaces into dst (cap bytes). */
static bool copy_trimmed(char *dst, size_t cap, const char *s, const char *e) {
  s = skip_space(s);
  while (e > s && isspace((unsigned char)e[-1]))
    e--;
  if ((size_t)(e - s) >= cap)
    return false;
  memcpy(dst, s, (size_t)(e - s));
  dst[e - s] = 0;
  return true;
}

/* A quoted value "..." (escapes \" and \\) from *s into dst. */
static bool quoted(const char **s, char *dst, size_t cap) {
  size_t n = 0;
  const char *p = *s + 1;
  for (; *p && *p != '"'; p++) {
    if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
      p++;
    if (n + 1 >= cap)
      return false;
    dst[n++] = *p;
  }
  dst[n] = 0;
  if (*p != '"')
    return false;
  *s = p + 1;
  return true;
}

/* One argument from *s: [key =] value, up to ',' or ')' at depth 0 (a
 * list [a, b] is one value). */
static bool call_arg(dlrt_call *c, const char **s, char *err) {
  const char *p = skip_space(*s), *k = p;
  int i = c->nargs;
  c->key[i][0] = 0;
  while (isalnum((unsigned char)*p) || *p == '_')
    p++;
  const char *after = skip_space(p);
  if (p > k && *after == '=' && !copy_trimmed(c->key[i], sizeof c->key[i], k, p))
    return dlrt_fail(err, "argument name '%.32s...' is too long", k);
  p = p > k && *after == '=' ? skip_space(after + 1) : k;
  if (*p == '"') {
    if (!quoted(&p, c->value[i], sizeof c->value[i]))
      return dlrt_fail(err, "unterminated or too long string in '%s'", c->name);
    p = skip_space(p);
  } else {
    const char *v = p;
    for (int depth = 0; *p && (depth > 0 || (*p != ',' && *p != ')')); p++)
      depth += *p == '(' || *p == '[' ? 1 : *p == ')' || *p == ']' ? -1 : 0;
    if (!copy_trimmed(c->value[i], sizeof c->value[i], v, p))
      return dlrt_fail(err, "argument of '%s' is too long", c->name);
  }
  if (!c->value[i][0])
    return dlrt_fail(err, "'%s': an argument is empty", c->name);
  c->nargs++;
  *s = p;
  return true;
}

bool dlrt_call_parse(dlrt_call *c, const char *text, char *err) {
  const char *s = skip_space(text), *n = s;
  memset(c, 0, sizeof *c);
  while (isalnum((unsigned char)*s) || *s == '_')
    s++;
  if (s == n || (size_t)(s - n) >= sizeof c->name)
    return dlrt_fail(err, "'%s' is not a name or a call name(...)", text);
  memcpy(c->name, n, (size_t)(s - n));
  s = skip_space(s);
  if (!*s)
    return true;
  if (*s != '(')
    return dlrt_fail(err, "'%s': unexpected '%c' after '%s'", text, *s, c->name);
  s = skip_space(s + 1);
  while (*s != ')') {
    if (c->nargs == DLRT_MAX_ARGS)
      return dlrt_fail(err, "'%s': more than %d arguments", text, DLRT_MAX_ARGS);
    if (!call_arg(c, &s, err))
      return false;
    if (*s == ',')
      s = skip_space(s + 1);
    else if (*s != ')')
      return dlrt_fail(err, "'%s': expected ',' or ')'", text);
  }
  if (*skip_space(s + 1))
    return dlrt_fail(err, "'%s': text after ')'", text);
  return true;
}

const char *dlrt_call_arg(const dlrt_call *c, const char *key, int pos) {
  int k = 0;
  for (int i = 0; i < c->nargs; i++)
    if (strcmp(c->key[i], key) == 0)
      return c->value[i];
  for (int i = 0; i < c->nargs; i++)
    if (!c->key[i][0] && k++ == pos)
      return c->value[i];
  return NULL;
}

/* ---- schedules ----------------------------------------------------------- */

/* Argument key (position pos) of c as a number in [lo, hi]; def when
 * absent, or an error when def is NAN (required). */
static bool sched_arg(const dlrt_call *c, const char *key, int pos, double lo,
                      double hi, double def, double *out, char *err) {
  const char *v = dlrt_call_arg(c, key, pos);
  if (!v && isnan(def))
    return dlrt_fail(err, "lr_schedule %s(...) needs %s", c->name, key);
  if (!v) {
    *out = def;
    return true;
  }
  if (!dlrt_parse_number(v, out) || *out < lo || *out > hi)
    return dlrt_fail(err, "lr_schedule %s: %s = '%s' is not a number in [%g, %g]",
                c->name, key, v, lo, hi);
  return true;
}

/* Every argument of c must be one of the n names (or positional). */
static bool known_args(const dlrt_call *c, const char *const *names, int n,
                       char *err) {
  for (int i = 0; i < c->nargs; i++) {
    bool ok = !c->key[i][0];
    for (int k = 0; k < n; k++)
      ok |= strcmp(c->key[i], names[k]) == 0;
    if (!ok)
      return dlrt_fail(err, "lr_schedule %s has no argument '%s'", c->name, c->key[i]);
  }
  if (c->nargs > n)
    return dlrt_fail(err, "lr_schedule %s takes at most %d arguments", c->name, n);
  return true;
}

bool dlrt_schedule_parse(dlrt_schedule *s, const char *text, char *err) {
  static const char *const step_args[] = {"every", "gamma"};
  static const char *const exp_args[] = {"gamma"};
  static const char *const cos_args[] = {"min_lr"};
  dlrt_call c;
  double every;
  *s = (dlrt_schedule){.kind = DLRT_LR_CONSTANT, .gamma = 1};
  if (!text || !*skip_space(text))
    return true;
  if (!dlrt_call_parse(&c, text, err))
    return false;
  if (strcmp(c.name, "constant") == 0)
    return known_args(&c, NULL, 0, err);
  if (strcmp(c.name, "step") == 0) {
    s->kind = DLRT_LR_STEP;
    if (!known_args(&c, step_args, 2, err) ||
        !sched_arg(&c, "every", 0, 1, 1e9, NAN, &every, err) ||
        !sched_arg(&c, "gamma", 1, 0, 1e9, 0.1, &s->gamma, err))
      return false;
    if (every != floor(every))
      return dlrt_fail(err, "lr_schedule step: every = %g is not a whole number", every);
    s->every = (int64_t)every;
    return true;
  }
  if (strcmp(c.name, "exponential") == 0) {
    s->kind = DLRT_LR_EXPONENTIAL;
    return known_args(&c, exp_args, 1, err) &&
           sched_arg(&c, "gamma", 0, 0, 1e9, NAN, &s->gamma, err);
  }
  if (strcmp(c.name, "cosine") == 0) {
    s->kind = DLRT_LR_COSINE;
    return known_args(&c, cos_args, 1, err) &&
           sched_arg(&c, "min_lr", 0, 0, 1e9, 0, &s->min_lr, err);
  }
  return dlrt_fail(err, "unknown lr_schedule '%s' (constant, step(every, gamma), "
              "exponential(gamma), cosine(min_lr))", c.name);
}

double dlrt_schedule_lr(const dlrt_schedule *s, double lr0, int64_t epoch,
                        int64_t epochs) {
  const double pi = 3.14159265358979323846;
  switch (s->kind) {
  case DLRT_LR_STEP:
    return lr0 * pow(s->gamma, (double)(epoch / s->every));
  case DLRT_LR_EXPONENTIAL:
    return lr0 * pow(s->gamma, (double)epoch);
  case DLRT_LR_COSINE:
    return s->min_lr + (lr0 - s->min_lr) *
           (1 + cos(pi * (double)epoch / (double)(epochs > 0 ? epochs : 1))) / 2;
  case DLRT_LR_CONSTANT: break;
  }
  return lr0;
}

/* ---- the scalars of one step --------------------------------------------- */

/* value[slot] of the hyper line called name, or def when there is none. */
static double slot_value(const dlrt_model *m, const double *value,
                         const char *name, double def) {
  const dlrt_hyper *h = dlrt_model_hyper(m, name);
  return h ? value[h->slot] : def;
}

void dlrt_hypers_fill(float *hyper, const dlrt_model *m, const double *value,
                      double lr, int64_t step) {
  double t = (double)step + 1;
  double beta1 = slot_value(m, value, "beta1", 0.9);
  double beta2 = slot_value(m, value, "beta2", 0.999);
  for (int i = 0; i < m->nhypers; i++) {
    const dlrt_hyper *h = &m->hypers[i];
    double v = value[h->slot];
    if (strcmp(h->name, "lr") == 0)
      v = lr;
    else if (strcmp(h->name, "bias_correction1") == 0)
      v = 1 / (1 - pow(beta1, t));
    else if (strcmp(h->name, "bias_correction2") == 0)
      v = 1 / sqrt(1 - pow(beta2, t));
    hyper[h->slot] = (float)v;
  }
}
