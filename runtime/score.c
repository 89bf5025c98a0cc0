/* score.c — run the eval entry over a data set: loss, accuracy, confusion.
 *
 * The one idea: how a model's predictions are scored follows from the
 * manifest alone, decided once before the first batch: the first output
 * of the eval entry that is not the loss is compared with the targets
 *
 *   argmax   output [N, C], C > 1, and an i32 label input: the class with
 *            the largest score against the label (a C x C confusion
 *            matrix: rows the true class, columns the predicted one)
 *   binary   one output value and one target per sample, targets 0 or 1:
 *            the output thresholded at 0.5 when every output lies in
 *            [0, 1] (probabilities), else at 0 (logits); both counts are
 *            kept until the end, when the range is known; and every
 *            output, for precision, recall, F1 and the ROC AUC
 *   none     anything else (regression): only the loss
 *
 * The loss is the sample-weighted mean of the entry's per-batch loss, so
 * a smaller last batch counts for its size.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlrt.h"

void dlrt_data_gather(dlrt_frame *f, const dlrt_entry *e, const dlrt_model *m,
                      const dlrt_data *d, const int64_t *idx, int64_t b,
                      int64_t n) {
  for (int k = 0; k < 2 && k < m->ninputs; k++) {
    const dlrt_tensor *t = dlrt_entry_input(e, m->inputs[k].name);
    const char *src = k == 0 ? d->x : d->y;
    size_t bytes = (size_t)(k == 0 ? d->xper : d->yper) * 4;
    if (!t || !src)
      continue;
    char *dst = dlrt_tensor_addr(f, t);
    for (int64_t i = 0; i < n; i++) {
      int64_t s = idx ? idx[b + i] : b + i;
      memcpy(dst + (size_t)i * bytes, src + (size_t)s * bytes, bytes);
    }
  }
  dlrt_decode_teacher(f, e, m);
}

/* The first output of entry eval that is not the loss, or NULL. */
static const dlrt_tensor *scored_output(const dlrt_entry *e) {
  for (int i = 0; i < e->nout; i++)
    if (strcmp(e->out[i].name, "loss") != 0)
      return &e->out[i];
  return NULL;
}

void dlrt_score_begin(dlrt_score *s, const dlrt_model *m) {
  memset(s, 0, sizeof *s);
  s->lo = INFINITY;
  s->hi = -INFINITY;
  const dlrt_entry *e = &m->entry[DLRT_E_EVAL];
  const dlrt_tensor *o = e->present ? scored_output(e) : NULL;
  const dlrt_tensor *y = m->ninputs > 1 ? &m->inputs[1] : NULL;
  s->out = o;
  if (!o || !y || o->dtype != DLRT_F32 || o->rank < 1 || o->dim[0] != -1)
    return;
  if (o->rank == 2 && o->dim[1] > 1 && y->dtype == DLRT_I32 && y->label &&
      dlrt_numel(y, 1) == 1) {
    s->kind = DLRT_ACC_ARGMAX;
    s->classes = o->dim[1];
  } else if (dlrt_numel(o, 1) == 1 && dlrt_numel(y, 1) == 1 &&
             (y->dtype == DLRT_F32 || y->classes <= 2)) {
    s->kind = DLRT_ACC_BINARY;
    s->classes = 2;
  }
  if (s->kind != DLRT_ACC_NONE)
    s->confusion = calloc((size_t)(s->classes * s->classes), sizeof *s->confusion);
  if (s->kind == DLRT_ACC_BINARY)
    s->confusion0 = calloc(4, sizeof *s->confusion0);
  if (!s->confusion || (s->kind == DLRT_ACC_BINARY && !s->confusion0))
    s->kind = DLRT_ACC_NONE;   /* out of memory: score the loss only */
  s->kept = true;
  s->precision = s->recall = s->f1 = s->auc = NAN;
}

/* Keep the output v of a sample, and whether it is positive, for the
 * AUC; on a failed allocation the AUC is given up, not the rest. */
static void keep_score(dlrt_score *s, float v, bool positive) {
  if (s->kept && s->nkept == s->cap) {
    int64_t cap = s->cap ? 2 * s->cap : 1024;
    float *sc = realloc(s->scores, sizeof *sc * (size_t)cap);
    if (sc)
      s->scores = sc;
    unsigned char *p = sc ? realloc(s->positive, (size_t)cap) : NULL;
    if (p)
      s->positive = p;
    s->kept = sc && p;
    s->cap = s->kept ? cap : s->cap;
  }
  if (!s->kept)
    return;
  s->scores[s->nkept] = v;
  s->positive[s->nkept++] = positive;
}

static int64_t argmax(const float *v, int64_t n) {
  int64_t k = 0;
  for (int64_t i = 1; i < n; i++)
    if (v[i] > v[k] || (isnan(v[k]) && !isnan(v[i])))
      k = i;
  return k;
}

/* Target of sample s of d as a number. */
static double target(const dlrt_model *m, const dlrt_data *d, int64_t s) {
  return m->inputs[1].dtype == DLRT_I32 ? ((const int32_t *)d->y)[s]
                                         : ((const float *)d->y)[s];
}

/* Score the n samples of the batch just run (sample i is d's idx[b + i]). */
static void score_batch(dlrt_score *s, const dlrt_frame *f, const dlrt_model *m,
                        const dlrt_data *d, const int64_t *idx, int64_t b, int64_t n) {
  const float *y = dlrt_tensor_addr(f, s->out);
  for (int64_t i = 0; i < n; i++) {
    int64_t si = idx ? idx[b + i] : b + i;
    double t = target(m, d, si);
    if (s->kind == DLRT_ACC_ARGMAX) {
      int64_t k = argmax(y + i * s->classes, s->classes), c = (int64_t)t;
      s->confusion[c * s->classes + k]++;
      continue;
    }
    double v = y[i];
    if (t != 0 && t != 1) {
      s->kind = DLRT_ACC_NONE;   /* not a binary target: regression */
      return;
    }
    s->lo = fmin(s->lo, v);
    s->hi = fmax(s->hi, v);
    s->confusion[(int)t * 2 + (v >= 0.5)]++;
    s->confusion0[(int)t * 2 + (v >= 0)]++;
    keep_score(s, y[i], t == 1);
  }
}

bool dlrt_score_run(dlrt_score *s, dlrt_frame *f, const dlrt_model *m,
                    dlrt_entry_fn eval, const dlrt_data *d, const int64_t *idx,
                    int64_t n, int64_t B) {
  const dlrt_entry *e = &m->entry[DLRT_E_EVAL];
  const dlrt_tensor *loss = dlrt_entry_output(e, "loss");
  for (int64_t b = 0; b < n; b += B) {
    int64_t k = n - b < B ? n - b : B;
    dlrt_frame_enter(f, m, DLRT_E_EVAL, k);
    dlrt_data_gather(f, e, m, d, idx, b, k);
    eval(f);
    s->loss_sum += (double)*(const float *)dlrt_tensor_addr(f, loss) * (double)k;
    s->n += k;
    if (s->kind != DLRT_ACC_NONE && d->y)
      score_batch(s, f, m, d, idx, b, k);
  }
  return isfinite(s->loss_sum);
}

void dlrt_score_end(dlrt_score *s) {
  s->loss = s->n ? s->loss_sum / (double)s->n : NAN;
  if (s->kind == DLRT_ACC_BINARY) {
    s->threshold = s->lo >= 0 && s->hi <= 1 ? 0.5 : 0;
    if (s->threshold == 0)
      memcpy(s->confusion, s->confusion0, 4 * sizeof *s->confusion);
  }
  s->correct = 0;
  for (int64_t c = 0; s->kind != DLRT_ACC_NONE && c < s->classes; c++)
    s->correct += s->confusion[c * s->classes + c];
  if (s->kind != DLRT_ACC_BINARY)
    return;
  double tp = (double)s->confusion[3], fp = (double)s->confusion[1];
  double fn = (double)s->confusion[2];
  s->precision = tp + fp > 0 ? tp / (tp + fp) : NAN;
  s->recall = tp + fn > 0 ? tp / (tp + fn) : NAN;
  s->f1 = s->precision + s->recall > 0 ? 2 * s->precision * s->recall /
                                             (s->precision + s->recall) : NAN;
  s->auc = s->kept ? dlrt_roc_auc(s->scores, s->positive, s->nkept) : NAN;
}

typedef struct Scored {
  float v;
  unsigned char positive;
} Scored;

/* Ascending, NaN first (below every number), so that equal scores are
 * adjacent. */
static int cmp_scored(const void *a, const void *b) {
  float x = ((const Scored *)a)->v, y = ((const Scored *)b)->v;
  if (isnan(x) || isnan(y))
    return !isnan(x) - !isnan(y);
  return (x > y) - (x < y);
}

static bool same_score(float x, float y) {
  return x == y || (isnan(x) && isnan(y));
}

/* Sort the scores; a run of equal scores, ranks r+1..r+k, gives each of
 * its samples the mean rank r + (k + 1) / 2. With R the sum of the
 * positives' ranks, P positives and Q negatives,
 *   AUC = (R - P (P + 1) / 2) / (P Q),
 * which counts the (positive, negative) pairs in order and half the tied
 * ones. */
double dlrt_roc_auc(const float *score, const unsigned char *positive, int64_t n) {
  Scored *v = malloc(sizeof *v * (size_t)(n > 0 ? n : 1));
  if (!v)
    return NAN;
  double P = 0, R = 0;
  for (int64_t i = 0; i < n; i++) {
    v[i] = (Scored){score[i], positive[i] != 0};
    P += v[i].positive;
  }
  qsort(v, (size_t)n, sizeof *v, cmp_scored);
  for (int64_t i = 0, j; i < n; i = j) {
    double pos = 0;
    for (j = i; j < n && same_score(v[j].v, v[i].v); j++)
      pos += v[j].positive;
    R += pos * ((double)i + (double)(j - i + 1) / 2);
  }
  free(v);
  double Q = (double)n - P;
  return P > 0 && Q > 0 ? (R - P * (P + 1) / 2) / (P * Q) : NAN;
}

double dlrt_score_accuracy(const dlrt_score *s) {
  return s->kind == DLRT_ACC_NONE || s->n == 0 ? NAN
                                               : (double)s->correct / (double)s->n;
}

void dlrt_score_free(dlrt_score *s) {
  free(s->confusion);
  free(s->confusion0);
  free(s->scores);
  free(s->positive);
  memset(s, 0, sizeof *s);
}
