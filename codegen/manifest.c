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
                   (int)R_ACTN == DLRT_R_ACTN && (int)R_COUNT == DLRT_REGIONS,
               "compiler and runtime agree on region numbers");

static void put_dims(Str *b, const Shape *s) {
  str_printf(b, " %d", s->rank);
  for (int i = 0; i < s->rank; i++) str_printf(b, " %lld", (long long)s->d[i]);
}

static void put_tensor(Str *b, const char *kind, const char *name, const Node *n) {
  str_printf(b, "%s %s %s", kind, name, dtype_name[n->dtype]);
  if (n->op == OP_INPUT)
    str_printf(b, " %s %lld", n->ikind == IN_LABEL ? "label" : "data",
               (long long)n->classes);
  put_dims(b, &n->shape);
  str_printf(b, " %d %lld", (int)n->region, (long long)n->off);
}

char *cg_manifest(const Graph *g) {
  Str b = {0};
  str_printf(&b, "dlc-manifest %d\n", DLRT_MANIFEST_VERSION);
  str_printf(&b, "model %s\n", g->name);
  str_printf(&b, "signature %016llx\n", (unsigned long long)ir_signature(g));
  str_printf(&b, "dlc %s\n", DLC_VERSION);
  for (int r = R_WEIGHT; r < R_COUNT; r++)
    str_printf(&b, "region %d %lld %lld\n", r, (long long)g->region_k[r],
               (long long)g->region_n[r]);
  for (int i = 0; i < g->nnode; i++)
    if (g->node[i].op == OP_INPUT) {
      put_tensor(&b, "input", g->node[i].name, &g->node[i]);
      str_printf(&b, "\n");
    }
  for (int o = 0; o < g->nout; o++) {
    put_tensor(&b, "output", g->out[o].name, &g->node[g->out[o].node]);
    str_printf(&b, "\n");
  }
  for (int i = 0; i < g->nnode; i++) {
    const Node *n = &g->node[i];
    if (n->op != OP_PARAM) continue;
    put_tensor(&b, "param", n->name, n);
    str_printf(&b, " %s %.17g %.17g %lld %lld\n", init_name[n->init.kind], n->init.a,
               n->init.b, (long long)n->init.fan_in, (long long)n->init.fan_out);
  }
  for (int t = 0; t < g->ntrain; t++) {
    str_printf(&b, "train %s ", g->train[t].key);
    for (const char *c = g->train[t].value; *c; c++)
      str_putc(&b, *c == '\n' ? ' ' : *c); /* one line per entry */
    str_printf(&b, "\n");
  }
  str_printf(&b, "end\n");
  return b.s;
}
