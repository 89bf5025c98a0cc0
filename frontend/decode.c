/* decode.c — the decode statement: how `predict` turns a model that is
 * trained with teacher forcing into one that writes its own answer.
 *
 *   decode answer = greedy(logits, feed = prev, target = y, start = 10,
 *                          end = 11)
 *
 * The one idea: the graph stays what it is in training (the decoder reads
 * the feed input, the target shifted right behind the start token); the
 * runtime runs the forward entry once per position and writes the argmax
 * of the logits at t into the feed at t + 1 (runtime/decode.c). Nothing
 * of that needs new IR, so the statement is checked here against the
 * lowered model and stored as the train key "decode", in a normal form the
 * runtime parses with dlrt_call_parse:
 *
 *   greedy(output=answer, logits=logits, feed=prev, target=y, start=10, end=11)
 *
 * What is checked: the logits are an output f32[N, T, V]; the feed is an
 * i32[N, T] data input, the target an i32[N, T] input other than the
 * feed; the model's other inputs are two, the target second (what
 * training feeds); start and end are tokens < V; the name is not an
 * input's or an output's. That the logits at t depend only on the feed at positions <= t
 * (a causal decoder) is the model's contract, stated in doc/language.txt:
 * a graph cannot show it cheaply.
 */
#include "frontend.h"

#include <string.h>

/* greedy's arguments, in signature order */
enum { LOGITS, FEED, TARGET, START, END };

/* The name of the output whose node is node, or NULL. */
static const char *output_of(const Graph *g, int node) {
  for (int o = 0; o < g->nout; o++)
    if (g->out[o].node == node)
      return g->out[o].name;
  return NULL;
}

/* The logits: an output f32[N, T, V]. Its name into *name. */
static bool check_logits(Lower *L, const ArgVal *a, const char **name) {
  const Node *n = &L->g->node[a->v.node];
  *name = output_of(L->g, a->v.node);
  if (n->dtype != DT_F32 || n->shape.rank != 3 || n->shape.d[0] != -1) {
    fe_error(L, a->loc, "greedy: logits must be f32[N, T, V] (a score for "
             "each of V tokens at each of T positions), got %s",
             fe_describe(L, &a->v));
    return false;
  }
  if (!*name) {
    if (fe_error(L, a->loc, "greedy: the logits must be an output of the "
                 "model, got an intermediate %s", fe_describe(L, &a->v)))
      diag_hint("declare them as one: output logits = dense(...)");
    return false;
  }
  return true;
}

/* The feed or the target: an i32 input [N, T] (T of the logits). */
static bool check_tokens(Lower *L, const ArgVal *a, const char *what,
                         int logits, bool data) {
  int64_t T = L->g->node[logits].shape.d[1];
  const Node *n = &L->g->node[a->v.node];
  bool ok = n->op == OP_INPUT && n->dtype == DT_I32 && n->shape.rank == 2 &&
            n->shape.d[0] == -1;
  if (!ok || (data && n->ikind != IN_DATA)) {
    if (fe_error(L, a->loc, "greedy: %s must be an i32[N, %lld] %s, got %s%s",
                 what, (long long)T, data ? "input" : "input or label",
                 n->op == OP_INPUT ? (n->ikind == IN_LABEL ? "label " : "input ")
                                   : "", fe_describe(L, &a->v)) && data)
      diag_hint("the decoder's input tokens: input %s: i32[N, %lld]",
                n->op == OP_INPUT ? n->name : "prev", (long long)T);
    return false;
  }
  if (n->shape.d[1] != T) {
    fe_error(L, a->loc, "greedy: %s '%s' %s has %lld positions but the logits "
             "%s have %lld", what, n->name, fe_type_str(L, a->v.node),
             (long long)n->shape.d[1], fe_type_str(L, logits), (long long)T);
    return false;
  }
  return true;
}

/* Training and eval feed a model's first two inputs: with the feed left
 * out (it is made from the target), those must be one input and then the
 * target. */
static bool check_order(Lower *L, const ArgVal *feed, const ArgVal *target) {
  int k = 0, at = -1;
  for (int i = 0; i < L->g->nnode; i++)
    if (L->g->node[i].op == OP_INPUT && i != feed->v.node) {
      if (i == target->v.node)
        at = k;
      k++;
    }
  if (k == 2 && at == 1)
    return true;
  if (fe_error(L, target->loc, "greedy: the model must have two inputs besides the "
               "feed, the target second; it has %d%s", k, k == 2 ? ", the target first" : ""))
    diag_hint("declare the encoder's input first: training feeds it and the "
              "target, and makes the feed from the target");
  return false;
}

/* start and end: tokens of the vocabulary, 0 <= t < V. */
static bool check_token(Lower *L, const ArgVal *a, const char *what, int64_t V) {
  if (!a->given || a->v.num < (double)V)
    return true;
  fe_error(L, a->loc, "greedy: %s token %lld is not in the vocabulary of "
           "the logits (0..%lld)", what, (long long)a->v.num, (long long)V - 1);
  return false;
}

/* The answer's name must not shadow an input or an output. */
static bool check_name(Lower *L, const Stmt *s) {
  const Graph *g = L->g;
  bool taken = false;
  for (int o = 0; o < g->nout; o++)
    taken |= strcmp(g->out[o].name, s->name) == 0;
  for (int i = 0; i < g->nnode; i++)
    taken |= g->node[i].op == OP_INPUT && strcmp(g->node[i].name, s->name) == 0;
  if (taken && fe_error(L, s->name_loc, "decode: '%s' is already an input "
                        "or output of the model", s->name))
    diag_hint("the decoded tokens are a new output: give them a name of "
              "their own");
  return !taken;
}

/* Bind the call's arguments to greedy's signature. */
static bool bind(Lower *L, const Expr *e, ArgVal *arg) {
  Sig sig;
  fe_parse_sig(&sig, "greedy", "decoding", "logits: tensor, feed: tensor, "
               "target: tensor, start: nat, end: nat = none");
  Value *vals = arena_alloc(L->a, sizeof *vals * (size_t)(e->nargs + 1));
  int n = 0;
  for (const Arg *a = e->args; a; a = a->next, n++) {
    vals[n] = fe_eval(L, a->e);
    vals[n].loc = a->vloc;
  }
  return fe_bind(L, &sig, e, vals, arg);
}

void fe_lower_decode(Lower *L, const Stmt *s) {
  const Expr *e = s->e;
  ArgVal arg[MAX_PARAMS];
  if (e->kind != E_CALL || strcmp(e->str, "greedy") != 0) {
    if (fe_error(L, e->loc, "decode: unknown decoding%s%s%s", e->kind == E_CALL ||
                 e->kind == E_NAME ? " '" : "", e->kind == E_CALL ||
                 e->kind == E_NAME ? e->str : "", e->kind == E_CALL ||
                 e->kind == E_NAME ? "'" : ""))
      diag_hint("decoding is greedy(logits, feed = prev, target = y, "
                "start = S, end = E)");
    return;
  }
  if (!bind(L, e, arg))
    return;
  const char *logits;
  if (!check_logits(L, &arg[LOGITS], &logits))
    return;
  const Shape *ls = &L->g->node[arg[LOGITS].v.node].shape;
  int64_t V = ls->d[2];
  if (!check_tokens(L, &arg[FEED], "feed", arg[LOGITS].v.node, true) ||
      !check_tokens(L, &arg[TARGET], "target", arg[LOGITS].v.node, false))
    return;
  if (arg[FEED].v.node == arg[TARGET].v.node) {
    if (fe_error(L, arg[TARGET].loc, "greedy: the target cannot be the feed"))
      diag_hint("in training the feed is the target shifted right behind "
                "the start token; they are two inputs");
    return;
  }
  if (!check_order(L, &arg[FEED], &arg[TARGET]) ||
      !check_token(L, &arg[START], "start", V) || !check_token(L, &arg[END], "end", V) ||
      !check_name(L, s))
    return;
  Str b = {0};
  str_printf(&b, "greedy(output=%s, logits=%s, feed=%s, target=%s, start=%lld",
             s->name, logits, L->g->node[arg[FEED].v.node].name,
             L->g->node[arg[TARGET].v.node].name, (long long)arg[START].v.num);
  if (arg[END].given)
    str_printf(&b, ", end=%lld", (long long)arg[END].v.num);
  str_printf(&b, ")");
  ir_train_kv(L->g, "decode", b.s, s->loc);
  str_free(&b);
}
