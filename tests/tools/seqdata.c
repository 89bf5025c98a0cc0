/* seqdata.c — synthetic data for the sequence and recommender tests, as
 * NPY files the runtime's loaders read.
 *
 *   seqdata rand OUT.npy f32|i32 D0 [D1 ...] [--max K] [--seed S]
 *       random values: f32 uniform in [-2, 2), i32 uniform in [0, K)
 *       (K defaults to 10)
 *   seqdata ncf DIR [--users U] [--items I] [--rank R] [--noise S]
 *                   [--train M] [--test M] [--seed S]
 *       a low-rank rating matrix with known Gaussian noise: user factors
 *       u [U, R] and item factors v [I, R] with N(0, 1/sqrt(R)) entries, so
 *       that a rating u_a . v_b has about unit variance, plus noise of
 *       standard deviation S. Writes DIR/ncf_{train,test}_pairs.npy (i32
 *       [M, 2]: user, item) and DIR/ncf_{train,test}_ratings.npy (f32
 *       [M, 1]): M pairs drawn uniformly with replacement, the test pairs
 *       independently of the training pairs. The best possible test RMSE
 *       is then S (the noise floor).
 *
 *   seqdata rmse PRED.npy TARGET.npy
 *       prints the root mean squared difference of two f32 arrays of the
 *       same element count
 *
 * Defaults: 300 users, 200 items, rank 4, noise 0.5, 60000 training and
 * 5000 test pairs, seed 1. Deterministic for a seed.
 */
#include "dlrt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool save(const char *path, dlrt_dtype t, int rank, const int64_t *dim, void *data) {
  dlrt_array a = {.dtype = t, .rank = rank, .data = data};
  for (int i = 0; i < rank; i++) a.dim[i] = dim[i];
  char err[512];
  if (dlrt_npy_save(path, &a, err)) return true;
  fprintf(stderr, "seqdata: %s\n", err);
  return false;
}

static double gauss(dlrt_rng *r) { return dlrt_rng_normal(r); }

/* The value of option name in argv[from..], or def. */
static double opt(int argc, char **argv, int from, const char *name, double def) {
  for (int i = from; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return atof(argv[i + 1]);
  return def;
}

static int cmd_rand(int argc, char **argv) {
  if (argc < 5) return 2;
  bool i32 = strcmp(argv[3], "i32") == 0;
  int64_t dim[DLRT_MAX_RANK], n = 1;
  int rank = 0;
  for (int i = 4; i < argc && argv[i][0] != '-' && rank < DLRT_MAX_RANK; i++) {
    dim[rank] = atoll(argv[i]);
    if (dim[rank] < 1) return 2;
    n *= dim[rank++];
  }
  int64_t K = (int64_t)opt(argc, argv, 4, "--max", 10);
  dlrt_rng r;
  dlrt_rng_seed(&r, (uint64_t)opt(argc, argv, 4, "--seed", 1));
  float *v = malloc(sizeof *v * (size_t)n);
  if (!v || K < 1) return 2;
  for (int64_t i = 0; i < n; i++) {
    if (i32)
      ((int32_t *)v)[i] = (int32_t)(dlrt_rng_next(&r) % (uint64_t)K);
    else
      v[i] = (float)(4 * dlrt_rng_uniform(&r) - 2);
  }
  bool ok = save(argv[2], i32 ? DLRT_I32 : DLRT_F32, rank, dim, v);
  free(v);
  return ok ? 0 : 1;
}

/* M pairs and their noisy ratings, written as DIR/ncf_<set>_*.npy. */
static bool ncf_set(const char *dir, const char *set, int64_t M, int64_t U, int64_t I,
                    int64_t R, const double *u, const double *v, double noise, dlrt_rng *r) {
  int32_t *pairs = malloc(sizeof *pairs * (size_t)(2 * M));
  float *y = malloc(sizeof *y * (size_t)M);
  if (!pairs || !y) return false;
  for (int64_t m = 0; m < M; m++) {
    int64_t a = (int64_t)(dlrt_rng_next(r) % (uint64_t)U), b = (int64_t)(dlrt_rng_next(r) % (uint64_t)I);
    double dot = 0;
    for (int64_t k = 0; k < R; k++) dot += u[a * R + k] * v[b * R + k];
    pairs[2 * m] = (int32_t)a, pairs[2 * m + 1] = (int32_t)b;
    y[m] = (float)(dot + noise * gauss(r));
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/ncf_%s_pairs.npy", dir, set);
  bool ok = save(path, DLRT_I32, 2, (int64_t[]){M, 2}, pairs);
  snprintf(path, sizeof path, "%s/ncf_%s_ratings.npy", dir, set);
  ok = ok && save(path, DLRT_F32, 2, (int64_t[]){M, 1}, y);
  free(pairs);
  free(y);
  return ok;
}

static int cmd_ncf(int argc, char **argv) {
  if (argc < 3) return 2;
  int64_t U = (int64_t)opt(argc, argv, 3, "--users", 300), I = (int64_t)opt(argc, argv, 3, "--items", 200);
  int64_t R = (int64_t)opt(argc, argv, 3, "--rank", 4);
  int64_t Mtr = (int64_t)opt(argc, argv, 3, "--train", 60000), Mte = (int64_t)opt(argc, argv, 3, "--test", 5000);
  double noise = opt(argc, argv, 3, "--noise", 0.5);
  if (U < 1 || I < 1 || R < 1 || Mtr < 1 || Mte < 1 || noise < 0) return 2;
  dlrt_rng r;
  dlrt_rng_seed(&r, (uint64_t)opt(argc, argv, 3, "--seed", 1));
  double *u = malloc(sizeof *u * (size_t)(U * R)), *v = malloc(sizeof *v * (size_t)(I * R));
  if (!u || !v) return 2;
  double s = 1 / sqrt(sqrt((double)R));  /* each factor entry: var 1/sqrt(R) */
  for (int64_t i = 0; i < U * R; i++) u[i] = s * gauss(&r);
  for (int64_t i = 0; i < I * R; i++) v[i] = s * gauss(&r);
  bool ok = ncf_set(argv[2], "train", Mtr, U, I, R, u, v, noise, &r) &&
            ncf_set(argv[2], "test", Mte, U, I, R, u, v, noise, &r);
  free(u);
  free(v);
  return ok ? 0 : 1;
}

static int cmd_rmse(int argc, char **argv) {
  if (argc != 4) return 2;
  dlrt_array a = {0}, b = {0};
  char err[512];
  if (!dlrt_npy_load(argv[2], &a, err) || !dlrt_npy_load(argv[3], &b, err)) {
    fprintf(stderr, "seqdata: %s\n", err);
    return 1;
  }
  int64_t n = 1, m = 1;
  for (int i = 0; i < a.rank; i++) n *= a.dim[i];
  for (int i = 0; i < b.rank; i++) m *= b.dim[i];
  if (n != m || n == 0 || a.dtype != DLRT_F32 || b.dtype != DLRT_F32) {
    fprintf(stderr, "seqdata: rmse needs two f32 arrays of the same size\n");
    return 1;
  }
  double s = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = (double)((float *)a.data)[i] - (double)((float *)b.data)[i];
    s += d * d;
  }
  printf("%.6f\n", sqrt(s / (double)n));
  free(a.data);
  free(b.data);
  return 0;
}

int main(int argc, char **argv) {
  int rc = 2;
  if (argc > 1 && strcmp(argv[1], "rand") == 0) rc = cmd_rand(argc, argv);
  else if (argc > 1 && strcmp(argv[1], "ncf") == 0) rc = cmd_ncf(argc, argv);
  else if (argc > 1 && strcmp(argv[1], "rmse") == 0) rc = cmd_rmse(argc, argv);
  if (rc == 2)
    fprintf(stderr, "usage: seqdata rand OUT.npy f32|i32 D0 [D1 ...] [--max K] [--seed S]\n"
                    "       seqdata ncf DIR [--users U] [--items I] [--rank R] [--noise S]\n"
                    "                       [--train M] [--test M] [--seed S]\n"
                    "       seqdata rmse PRED.npy TARGET.npy\n");
  return rc;
}
