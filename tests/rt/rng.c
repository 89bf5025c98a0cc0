/* rng.c — tests of the random numbers (rng.c) and parameter init (init.c):
 * reproducibility, independence of seeds and parameters, and the moments
 * and bounds of every distribution. */
#include <math.h>

#include "rt_test.h"

static void test_splitmix_reference(void) {
  /* The well-known splitmix64 outputs for seed 0 fill xoshiro's state. */
  static const uint64_t want[4] = {0xe220a8397b1dcdafull, 0x6e789e6aa1b965f4ull,
                                   0x06c45d188009454full, 0xf88bb8a8724c81ecull};
  dlrt_rng r;
  dlrt_rng_seed(&r, 0);
  check("rng_seed_splitmix_reference", memcmp(r.s, want, sizeof want) == 0,
        "state %016llx %016llx ...", (unsigned long long)r.s[0],
        (unsigned long long)r.s[1]);
  /* xoshiro256** by its definition, written out independently. */
  uint64_t s[4];
  memcpy(s, r.s, sizeof s);
  bool ok = true;
  for (int i = 0; i < 100; i++) {
    uint64_t x = s[1] * 5, want_out = ((x << 7) | (x >> 57)) * 9, t = s[1] << 17;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    ok = ok && dlrt_rng_next(&r) == want_out;
  }
  check("rng_xoshiro256ss_definition", ok, "outputs differ from the definition");
}

static void test_reproducible(void) {
  dlrt_rng a, b, c;
  dlrt_rng_seed(&a, 42);
  dlrt_rng_seed(&b, 42);
  dlrt_rng_seed(&c, 43);
  int same = 0, diff = 0;
  for (int i = 0; i < 1000; i++) {
    uint64_t x = dlrt_rng_next(&a);
    same += x == dlrt_rng_next(&b);
    diff += x != dlrt_rng_next(&c);
  }
  check("rng_same_seed_same_stream", same == 1000, "%d of 1000 equal", same);
  check("rng_other_seed_other_stream", diff >= 999, "%d of 1000 differ", diff);
}

static void test_uniform(void) {
  dlrt_rng r;
  dlrt_rng_seed(&r, 7);
  int n = 1000000;
  double sum = 0, sq = 0, lo = 1, hi = 0;
  for (int i = 0; i < n; i++) {
    double u = dlrt_rng_uniform(&r);
    sum += u, sq += u * u;
    lo = u < lo ? u : lo, hi = u > hi ? u : hi;
  }
  double mean = sum / n, var = sq / n - mean * mean;
  check("rng_uniform_range", lo >= 0 && hi < 1, "min %g max %g", lo, hi);
  check("rng_uniform_moments", fabs(mean - 0.5) < 0.002 && fabs(var - 1.0 / 12) < 0.001,
        "mean %g (want 0.5), var %g (want %g)", mean, var, 1.0 / 12);
}

static void test_normal(void) {
  dlrt_rng r, r2;
  dlrt_rng_seed(&r, 9);
  int n = 1000000, bad = 0;
  double sum = 0, sq = 0, tail = 0;
  for (int i = 0; i < n; i++) {
    double z = dlrt_rng_normal(&r);
    bad += !isfinite(z);
    sum += z, sq += z * z, tail += fabs(z) > 1.96;
  }
  double mean = sum / n, sd = sqrt(sq / n - mean * mean);
  check("rng_normal_finite", bad == 0, "%d non-finite values", bad);
  check("rng_normal_moments", fabs(mean) < 0.005 && fabs(sd - 1) < 0.005 &&
        fabs(tail / n - 0.05) < 0.002, "mean %g sd %g P(|z|>1.96) %g", mean, sd, tail / n);
  /* No hidden cache: one normal consumes exactly two draws. */
  dlrt_rng_seed(&r, 5);
  dlrt_rng_seed(&r2, 5);
  dlrt_rng_normal(&r);
  dlrt_rng_next(&r2);
  dlrt_rng_next(&r2);
  check("rng_normal_uses_two_draws", dlrt_rng_next(&r) == dlrt_rng_next(&r2),
        "stream positions differ after one normal");
}

static dlrt_tensor param(const char *init, double a, double b, int64_t fi,
                         int64_t fo, int64_t rows, int64_t cols) {
  dlrt_tensor t = {.dtype = DLRT_F32, .rank = 2, .dim = {rows, cols},
                   .region = DLRT_R_WEIGHT, .init_a = a, .init_b = b,
                   .fan_in = fi, .fan_out = fo};
  snprintf(t.init, sizeof t.init, "%s", init);
  snprintf(t.name, sizeof t.name, "p");
  return t;
}

static void moments(const float *v, int64_t n, double *mean, double *sd,
                    double *lo, double *hi) {
  double s = 0, q = 0;
  *lo = INFINITY, *hi = -INFINITY;
  for (int64_t i = 0; i < n; i++) {
    s += v[i], q += (double)v[i] * v[i];
    *lo = fmin(*lo, v[i]), *hi = fmax(*hi, v[i]);
  }
  *mean = s / (double)n;
  *sd = sqrt(q / (double)n - *mean * *mean);
}

/* One init kind: values within [lo, hi] and mean/sd near the targets. */
static void check_init(const char *name, dlrt_tensor t, double want_mean,
                       double want_sd, double lo, double hi) {
  int64_t n = dlrt_numel(&t, 1);
  float *v = malloc(sizeof *v * (size_t)n);
  dlrt_init_param(v, &t, 0, 1);
  double mean, sd, mn, mx, tol = 0.02 * (want_sd > 0 ? want_sd : 1);
  moments(v, n, &mean, &sd, &mn, &mx);
  char label[64];
  snprintf(label, sizeof label, "init_%s", name);
  check(label, mn >= lo && mx <= hi && fabs(mean - want_mean) < 2 * tol &&
        fabs(sd - want_sd) < 2 * tol,
        "mean %g (want %g) sd %g (want %g) range [%g, %g] (want within [%g, %g])",
        mean, want_mean, sd, want_sd, mn, mx, lo, hi);
  free(v);
}

static void test_init_kinds(void) {
  double xl = sqrt(6.0 / (300 + 100)), hl = sqrt(6.0 / 300);
  check_init("zeros", param("zeros", 0, 0, 0, 0, 10, 10), 0, 0, 0, 0);
  check_init("ones", param("ones", 0, 0, 0, 0, 10, 10), 1, 0, 1, 1);
  check_init("const", param("const", -2.5, 0, 0, 0, 10, 10), -2.5, 0, -2.5, -2.5);
  check_init("uniform", param("uniform", -1, 3, 0, 0, 300, 1000), 1, 4 / sqrt(12), -1, 3);
  check_init("normal", param("normal", 0.5, 2, 0, 0, 300, 1000), 0.5, 2, -20, 20);
  check_init("xavier_uniform", param("xavier_uniform", 0, 0, 300, 100, 300, 1000), 0,
             xl / sqrt(3), -xl, xl);
  check_init("xavier_normal", param("xavier_normal", 0, 0, 300, 100, 300, 1000), 0,
             sqrt(2.0 / 400), -1, 1);
  check_init("he_uniform", param("he_uniform", 0, 0, 300, 100, 300, 1000), 0,
             hl / sqrt(3), -hl, hl);
  check_init("he_normal", param("he_normal", 0, 0, 300, 100, 300, 1000), 0,
             sqrt(2.0 / 300), -1, 1);
  check("init_known_kinds", dlrt_init_known("he_normal") && dlrt_init_known("zeros") &&
        !dlrt_init_known("xavier") && !dlrt_init_known(""), "dlrt_init_known is wrong");
}

/* Same (seed, k): same values; another seed or k: other values. */
static void test_init_streams(void) {
  dlrt_tensor t = param("normal", 0, 1, 0, 0, 8, 8);
  float a[64], b[64], c[64], d[64];
  dlrt_init_param(a, &t, 3, 11);
  dlrt_init_param(b, &t, 3, 11);
  dlrt_init_param(c, &t, 3, 12);
  dlrt_init_param(d, &t, 4, 11);
  int ac = 0, ad = 0;
  for (int i = 0; i < 64; i++)
    ac += a[i] == c[i], ad += a[i] == d[i];
  check("init_reproducible", memcmp(a, b, sizeof a) == 0, "same seed and index differ");
  check("init_seed_changes_values", ac == 0, "%d of 64 equal across seeds", ac);
  check("init_index_changes_values", ad == 0, "%d of 64 equal across indices", ad);
  /* A parameter's values do not depend on its size: the first elements of
   * a bigger tensor equal the smaller one's (one stream per parameter). */
  dlrt_tensor big = param("normal", 0, 1, 0, 0, 16, 8);
  float e[128];
  dlrt_init_param(e, &big, 3, 11);
  check("init_stream_prefix_stable", memcmp(a, e, sizeof a) == 0,
        "resizing a parameter changed its leading values");
}

int main(void) {
  t_begin();
  test_splitmix_reference();
  test_reproducible();
  test_uniform();
  test_normal();
  test_init_kinds();
  test_init_streams();
  return t_end();
}
