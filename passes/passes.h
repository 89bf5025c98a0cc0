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

/* The compile pipelines, in order (see pipeline.c): the inference graph
 * (dlrt_forward), the evaluation graph (dlrt_eval: outputs and loss) and
 * the training step (dlrt_train_step). */
extern const char *const pipeline_infer[];
extern const int pipeline_infer_len;
extern const char *const pipeline_eval[];
extern const int pipeline_eval_len;
extern const char *const pipeline_train[];
extern const int pipeline_train_len;

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

/* ---- autodiff.c: reverse-mode differentiation --------------------------- */

/* Append to g the gradient of the scalar node loss with respect to every
 * node that depends on a parameter. Returns a heap array (caller frees)
 * with the gradient node of each node that existed before the call, -1
 * where there is none; NULL after reporting an op without a gradient rule
 * on the way from a parameter to the loss. */
int *ad_gradients(Graph *g, int loss);

/* The training step: requires g->loss. Makes each running_stat its batch
 * statistic and appends the update of its running average, then the
 * gradients and the optimiser's update (optim.c), and makes the loss an
 * output named "loss".
 * Reports a missing loss or an unknown optimiser with diag_error. */
void pass_autodiff(Graph *g);

/* Inference and evaluation graphs: dropout becomes the identity and each
 * running_stat its running average; the loss is dropped (inference) or
 * becomes the output "loss" (evaluation). */
void pass_inference(Graph *g);
void pass_evaluation(Graph *g);

/* ---- gradcheck.c: autodiff against central differences ----------------- */

/* Compare autodiff's gradient of g->loss with respect to every parameter
 * with central differences on the reference interpreter, for about
 * `samples` elements of each parameter (0: all). inputs / params: values in
 * node order, or NULL for seeded values (data in [0,1), labels in
 * [0, classes), params in [-0.5, 0.5)). Writes one line per parameter to
 * log (if not NULL); true when every checked element is within tol
 * (relative, see gradcheck.c). */
bool ad_gradcheck(const Graph *g, int64_t N, const Tensor *inputs, const Tensor *params,
                  int samples, uint64_t seed, double tol, FILE *log);

/* ---- optim.c: the optimiser update ---------------------------------------- */

typedef enum OptimKind { OPT_SGD, OPT_ADAGRAD, OPT_RMSPROP, OPT_ADAM, OPT_ADAMW, OPT_COUNT } OptimKind;

typedef struct OptimSpec {
  OptimKind kind;
  double hyper[H_COUNT];   /* defaults of the runtime scalars */
  bool momentum, nesterov; /* SGD / RMSProp momentum term present */
  bool l1, l2, clip;       /* regularisers present */
} OptimSpec;

/* Read the optimiser and regularisers from the train section; false if
 * the optimiser is unknown. */
bool optim_spec(const Graph *g, OptimSpec *o);
/* Append the update of every parameter with a gradient (grad as returned
 * by ad_gradients); sets g->hyper and g->hyper_used. */
void optim_append(Graph *g, const OptimSpec *o, const int *grad);

/* ---- bnfold.c: batch norm folded into the layer before it ------------------- */

/* Fold a chain of per-channel affine ops with fixed operands (batch norm
 * outside training, a bias) after a conv2d or a matmul by a fixed matrix
 * into its weights and one bias add. */
void pass_bnfold(Graph *g);

/* ---- layout.c: the channel-blocked layout --------------------------------- */

/* Rewrite each conv2d that the blocked kernel runs faster into
 * conv2d_blocked between to_blocked and from_blocked conversions, keeping
 * the lane-wise ops between convolutions (bias, relu, residual adds,
 * pooling) blocked; cancel inverse conversion pairs. */
void pass_layout(Graph *g);

/* ---- convgemm.c: convolutions as matrix products ---------------------------- */

/* Rewrite every conv2d, conv2d_grad_input and conv2d_grad_weight with
 * groups == 1 into im2col / col2im, matmul, transpose and reshape. */
void pass_convgemm(Graph *g);

/* ---- fuse.c: operator fusion ------------------------------------------------ */

/* Mark elementwise nodes that the kernel of their only consumer computes
 * inline (Node.into): a chain like sub(W, mul(lr, add(mul(mu, v), g)))
 * becomes one loop with no temporaries. */
void pass_fuse(Graph *g);

/* ---- plan.c: memory planning --------------------------------------------- */

/* Assign every node a region and offset: params packed in R_WEIGHT; other
 * materialised tensors in R_ACT / R_ACTN with liveness-based reuse; views
 * (reshape) alias their operand; fill constants get no storage. Fills
 * g->region_k/n and the naive totals. */
void pass_plan(Graph *g);
/* Plan again, with node i's storage (its root's, for a view) live at
 * least until node keep[i] has run, and the batch-proportional nodes with
 * tile[i] set in R_TILE (per-sample offsets in their own pool; tile may be
 * NULL): codegen/tile.c keeps the tensors of a group of kernels apart for
 * the whole group, and those that live only inside it in its scratch. */
void plan_keeping(Graph *g, const int *keep, const bool *tile);

/* ---- tile.c: sample tiling ------------------------------------------------ */

/* Let the CPU backend run chains of per-sample kernels (im2col, the
 * convolution's product, pooling, their gradients) a few samples at a
 * time, so that the tensors between them stay in cache. Sets g->tile. */
void pass_tile(Graph *g);

#endif
