/* data.c — training and test sets, from the train section's data keys.
 *
 * The one idea: whatever the file format (IDX, NPY, CSV), a data set ends
 * up as two dense arrays in the dtypes of the model's first two inputs,
 * the features (for the first input) and the targets (for the second),
 * one row per sample, already scaled and normalised; the trainer then only
 * gathers rows. Everything that can be wrong with a file is found here,
 * before training starts, and reported with the file's name and the
 * sample's index: a wrong sample size, a sample count that differs
 * between features and targets, a label outside [0, classes).
 *
 * Keys, for the set "data" (training) or "test":
 *
 *   <set>.format        idx | npy | csv | text (default: csv when
 *                       <set>.path is given, else idx; IDX and NPY are
 *                       told apart by their magic bytes anyway)
 *   <set>.images, <set>.labels     idx, npy: features and targets
 *   <set>.path, <set>.label_column, <set>.skip_header     csv: one sample
 *                       per line; the label column (0-based; negative
 *                       counts from the end; default the last) holds the
 *                       target, the other columns the features
 *   <set>.path, <set>.part         text: a corpus (a file or a folder,
 *                       runtime/text.c) and the fraction of every file
 *                       read, "lo,hi" (default "0,1"); see load_text
 *   <set>.scale         features are multiplied by it (default 1)
 *   <set>.mean, <set>.std          per channel (dim 1 of the first input;
 *                       one number for all): x' = (x * scale - mean) / std
 *   <set>.classes       "c0,c1,...": keep only the samples whose target is
 *                       one of these classes, relabelled by position (c0
 *                       becomes 0, c1 becomes 1, ...); "none": keep all
 *
 * The test set falls back to data.scale, data.mean, data.std and
 * data.classes when it has none of its own: normalisation belongs to the
 * model's input, and the classes to the question the model answers.
 */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dlrt.h"

enum { MAX_CHANNELS = 4096 };

typedef struct Set {
  const dlrt_model *m;
  const char *set;            /* "data" or "test" */
  char *err;
  const dlrt_tensor *xt, *yt; /* the model's first two inputs (yt may be NULL) */
} Set;

__attribute__((format(printf, 2, 3)))
static bool fail(Set *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->err, DLRT_ERR_LEN, fmt, ap);
  va_end(ap);
  return false;
}

/* Train key k, or NULL when absent or empty (--data CALL empties the
 * keys it does not give). */
static const char *get(const dlrt_model *m, const char *k) {
  const char *v = dlrt_train_get(m, k);
  return v && *v ? v : NULL;
}

/* The value of key <set>.<name>; for the test set, the normalisation
 * keys fall back to data.<name>. */
static const char *key(const Set *s, const char *name) {
  char k[64];
  snprintf(k, sizeof k, "%s.%s", s->set, name);
  const char *v = get(s->m, k);
  bool norm = strcmp(name, "scale") == 0 || strcmp(name, "mean") == 0 ||
              strcmp(name, "std") == 0 || strcmp(name, "classes") == 0;
  if (!v && norm && strcmp(s->set, "data") != 0) {
    snprintf(k, sizeof k, "data.%s", name);
    v = get(s->m, k);
  }
  return v;
}

bool dlrt_data_configured(const dlrt_model *m, const char *set) {
  Set s = {.m = m, .set = set};
  return key(&s, "images") || key(&s, "path") || key(&s, "format");
}

void dlrt_data_free(dlrt_data *d) {
  free(d->x);
  free(d->y);
  memset(d, 0, sizeof *d);
}

/* "[N, 4]" */
static const char *shape(const dlrt_tensor *t, char *buf, size_t cap) {
  size_t n = (size_t)snprintf(buf, cap, "[");
  for (int i = 0; i < t->rank && n < cap; i++)
    n += (size_t)(t->dim[i] < 0 ? snprintf(buf + n, cap - n, "%sN", i ? ", " : "")
                                : snprintf(buf + n, cap - n, "%s%" PRId64, i ? ", " : "",
                                           t->dim[i]));
  if (n < cap)
    snprintf(buf + n, cap - n, "]");
  return buf;
}

/* The trainer feeds inputs of shape [N, ...]: the batch dimension first
 * and nowhere else. */
static bool check_input(Set *s, const dlrt_tensor *t) {
  char b[128];
  bool ok = t->rank >= 1 && t->dim[0] == -1;
  for (int i = 1; i < t->rank; i++)
    ok = ok && t->dim[i] > 0;
  if (!ok)
    return fail(s, "input '%s' %s: training needs the batch dimension N first "
                "and only there", t->name, shape(t, b, sizeof b));
  return true;
}

/* ---- normalisation ------------------------------------------------------- */

/* A list "a, b, c" (brackets allowed) of up to cap numbers; count in *n. */
static bool number_list(Set *s, const char *name, const char *text, double *v,
                        int cap, int *n) {
  char buf[256], *save = NULL;
  snprintf(buf, sizeof buf, "%s", text);
  *n = 0;
  for (char *t = strtok_r(buf, ",[] ", &save); t; t = strtok_r(NULL, ",[] ", &save)) {
    if (*n == cap || !dlrt_parse_number(t, &v[*n]))
      return fail(s, "%s.%s: '%s' is not a list of at most %d numbers", s->set,
                  name, text, cap);
    (*n)++;
  }
  if (*n == 0)
    return fail(s, "%s.%s is empty", s->set, name);
  return true;
}

/* Per-channel mean and std into mean[C], std[C] (defaults 0 and 1). */
static bool channel_stats(Set *s, int64_t C, double *mean, double *sd) {
  const char *names[2] = {"mean", "std"};
  double *out[2] = {mean, sd}, v[MAX_CHANNELS];
  for (int64_t c = 0; c < C; c++)
    mean[c] = 0, sd[c] = 1;
  for (int k = 0; k < 2; k++) {
    const char *text = key(s, names[k]);
    int n;
    if (!text)
      continue;
    if (!number_list(s, names[k], text, v, MAX_CHANNELS, &n))
      return false;
    if (n != 1 && n != C)
      return fail(s, "%s.%s has %d values, but input '%s' has %" PRId64 " channels "
                  "(dimension 1): give 1 or %" PRId64, s->set, names[k], n,
                  s->xt->name, C, C);
    for (int64_t c = 0; c < C; c++) {
      out[k][c] = v[n == 1 ? 0 : c];
      if (k == 1 && out[k][c] == 0)
        return fail(s, "%s.std: channel %" PRId64 " has std 0", s->set, c);
    }
  }
  return true;
}

/* x' = (x * scale - mean[c]) / std[c] over n samples of f32 features;
 * scale 1 unless with_scale. */
static bool normalise(Set *s, float *x, int64_t n, bool with_scale) {
  const dlrt_tensor *t = s->xt;
  const char *sc = with_scale ? key(s, "scale") : NULL;
  double scale = 1;
  if (sc && !dlrt_parse_number(sc, &scale))
    return fail(s, "%s.scale: '%s' is not a number", s->set, sc);
  int64_t C = t->rank >= 2 ? t->dim[1] : 1, per = dlrt_numel(t, 1), inner = per / C;
  if (C > MAX_CHANNELS)
    C = 1, inner = per;   /* too many channels to list: one value for all */
  double *mean = malloc(sizeof *mean * (size_t)C), *sd = malloc(sizeof *sd * (size_t)C);
  bool ok = mean && sd ? channel_stats(s, C, mean, sd) : fail(s, "out of memory");
  for (int64_t i = 0; ok && i < n; i++)
    for (int64_t c = 0; c < C; c++) {
      float *row = x + i * per + c * inner;
      double m = mean[c], d = sd[c];
      for (int64_t j = 0; j < inner; j++) row[j] = (float)((row[j] * scale - m) / d);
    }
  free(mean);
  free(sd);
  return ok;
}

bool dlrt_data_fill(const dlrt_model *m, const char *set, float *fill,
                    int64_t C, char *err) {
  Set s = {.m = m, .set = set, .err = err, .xt = &m->inputs[0]};
  int64_t K = C <= MAX_CHANNELS ? C : 1;   /* as normalise: one value for all */
  double *mean = malloc(sizeof *mean * (size_t)K), *sd = malloc(sizeof *sd * (size_t)K);
  bool ok = mean && sd ? channel_stats(&s, K, mean, sd) : fail(&s, "out of memory");
  for (int64_t c = 0; ok && c < C; c++)
    fill[c] = (float)(-mean[c % K] / sd[c % K]);
  free(mean);
  free(sd);
  return ok;
}

/* ---- classes ------------------------------------------------------------- */

enum { MAX_KEEP = 1024 };

/* Target i of d (one per sample) as a number. */
static double target_at(const Set *s, const dlrt_data *d, int64_t i) {
  return s->yt->dtype == DLRT_I32 ? ((const int32_t *)d->y)[i] : ((const float *)d->y)[i];
}

/* <set>.classes: keep the samples whose target is one of the listed
 * classes, in file order, with the target replaced by the class's
 * position in the list. Every listed class must occur. */
static bool keep_classes(Set *s, dlrt_data *d, const char *ypath) {
  const char *text = key(s, "classes");
  double cls[MAX_KEEP];
  int64_t count[MAX_KEEP] = {0};
  int k;
  if (!text || strcmp(text, "none") == 0)
    return true;
  if (!s->yt || dlrt_numel(s->yt, 1) != 1)
    return fail(s, "%s.classes: the model needs one target per sample to choose "
                "classes by", s->set);
  if (!number_list(s, "classes", text, cls, MAX_KEEP, &k))
    return false;
  for (int i = 0; i < k; i++)
    if (cls[i] != floor(cls[i]) || cls[i] < 0)
      return fail(s, "%s.classes: %g is not a class (a whole number >= 0)", s->set, cls[i]);
  double lo = INFINITY, hi = -INFINITY;
  int64_t kept = 0;
  size_t xb = (size_t)d->xper * 4;
  for (int64_t i = 0; i < d->n; i++) {
    double t = target_at(s, d, i);
    lo = fmin(lo, t), hi = fmax(hi, t);
    int c = 0;
    while (c < k && cls[c] != t)
      c++;
    if (c == k)
      continue;
    count[c]++;
    memmove((char *)d->x + (size_t)kept * xb, (char *)d->x + (size_t)i * xb, xb);
    if (s->yt->dtype == DLRT_I32)
      ((int32_t *)d->y)[kept] = c;
    else
      ((float *)d->y)[kept] = (float)c;
    kept++;
  }
  for (int c = 0; c < k; c++)
    if (count[c] == 0)
      return fail(s, "%s: class %g of %s.classes has no sample (the labels are %g..%g)",
                  ypath ? ypath : d->source, cls[c], s->set, lo, hi);
  d->n = kept;
  return true;
}

/* ---- conversion ---------------------------------------------------------- */

/* Convert n values of a (f32 or i32) in place to the dtype of input t;
 * floats going to i32 must be whole numbers. */
static bool to_dtype(Set *s, dlrt_array *a, int64_t n, const dlrt_tensor *t,
                     const char *path) {
  dlrt_dtype dt = t->dtype;
  if (a->dtype == dt)
    return true;
  for (int64_t i = 0; i < n; i++) {
    if (dt == DLRT_F32) {
      ((float *)a->data)[i] = (float)((int32_t *)a->data)[i];
      continue;
    }
    float v = ((float *)a->data)[i];
    if (v != floorf(v) || fabsf(v) > 2147483520.0f)
      return fail(s, "%s: element %" PRId64 " (%g) is not an integer, but input "
                  "'%s' is i32", path, i, v, t->name);
    ((int32_t *)a->data)[i] = (int32_t)v;
  }
  a->dtype = dt;
  return true;
}

/* Labels of a classifier must be classes: 0 <= y < classes. */
static bool check_labels(Set *s, const int32_t *y, int64_t n, const char *path) {
  int64_t C = s->yt->classes;
  for (int64_t i = 0; C > 0 && i < n; i++)
    if (y[i] < 0 || y[i] >= C)
      return fail(s, "%s: label %d of sample %" PRId64 " is not a class 0..%" PRId64
                  " (input '%s' has %" PRId64 " classes)", path, y[i], i, C - 1,
                  s->yt->name, C);
  return true;
}

/* Samples in a for an input with `per` elements per sample, or -1. */
static int64_t samples(const dlrt_array *a, int64_t per) {
  int64_t n = dlrt_array_numel(a);
  if (a->rank >= 1 && a->dim[0] > 0 && n / a->dim[0] == per && n % a->dim[0] == 0)
    return a->dim[0];
  return -1;
}

/* Load one array file for input t; *n = its samples. */
static bool load_array(Set *s, const char *path, const dlrt_tensor *t,
                       dlrt_array *a, int64_t *n) {
  char b1[128], b2[160];
  if (!dlrt_array_load(path, t->dtype == DLRT_I32, a, s->err))
    return false;
  int64_t per = dlrt_numel(t, 1);
  *n = samples(a, per);
  if (*n < 0) {
    dlrt_tensor at = {.rank = a->rank};
    memcpy(at.dim, a->dim, sizeof at.dim);
    return fail(s, "%s: shape %s does not hold samples of input '%s' %s (%" PRId64
                " values each)", path, shape(&at, b2, sizeof b2), t->name,
                shape(t, b1, sizeof b1), per);
  }
  return to_dtype(s, a, *n * per, t, path);
}

/* ---- formats ------------------------------------------------------------- */

/* idx and npy: <set>.images and <set>.labels, or the paths given. */
static bool load_files(Set *s, dlrt_data *d, const char *xpath, const char *ypath) {
  dlrt_array xa = {0}, ya = {0};
  int64_t nx, ny = 0;
  if (!xpath)
    return fail(s, "no %s features: give %s.images (--%s-images FILE)", s->set,
                s->set, s->set);
  if (s->yt && !ypath)
    return fail(s, "no %s targets for input '%s': give %s.labels (--%s-labels FILE)",
                s->set, s->yt->name, s->set, s->set);
  if (!load_array(s, xpath, s->xt, &xa, &nx) ||
      (s->yt && !load_array(s, ypath, s->yt, &ya, &ny))) {
    dlrt_array_free(&xa);
    dlrt_array_free(&ya);
    return false;
  }
  d->x = xa.data;
  d->y = ya.data;
  d->n = nx;
  if (s->yt && nx != ny)
    return fail(s, "%s has %" PRId64 " samples but %s has %" PRId64, xpath, nx,
                ypath, ny);
  snprintf(d->source, sizeof d->source, "%s", xpath);
  return true;
}

/* The label column of a table with `cols` columns, from <set>.label_column. */
static bool label_column(Set *s, int64_t cols, int64_t *lc) {
  const char *v = key(s, "label_column");
  double c = -1;
  if (v && (!dlrt_parse_number(v, &c) || c != floor(c)))
    return fail(s, "%s.label_column: '%s' is not a whole number", s->set, v);
  *lc = c < 0 ? cols + (int64_t)c : (int64_t)c;
  if (*lc < 0 || *lc >= cols)
    return fail(s, "%s.label_column %s: the file has %" PRId64 " columns", s->set,
                v ? v : "-1", cols);
  return true;
}

/* Split table t (rows x cols) into features and, when the model has a
 * target input, the label column. */
static bool split_table(Set *s, dlrt_data *d, dlrt_array *t, const char *path) {
  int64_t rows = t->dim[0], cols = t->dim[1], lc = -1, xper = dlrt_numel(s->xt, 1);
  if (s->yt && !label_column(s, cols, &lc))
    return false;
  int64_t nfeat = cols - (s->yt ? 1 : 0);
  if (nfeat != xper || (s->yt && dlrt_numel(s->yt, 1) != 1))
    return fail(s, "%s: %" PRId64 " columns%s, but input '%s' needs %" PRId64
                " values per sample%s", path, cols, s->yt ? " (features and a label)" : "",
                s->xt->name, xper, s->yt && dlrt_numel(s->yt, 1) != 1
                ? " and the target more than one" : "");
  float *x = malloc(sizeof *x * (size_t)(rows * xper) + 1);
  float *y = malloc(sizeof *y * (size_t)rows + 1);
  d->x = x;
  d->y = y;
  d->n = rows;
  if (!x || !y)
    return fail(s, "%s: out of memory", path);
  const float *v = t->data;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0, k = 0; c < cols; c++)
      if (c == lc)
        y[r] = v[r * cols + c];
      else
        x[r * xper + k++] = v[r * cols + c];
  dlrt_array xa = {.dtype = DLRT_F32, .data = x}, ya = {.dtype = DLRT_F32, .data = y};
  return to_dtype(s, &xa, rows * xper, s->xt, path) &&
         (!s->yt || to_dtype(s, &ya, rows, s->yt, path));
}

static bool load_csv(Set *s, dlrt_data *d) {
  const char *path = key(s, "path"), *sh = key(s, "skip_header");
  dlrt_array t;
  if (!path)
    return fail(s, "%s.format is csv but %s.path is not given (--%s-path FILE)",
                s->set, s->set, s->set);
  bool skip = sh && (strcmp(sh, "true") == 0 || strcmp(sh, "1") == 0);
  if (sh && !skip && strcmp(sh, "false") != 0 && strcmp(sh, "0") != 0)
    return fail(s, "%s.skip_header: '%s' is not true or false", s->set, sh);
  if (!dlrt_csv_load(path, skip, &t, s->err))
    return false;
  bool ok = split_table(s, d, &t, path);
  dlrt_array_free(&t);
  snprintf(d->source, sizeof d->source, "%s", path);
  return ok;
}

/* text: windows of a corpus for a character model, whose first input
 * (the characters) and second (the next characters, a label with V
 * classes) are both i32[N, T]. The part's bytes are cut into consecutive
 * windows: window i reads bytes iT .. iT+T-1 and its targets are bytes
 * iT+1 .. iT+T, one further on. So the inputs of two windows never
 * overlap and every byte of the part but the first is a target exactly
 * once: the mean loss over the windows is the loss per character of the
 * whole part (bar a last fraction of a window), which is what a held-out
 * figure in bits per character must be. The trainer shuffles the windows
 * each epoch like any samples; the LSTM starts each window from a zero
 * state, and so does generation (runtime/generate.c). */
static bool load_text(Set *s, dlrt_data *d) {
  const char *path = key(s, "path"), *part = key(s, "part");
  double range[2] = {0, 1};
  int n = 2;
  if (!path)
    return fail(s, "%s.format is text but %s.path is not given (--%s-path FILE)",
                s->set, s->set, s->set);
  const dlrt_tensor *x = s->xt, *y = s->yt;
  bool shaped = x->dtype == DLRT_I32 && x->rank == 2 && y && y->dtype == DLRT_I32 &&
                y->rank == 2 && y->dim[1] == x->dim[1] && y->label;
  if (!shaped || y->classes < 2 || y->classes > 256)
    return fail(s, "%s: a text source needs the inputs i32[N, T] (characters) and "
                "a label i32[N, T] classes V (the next characters, V <= 256)", path);
  if (part && (!number_list(s, "part", part, range, 2, &n) || n != 2 ||
               !(range[0] >= 0 && range[0] < range[1] && range[1] <= 1)))
    return fail(s, "%s.part: '%s' is not [lo, hi] with 0 <= lo < hi <= 1", s->set, part);
  dlrt_text t;
  if (!dlrt_text_load(&t, path, range[0], range[1], (int)y->classes, s->err))
    return false;
  int64_t T = x->dim[1], w = t.n > 0 ? (t.n - 1) / T : 0;
  snprintf(d->source, sizeof d->source, "%s", path);
  if (w == 0) {
    fail(s, "%s: the part [%g, %g] holds %" PRId64 " bytes, fewer than one window "
         "of T + 1 = %" PRId64, path, range[0], range[1], t.n, T + 1);
    dlrt_text_free(&t);
    return false;
  }
  int32_t *xs = malloc(sizeof *xs * (size_t)(w * T)), *ys = malloc(sizeof *ys * (size_t)(w * T));
  d->x = xs;
  d->y = ys;
  d->n = w;
  for (int64_t i = 0; xs && ys && i < w * T; i++) {
    xs[i] = t.bytes[i];
    ys[i] = t.bytes[i + 1];
  }
  dlrt_text_free(&t);
  return xs && ys ? true : fail(s, "%s: out of memory", path);
}

/* ---- sets ---------------------------------------------------------------- */

/* Set up s for the model's inputs. */
static bool begin(Set *s, const dlrt_model *m, const char *set, char *err) {
  *s = (Set){.m = m, .set = set, .err = err};
  int n = m->ninputs - m->decode.present;   /* a decoder's feed comes last */
  if (n < 1 || n > 2)
    return fail(s, "the model has %d inputs%s; training and evaluation feed one "
                "(features) or two (features, targets)", n,
                m->decode.present ? " besides the decoder's feed" : "");
  s->xt = &m->inputs[0];
  s->yt = n > 1 ? &m->inputs[1] : NULL;
  return check_input(s, s->xt) && (!s->yt || check_input(s, s->yt));
}

/* Every f32 value of n samples of per elements is finite: a NaN or an
 * infinity in the data would make the loss NaN and look like a diverging
 * run. */
static bool check_finite(Set *s, const dlrt_tensor *t, const void *v, int64_t n,
                         int64_t per, const char *path) {
  if (t->dtype != DLRT_F32)
    return true;
  const float *x = v;
  for (int64_t i = 0; i < n * per; i++)
    if (!isfinite(x[i]))
      return fail(s, "%s: sample %" PRId64 ", element %" PRId64 " of input '%s' is %s; "
                  "the data must be finite", path, i / per, i % per, t->name,
                  isnan(x[i]) ? "nan" : "inf");
  return true;
}

/* Common end: classes, limit, finite values, label check, normalisation. */
static bool finish(Set *s, dlrt_data *d, int64_t limit, const char *ypath) {
  if (d->n == 0)
    return fail(s, "%s: no samples", d->source);
  d->xper = dlrt_numel(s->xt, 1);
  d->yper = s->yt ? dlrt_numel(s->yt, 1) : 0;
  if (!keep_classes(s, d, ypath))
    return false;
  if (limit > 0 && limit < d->n)
    d->n = limit;
  if (!check_finite(s, s->xt, d->x, d->n, d->xper, d->source) ||
      (s->yt && !check_finite(s, s->yt, d->y, d->n, d->yper, ypath ? ypath : d->source)))
    return false;
  if (s->yt && s->yt->dtype == DLRT_I32 && s->yt->label &&
      !check_labels(s, d->y, d->n * d->yper, ypath))
    return false;
  return s->xt->dtype != DLRT_F32 || normalise(s, d->x, d->n, true);
}

bool dlrt_data_files(dlrt_data *d, const dlrt_model *m, const char *set,
                     const char *xpath, const char *ypath, int64_t limit,
                     char *err) {
  Set s;
  memset(d, 0, sizeof *d);
  bool ok = begin(&s, m, set, err) && load_files(&s, d, xpath, ypath) &&
            finish(&s, d, limit, ypath);
  if (!ok)
    dlrt_data_free(d);
  return ok;
}

bool dlrt_data_load(dlrt_data *d, const dlrt_model *m, const char *set,
                    int64_t limit, char *err) {
  Set s;
  memset(d, 0, sizeof *d);
  if (!begin(&s, m, set, err))
    return false;
  const char *fmt = key(&s, "format");
  if (!fmt)
    fmt = key(&s, "path") ? "csv" : "idx";
  bool ok;
  if (strcmp(fmt, "csv") == 0)
    ok = load_csv(&s, d) && finish(&s, d, limit, key(&s, "path"));
  else if (strcmp(fmt, "text") == 0)
    ok = load_text(&s, d) && finish(&s, d, limit, key(&s, "path"));
  else if (strcmp(fmt, "idx") == 0 || strcmp(fmt, "npy") == 0)
    ok = load_files(&s, d, key(&s, "images"), key(&s, "labels")) &&
         finish(&s, d, limit, key(&s, "labels"));
  else
    ok = fail(&s, "%s.format '%s': want idx, npy, csv or text", set, fmt);
  if (!ok)
    dlrt_data_free(d);
  return ok;
}

bool dlrt_data_normalise(const dlrt_model *m, const char *set, float *x,
                         int64_t n, bool with_scale, char *err) {
  Set s = {.m = m, .set = set, .err = err, .xt = &m->inputs[0]};
  if (m->ninputs < 1 || (!with_scale && !key(&s, "mean") && !key(&s, "std")))
    return true;
  return normalise(&s, x, n, with_scale);
}
