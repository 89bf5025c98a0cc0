/* gradcheck.c — gradients from autodiff against central differences.
 *
 * The oracle for every gradient rule: build the gradient graph with
 * ad_gradients, evaluate it with the reference interpreter (in double
 * precision), and compare each checked element of each parameter's
 * gradient with
 *
 *     (L(p + h) - L(p - h)) / 2h,   h = 1e-6 * max(1, |p|)
 *
 * computed by running the forward graph twice. Element i passes when
 * |analytic - numeric| - noise <= tol * max(1e-3, |analytic|, |numeric|):
 * an error relative to the gradient's size, floored so that gradients that
 * are zero up to rounding do not demand relative precision they cannot
 * have; noise = 8 ulp(L) / 2h is the rounding of the difference itself,
 * which grows with the loss.
 */
#include "passes.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64, for seeded test values. */
static uint64_t next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double uniform(uint64_t *s) { return (double)(next(s) >> 11) / 9007199254740992.0; }

/* How many distinct values to draw for i32 source i: its classes, or for
 * ids that index tables (gather), the largest table's rows plus one, so
 * that every row can be used and an out-of-range id (clamped) occurs. */
static int64_t int_range(const Graph *g, int i) {
  int64_t k = g->node[i].classes > 0 ? g->node[i].classes : 2;
  for (int j = i + 1; j < g->nnode; j++) {
    const Node *u = &g->node[j];
    if (u->op == OP_GATHER && u->in[1] == i && g->node[u->in[0]].shape.d[0] + 1 > k)
      k = g->node[u->in[0]].shape.d[0] + 1;
  }
  return k;
}

/* Seeded values for source node src: labels in [0, classes), ids as
 * int_range says, data in [0, 1), parameters in [-0.5, 0.5). */
static Tensor fill(const Graph *g, int src, int64_t N, uint64_t *s) {
  const Node *n = &g->node[src];
  Shape c = n->shape;
  for (int d = 0; d < c.rank; d++) c.d[d] = dim_eval(c.d[d], N);
  Tensor t = tensor_new(n->dtype, c);
  int64_t K = n->dtype == DT_I32 ? int_range(g, src) : 0;
  for (int64_t i = 0; i < t.n; i++) {
    if (n->dtype == DT_I32)
      t.v[i] = (double)(next(s) % (uint64_t)K);
    else
      t.v[i] = n->op == OP_PARAM ? uniform(s) - 0.5 : uniform(s);
  }
  return t;
}

static double loss_at(const Graph *g, int64_t N, const Tensor *in, const Tensor *par) {
  Tensor *v = interp_run(g, N, in, par);
  if (!v) die("gradcheck: the interpreter failed");
  double l = v[g->loss].v[0];
  interp_free(g, v);
  return l;
}

/* Analytic gradients of every param (heap tensors, zero where the loss
 * does not depend on the param); NULL after errors. */
static Tensor *analytic(const Graph *g, int64_t N, const Tensor *in, const Tensor *par,
                        int np, const int *pidx) {
  Graph *gg = ir_clone(g);
  int *grad = ad_gradients(gg, gg->loss);
  if (!grad) {
    ir_free_graph(gg);
    return NULL;
  }
  Tensor *v = interp_run(gg, N, in, par);
  if (!v) die("gradcheck: the interpreter failed on the gradient graph");
  Tensor *out = calloc((size_t)np + 1, sizeof *out);
  for (int j = 0; j < np; j++) {
    Shape c = g->node[pidx[j]].shape;
    out[j] = tensor_new(DT_F32, c);
    if (grad[pidx[j]] >= 0) memcpy(out[j].v, v[grad[pidx[j]]].v, sizeof(double) * (size_t)out[j].n);
  }
  interp_free(gg, v);
  free(grad);
  ir_free_graph(gg);
  return out;
}

bool ad_gradcheck(const Graph *g, int64_t N, const Tensor *inputs, const Tensor *params,
                  int samples, uint64_t seed, double tol, FILE *log) {
  int nin, np;
  int *iidx = ir_inputs(g, &nin), *pidx = ir_params(g, &np);
  uint64_t s = seed;
  Tensor *in = calloc((size_t)nin + 1, sizeof *in), *par = calloc((size_t)np + 1, sizeof *par);
  for (int j = 0; j < nin; j++) in[j] = inputs ? inputs[j] : fill(g, iidx[j], N, &s);
  for (int j = 0; j < np; j++) {
    if (params) {
      par[j] = tensor_new(params[j].dtype, params[j].shape);
      memcpy(par[j].v, params[j].v, sizeof(double) * (size_t)par[j].n);
    } else {
      par[j] = fill(g, pidx[j], N, &s);
    }
  }
  Tensor *an = analytic(g, N, in, par, np, pidx);
  bool ok = an != NULL;
  for (int j = 0; an && j < np; j++) {
    const Node *p = &g->node[pidx[j]];
    int64_t n = par[j].n, step = samples > 0 && n > samples ? n / samples : 1;
    double worst = 0;
    int bad = 0;
    for (int64_t i = 0; i < n; i += step) {
      double x = par[j].v[i], h = 1e-6 * fmax(1, fabs(x));
      par[j].v[i] = x + h;
      double lp = loss_at(g, N, in, par);
      par[j].v[i] = x - h;
      double lm = loss_at(g, N, in, par);
      par[j].v[i] = x;
      double num = (lp - lm) / (2 * h), a = an[j].v[i];
      /* the difference's own rounding: a few ulps of the loss over 2h */
      double noise = 8 * DBL_EPSILON * fmax(fabs(lp), fabs(lm)) / (2 * h);
      double err = fmax(0, fabs(a - num) - noise) / fmax(1e-3, fmax(fabs(a), fabs(num)));
      if (err > worst) worst = err;
      if (!(err <= tol)) {
        if (bad++ < 4 && log)
          fprintf(log, "  %s[%lld]: autodiff %.10g, central difference %.10g\n", p->name,
                  (long long)i, a, num);
        ok = false;
      }
    }
    if (log)
      fprintf(log, "%s %s: worst relative error %.2e%s\n", bad ? "FAIL" : "ok  ", p->name,
              worst, bad ? "" : "");
  }
  for (int j = 0; j < np; j++) {
    tensor_free(&par[j]);
    if (an) tensor_free(&an[j]);
  }
  for (int j = 0; !inputs && j < nin; j++) tensor_free(&in[j]);
  free(an);
  free(in);
  free(par);
  return ok;
}
