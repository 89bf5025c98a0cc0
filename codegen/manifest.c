/* manifest.c — the model description compiled into every program.
 *
 * The runtime learns everything about a model from this text: names, types
 * and shapes of inputs, outputs and parameters, where the memory planner put
 * them, how parameters are initialised, and the training setup. The format
 * is line-based and versioned (doc/manifest.txt); runtime/manifest.c reads
 * it.
 */
#include "codegen.h"

#include "dlrt.h"

_Static_assert((int)R_WEIGHT == DLRT_R_WEIGHT && (int)R_ACT == DLRT_R_ACT &&
                   (int)R_ACTN == DLRT_R_ACTN && (int)R_STATE == DLRT_R_STATE &&
                   (int)R_TILE == DLRT_R_TILE &&
                   (int)R_COUNT == DLRT_REGIONS,
               "compiler and runtime agree on region numbers");
_Static_assert((int)H_COUNT <= DLRT_HYPERS, "the frame has a slot for every hyper");

const char *const entry_name[ENT_COUNT] = {"forward", "eval", "train"};
const char *const entry_symbol[ENT_COUNT] = {"dlrt_forward", "dlrt_eval", "dlrt_train_step"};

static void put_dims(Str *b, const Shape *s) {
  str_printf(b, " %d", s->rank);
  for (int i = 0; i < s->rank; i++) str_printf(b, " %lld", (long long)s->d[i]);
}

/* The model-wide part: inputs, parameters, state, runtime scalars. */
static void put_model(Str *b, const Graph *g, const Graph *train) {
  str_printf(b, "model %s\n", g->name);
  str_printf(b, "signature %016llx\n", (unsigned long long)ir_signature(g));
  str_printf(b, "dlc %s\n", DLC_VERSION);
  str_printf(b, "weights %lld\n", (long long)g->region_k[R_WEIGHT]);
  str_printf(b, "state %lld\n", (long long)(train ? train->region_k[R_STATE] : 0));
  for (int i = 0; i < g->nnode; i++) {
    const Node *n = &g->node[i];
    if (n->op != OP_INPUT) continue;
    str_printf(b, "input %s %s %s %lld", n->name, dtype_name[n->dtype],
               n->ikind == IN_LABEL ? "label" : "data", (long long)n->classes);
    put_dims(b, &n->shape);
    str_printf(b, "\n");
  }
  for (int i = 0; i < g->nnode; i++) {
    const Node *n = &g->node[i];
    if (n->op != OP_PARAM) continue;
    str_printf(b, "param %s %s", n->name, dtype_name[n->dtype]);
    put_dims(b, &n->shape);
    str_printf(b, " %lld %s %.17g %.17g %lld %lld\n", (long long)n->off, init_name[n->init.kind],
               n->init.a, n->init.b, (long long)n->init.fan_in, (long long)n->init.fan_out);
  }
  for (int i = 0; train && i < train->nnode; i++) {
    const Node *n = &train->node[i];
    if (n->op != OP_STATE) continue;
    str_printf(b, "state_tensor %s %s", n->name, dtype_name[n->dtype]);
    put_dims(b, &n->shape);
    str_printf(b, " %lld\n", (long long)n->off);
  }
  for (int h = 0; train && h < H_COUNT; h++)
    if (train->hyper_used[h])
      str_printf(b, "hyper %d %s %.17g\n", h, hyper_name[h], train->hyper[h]);
}

/* One entry: its activation arena, where it expects each input and where
 * it leaves each output. */
static void put_entry(Str *b, const Entry *e) {
  const Graph *g = e->g;
  str_printf(b, "entry %s %lld %lld\n", entry_name[e->kind], (long long)g->region_k[R_ACT],
             (long long)g->region_n[R_ACTN]);
  for (int i = 0; i < g->nnode; i++) {
    const Node *n = &g->node[i];
    if (n->op == OP_INPUT)
      str_printf(b, "in %s %d %lld\n", n->name, (int)n->region, (long long)n->off);
  }
  for (int o = 0; o < g->nout; o++) {
    const Node *n = &g->node[g->out[o].node];
    str_printf(b, "out %s %s", g->out[o].name, dtype_name[n->dtype]);
    put_dims(b, &n->shape);
    str_printf(b, " %d %lld\n", (int)n->region, (long long)n->off);
  }
}

char *cg_manifest(const Entry *e, int n) {
  Str b = {0};
  const Graph *train = NULL;
  for (int j = 0; j < n; j++)
    if (e[j].kind == ENT_TRAIN) train = e[j].g;
  str_printf(&b, "dlc-manifest %d\n", DLRT_MANIFEST_VERSION);
  put_model(&b, e[0].g, train);
  for (int j = 0; j < n; j++) put_entry(&b, &e[j]);
  const Graph *g = e[0].g;
  for (int t = 0; t < g->ntrain; t++) {
    str_printf(&b, "train %s ", g->train[t].key);
    for (const char *c = g->train[t].value; *c; c++)
      str_putc(&b, *c == '\n' ? ' ' : *c); /* one line per entry */
    str_printf(&b, "\n");
  }
  str_printf(&b, "end\n");
  return b.s;
}
