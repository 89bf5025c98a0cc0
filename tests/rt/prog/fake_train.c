/* fake_train.c — a hand-written stand-in for a compiled model with all
 * three entries, linked with the runtime's main() into
 * build/rtprog/fake_train, for tests/e2e/train_cli.sh.
 *
 * The one idea: the trainer (runtime/train.c) is tested without the
 * compiler by writing by hand what the compiler generates for a softmax
 * regression trained with SGD and momentum:
 *
 *   input x: f32[N, 4]; label y: i32[N] classes 3
 *   param W: f32[4, 3] xavier_uniform, b: f32[3] zeros
 *   probs = softmax(x W + b); loss = mean(-log probs[y])
 *   train: g = dloss + l2 W; v = momentum v + g; p -= lr v
 *
 * The bias gradient also gets a tiny term hashed from (seed, step, class),
 * the way dropout masks depend on them, so that a resumed run is
 * bit-identical only when the runtime restores the step counter and
 * passes the seed. With -DFAKE_ADAM the model is the same but trained
 * with Adam (state exp_avg, exp_avg_sq; hypers beta1, beta2, eps and the
 * bias corrections).
 */
#include <math.h>
#include <string.h>

#include "dlrt.h"

#ifdef FAKE_ADAM
#define OPT_LINES \
  "state 128\n" \
  "input x f32 data 0 2 -1 4\n" \
  "input y i32 label 3 1 -1\n" \
  "param W f32 2 4 3 0 xavier_uniform 0 0 4 3\n" \
  "param b f32 1 3 48 zeros 0 0 0 0\n" \
  "state_tensor exp_avg.W f32 2 4 3 0\n" \
  "state_tensor exp_avg.b f32 1 3 48\n" \
  "state_tensor exp_avg_sq.W f32 2 4 3 64\n" \
  "state_tensor exp_avg_sq.b f32 1 3 112\n" \
  "hyper 0 lr 0.05\n" \
  "hyper 2 beta1 0.9\n" \
  "hyper 3 beta2 0.999\n" \
  "hyper 5 eps 1e-08\n" \
  "hyper 10 bias_correction1 1\n" \
  "hyper 11 bias_correction2 1\n"
#define OPTIMIZER "adam(lr=0.05)"
#else
#define OPT_LINES \
  "state 64\n" \
  "input x f32 data 0 2 -1 4\n" \
  "input y i32 label 3 1 -1\n" \
  "param W f32 2 4 3 0 xavier_uniform 0 0 4 3\n" \
  "param b f32 1 3 48 zeros 0 0 0 0\n" \
  "state_tensor momentum.W f32 2 4 3 0\n" \
  "state_tensor momentum.b f32 1 3 48\n" \
  "hyper 0 lr 0.1\n" \
  "hyper 1 momentum 0.9\n" \
  "hyper 8 l2 0\n"
#define OPTIMIZER "sgd(lr=0.1, momentum=0.9)"
#endif

const char dlrt_manifest[] =
  "dlc-manifest 1\n"
  "model faketrain\n"
  "signature 00000000cafe0001\n"
  "dlc 0.1.0\n"
  "weights 64\n"
  OPT_LINES
  "entry forward 0 28\n"
  "in x 3 0\n"
  "out probs f32 2 -1 3 3 16\n"
  "entry eval 64 32\n"
  "in x 3 0\n"
  "in y 3 16\n"
  "out probs f32 2 -1 3 3 20\n"
  "out loss f32 0 2 0\n"
  "entry train 128 32\n"
  "in x 3 0\n"
  "in y 3 16\n"
  "out loss f32 0 2 0\n"
  "train loss cross_entropy(logits, y)\n"
  "train optimizer " OPTIMIZER "\n"
  "train batch 16\n"
  "train epochs 3\n"
  "train l2 0\n"
  "end\n";

enum { F = 4, C = 3 };

#define ACTN(f, off) ((f)->base[DLRT_R_ACTN] + (off) * (f)->N)

/* probs[i] = softmax(x[i] W + b) for samples [lo, hi). */
static void softmax_rows(const dlrt_frame *f, int64_t lo, int64_t hi, int64_t off) {
  const float *x = (const float *)ACTN(f, 0), *W = (const float *)f->base[DLRT_R_WEIGHT];
  const float *b = W + 12;
  float *p = (float *)ACTN(f, off);
  for (int64_t i = lo; i < hi; i++) {
    float z[C], mx = -INFINITY, s = 0;
    for (int c = 0; c < C; c++) {
      z[c] = b[c];
      for (int k = 0; k < F; k++)
        z[c] += x[i * F + k] * W[k * C + c];
      mx = z[c] > mx ? z[c] : mx;
    }
    for (int c = 0; c < C; c++)
      s += (z[c] = expf(z[c] - mx));
    for (int c = 0; c < C; c++)
      p[i * C + c] = z[c] / s;
  }
}

static void probs16(const dlrt_frame *f, int64_t lo, int64_t hi) {
  softmax_rows(f, lo, hi, 16);
}

static void probs20(const dlrt_frame *f, int64_t lo, int64_t hi) {
  softmax_rows(f, lo, hi, 20);
}

void dlrt_forward(const dlrt_frame *f);
void dlrt_forward(const dlrt_frame *f) {
  dlrt_parallel(probs16, f, f->N);
}

/* loss = mean(-log probs[y]) into ACT offset 0. */
static void mean_loss(const dlrt_frame *f) {
  const float *p = (const float *)ACTN(f, 20);
  const int32_t *y = (const int32_t *)ACTN(f, 16);
  float s = 0;
  for (int64_t i = 0; i < f->N; i++)
    s += -logf(p[i * C + y[i]]);
  *(float *)f->base[DLRT_R_ACT] = s / (float)f->N;
}

void dlrt_eval(const dlrt_frame *f);
void dlrt_eval(const dlrt_frame *f) {
  dlrt_parallel(probs20, f, f->N);
  mean_loss(f);
}

/* The "dropout" term: a value in [-1, 1) from (seed, step, j). */
static float noise(const dlrt_frame *f, int j) {
  uint64_t z = f->seed * 0x9e3779b97f4a7c15ull + (uint64_t)f->step * 0xd1b54a32d192ed03ull + (uint64_t)j;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return (float)((z ^ (z >> 31)) >> 40) / (float)(1 << 23) - 1.0f;
}

/* g[0..12) = dloss/dW (+ l2 W), g[12..15) = dloss/db, in ACT at 16. */
static void gradients(const dlrt_frame *f, float *g) {
  const float *x = (const float *)ACTN(f, 0), *p = (const float *)ACTN(f, 20);
  const int32_t *y = (const int32_t *)ACTN(f, 16);
  memset(g, 0, 15 * sizeof *g);
  for (int64_t i = 0; i < f->N; i++)
    for (int c = 0; c < C; c++) {
      float d = (p[i * C + c] - (y[i] == c)) / (float)f->N;
      for (int k = 0; k < F; k++)
        g[k * C + c] += x[i * F + k] * d;
      g[12 + c] += d;
    }
  for (int c = 0; c < C; c++)
    g[12 + c] += 1e-3f * noise(f, c);
}

void dlrt_train_step(const dlrt_frame *f);
void dlrt_train_step(const dlrt_frame *f) {
  float *w = (float *)f->base[DLRT_R_WEIGHT], *st = (float *)f->base[DLRT_R_STATE];
  float *g = (float *)(f->base[DLRT_R_ACT] + 16);
  dlrt_parallel(probs20, f, f->N);
  mean_loss(f);
  gradients(f, g);
  for (int j = 0; j < 15; j++) {
#ifdef FAKE_ADAM
    float *m = st + j, *v = st + 16 + j;
    *m = f->hyper[2] * *m + (1 - f->hyper[2]) * g[j];
    *v = f->hyper[3] * *v + (1 - f->hyper[3]) * g[j] * g[j];
    w[j] -= f->hyper[0] * f->hyper[10] * *m / (sqrtf(*v) * f->hyper[11] + f->hyper[5]);
#else
    float gj = g[j] + (j < 12 ? f->hyper[8] * w[j] : 0);
    st[j] = f->hyper[1] * st[j] + gj;
    w[j] -= f->hyper[0] * st[j];
#endif
  }
}
