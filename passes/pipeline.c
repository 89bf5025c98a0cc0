/* pipeline.c — the pass manager: the table of passes, the ordered pipeline,
 * and pass_run, which runs passes by name and can verify and dump the graph
 * after each one.
 *
 * The one idea: the order of the compile pipeline is written down once, as
 * the list pipeline_infer below, with the reason for each constraint beside
 * it. Everything else (the driver's --passes, --after, --verify-each) names
 * passes from pass_table and goes through pass_run.
 */
#include "passes.h"

#include <string.h>

/* ---- the passes ---- */

const Pass pass_table[] = {
    {"shapes", pass_shapes, "re-infer every shape and dtype; report mismatches"},
    {"fold", pass_fold, "evaluate constant subgraphs; simplify x+0, x*1, ..."},
    {"cse", pass_cse, "merge identical nodes and equal constants"},
    {"dce", pass_dce, "remove nodes that no output depends on"},
    {"inference", pass_inference, "drop training-only nodes: dropout off, running averages, no loss"},
    {"evaluation", pass_evaluation, "dropout off, running averages; the loss becomes the output \"loss\""},
    {"autodiff", pass_autodiff, "append gradients and the optimizer update (training step)"},
    {"bnfold", pass_bnfold, "fold batch norm (a per-channel affine) into the conv2d or matmul before it"},
    {"layout", pass_layout, "convolutions in the channel-blocked layout NCHW8c, converted at the boundaries"},
    {"convgemm", pass_convgemm, "groups == 1 convolutions as im2col + matmul (+ col2im)"},
    {"fuse", pass_fuse, "compute elementwise chains inline in their consumer's kernel"},
    {"plan", pass_plan, "assign every tensor an offset in one static arena"},
    {"tile", pass_tile, "run chains of per-sample kernels a few samples at a time (CPU)"},
};
const int pass_count = (int)(sizeof pass_table / sizeof pass_table[0]);

const Pass *pass_lookup(const char *name) {
  for (int i = 0; i < pass_count; i++)
    if (strcmp(pass_table[i].name, name) == 0) return &pass_table[i];
  return NULL;
}

/* ---- the inference pipeline ----
 *
 * The order, and why:
 *
 *   shapes   first: every later pass trusts node shapes and dtypes, so a
 *            graph read from text is checked before anything rewrites it.
 *   (autodiff goes here, for training builds: it must see the forward graph
 *            as written, and the backward graph it builds is ordinary IR
 *            that the cleanup passes below then simplify: gradients are
 *            full of x*1, reshape-of-reshape and repeated subexpressions.)
 *   inference (or evaluation) next: it fixes the mode, and with it what
 *            dropout and batch norm's statistics are.
 *   bnfold   after the mode: only then are batch norm's statistics the
 *            running averages, fixed values it can fold into the weights
 *            of the conv2d or matmul before it. Before fold, cse and dce,
 *            which clean up what it leaves (the old chain, the batch
 *            statistics nothing reads any more).
 *   fold     before cse: folding turns constant subgraphs into constants,
 *            and only then can cse see that two of them are equal.
 *   cse      after fold: folding and its identities (x*1 -> x) make
 *            operands equal that were written differently.
 *   dce      after both: fold and cse remove what they themselves made
 *            dead, but not what was dead before (layers the frontend built
 *            and no output uses; autodiff's leftovers).
 *   layout   after dce, before convgemm: it claims the convolutions that
 *            run faster in the blocked layout (the others are left to
 *            convgemm), and it needs the final set of ops between them to
 *            keep the chains blocked: a dead use would cost a conversion.
 *            Inference and evaluation only: the training step's gradient
 *            ops are NCHW (doc/ir.txt, "Blocked layout").
 *   tile     before convgemm, which builds a weight gradient's own
 *            columns when sample tiling is on (codegen/tile.c forms the
 *            groups once the kernels exist, and plans memory again).
 *   convgemm after dce: it rewrites only the convolutions that survive
 *            (in training builds also autodiff's gradient convolutions)
 *            into im2col + matmul, leaves no dead nodes and shares what it
 *            builds twice (a conv and its weight gradient read one im2col),
 *            so no cleanup pass has to run after it. Before fuse: fusion
 *            and the codegen's transpose folding must see the final ops.
 *   fuse     after both: fusion decisions depend on use counts, which are
 *            only right once duplicates and dead nodes are gone, and it
 *            fuses the blocked bias + relu chains like the plain ones.
 *   plan     last of the rewrites: memory planning assigns storage to
 *            the final set of tensors; any rewrite after it would
 *            invalidate the offsets.
 */
const char *const pipeline_infer[] = {
    "shapes",
    "inference",
    "bnfold",
    "fold",
    "cse",
    "dce",
    "layout",
    "tile",
    "convgemm",
    "fuse",
    "plan",
};
const int pipeline_infer_len =
    (int)(sizeof pipeline_infer / sizeof pipeline_infer[0]);

/* Evaluation differs only in keeping the loss as an output. */
const char *const pipeline_eval[] = {
    "shapes",
    "evaluation",
    "bnfold",
    "fold",
    "cse",
    "dce",
    "layout",
    "tile",
    "convgemm",
    "fuse",
    "plan",
};
const int pipeline_eval_len = (int)(sizeof pipeline_eval / sizeof pipeline_eval[0]);

/* The training step: autodiff right after shapes, so that the cleanup
 * passes see the backward graph too (see the note above). */
const char *const pipeline_train[] = {
    "shapes",
    "autodiff",
    "fold",
    "cse",
    "dce",
    "tile",
    "convgemm",
    "fuse",
    "plan",
};
const int pipeline_train_len = (int)(sizeof pipeline_train / sizeof pipeline_train[0]);

/* ---- running passes ---- */

/* Edit distance between a and b (Levenshtein), for did-you-mean hints. */
static int edit_distance(const char *a, const char *b) {
  int la = (int)strlen(a), lb = (int)strlen(b);
  if (la > 63 || lb > 63) return 64;
  int row[64];
  for (int j = 0; j <= lb; j++) row[j] = j;
  for (int i = 1; i <= la; i++) {
    int diag = row[0];
    row[0] = i;
    for (int j = 1; j <= lb; j++) {
      int up = row[j];
      int best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

/* Report an unknown pass name (what says where it was given), with the
 * closest known name as a hint, or the list of passes. */
static void report_unknown(const char *what, const char *name) {
  const char *best = NULL;
  int bestd = 3; /* suggest only names within two edits */
  for (int i = 0; i < pass_count; i++) {
    int d = edit_distance(name, pass_table[i].name);
    if (d < bestd) {
      bestd = d;
      best = pass_table[i].name;
    }
  }
  diag_error((Loc){0}, "%s: unknown pass '%s'", what, name);
  if (best) {
    diag_hint("did you mean '%s'?", best);
    return;
  }
  Str list = {0};
  for (int i = 0; i < pass_count; i++)
    str_printf(&list, "%s%s", i ? ", " : "", pass_table[i].name);
  diag_hint("the passes are: %s", list.s);
  str_free(&list);
}

/* Check every name the options and the list mention before running
 * anything, so that a typo does not cost a half-run pipeline. */
static bool check_names(const char *const *names, int n, const PassOptions *o) {
  bool ok = true;
  for (int i = 0; i < n; i++)
    if (!pass_lookup(names[i])) {
      report_unknown("--passes", names[i]);
      ok = false;
    }
  for (int i = 0; i < o->ndisabled; i++)
    if (!pass_lookup(o->disabled[i])) {
      report_unknown("--disable-pass", o->disabled[i]);
      ok = false;
    }
  if (o->after && strcmp(o->after, "all") != 0 && !pass_lookup(o->after)) {
    report_unknown("--after", o->after);
    ok = false;
  }
  if (o->format && strcmp(o->format, "text") != 0 && strcmp(o->format, "dot") != 0) {
    diag_error((Loc){0}, "unknown dump format '%s'", o->format);
    diag_hint("the formats are: text, dot");
    ok = false;
  }
  return ok;
}

static bool is_disabled(const PassOptions *o, const char *name) {
  for (int i = 0; i < o->ndisabled; i++)
    if (strcmp(o->disabled[i], name) == 0) return true;
  return false;
}

static bool in_list(const char *const *names, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (strcmp(names[i], name) == 0) return true;
  return false;
}

/* Write the graph after pass name, preceded by "# after name". The marker
 * is a comment in both formats: IR text reads '#' as a comment, and
 * Graphviz discards lines that start with '#'. */
static void dump(const Graph *g, const char *name, const PassOptions *o) {
  FILE *f = o->dump ? o->dump : stdout;
  fprintf(f, "# after %s\n", name);
  if (o->format && strcmp(o->format, "dot") == 0)
    ir_dot(f, g);
  else
    ir_print(f, g);
  fflush(f);
}

bool pass_run(Graph *g, const char *const *names, int n, const PassOptions *o) {
  static const PassOptions none = {0};
  if (!o) o = &none;
  if (!check_names(names, n, o)) return false;
  if (o->after && strcmp(o->after, "all") != 0 && !in_list(names, n, o->after))
    diag_warning((Loc){0}, "--after %s: the pass is not in the pipeline; "
                           "nothing is dumped", o->after);
  else if (o->after && is_disabled(o, o->after))
    diag_warning((Loc){0}, "--after %s: the pass is disabled (by --disable-pass or "
                           "by the target); nothing is dumped", o->after);
  for (int i = 0; i < n; i++) {
    const Pass *p = pass_lookup(names[i]);
    if (is_disabled(o, p->name)) continue;
    int errors = diag_count();
    p->run(g);
    if (diag_count() > errors) return false;
    if (o->verify_each && !ir_verify(g, p->name)) return false;
    if (o->after && (strcmp(o->after, "all") == 0 || strcmp(o->after, p->name) == 0))
      dump(g, p->name, o);
  }
  return true;
}

const char **pass_split(Arena *a, const char *list, int *n) {
  if (!list) list = "";
  int cap = 1;
  for (const char *p = list; *p; p++) cap += *p == ',';
  const char **names = arena_alloc(a, sizeof *names * (size_t)cap);
  *n = 0;
  for (const char *p = list;;) {
    const char *end = strchr(p, ',');
    if (!end) end = p + strlen(p);
    const char *s = p, *e = end;
    while (s < e && (*s == ' ' || *s == '\t')) s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
    if (e > s) names[(*n)++] = arena_strndup(a, s, (size_t)(e - s));
    if (!*end) break;
    p = end + 1;
  }
  return names;
}
