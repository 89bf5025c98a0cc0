/* data.c — tests of data sets and scoring: CSV and IDX sources into the
 * dtypes of a model's inputs, scale and per-channel normalisation, the
 * classes kept and relabelled, the test set's fallback to the data keys,
 * each bad input reported with its file and sample, gathering rows into
 * an entry's inputs, and how the eval entry's outputs are scored (argmax
 * with a confusion matrix, binary with the threshold chosen from the
 * output range and precision, recall, F1 and ROC AUC, none for
 * regression). */
#include <math.h>

#include "rt_test.h"

/* x: f32[N, 2, 3] (2 channels of 3), y: i32[N] classes 4. The eval entry
 * leaves out = the first two features of each sample and a constant loss. */
static const char cls[] =
  "dlc-manifest 1\nmodel c\nsignature 2\ndlc 0\nweights 0\nstate 0\n"
  "input x f32 data 0 3 -1 2 3\ninput y i32 label 4 1 -1\n"
  "entry forward 0 32\nin x 3 0\nout out f32 2 -1 2 3 24\n"
  "entry eval 64 36\nin x 3 0\nin y 3 24\nout out f32 2 -1 2 3 28\n"
  "out loss f32 0 2 0\n"
  "end\n";

static bool model(dlrt_model *m, const char *text) {
  char err[DLRT_ERR_LEN];
  return check("data_manifest", dlrt_manifest_parse(m, text, err), "%s", err);
}

static bool set(dlrt_model *m, const char *k, const char *v) {
  char err[DLRT_ERR_LEN];
  return dlrt_train_set(m, k, v, err);
}

static void test_csv(dlrt_model *m) {
  dlrt_data d;
  char err[DLRT_ERR_LEN] = "";
  const char *p = tpath("d.csv");
  const char text[] = "label,a,b,c,d,e,f\n2, 2,4,6, 8,10,12\n0, 0,0,0, 0,0,0\n";
  write_file(p, text, strlen(text));
  set(m, "data.path", p);
  set(m, "data.label_column", "0");
  set(m, "data.skip_header", "true");
  set(m, "data.scale", "1/2");
  set(m, "data.mean", "1, 2");
  set(m, "data.std", "[2, 4]");
  bool ok = dlrt_data_load(&d, m, "data", 0, err);
  const float *x = d.x;
  const int32_t *y = d.y;
  /* channel 0: (v/2 - 1) / 2; channel 1: (v/2 - 2) / 4 */
  check("data_csv_normalised", ok && d.n == 2 && d.xper == 6 && d.yper == 1 && y[0] == 2 &&
        y[1] == 0 && x[0] == 0 && x[1] == 0.5f && x[2] == 1 && x[3] == 0.5f &&
        x[5] == 1 && x[6] == -0.5f && x[9] == -0.5f, "%s", err);
  dlrt_data_free(&d);
  ok = dlrt_data_load(&d, m, "data", 1, err);
  check("data_limit", ok && d.n == 1, "%s", err);
  dlrt_data_free(&d);
  set(m, "data.mean", "1, 2, 3");
  check("data_refuses_mean_count", !dlrt_data_load(&d, m, "data", 0, err) &&
        strstr(err, "data.mean has 3 values, but input 'x' has 2 channels"), "%s", err);
  set(m, "data.mean", "0");
  set(m, "data.std", "0");
  check("data_refuses_std_0", !dlrt_data_load(&d, m, "data", 0, err) &&
        strstr(err, "std 0"), "%s", err);
  set(m, "data.std", "1");
  set(m, "data.label_column", "7");
  check("data_refuses_label_column", !dlrt_data_load(&d, m, "data", 0, err) &&
        strstr(err, "data.label_column 7: the file has 7 columns"), "%s", err);
  set(m, "data.label_column", "-1");   /* the last column, 12, is not a class */
  check("data_refuses_label_out_of_range", !dlrt_data_load(&d, m, "data", 0, err) &&
        strstr(err, "d.csv: label 12 of sample 0 is not a class 0..3"), "%s", err);
}

/* An IDX u8 file of dims (count first) filled with 0, 1, 2, ... */
static const char *idx(const char *name, int rank, const int *dims, int start) {
  unsigned char b[512] = {0, 0, 8, (unsigned char)rank};
  size_t n = 4, numel = 1;
  for (int i = 0; i < rank; i++, n += 4) {
    b[n + 3] = (unsigned char)dims[i];
    numel *= (size_t)dims[i];
  }
  for (size_t i = 0; i < numel; i++)
    b[n++] = (unsigned char)(start + (int)i);
  const char *p = tpath(name);
  write_file(p, b, n);
  return p;
}

static void test_idx(dlrt_model *m) {
  dlrt_data d;
  char err[DLRT_ERR_LEN] = "";
  char xi[256], yi[256], y5[256], xw[256];
  snprintf(xi, sizeof xi, "%s", idx("x.idx", 3, (int[]){3, 2, 3}, 0));
  snprintf(yi, sizeof yi, "%s", idx("y.idx", 1, (int[]){3}, 1));
  snprintf(y5, sizeof y5, "%s", idx("y5.idx", 1, (int[]){3}, 3));
  snprintf(xw, sizeof xw, "%s", idx("xw.idx", 2, (int[]){3, 5}, 0));
  set(m, "data.mean", "");
  set(m, "data.std", "");
  set(m, "data.scale", "0.5");
  set(m, "test.images", xi);
  set(m, "test.labels", yi);
  bool ok = dlrt_data_load(&d, m, "test", 0, err);
  check("data_idx_test_falls_back_to_data_scale", ok && d.n == 3 &&
        ((float *)d.x)[17] == 8.5f && ((int32_t *)d.y)[2] == 3, "%s", err);
  dlrt_data_free(&d);
  set(m, "test.scale", "1");
  ok = dlrt_data_files(&d, m, "test", xi, yi, 0, err);
  check("data_files", ok && ((float *)d.x)[17] == 17 && dlrt_data_configured(m, "test"), "%s", err);
  dlrt_data_free(&d);
  check("data_refuses_idx_label", !dlrt_data_files(&d, m, "test", xi, y5, 0, err) &&
        strstr(err, "y5.idx: label 4 of sample 1 is not a class 0..3"), "%s", err);
  check("data_refuses_sample_size", !dlrt_data_files(&d, m, "test", xw, yi, 0, err) &&
        strstr(err, "xw.idx: shape [3, 5] does not hold samples of input 'x' [N, 2, 3]"), "%s", err);
  snprintf(y5, sizeof y5, "%s", idx("y2.idx", 1, (int[]){2}, 0));
  check("data_refuses_count_mismatch", !dlrt_data_files(&d, m, "test", xi, y5, 0, err) &&
        strstr(err, "x.idx has 3 samples but") && strstr(err, "y2.idx has 2"), "%s", err);
  check("data_refuses_missing_labels", !dlrt_data_files(&d, m, "test", xi, NULL, 0, err) &&
        strstr(err, "no test targets for input 'y'"), "%s", err);
  set(m, "test.format", "parquet");
  check("data_refuses_format", !dlrt_data_load(&d, m, "test", 0, err) &&
        strstr(err, "test.format 'parquet': want idx, npy, csv or text"), "%s", err);
}

/* classes = c0,c1,...: only those samples, relabelled by position, in
 * file order; the test set falls back to data.classes; a class without
 * samples is refused. */
static void test_classes(dlrt_model *m) {
  dlrt_data d;
  char err[DLRT_ERR_LEN] = "", xi[256], yi[256];
  /* six samples, labels 3 0 2 2 1 0 (y.idx counts from start 0 mod 4) */
  snprintf(xi, sizeof xi, "%s", idx("cx.idx", 3, (int[]){6, 2, 3}, 0));
  unsigned char lab[] = {0, 0, 8, 1, 0, 0, 0, 6, 3, 0, 2, 2, 1, 0};
  snprintf(yi, sizeof yi, "%s", tpath("cy.idx"));
  write_file(yi, lab, sizeof lab);
  set(m, "data.scale", "1");
  set(m, "test.scale", "");
  set(m, "test.format", "idx");
  set(m, "data.classes", "0, 2");
  bool ok = dlrt_data_files(&d, m, "test", xi, yi, 0, err);
  const int32_t *y = d.y;
  const float *x = d.x;
  /* kept: samples 1, 2, 3, 5 with labels 0 1 1 0; sample 1 starts at 6 */
  check("data_classes_keep_and_relabel", ok && d.n == 4 && y[0] == 0 && y[1] == 1 &&
        y[2] == 1 && y[3] == 0 && x[0] == 6 && x[6] == 12 && x[12] == 18 && x[18] == 30 &&
        x[23] == 35, "%s n %lld", err, (long long)d.n);
  dlrt_data_free(&d);
  ok = dlrt_data_files(&d, m, "test", xi, yi, 3, err);
  check("data_classes_before_limit", ok && d.n == 3 && ((int32_t *)d.y)[2] == 1, "%s", err);
  dlrt_data_free(&d);
  set(m, "test.classes", "2,1,3");
  ok = dlrt_data_files(&d, m, "test", xi, yi, 0, err);
  check("data_classes_order_is_the_relabelling", ok && d.n == 4 && ((int32_t *)d.y)[0] == 2 &&
        ((int32_t *)d.y)[1] == 0 && ((int32_t *)d.y)[3] == 1, "%s", err);
  dlrt_data_free(&d);
  set(m, "test.classes", "none");
  ok = dlrt_data_files(&d, m, "test", xi, yi, 0, err);
  check("data_classes_none_keeps_all", ok && d.n == 6, "%s", err);
  dlrt_data_free(&d);
  set(m, "test.classes", "0, 7");
  check("data_classes_refuses_absent_class", !dlrt_data_files(&d, m, "test", xi, yi, 0, err) &&
        strstr(err, "cy.idx: class 7 of test.classes has no sample (the labels are 0..3)"),
        "%s", err);
  set(m, "test.classes", "0, -1");
  check("data_classes_refuses_negative", !dlrt_data_files(&d, m, "test", xi, yi, 0, err) &&
        strstr(err, "test.classes: -1 is not a class"), "%s", err);
  set(m, "test.classes", "");
  set(m, "data.classes", "");
}

/* The eval entry of cls: out[i] = x[i][0..1]; loss 1. */
static void fake_eval(const dlrt_frame *f) {
  const float *x = (const float *)f->base[DLRT_R_ACTN];
  float *out = (float *)(f->base[DLRT_R_ACTN] + 28 * f->N);
  for (int64_t i = 0; i < f->N; i++)
    out[2 * i] = x[6 * i], out[2 * i + 1] = x[6 * i + 1];
  *(float *)f->base[DLRT_R_ACT] = 1;
}

static void test_score(dlrt_model *m) {
  /* 5 samples: scores (x0, x1); labels; argmax 1 0 1 1 0 */
  float x[30] = {0};
  int32_t y[5] = {1, 0, 0, 1, 1};
  float s[5][2] = {{0, 1}, {2, 1}, {0, 5}, {1, 3}, {4, 0}};
  for (int i = 0; i < 5; i++)
    x[6 * i] = s[i][0], x[6 * i + 1] = s[i][1];
  dlrt_data d = {.n = 5, .xper = 6, .yper = 1, .x = x, .y = y};
  dlrt_frame f;
  char err[DLRT_ERR_LEN] = "";
  dlrt_score sc;
  int64_t idx[3] = {4, 0, 2};
  dlrt_frame_alloc(&f, m, 2, err);
  dlrt_score_begin(&sc, m);
  check("score_argmax_kind", sc.kind == DLRT_ACC_ARGMAX && sc.classes == 2, "kind %d", sc.kind);
  dlrt_score_run(&sc, &f, m, fake_eval, &d, NULL, 5, 2);
  dlrt_score_end(&sc);
  /* true 1 -> 1, 0 -> 0, 0 -> 1, 1 -> 1, 1 -> 0 */
  check("score_argmax", sc.n == 5 && sc.correct == 3 && sc.loss == 1 &&
        sc.confusion[0] == 1 && sc.confusion[1] == 1 && sc.confusion[2] == 1 && sc.confusion[3] == 2,
        "correct %lld", (long long)sc.correct);
  dlrt_score_free(&sc);
  dlrt_score_begin(&sc, m);
  dlrt_score_run(&sc, &f, m, fake_eval, &d, idx, 3, 2);
  dlrt_score_end(&sc);
  check("score_indexed", sc.n == 3 && sc.correct == 1 && fabs(dlrt_score_accuracy(&sc) - 1 / 3.0) < 1e-12,
        "correct %lld", (long long)sc.correct);
  dlrt_score_free(&sc);
  dlrt_frame_free(&f);
}

/* out: f32[N, 1], target t: f32[N, 1]: binary or regression. */
static const char bin[] =
  "dlc-manifest 1\nmodel b\nsignature 3\ndlc 0\nweights 0\nstate 0\n"
  "input x f32 data 0 2 -1 6\ninput t f32 data 0 2 -1 1\n"
  "entry forward 0 64\nin x 3 0\nout out f32 2 -1 2 3 24\n"
  "entry eval 64 32\nin x 3 0\nin t 3 24\nout out f32 2 -1 1 3 28\n"
  "out loss f32 0 2 0\n"
  "end\n";

static void fake_eval1(const dlrt_frame *f) {
  const float *x = (const float *)f->base[DLRT_R_ACTN];
  float *out = (float *)(f->base[DLRT_R_ACTN] + 28 * f->N);
  for (int64_t i = 0; i < f->N; i++)
    out[i] = x[6 * i];
  *(float *)f->base[DLRT_R_ACT] = 0.5;
}

static int64_t binary(dlrt_model *m, const float *v, const float *t, int n, double *thr,
                      double *metrics) {
  float x[60] = {0};
  for (int i = 0; i < n; i++)
    x[6 * i] = v[i];
  dlrt_data d = {.n = n, .xper = 6, .yper = 1, .x = x, .y = (void *)t};
  dlrt_frame f;
  dlrt_score s;
  char err[DLRT_ERR_LEN];
  dlrt_frame_alloc(&f, m, 4, err);
  dlrt_score_begin(&s, m);
  dlrt_score_run(&s, &f, m, fake_eval1, &d, NULL, n, 4);
  dlrt_score_end(&s);
  int64_t c = s.kind == DLRT_ACC_BINARY ? s.correct : -1;
  *thr = s.threshold;
  if (metrics) {
    metrics[0] = s.precision, metrics[1] = s.recall, metrics[2] = s.f1;
    metrics[3] = s.auc;
  }
  dlrt_score_free(&s);
  dlrt_frame_free(&f);
  return c;
}

static void test_binary(void) {
  dlrt_model m;
  if (!model(&m, bin))
    return;
  double thr, mt[4];
  float p[6] = {0.9f, 0.2f, 0.6f, 0.4f, 0.1f, 0.7f}, t[6] = {1, 0, 0, 1, 0, 1};
  int64_t c = binary(&m, p, t, 6, &thr, mt);
  check("score_binary_probabilities", c == 4 && thr == 0.5, "correct %lld threshold %g",
        (long long)c, thr);
  /* TP 2 (0.9, 0.7), FP 1 (0.6), FN 1 (0.4): precision = recall = F1 =
   * 2/3; the positives 0.9, 0.4, 0.7 beat 3 + 2 + 3 of the 9 pairs. */
  check("score_binary_metrics", fabs(mt[0] - 2 / 3.0) < 1e-12 && fabs(mt[1] - 2 / 3.0) < 1e-12 &&
        fabs(mt[2] - 2 / 3.0) < 1e-12 && fabs(mt[3] - 8 / 9.0) < 1e-12,
        "precision %g recall %g F1 %g AUC %g", mt[0], mt[1], mt[2], mt[3]);
  float l[6] = {2.0f, -1.0f, 0.3f, -0.2f, -3.0f, 0.1f};
  c = binary(&m, l, t, 6, &thr, mt);
  check("score_binary_logits", c == 4 && thr == 0, "correct %lld threshold %g", (long long)c, thr);
  /* the positives 2, -0.2, 0.1 beat 3 + 2 + 2 of the negatives -1, 0.3, -3 */
  check("score_binary_logits_auc", fabs(mt[3] - 7 / 9.0) < 1e-12, "AUC %g", mt[3]);
  float none[4] = {0.1f, 0.2f, 0.3f, 0.4f}, zeros[4] = {0, 0, 0, 0};
  binary(&m, none, zeros, 4, &thr, mt);
  check("score_binary_undefined_metrics", isnan(mt[0]) && isnan(mt[1]) && isnan(mt[2]) &&
        isnan(mt[3]), "precision %g recall %g F1 %g AUC %g", mt[0], mt[1], mt[2], mt[3]);
  float r[3] = {0.5f, 2.5f, 1.0f}, rt[3] = {0.5f, 2.0f, 1.5f};
  c = binary(&m, r, rt, 3, &thr, NULL);
  check("score_regression_unscored", c == -1, "scored as binary");
  dlrt_model_free(&m);
}

/* The ROC AUC against values worked out by hand: the fraction of
 * (positive, negative) pairs in which the positive scores higher, ties
 * counting one half. */
static void test_auc(void) {
  static const struct {
    const char *name;
    int n;
    float score[8];
    unsigned char pos[8];
    double want;
  } cases[] = {
    {"auc_separated", 4, {0.1f, 0.2f, 0.8f, 0.9f}, {0, 0, 1, 1}, 1},
    {"auc_inverted", 4, {0.1f, 0.2f, 0.8f, 0.9f}, {1, 1, 0, 0}, 0},
    /* positives 0.35, 0.8 against 0.1, 0.4: 1 + 2 of 4 pairs */
    {"auc_mixed", 4, {0.1f, 0.4f, 0.35f, 0.8f}, {0, 0, 1, 1}, 0.75},
    /* positives 0.5, 0.9 against 0.5, 0.2: (0.5 = 0.5) is half: 3.5/4 */
    {"auc_tie_is_half", 4, {0.5f, 0.5f, 0.2f, 0.9f}, {1, 0, 0, 1}, 0.875},
    {"auc_all_tied", 5, {3, 3, 3, 3, 3}, {1, 0, 1, 0, 0}, 0.5},
    /* 3 positives x 2 negatives = 6 pairs: 2 + 1.5 + 0.5 = 4 in order */
    {"auc_ties_mixed", 5, {1, 2, 2, 3, 1}, {0, 1, 0, 1, 1}, 4 / 6.0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    double a = dlrt_roc_auc(cases[i].score, cases[i].pos, cases[i].n);
    check(cases[i].name, fabs(a - cases[i].want) < 1e-12, "AUC %.17g, want %.17g", a,
          cases[i].want);
  }
  float s[3] = {1, 2, 3};
  unsigned char all[3] = {1, 1, 1}, no[3] = {0, 0, 0};
  check("auc_undefined_one_class", isnan(dlrt_roc_auc(s, all, 3)) &&
        isnan(dlrt_roc_auc(s, no, 3)) && isnan(dlrt_roc_auc(s, no, 0)), "not NaN");
}

int main(void) {
  dlrt_model m;
  t_begin();
  if (!model(&m, cls))
    return t_end();
  test_csv(&m);
  test_idx(&m);
  test_classes(&m);
  test_score(&m);
  dlrt_model_free(&m);
  test_binary();
  test_auc();
  return t_end();
}
