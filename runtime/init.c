/* init.c — parameter initialisation by the init kind named in the manifest.
 *
 * The one idea: parameter k draws from its own stream, seeded from the
 * user's seed and k alone, so that adding, removing or resizing one
 * parameter leaves every other parameter's initial values unchanged, and
 * the same seed gives the same network on every machine and thread count.
 *
 * Kinds (a, b and the fans come from the manifest's param line):
 *   zeros, ones        0 and 1
 *   const              a
 *   uniform            U(a, b)
 *   normal             N(mean a, std b)
 *   xavier_uniform     U(-l, l), l = sqrt(6 / (fan_in + fan_out))
 *   xavier_normal      N(0, sqrt(2 / (fan_in + fan_out)))
 *   he_uniform         U(-l, l), l = sqrt(6 / fan_in)
 *   he_normal          N(0, sqrt(2 / fan_in))
 * Fans below 1 count as 1 (the manifest parser refuses them anyway).
 */
#include <math.h>
#include <string.h>

#include "dlrt.h"

typedef enum {
  K_ZEROS, K_ONES, K_CONST, K_UNIFORM, K_NORMAL,
  K_XAVIER_UNIFORM, K_XAVIER_NORMAL, K_HE_UNIFORM, K_HE_NORMAL,
  K_COUNT
} Kind;

static const char *const kind_name[] = {
  [K_ZEROS] = "zeros", [K_ONES] = "ones", [K_CONST] = "const",
  [K_UNIFORM] = "uniform", [K_NORMAL] = "normal",
  [K_XAVIER_UNIFORM] = "xavier_uniform", [K_XAVIER_NORMAL] = "xavier_normal",
  [K_HE_UNIFORM] = "he_uniform", [K_HE_NORMAL] = "he_normal",
};
_Static_assert(sizeof kind_name / sizeof kind_name[0] == K_COUNT,
               "one name per init kind");

static int find_kind(const char *name) {
  for (int k = 0; k < K_COUNT; k++)
    if (strcmp(name, kind_name[k]) == 0)
      return k;
  return -1;
}

bool dlrt_init_known(const char *name) {
  return find_kind(name) >= 0;
}

/* The splitmix64 finaliser: a bijective 64-bit mix. */
static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double fan(int64_t f) {
  return f < 1 ? 1.0 : (double)f;
}

static void fill_uniform(float *out, int64_t n, dlrt_rng *r, double lo,
                         double hi) {
  for (int64_t i = 0; i < n; i++)
    out[i] = (float)(lo + (hi - lo) * dlrt_rng_uniform(r));
}

static void fill_normal(float *out, int64_t n, dlrt_rng *r, double mean,
                        double std) {
  for (int64_t i = 0; i < n; i++)
    out[i] = (float)(mean + std * dlrt_rng_normal(r));
}

static void fill_const(float *out, int64_t n, double v) {
  for (int64_t i = 0; i < n; i++)
    out[i] = (float)v;
}

/* Fill out (dlrt_numel(p, 1) floats). The stream is seeded with
 * mix64(mix64(seed) + (k + 1) * golden), k = index: distinct per (seed, k)
 * and independent of every other parameter. An unknown kind fills zeros. */
void dlrt_init_param(float *out, const dlrt_tensor *p, int index,
                     uint64_t seed) {
  int64_t n = dlrt_numel(p, 1);
  dlrt_rng r;
  dlrt_rng_seed(&r, mix64(mix64(seed) +
                          ((uint64_t)index + 1) * 0x9e3779b97f4a7c15ull));
  double fi = fan(p->fan_in), fo = fan(p->fan_out), l;
  switch (find_kind(p->init)) {
  case K_ONES: fill_const(out, n, 1.0); break;
  case K_CONST: fill_const(out, n, p->init_a); break;
  case K_UNIFORM: fill_uniform(out, n, &r, p->init_a, p->init_b); break;
  case K_NORMAL: fill_normal(out, n, &r, p->init_a, p->init_b); break;
  case K_XAVIER_UNIFORM:
    l = sqrt(6.0 / (fi + fo));
    fill_uniform(out, n, &r, -l, l);
    break;
  case K_XAVIER_NORMAL: fill_normal(out, n, &r, 0.0, sqrt(2.0 / (fi + fo))); break;
  case K_HE_UNIFORM:
    l = sqrt(6.0 / fi);
    fill_uniform(out, n, &r, -l, l);
    break;
  case K_HE_NORMAL: fill_normal(out, n, &r, 0.0, sqrt(2.0 / fi)); break;
  default: fill_const(out, n, 0.0); break;
  }
}

/* Contract in dlrt.h. i32 params get their values rounded. */
void dlrt_init_weights(dlrt_frame *f, const dlrt_model *m, uint64_t seed) {
  dlrt_params_to_host(f);
  for (int i = 0; i < m->nparams; i++) {
    const dlrt_tensor *t = &m->params[i];
    float *v = dlrt_tensor_addr(f, t);
    dlrt_init_param(v, t, i, seed);
    for (int64_t j = 0; t->dtype == DLRT_I32 && j < dlrt_numel(t, 1); j++)
      ((int32_t *)v)[j] = (int32_t)lrintf(v[j]);
  }
  dlrt_params_changed(f);
}
