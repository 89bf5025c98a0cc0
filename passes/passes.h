/* passes.h — the interface of the passes/ layer: graph-to-graph rewrites and
 * the pass manager that runs them by name.
 *
 * A pass is `void name(Graph *g)`; above its definition a comment says what
 * it requires, provides and invalidates. Passes report user mistakes with
 * diag_error (e.g. an op with no gradient rule) and compiler bugs with die().
 *
 * Sections are named after the .c file that defines them.
 */
#ifndef DLC_PASSES_H
#define DLC_PASSES_H

#include "ir.h"

/* ---- pipeline.c: the pass manager ---------------------------------------- */

typedef void PassFn(Graph *g);

typedef struct Pass {
  const char *name;
  PassFn *run;
  const char *what;  /* one line for `dlc help passes` */
} Pass;

extern const Pass pass_table[];
extern const int pass_count;
/* The pass named name, or NULL. */
const Pass *pass_lookup(const char *name);

typedef struct PassOptions {
  const char *after;       /* dump after this pass; "all" after each; NULL none */
  const char *format;      /* "text" (default) or "dot" */
  FILE *dump;              /* where dumps go (default stdout) */
  bool verify_each;        /* ir_verify after every pass, naming it */
  const char **disabled;   /* passes to skip (--disable-pass) */
  int ndisabled;
} PassOptions;

/* The compile pipeline for inference, in order (see pipeline.c). */
extern const char *const pipeline_infer[];
extern const int pipeline_infer_len;

/* Run the named passes in order with the options (o may be NULL: none).
 * Returns false if a pass reported an error (diag_count grew) or
 * verification failed; the graph is then unusable. Every name (the list,
 * o->disabled, o->after) is checked before anything runs: an unknown one is
 * reported with a did-you-mean hint and returns false with g unchanged. */
bool pass_run(Graph *g, const char *const *names, int n, const PassOptions *o);
/* Split a comma-separated list (e.g. "fold,cse") into names allocated from
 * arena; *n gets the count. Blanks around names and empty items are
 * dropped; NULL or "" gives no names. */
const char **pass_split(Arena *a, const char *list, int *n);

/* ---- shapes.c, fold.c, cse.c, dce.c: the passes -------------------------- */

void pass_shapes(Graph *g);  /* re-infer every shape; report mismatches */
void pass_fold(Graph *g);    /* evaluate nodes whose operands are constants */
void pass_cse(Graph *g);     /* merge identical nodes */
void pass_dce(Graph *g);     /* drop nodes no output depends on */

/* ---- plan.c: memory planning --------------------------------------------- */

/* Assign every node a region and offset: params packed in R_WEIGHT; other
 * materialised tensors in R_ACT / R_ACTN with liveness-based reuse; views
 * (reshape) alias their operand; fill constants get no storage. Fills
 * g->region_k/n and the naive totals. */
void pass_plan(Graph *g);

#endif
