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
 *   seqdata reverse DIR [--train M] [--test M] [--min L] [--max L] [--seed S]
 *       the transduction of models/seq2seq.dlm: a string of L digits
 *       (L uniform in [min, max]) and the same digits reversed. Writes
 *       DIR/reverse_{train,test}_src.npy (i32 [M, max]: the digits, then
 *       END) and DIR/reverse_{train,test}_tgt.npy (i32 [M, max + 1]: the
 *       reversed digits, then END to the end). Tokens: digits 0..9, START
 *       10, END 11. The test strings are distinct, and no training string
 *       is a test string. Defaults: 20000 and 1000 strings of 3..10
 *       digits, seed 1.
 *
 *   seqdata argmax LOGITS.npy OUT.npy [--end E] [--shift START]
 *       the token of the largest score at each position of LOGITS (f32
 *       [N, T, V]), END from the first END on, as i32 [N, T]; with --shift,
 *       the decoder's next input instead: START, then those tokens but the
 *       last. A greedy decode done by hand with `dlc run` alternates it
 *       with the model, T times.
 *
 *   seqdata exact PRED.npy TARGET.npy [--end E]
 *       compares two i32 [N, T] token arrays: prints "exact X token Y"
 *       with X the fraction of sequences equal at every position and Y
 *       the fraction of target positions up to and including the target's
 *       first END (default 11) that are equal
 *
 * Defaults: 300 users, 200 items, rank 4, noise 0.5, 60000 training and
 * 5000 test pairs, seed 1. Deterministic for a seed.
 */
#include "dlrt.h"

#include <inttypes.h>
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

/* DIR/TASK_SET_NAME.npy: a [rows, cols] array of one set of a task. */
static bool save_set(const char *dir, const char *task, const char *set, const char *name,
                     dlrt_dtype t, int64_t rows, int64_t cols, void *data) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s_%s_%s.npy", dir, task, set, name);
  return save(path, t, 2, (int64_t[]){rows, cols}, data);
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
  bool ok = save_set(dir, "ncf", set, "pairs", DLRT_I32, M, 2, pairs) &&
            save_set(dir, "ncf", set, "ratings", DLRT_F32, M, 1, y);
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

enum { REV_START = 10, REV_END = 11 };

/* A digit string as one number: unique for (length, digits). */
static uint64_t rev_key(const int32_t *d, int64_t L) {
  uint64_t k = (uint64_t)L;
  for (int64_t i = 0; i < L; i++) k = k * 10 + (uint64_t)d[i];
  return k;
}

/* An open-addressing set of keys (0 is never a key: lengths are >= 1). */
typedef struct KeySet {
  uint64_t *v;
  uint64_t cap;
} KeySet;

static bool keyset_has(const KeySet *s, uint64_t k) {
  for (uint64_t i = k * 0x9e3779b97f4a7c15u % s->cap; s->v[i]; i = (i + 1) % s->cap)
    if (s->v[i] == k) return true;
  return false;
}

static void keyset_add(KeySet *s, uint64_t k) {
  uint64_t i = k * 0x9e3779b97f4a7c15u % s->cap;
  while (s->v[i] && s->v[i] != k) i = (i + 1) % s->cap;
  s->v[i] = k;
}

/* M strings into src [M, Lmax] and tgt [M, Lmax + 1]; the test set
 * (unique) adds its strings to seen, the training set avoids them. */
static bool rev_set(const char *dir, const char *set, int64_t M, int64_t Lmin, int64_t Lmax,
                    KeySet *seen, bool test, dlrt_rng *r) {
  int64_t T = Lmax + 1;
  int32_t *src = malloc(sizeof *src * (size_t)(M * Lmax)), *tgt = malloc(sizeof *tgt * (size_t)(M * T));
  if (!src || !tgt) return false;
  for (int64_t m = 0; m < M; m++) {
    int32_t *s = src + m * Lmax, *t = tgt + m * T;
    int64_t L;
    do {
      L = Lmin + (int64_t)(dlrt_rng_next(r) % (uint64_t)(Lmax - Lmin + 1));
      for (int64_t i = 0; i < L; i++) s[i] = (int32_t)(dlrt_rng_next(r) % 10);
    } while (keyset_has(seen, rev_key(s, L)));
    if (test) keyset_add(seen, rev_key(s, L));
    for (int64_t i = L; i < Lmax; i++) s[i] = REV_END;
    for (int64_t i = 0; i < T; i++) t[i] = i < L ? s[L - 1 - i] : REV_END;
  }
  bool ok = save_set(dir, "reverse", set, "src", DLRT_I32, M, Lmax, src) &&
            save_set(dir, "reverse", set, "tgt", DLRT_I32, M, T, tgt);
  free(src);
  free(tgt);
  return ok;
}

static int cmd_reverse(int argc, char **argv) {
  if (argc < 3) return 2;
  int64_t Mtr = (int64_t)opt(argc, argv, 3, "--train", 20000), Mte = (int64_t)opt(argc, argv, 3, "--test", 1000);
  int64_t Lmin = (int64_t)opt(argc, argv, 3, "--min", 3), Lmax = (int64_t)opt(argc, argv, 3, "--max", 10);
  if (Mtr < 1 || Mte < 1 || Lmin < 1 || Lmax < Lmin || Lmax > 15) return 2;
  /* the test set must leave most strings to training */
  double strings = 0;
  for (int64_t L = Lmin; L <= Lmax; L++) strings += pow(10, (double)L);
  if ((double)Mte > strings / 4) {
    fprintf(stderr, "seqdata: %" PRId64 " test strings of %" PRId64 "..%" PRId64
            " digits leave too few for training\n", Mte, Lmin, Lmax);
    return 1;
  }
  KeySet seen = {.cap = (uint64_t)(4 * Mte + 1)};
  seen.v = calloc((size_t)seen.cap, sizeof *seen.v);
  if (!seen.v) return 1;
  dlrt_rng r;
  dlrt_rng_seed(&r, (uint64_t)opt(argc, argv, 3, "--seed", 1));
  bool ok = rev_set(argv[2], "test", Mte, Lmin, Lmax, &seen, true, &r) &&
            rev_set(argv[2], "train", Mtr, Lmin, Lmax, &seen, false, &r);
  free(seen.v);
  return ok ? 0 : 1;
}

/* Load an array of rank `rank` and dtype t, or say why not. */
static bool load_as(const char *path, dlrt_array *a, dlrt_dtype t, int rank) {
  char err[512];
  if (!dlrt_npy_load(path, a, err)) {
    fprintf(stderr, "seqdata: %s\n", err);
    return false;
  }
  if (a->dtype == t && a->rank == rank) return true;
  fprintf(stderr, "seqdata: %s: want %s data of rank %d\n", path, t == DLRT_I32 ? "integer" : "f32", rank);
  dlrt_array_free(a);
  return false;
}

static int cmd_argmax(int argc, char **argv) {
  if (argc < 4) return 2;
  int64_t end = (int64_t)opt(argc, argv, 4, "--end", -1), start = (int64_t)opt(argc, argv, 4, "--shift", -1);
  dlrt_array a = {0};
  if (!load_as(argv[2], &a, DLRT_F32, 3)) return 1;
  int64_t N = a.dim[0], T = a.dim[1], V = a.dim[2];
  int32_t *tok = malloc(sizeof *tok * (size_t)(N * T + 1));
  if (!tok) return 1;
  const float *x = a.data;
  for (int64_t n = 0; n < N; n++) {
    bool ended = false;
    for (int64_t t = 0; t < T; t++) {
      const float *v = x + (n * T + t) * V;
      int32_t k = 0;
      for (int64_t c = 1; c < V; c++)
        if (v[c] > v[k]) k = (int32_t)c;
      tok[n * T + t] = ended ? (int32_t)end : k;
      ended = ended || (end >= 0 && k == end);
    }
    if (start >= 0) {
      memmove(tok + n * T + 1, tok + n * T, sizeof *tok * (size_t)(T - 1));
      tok[n * T] = (int32_t)start;
    }
  }
  bool ok = save(argv[3], DLRT_I32, 2, (int64_t[]){N, T}, tok);
  free(tok);
  dlrt_array_free(&a);
  return ok ? 0 : 1;
}

static int cmd_exact(int argc, char **argv) {
  if (argc < 4) return 2;
  int32_t end = (int32_t)opt(argc, argv, 4, "--end", REV_END);
  dlrt_array p = {0}, y = {0};
  if (!load_as(argv[2], &p, DLRT_I32, 2)) return 1;
  if (!load_as(argv[3], &y, DLRT_I32, 2)) {
    dlrt_array_free(&p);
    return 1;
  }
  int rc = 0;
  if (p.dim[0] != y.dim[0] || p.dim[1] != y.dim[1] || p.dim[0] == 0) {
    fprintf(stderr, "seqdata: exact needs two token arrays [N, T] of the same shape\n");
    rc = 1;
  }
  int64_t N = y.dim[0], T = y.dim[1], exact = 0, tok = 0, tokok = 0;
  const int32_t *a = p.data, *b = y.data;
  for (int64_t n = 0; rc == 0 && n < N; n++) {
    bool same = true, counting = true;
    for (int64_t t = 0; t < T; t++) {
      bool eq = a[n * T + t] == b[n * T + t];
      same = same && eq;
      tok += counting, tokok += counting && eq;
      counting = counting && b[n * T + t] != end;
    }
    exact += same;
  }
  if (rc == 0) printf("exact %.4f token %.4f\n", (double)exact / (double)N, (double)tokok / (double)tok);
  dlrt_array_free(&p);
  dlrt_array_free(&y);
  return rc;
}

int main(int argc, char **argv) {
  int rc = 2;
  if (argc > 1 && strcmp(argv[1], "rand") == 0) rc = cmd_rand(argc, argv);
  else if (argc > 1 && strcmp(argv[1], "ncf") == 0) rc = cmd_ncf(argc, argv);
  else if (argc > 1 && strcmp(argv[1], "rmse") == 0) rc = cmd_rmse(argc, argv);
  else if (argc > 1 && strcmp(argv[1], "reverse") == 0) rc = cmd_reverse(argc, argv);
  else if (argc > 1 && strcmp(argv[1], "argmax") == 0) rc = cmd_argmax(argc, argv);
  else if (argc > 1 && strcmp(argv[1], "exact") == 0) rc = cmd_exact(argc, argv);
  if (rc == 2)
    fprintf(stderr, "usage: seqdata rand OUT.npy f32|i32 D0 [D1 ...] [--max K] [--seed S]\n"
                    "       seqdata ncf DIR [--users U] [--items I] [--rank R] [--noise S]\n"
                    "                       [--train M] [--test M] [--seed S]\n"
                    "       seqdata rmse PRED.npy TARGET.npy\n"
                    "       seqdata reverse DIR [--train M] [--test M] [--min L] [--max L] [--seed S]\n"
                    "       seqdata argmax LOGITS.npy OUT.npy [--end E] [--shift START]\n"
                    "       seqdata exact PRED.npy TARGET.npy [--end E]\n");
  return rc;
}
