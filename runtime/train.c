/* train.c — `./model train`: the training loop around the train entry.
 *
 * The one idea: a training run is a pure function of (model, data,
 * options, seed, thread count), and everything it depends on between two
 * epochs is small and explicit: the weight and optimiser-state blocks, the
 * step and epoch counters, and the early-stopping record (best loss, its
 * epoch, the bad-epoch count, the best weights). Randomness is never
 * carried from one epoch to the next: epoch e's order is a Fisher-Yates
 * shuffle drawn from a generator seeded with (seed, e), the validation
 * split from (seed) alone, and dropout hashes (seed, step, position) in
 * generated code; augmentation (augment.c) draws each sample's transform
 * from (seed, epoch, sample). So a checkpoint written after epoch e holds
 * the whole state, and a run resumed from it computes bit for bit what
 * the uninterrupted run computes.
 *
 * The option values come from three layers, later ones winning: the train
 * section compiled into the manifest, the options a resumed checkpoint
 * recorded (so `--resume w.ckpt` alone continues the same run), and the
 * command line. doc/training.txt describes the command for users.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dlrt.h"

enum { H_TRAIN_LOSS, H_VAL_LOSS, H_VAL_ACC, H_LR, H_SECONDS, H_COLS };
enum { PURPOSE_SPLIT = 1, PURPOSE_SHUFFLE = 2, PURPOSE_FOLDS = 3 };

typedef struct Trainer {
  dlrt_model *m;
  const dlrt_train_opts *o;
  /* configuration */
  int64_t batch, epochs, patience, limit, threads;
  uint64_t seed;
  double split, lr0;
  bool shuffle, hyper_set[DLRT_HYPERS];
  double hyper[DLRT_HYPERS];    /* base values by slot */
  dlrt_schedule sched;
  dlrt_augment aug;             /* the training images' transforms */
  bool augmenting;              /* aug changes something */
  bool text;                    /* a character model on text: losses are
                                   also shown in bits per character, and
                                   the test set is scored every epoch */
  int64_t C, H, W;              /* the first input's image, when augmenting */
  float *fill;                  /* per channel: a raw 0, normalised */
  /* data: sample indices of the training and validation sets */
  dlrt_data data, test;
  int64_t *train, ntrain, *val, nval, *order;
  /* the run's state, saved in checkpoints */
  dlrt_frame f;
  int64_t epoch, step, best_epoch, bad;  /* epochs completed, steps done */
  int64_t done;                 /* samples of epoch + 1 done before an
                                   interruption; 0 between epochs */
  double done_sum;              /* their loss sum (sample-weighted) */
  int64_t saved_step;           /* step of the last checkpoint saved, or -1 */
  double best_loss;
  char *best;                   /* weight block of the best epoch */
  bool stopped;
  /* per epoch, for --log and --plot: epochs x H_COLS, NaN when unknown */
  double *hist;
  int fold, folds;              /* fold being trained (1-based), 0: none */
  double t_start;
} Trainer;

static const char *const hyper_keys[] = {
  "lr", "momentum", "beta1", "beta2", "rho", "eps", "weight_decay", "l1", "l2",
  "clip_norm",
};

static const char *const other_keys[] = {
  "optimizer", "lr_schedule", "batch", "epochs", "seed", "shuffle",
  "validation_split", "early_stopping", "augment", "data", "test",
  "data.format", "data.images", "data.labels", "data.path",
  "data.label_column", "data.skip_header", "data.scale", "data.mean",
  "data.std", "data.classes", "data.part", "test.format", "test.images",
  "test.labels", "test.path", "test.label_column", "test.skip_header",
  "test.scale", "test.mean", "test.std", "test.classes", "test.part",
};

const char *dlrt_train_key(int i) {
  int nh = (int)(sizeof hyper_keys / sizeof hyper_keys[0]);
  int no = (int)(sizeof other_keys / sizeof other_keys[0]);
  return i < 0 ? NULL : i < nh ? hyper_keys[i] : i < nh + no ? other_keys[i - nh] : NULL;
}

static bool is_hyper_key(const char *k) {
  for (size_t i = 0; i < sizeof hyper_keys / sizeof hyper_keys[0]; i++)
    if (strcmp(k, hyper_keys[i]) == 0)
      return true;
  return false;
}

__attribute__((format(printf, 1, 2)))
static bool fail(const char *fmt, ...) {
  va_list ap;
  fflush(stdout);
  fputs("error: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return false;
}

__attribute__((format(printf, 1, 2)))
static void note(const char *fmt, ...) {
  va_list ap;
  fflush(stdout);
  fputs("note: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The splitmix64 finaliser: a bijective 64-bit mix. */
static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Shuffle v[0..n) in place (Fisher-Yates) with a generator seeded from
 * (seed, purpose, k) alone. */
static void permute(int64_t *v, int64_t n, uint64_t seed, int purpose, int64_t k) {
  dlrt_rng r;
  dlrt_rng_seed(&r, mix64(mix64(seed) ^ ((uint64_t)purpose << 56)) + (uint64_t)k);
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)(dlrt_rng_next(&r) % (uint64_t)(i + 1));
    int64_t t = v[i];
    v[i] = v[j];
    v[j] = t;
  }
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* ---- options ------------------------------------------------------------- */

/* Set hyper-parameter `name` (a hyper key) to the number in text. */
static bool set_hyper(Trainer *t, const char *name, const char *text) {
  double v;
  const dlrt_hyper *h = dlrt_model_hyper(t->m, name);
  if (!dlrt_parse_number(text, &v))
    return fail("--%s: '%s' is not a number", name, text);
  if (!h && v == 0 && strcmp(name, "lr") != 0)
    return true;   /* switching off what the model does not have */
  if (!h) {
    const char *opt = dlrt_train_get(t->m, "optimizer");
    return fail("--%s: the model was compiled without '%s' (optimizer %s%s); "
                "add it to the train section of the .dlm file and rebuild", name,
                name, opt ? opt : "sgd", t->m->nhypers ? "" : ", no train step");
  }
  t->hyper[h->slot] = v;
  t->hyper_set[h->slot] = true;
  return true;
}

/* --optimizer NAME(args): the kind is compiled in; its arguments are
 * hyper-parameters. */
static bool set_optimizer(Trainer *t, const char *text) {
  char err[DLRT_ERR_LEN];
  dlrt_call have, want;
  const char *compiled = dlrt_train_get(t->m, "optimizer");
  if (!dlrt_call_parse(&want, text, err))
    return fail("--optimizer: %s", err);
  if (!dlrt_call_parse(&have, compiled ? compiled : "sgd", err) ||
      strcmp(have.name, want.name) != 0)
    return fail("--optimizer %s: the model was compiled with %s; the optimizer "
                "cannot change without rebuilding (its arguments can)", want.name,
                compiled ? compiled : "sgd");
  for (int i = 0; i < want.nargs; i++) {
    if (!want.key[i][0])
      return fail("--optimizer: give arguments by name, as in %s(lr=0.1)", want.name);
    if (strcmp(want.key[i], "nesterov") == 0)
      return fail("--optimizer: nesterov is compiled in; rebuild to change it");
    if (!set_hyper(t, want.key[i], want.value[i]))
      return false;
  }
  return true;
}

/* --data CALL / --test CALL: idx(images, labels), npy(images, labels),
 * csv(path), text(path); keyword arguments scale, mean, std,
 * label_column, skip_header, classes, part. Keyword keys not given are
 * reset. */
static bool set_source(Trainer *t, const char *set, const char *text) {
  static const char *const kw[] = {"scale", "mean", "std", "label_column", "skip_header",
                                   "classes", "part"};
  char err[DLRT_ERR_LEN], k[64];
  dlrt_call c;
  if (!dlrt_call_parse(&c, text, err))
    return fail("--%s: %s", set, err);
  bool by_path = strcmp(c.name, "csv") == 0 || strcmp(c.name, "text") == 0;
  if (!by_path && strcmp(c.name, "idx") != 0 && strcmp(c.name, "npy") != 0)
    return fail("--%s: '%s' is not idx(images, labels), npy(images, labels), "
                "csv(path) or text(path)", set, c.name);
  const char *pos[2] = {dlrt_call_arg(&c, by_path ? "path" : "images", 0),
                        by_path ? NULL : dlrt_call_arg(&c, "labels", 1)};
  const char *names[2] = {by_path ? "path" : "images", "labels"};
  bool ok = pos[0] != NULL;
  snprintf(k, sizeof k, "%s.format", set);
  ok = ok && dlrt_train_set(t->m, k, c.name, err);
  for (int i = 0; ok && i < 2; i++)
    if (pos[i]) {
      snprintf(k, sizeof k, "%s.%s", set, names[i]);
      ok = dlrt_train_set(t->m, k, pos[i], err);
    }
  for (size_t i = 0; ok && i < sizeof kw / sizeof kw[0]; i++) {
    const char *v = dlrt_call_arg(&c, kw[i], 99);
    snprintf(k, sizeof k, "%s.%s", set, kw[i]);
    ok = dlrt_train_set(t->m, k, v ? v : "", err);
  }
  if (!pos[0])
    return fail("--%s %s(...): the %s file is missing", set, c.name, names[0]);
  return ok || fail("--%s: %s", set, err);
}

/* One option of the command line (key canonical, see dlrt_train_key). */
static bool apply_option(Trainer *t, const char *key, const char *value) {
  char err[DLRT_ERR_LEN];
  if (is_hyper_key(key) && !set_hyper(t, key, value))
    return false;
  if (strcmp(key, "optimizer") == 0)
    return set_optimizer(t, value);
  if (strcmp(key, "data") == 0 || strcmp(key, "test") == 0)
    return set_source(t, key, value);
  if (strcmp(key, "lr") != 0 && !dlrt_train_set(t->m, key, value, err))
    return fail("--%s: %s", key, err);
  return true;
}

/* Numbers compare by value ("0.1" equals "0.10000000000000001"). */
static bool same_value(const char *a, const char *b) {
  double x, y;
  if (dlrt_parse_number(a, &x) && dlrt_parse_number(b, &y))
    return x == y;
  return strcmp(a, b) == 0;
}

/* The command line's value of option name, or NULL. */
static const char *cli_value(const Trainer *t, const char *name, char *buf,
                             size_t cap) {
  if (strcmp(name, "limit") == 0 || strcmp(name, "threads") == 0) {
    bool lim = name[0] == 'l';
    if (lim ? t->o->limit <= 0 : !t->o->threads_given)
      return NULL;
    snprintf(buf, cap, "%" PRId64, lim ? t->o->limit : t->o->threads);
    return buf;
  }
  for (int i = t->o->nset - 1; i >= 0; i--)
    if (strcmp(t->o->set[i].key, name) == 0)
      return t->o->set[i].value;
  return NULL;
}

/* The options recorded in a checkpoint (opt.KEY, hyper.NAME, limit,
 * threads) become the defaults of a resumed run; an option also given on
 * the command line wins, with a note when it differs (epochs excepted:
 * raising it is how a run is extended). */
static bool resume_options(Trainer *t, const dlrt_ckpt *c) {
  char err[DLRT_ERR_LEN], buf[32];
  for (int i = 0; i < c->nmeta; i++) {
    const char *k = c->meta[i].key, *val = c->meta[i].value;
    bool opt = strncmp(k, "opt.", 4) == 0, hyp = strncmp(k, "hyper.", 6) == 0;
    const char *name = opt ? k + 4 : hyp ? k + 6 : k;
    if (!opt && !hyp && strcmp(k, "limit") != 0 && strcmp(k, "threads") != 0)
      continue;
    const char *cli = cli_value(t, name, buf, sizeof buf);
    if (cli && !same_value(cli, val) && strcmp(name, "epochs") != 0)
      note("--%s %s differs from the checkpoint's %s: the resumed run will not "
           "match an uninterrupted one", name, cli, val);
    if (cli)
      continue;
    if (strcmp(name, "limit") == 0 || strcmp(name, "threads") == 0)
      *(name[0] == 'l' ? &t->limit : &t->threads) = strtoll(val, NULL, 10);
    else if (hyp && !set_hyper(t, name, val))
      return false;
    else if (opt && !dlrt_train_set(t->m, name, val, err))
      return fail("%s: %s", t->o->resume, err);
  }
  return true;
}

/* Train key `key` as a whole number in [lo, hi]; def when absent. */
static bool key_int(Trainer *t, const char *key, int64_t lo, int64_t hi,
                    int64_t def, int64_t *out) {
  const char *v = dlrt_train_get(t->m, key);
  double d = (double)def;
  if (v && (!dlrt_parse_number(v, &d) || d != floor(d) || d < (double)lo || d > (double)hi))
    return fail("%s: '%s' is not a whole number in %" PRId64 "..%" PRId64, key, v, lo, hi);
  *out = (int64_t)d;
  return true;
}

/* Train key `key` as a number in [lo, hi) (hi_open) or [lo, hi]. */
static bool key_num(Trainer *t, const char *key, double lo, double hi,
                    bool hi_open, double def, double *out) {
  const char *v = dlrt_train_get(t->m, key);
  *out = def;
  if (v && (!dlrt_parse_number(v, out) || *out < lo || *out > hi || (hi_open && *out == hi)))
    return fail("%s: '%s' is not a number in [%g, %g%c", key, v, lo, hi, hi_open ? ')' : ']');
  return true;
}

static bool key_bool(Trainer *t, const char *key, bool def, bool *out) {
  const char *v = dlrt_train_get(t->m, key);
  *out = def;
  if (!v || !*v)
    return true;
  if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "false") == 0 ||
      strcmp(v, "0") == 0) {
    *out = v[0] == 't' || v[0] == '1';
    return true;
  }
  return fail("%s: '%s' is not true or false", key, v);
}

static bool key_seed(Trainer *t) {
  const char *v = dlrt_train_get(t->m, "seed");
  char *end;
  t->seed = 1;
  if (!v)
    return true;
  errno = 0;
  t->seed = strtoull(v, &end, 10);
  if (end == v || *end || errno || strchr(v, '-'))
    return fail("seed: '%s' is not a whole number >= 0", v);
  return true;
}

/* The base value of every hyper line, checked against its range. */
static bool configure_hypers(Trainer *t) {
  for (int i = 0; i < t->m->nhypers; i++) {
    const dlrt_hyper *h = &t->m->hypers[i];
    double v = t->hyper_set[h->slot] ? t->hyper[h->slot] : h->value;
    const char *n = h->name;
    bool unit = !strcmp(n, "momentum") || !strcmp(n, "beta1") || !strcmp(n, "beta2") ||
                !strcmp(n, "rho");
    bool pos = !strcmp(n, "lr") || !strcmp(n, "eps") || !strcmp(n, "clip_norm");
    bool ok = unit ? v >= 0 && v < 1 : pos ? v > 0 : strncmp(n, "bias_", 5) == 0 || v >= 0;
    if (!ok || !isfinite(v))
      return fail("%s: %g is out of range (%s)", n, v,
                  unit ? "0 <= value < 1" : pos ? "value > 0" : "value >= 0");
    t->hyper[h->slot] = v;
  }
  const dlrt_hyper *lr = dlrt_model_hyper(t->m, "lr");
  t->lr0 = lr ? t->hyper[lr->slot] : 0;
  return true;
}

/* The augment key: its transforms need an image input f32[N, C, H, W]
 * wider and higher than the crop's pad. */
static bool configure_augment(Trainer *t) {
  char err[DLRT_ERR_LEN];
  if (!dlrt_augment_parse(&t->aug, dlrt_train_get(t->m, "augment"), err))
    return fail("%s", err);
  t->augmenting = dlrt_augment_active(&t->aug);
  if (!t->augmenting)
    return true;
  const dlrt_tensor *x = t->m->ninputs > 0 ? &t->m->inputs[0] : NULL;
  if (!x || x->rank != 4 || x->dtype != DLRT_F32 || x->dim[0] != -1)
    return fail("augment: the model's first input%s%s%s is not an image f32[N, C, H, W]; "
                "give --augment none", x ? " '" : "", x ? x->name : "", x ? "'" : "");
  t->C = x->dim[1], t->H = x->dim[2], t->W = x->dim[3];
  if (t->aug.pad >= t->H || t->aug.pad >= t->W)
    return fail("augment: crop pad %" PRId64 " is not smaller than the %" PRId64 "x%" PRId64
                " image of input '%s'", t->aug.pad, t->H, t->W, x->name);
  return true;
}

static bool configure(Trainer *t) {
  char err[DLRT_ERR_LEN];
  double patience;
  if (!key_int(t, "batch", 1, DLRT_MAX_BATCH, 32, &t->batch) ||
      !key_int(t, "epochs", 1, 1000000000, 1, &t->epochs) || !key_seed(t) ||
      !key_num(t, "validation_split", 0, 1, true, 0, &t->split) ||
      !key_num(t, "early_stopping", 0, 1e9, false, 0, &patience) ||
      !key_bool(t, "shuffle", true, &t->shuffle) || !configure_hypers(t))
    return false;
  if (patience != floor(patience))
    return fail("early_stopping: %g is not a whole number of epochs", patience);
  t->patience = (int64_t)patience;
  if (!dlrt_schedule_parse(&t->sched, dlrt_train_get(t->m, "lr_schedule"), err))
    return fail("%s", err);
  if (!configure_augment(t))
    return false;
  if (t->patience > 0 && t->split == 0 && !t->o->folds)
    return fail("early_stopping needs a validation set: give --validation-split F "
                "(a fraction of the training data, e.g. 0.1)");
  return true;
}

/* ---- data and splits ----------------------------------------------------- */

static bool load_sets(Trainer *t) {
  char err[DLRT_ERR_LEN];
  if (!dlrt_data_configured(t->m, "data"))
    return fail("train: no training data: the train section names none; give "
                "--data-images FILE --data-labels FILE (IDX or NPY), --data-path "
                "FILE.csv, or --data 'idx(IMAGES, LABELS)'");
  if (!dlrt_data_load(&t->data, t->m, "data", t->limit, err))
    return fail("%s", err);
  const char *fmt = dlrt_train_get(t->m, "data.format");
  t->text = fmt && strcmp(fmt, "text") == 0;
  if (dlrt_data_configured(t->m, "test") && !t->m->entry[DLRT_E_EVAL].present)
    note("the model has no eval entry: the test set is not used");
  else if (dlrt_data_configured(t->m, "test") &&
           !dlrt_data_load(&t->test, t->m, "test", 0, err))
    return fail("%s", err);
  if (t->augmenting) {
    t->fill = malloc(sizeof *t->fill * (size_t)t->C);
    if (!t->fill)
      return fail("train: out of memory");
    if (!dlrt_data_fill(t->m, "data", t->fill, t->C, err))
      return fail("%s", err);
  }
  int64_t n = t->data.n;
  t->train = malloc(sizeof *t->train * (size_t)n);
  t->val = malloc(sizeof *t->val * (size_t)n);
  t->order = malloc(sizeof *t->order * (size_t)n);
  if (!t->train || !t->val || !t->order)
    return fail("train: out of memory for %" PRId64 " samples", n);
  return true;
}

/* The validation split: a permutation seeded by the seed alone; its last
 * fraction is the validation set. Both sets in file order. */
static bool split(Trainer *t) {
  int64_t n = t->data.n;
  t->nval = (int64_t)((double)n * t->split);
  t->ntrain = n - t->nval;
  if (t->split > 0 && (t->nval == 0 || t->ntrain == 0))
    return fail("validation split %g of %" PRId64 " samples leaves %s empty", t->split,
                n, t->nval == 0 ? "the validation set" : "nothing to train on");
  for (int64_t i = 0; i < n; i++)
    t->train[i] = i;
  if (t->nval > 0)
    permute(t->train, n, t->seed, PURPOSE_SPLIT, 0);
  memcpy(t->val, t->train + t->ntrain, sizeof *t->val * (size_t)t->nval);
  qsort(t->train, (size_t)t->ntrain, sizeof *t->train, cmp_i64);
  qsort(t->val, (size_t)t->nval, sizeof *t->val, cmp_i64);
  return true;
}

/* ---- progress ------------------------------------------------------------ */

typedef struct Progress {
  bool tty, on;
  double t0, last;
  char label[48];
} Progress;

static void progress_begin(Trainer *t, Progress *p) {
  p->on = !t->o->quiet;
  p->tty = p->on && isatty(STDERR_FILENO);
  p->t0 = p->last = now();
  if (t->fold)
    snprintf(p->label, sizeof p->label, "fold %d/%d epoch %" PRId64 "/%" PRId64,
             t->fold, t->folds, t->epoch + 1, t->epochs);
  else
    snprintf(p->label, sizeof p->label, "epoch %" PRId64 "/%" PRId64, t->epoch + 1,
             t->epochs);
}

/* done of total samples, running mean loss: a redrawn bar on a terminal
 * (at most 10 times a second), else a plain line every 10 seconds. */
static void progress(Progress *p, int64_t done, int64_t total, double loss) {
  double tn = now(), el = tn - p->t0, rate = el > 0 ? (double)done / el : 0;
  if (!p->on || tn - p->last < (p->tty ? 0.1 : 10) || done == total)
    return;
  p->last = tn;
  if (!p->tty) {
    fprintf(stderr, "%s: %" PRId64 "/%" PRId64 " samples  %.0f samples/s  loss %.4f\n",
            p->label, done, total, rate, loss);
    return;
  }
  char bar[25];
  int full = (int)(24 * done / total);
  for (int i = 0; i < 24; i++)
    bar[i] = i < full ? '=' : i == full ? '>' : ' ';
  bar[24] = 0;
  double eta = rate > 0 ? (double)(total - done) / rate : 0;
  fprintf(stderr, "\r%s [%s] %3d%%  %.0f samples/s  loss %.4f  ETA %.0fs\033[K",
          p->label, bar, (int)(100 * done / total), rate, loss, eta);
  fflush(stderr);
}

static void progress_end(Progress *p) {
  if (p->tty && p->last > p->t0) {
    fputs("\r\033[K", stderr);
    fflush(stderr);
  }
}

/* ---- interruption -------------------------------------------------------- */

/* SIGINT or SIGTERM during the epochs: the handler only records the
 * signal. The step loop sees it after the step in flight, the run saves a
 * checkpoint of exactly where it stopped (the samples of the epoch done so
 * far and their loss sum ride along in the metadata, so that --resume
 * continues mid-epoch and computes what the uninterrupted run computes)
 * and dlrt_train returns 128 + the signal number. A second signal exits at
 * once; the file on disk is then the last complete checkpoint, since saves
 * are atomic. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
  if (interrupted)
    _exit(128 + sig);
  interrupted = sig;
}

static void catch_signals(struct sigaction *old) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  interrupted = 0;
  sigaction(SIGINT, &sa, &old[0]);
  sigaction(SIGTERM, &sa, &old[1]);
}

static void restore_signals(const struct sigaction *old) {
  sigaction(SIGINT, &old[0], NULL);
  sigaction(SIGTERM, &old[1], NULL);
}

/* ---- one epoch ----------------------------------------------------------- */

/* Replace the images of the batch just gathered (samples order[b + i])
 * by their transforms for this epoch, read from the data set. */
static void augment_batch(Trainer *t, const dlrt_entry *e, int64_t b, int64_t n) {
  const dlrt_tensor *x = dlrt_entry_input(e, t->m->inputs[0].name);
  if (!x)
    return;
  float *dst = dlrt_tensor_addr(&t->f, x);
  const float *src = t->data.x;
  int64_t per = t->data.xper;
  for (int64_t i = 0; i < n; i++) {
    int64_t s = t->order[b + i];
    dlrt_augment_choice c;
    dlrt_augment_choose(&t->aug, t->seed, t->epoch, s, &c);
    dlrt_augment_apply(dst + i * per, src + s * per, t->C, t->H, t->W, &c, t->fill);
  }
}

/* Run the train entry over the training set once, in the epoch's order
 * (from sample t->done on, when resuming an interrupted epoch); the
 * sample-weighted mean loss in *loss. False (after the message) when a
 * loss is not finite, and (with t->done set) when interrupted before the
 * last step. */
static bool train_epoch(Trainer *t, double lr, double *loss) {
  const dlrt_model *m = t->m;
  const dlrt_entry *e = &m->entry[DLRT_E_TRAIN];
  const dlrt_tensor *lt = dlrt_entry_output(e, "loss");
  double sum = t->done_sum;
  int64_t b0 = t->done;
  t->done = 0;
  t->done_sum = 0;
  Progress p;
  progress_begin(t, &p);
  memcpy(t->order, t->train, sizeof *t->order * (size_t)t->ntrain);
  if (t->shuffle)
    permute(t->order, t->ntrain, t->seed, PURPOSE_SHUFFLE,
            t->epoch + ((int64_t)t->fold << 32));
  for (int64_t b = b0; b < t->ntrain; b += t->batch) {
    int64_t n = t->ntrain - b < t->batch ? t->ntrain - b : t->batch;
    dlrt_frame_enter(&t->f, m, DLRT_E_TRAIN, n);
    dlrt_data_gather(&t->f, e, m, &t->data, t->order, b, n);
    if (t->augmenting)
      augment_batch(t, e, b, n);
    dlrt_hypers_fill(t->f.hyper, m, t->hyper, lr, t->step);
    t->f.step = t->step;
    t->f.seed = t->seed;
    t->o->entry[DLRT_E_TRAIN](&t->f);
    float l = *(const float *)dlrt_tensor_addr(&t->f, lt);
    t->step++;
    if (dlrt_fault.set) {
      progress_end(&p);
      return fail("epoch %" PRId64 " step %" PRId64 ": the first non-finite value: %s "
                  "with %s at flat index %" PRId64 " (the loss is %g)", t->epoch + 1, t->step,
                  dlrt_fault.what, isnan(dlrt_fault.value) ? "nan" : dlrt_fault.value > 0 ? "inf" : "-inf",
                  dlrt_fault.index, (double)l);
    }
    if (!isfinite(l)) {
      progress_end(&p);
      return fail("loss is %s at epoch %" PRId64 " step %" PRId64 " (lr %g): training "
                  "diverged; try a smaller --lr", isnan(l) ? "nan" : "inf",
                  t->epoch + 1, t->step, lr);
    }
    sum += (double)l * (double)n;
    progress(&p, b + n, t->ntrain, sum / (double)(b + n));
    if (interrupted && b + n < t->ntrain) {
      progress_end(&p);
      t->done = b + n;
      t->done_sum = sum;
      return false;
    }
  }
  progress_end(&p);
  *loss = sum / (double)t->ntrain;
  return true;
}

/* The mean loss on the test set; NaN without one. */
static double test_loss(Trainer *t) {
  dlrt_score s;
  if (t->test.n == 0 || t->o->quiet)
    return NAN;
  dlrt_score_begin(&s, t->m);
  dlrt_score_run(&s, &t->f, t->m, t->o->entry[DLRT_E_EVAL], &t->test, NULL, t->test.n,
                 t->batch);
  dlrt_score_end(&s);
  double loss = s.loss;
  dlrt_score_free(&s);
  return loss;
}

/* Score the validation set: loss and accuracy (NaN when not scored). */
static void validate(Trainer *t, double *loss, double *acc) {
  dlrt_score s;
  *loss = *acc = NAN;
  if (t->nval == 0)
    return;
  dlrt_score_begin(&s, t->m);
  dlrt_score_run(&s, &t->f, t->m, t->o->entry[DLRT_E_EVAL], &t->data, t->val,
                 t->nval, t->batch);
  dlrt_score_end(&s);
  *loss = s.loss;
  *acc = dlrt_score_accuracy(&s);
  dlrt_score_free(&s);
}

/* Early stopping: keep the best weights; stop after `patience` epochs
 * without a strictly lower validation loss. */
static void track_best(Trainer *t, double val_loss) {
  if (t->patience == 0 || t->nval == 0)
    return;
  if (val_loss < t->best_loss) {
    t->best_loss = val_loss;
    t->best_epoch = t->epoch;
    t->bad = 0;
    dlrt_params_to_host(&t->f);
    memcpy(t->best, t->f.base[DLRT_R_WEIGHT], (size_t)t->m->weight_bytes);
  } else if (++t->bad >= t->patience) {
    t->stopped = true;
  }
}

/* The epoch line; held_out is the test set's loss (NaN: not shown). */
static void print_epoch(const Trainer *t, const double *h, double train_secs,
                        double held_out) {
  if (t->o->quiet)
    return;
  if (t->fold)
    printf("fold %d/%d  ", t->fold, t->folds);
  printf("epoch %" PRId64 "/%" PRId64 "  train loss %.4f", t->epoch, t->epochs,
         h[H_TRAIN_LOSS]);
  if (t->text)
    printf(" (%.3f bpc)", h[H_TRAIN_LOSS] / M_LN2);
  if (t->nval)
    printf("  val loss %.4f", h[H_VAL_LOSS]);
  if (t->nval && t->text)
    printf(" (%.3f bpc)", h[H_VAL_LOSS] / M_LN2);
  if (t->nval && !isnan(h[H_VAL_ACC]))
    printf("  val acc %.2f%%", 100 * h[H_VAL_ACC]);
  if (!isnan(held_out))
    printf("  test loss %.4f (%.3f bpc)", held_out, held_out / M_LN2);
  printf("  lr %g  %.1fs  %.0f samples/s\n", h[H_LR], h[H_SECONDS],
         (double)t->ntrain / (train_secs > 0 ? train_secs : 1e-9));
  fflush(stdout);
}

/* ---- log, plot, checkpoints ---------------------------------------------- */

/* Rewrite --log from the history: one row per epoch with a train loss. */
static bool write_log(const Trainer *t) {
  const char *path = t->o->log;
  FILE *f = fopen(path, "w");
  if (!f)
    return fail("%s: cannot create: %s", path, strerror(errno));
  fputs("epoch,train_loss,val_loss,val_acc,lr,seconds\n", f);
  for (int64_t e = 0; e < t->epoch; e++) {
    const double *h = t->hist + e * H_COLS;
    if (isnan(h[H_TRAIN_LOSS]))
      continue;
    fprintf(f, "%" PRId64 ",%.6g,", e + 1, h[H_TRAIN_LOSS]);
    if (!isnan(h[H_VAL_LOSS]))
      fprintf(f, "%.6g", h[H_VAL_LOSS]);
    fputc(',', f);
    if (!isnan(h[H_VAL_ACC]))
      fprintf(f, "%.6g", h[H_VAL_ACC]);
    fprintf(f, ",%.6g,%.3f\n", h[H_LR], h[H_SECONDS]);
  }
  bool ok = !ferror(f);
  if (fclose(f) != 0 || !ok)
    return fail("%s: cannot write: %s", path, strerror(errno));
  return true;
}

/* A resumed run continues the log it finds: rows of epochs already done. */
static void read_log(Trainer *t) {
  FILE *f = fopen(t->o->log, "r");
  char line[512];
  while (f && fgets(line, sizeof line, f)) {
    char *p = line, *end;
    long long e = strtoll(p, &end, 10);
    if (end == p || *end != ',' || e < 1 || e > t->epoch)
      continue;
    double *h = t->hist + (e - 1) * H_COLS;
    for (int c = 0; c < H_COLS && *end == ','; c++) {
      p = end + 1;
      h[c] = strtod(p, &end);
      if (end == p)
        h[c] = NAN;
    }
  }
  if (f)
    fclose(f);
}

static bool write_plot(const Trainer *t) {
  char err[DLRT_ERR_LEN], title[128];
  int n = (int)t->epoch;
  double *tr = malloc(sizeof *tr * (size_t)(n + 1)), *va = malloc(sizeof *va * (size_t)(n + 1));
  bool ok = tr && va;
  for (int i = 0; ok && i < n; i++) {
    tr[i] = t->hist[i * H_COLS + H_TRAIN_LOSS];
    va[i] = t->hist[i * H_COLS + H_VAL_LOSS];
  }
  dlrt_series s[2] = {{"train loss", tr, n}, {"validation loss", va, n}};
  snprintf(title, sizeof title, "%s: loss by epoch", t->m->name);
  ok = ok && dlrt_svg_plot(t->o->plot, title, "epoch", "loss", s, t->nval ? 2 : 1, err);
  free(tr);
  free(va);
  return ok || fail("%s", tr && va ? err : "out of memory");
}

__attribute__((format(printf, 4, 5)))
static void add_meta(dlrt_kv *kv, int *n, const char *key, const char *fmt, ...) {
  va_list ap;
  if (strlen(key) >= sizeof kv->key)
    return;
  strcpy(kv[*n].key, key);
  va_start(ap, fmt);
  int len = vsnprintf(kv[*n].value, sizeof kv->value, fmt, ap);
  va_end(ap);
  *n += len >= 0 && len < (int)sizeof kv->value;
}

/* The metadata of a trainer's checkpoint (doc/checkpoint.txt). */
static int build_meta(const Trainer *t, dlrt_kv *kv) {
  int n = 0;
  char k[96];
  add_meta(kv, &n, "kind", "train");
  add_meta(kv, &n, "seed", "%" PRIu64, t->seed);
  add_meta(kv, &n, "epoch", "%" PRId64, t->epoch);
  add_meta(kv, &n, "step", "%" PRId64, t->step);
  add_meta(kv, &n, "best_val_loss", "%.17g", t->best_loss);
  add_meta(kv, &n, "best_epoch", "%" PRId64, t->best_epoch);
  add_meta(kv, &n, "bad_epochs", "%" PRId64, t->bad);
  add_meta(kv, &n, "stopped_early", "%d", t->stopped);
  if (t->done) {
    add_meta(kv, &n, "epoch_samples", "%" PRId64, t->done);
    add_meta(kv, &n, "epoch_loss_sum", "%.17g", t->done_sum);
  }
  add_meta(kv, &n, "threads", "%d", dlrt_pool_threads());
  if (t->limit > 0)
    add_meta(kv, &n, "limit", "%" PRId64, t->limit);
  for (int i = 0; i < t->m->ntrain; i++)
    if (strncmp(t->m->train[i].key, "test", 4) != 0) {
      snprintf(k, sizeof k, "opt.%s", t->m->train[i].key);
      add_meta(kv, &n, k, "%s", t->m->train[i].value);
    }
  for (int i = 0; i < t->m->nhypers; i++)
    if (strncmp(t->m->hypers[i].name, "bias_", 5) != 0) {
      snprintf(k, sizeof k, "hyper.%s", t->m->hypers[i].name);
      add_meta(kv, &n, k, "%.17g", t->hyper[t->m->hypers[i].slot]);
    }
  return n;
}

static bool save(Trainer *t) {
  const char *path = t->o->save ? t->o->save : t->o->resume;
  char err[DLRT_ERR_LEN];
  if (!path)
    return true;
  dlrt_kv *kv = calloc((size_t)(t->m->ntrain + t->m->nhypers + 16), sizeof *kv);
  if (!kv)
    return fail("%s: out of memory", path);
  int n = build_meta(t, kv);
  bool ok = dlrt_frame_save_train(&t->f, t->m, t->patience ? t->best : NULL, kv, n,
                                  path, err);
  free(kv);
  if (ok)
    t->saved_step = t->step;
  return ok || fail("%s", err);
}

/* After the epoch: validation, early stopping, the epoch line, the log,
 * the plot, the checkpoint. */
static bool end_epoch(Trainer *t, double loss, double lr, double t0, double t1) {
  double *h = t->hist + (t->epoch - 1) * H_COLS;
  validate(t, &h[H_VAL_LOSS], &h[H_VAL_ACC]);
  h[H_TRAIN_LOSS] = loss;
  h[H_LR] = lr;
  h[H_SECONDS] = now() - t0;
  track_best(t, h[H_VAL_LOSS]);
  print_epoch(t, h, t1 - t0, t->text ? test_loss(t) : NAN);
  return (!t->o->log || write_log(t)) && (!t->o->plot || write_plot(t)) && save(t);
}

/* ---- runs ---------------------------------------------------------------- */

/* At the end of a run with early stopping: the best weights back. */
static bool restore_best(Trainer *t) {
  if (t->patience == 0 || t->best_epoch == 0 || t->best_epoch == t->epoch)
    return true;
  dlrt_params_to_host(&t->f);
  memcpy(t->f.base[DLRT_R_WEIGHT], t->best, (size_t)t->m->weight_bytes);
  dlrt_params_changed(&t->f);
  if (!t->o->quiet)
    printf("restored the weights of epoch %" PRId64 " (val loss %.4f)\n", t->best_epoch,
           t->best_loss);
  return save(t);
}

/* Train from t->epoch to t->epochs, or until early stopping. */
static bool run_epochs(Trainer *t) {
  while (t->epoch < t->epochs && !t->stopped) {
    double lr = dlrt_schedule_lr(&t->sched, t->lr0, t->epoch, t->epochs), loss = 0;
    double t0 = now();
    if (!train_epoch(t, lr, &loss)) {
      if (interrupted)
        save(t); /* mid-epoch: where the run stopped */
      return false;
    }
    double t1 = now();
    t->epoch++;
    if (!end_epoch(t, loss, lr, t0, t1) || interrupted)
      return false;
  }
  if (t->stopped && !t->o->quiet)
    printf("early stopping: the validation loss has not improved for %" PRId64
           " epochs; stopped after epoch %" PRId64 "\n", t->bad, t->epoch);
  return restore_best(t);
}

/* A fresh start: weights from the seed, zero optimiser state. */
static void reset_run(Trainer *t) {
  dlrt_init_weights(&t->f, t->m, t->seed);
  memset(t->f.base[DLRT_R_STATE], 0, (size_t)t->m->state_bytes);
  t->epoch = t->step = t->best_epoch = t->bad = 0;
  t->best_loss = INFINITY;
  t->stopped = false;
  for (int64_t i = 0; i < t->epochs * H_COLS; i++)
    t->hist[i] = NAN;
}

static const char *meta_get(const dlrt_ckpt *c, const char *key) {
  for (int i = 0; i < c->nmeta; i++)
    if (strcmp(c->meta[i].key, key) == 0)
      return c->meta[i].value;
  return NULL;
}

/* Weights, state, counters and best weights from the checkpoint. */
static bool resume(Trainer *t, const dlrt_ckpt *c) {
  char err[DLRT_ERR_LEN];
  const char *path = t->o->resume, *v;
  const char *keys[] = {"epoch", "step", "best_epoch", "bad_epochs"};
  int64_t *dst[] = {&t->epoch, &t->step, &t->best_epoch, &t->bad};
  if (!dlrt_frame_load_weights(&t->f, t->m, c, path, err) ||
      !dlrt_frame_load_state(&t->f, t->m, c, path, err))
    return fail("%s", err);
  for (int i = 0; i < 4; i++) {
    if (!(v = meta_get(c, keys[i])))
      return fail("%s: not a training checkpoint (no '%s'; `init` writes weights "
                  "only)", path, keys[i]);
    *dst[i] = strtoll(v, NULL, 10);
  }
  v = meta_get(c, "best_val_loss");
  t->best_loss = v ? strtod(v, NULL) : INFINITY;
  if ((v = meta_get(c, "epoch_samples"))) { /* saved mid-epoch: see on_signal */
    char *end;
    t->done = strtoll(v, &end, 10);
    if (*end || t->done <= 0 || t->done >= t->ntrain)
      return fail("%s: epoch_samples %s is not within the %" PRId64 " training samples",
                  path, v, t->ntrain);
    v = meta_get(c, "epoch_loss_sum");
    t->done_sum = v ? strtod(v, NULL) : 0;
  }
  v = meta_get(c, "stopped_early");
  if (v && strcmp(v, "1") == 0)
    return fail("%s: this run stopped early at epoch %" PRId64 " (early_stopping); "
                "there is nothing to resume", path, t->epoch);
  if (t->patience && t->best_epoch > 0 &&
      !dlrt_ckpt_get_params(t->m, c, "best.", t->best, path, err))
    return fail("%s", err);
  if (t->epoch > t->epochs)
    return fail("%s: %" PRId64 " epochs are done, more than --epochs %" PRId64, path,
                t->epoch, t->epochs);
  if (t->o->log)
    read_log(t);
  if (!t->o->quiet)
    printf("resuming from %s: %" PRId64 " of %" PRId64 " epochs done, step %" PRId64
           "%s\n", path, t->epoch, t->epochs, t->step,
           t->done ? " (in the middle of an epoch)" : "");
  return true;
}

/* Evaluate on the test set, if there is one. */
static void test_eval(Trainer *t) {
  dlrt_score s;
  if (t->test.n == 0)
    return;
  dlrt_score_begin(&s, t->m);
  dlrt_score_run(&s, &t->f, t->m, t->o->entry[DLRT_E_EVAL], &t->test, NULL, t->test.n,
                 t->batch);
  dlrt_score_end(&s);
  printf("test loss %.4f", s.loss);
  if (t->text)
    printf("  test bpc %.4f", s.loss / M_LN2);
  if (s.kind != DLRT_ACC_NONE)
    printf("  test accuracy %.2f%%", 100 * dlrt_score_accuracy(&s));
  if (s.kind == DLRT_ACC_BINARY && !isnan(s.auc))
    printf("  test AUC %.4f", s.auc);
  dlrt_decode_score ds;
  if (t->m->decode.present && t->o->entry[DLRT_E_FORWARD] &&
      dlrt_decode_eval(&ds, &t->f, t->m, t->o->entry[DLRT_E_FORWARD], &t->test, t->batch))
    printf("  test exact-sequence accuracy %.2f%% (greedy decoding)",
           100.0 * (double)ds.exact / (double)ds.n);
  if (s.kind == DLRT_ACC_BINARY)
    printf("  (threshold %g: outputs %s)", s.threshold,
           s.threshold == 0.5 ? "in [0, 1], read as probabilities"
                              : "outside [0, 1], read as logits");
  printf("  (%" PRId64 " samples)\n", s.n);
  dlrt_score_free(&s);
}

/* Fold k of K of the fold permutation all[0..n): validation set
 * all[k n / K .. (k + 1) n / K), the rest for training; both sorted. */
static void set_fold(Trainer *t, const int64_t *all, int64_t n, int k, int K) {
  int64_t lo = n * k / K, hi = n * (k + 1) / K;
  t->nval = t->ntrain = 0;
  for (int64_t i = 0; i < n; i++)
    if (i >= lo && i < hi)
      t->val[t->nval++] = all[i];
    else
      t->train[t->ntrain++] = all[i];
  qsort(t->train, (size_t)t->ntrain, sizeof *t->train, cmp_i64);
  qsort(t->val, (size_t)t->nval, sizeof *t->val, cmp_i64);
}

static void mean_std(const double *v, int n, double *mean, double *sd) {
  double s = 0, q = 0;
  for (int i = 0; i < n; i++)
    s += v[i];
  *mean = s / n;
  for (int i = 0; i < n; i++)
    q += (v[i] - *mean) * (v[i] - *mean);
  *sd = sqrt(q / n);
}

/* k-fold cross-validation: each fold trained from the seed's initial
 * weights on the other folds and scored on itself. */
static bool run_folds(Trainer *t) {
  int K = (int)t->o->folds;
  int64_t n = t->data.n;
  if (K < 2 || K > n)
    return fail("--folds %d: want 2..%" PRId64 " (the number of samples)", K, n);
  int64_t *all = malloc(sizeof *all * (size_t)n);
  double *loss = malloc(sizeof *loss * (size_t)K), *acc = malloc(sizeof *acc * (size_t)K);
  if (!all || !loss || !acc) {
    free(all), free(loss), free(acc);
    return fail("out of memory");
  }
  bool ok = true;
  for (int64_t i = 0; i < n; i++)
    all[i] = i;
  permute(all, n, t->seed, PURPOSE_FOLDS, 0);
  t->folds = K;
  for (int k = 0; ok && k < K; k++) {
    t->fold = k + 1;
    set_fold(t, all, n, k, K);
    reset_run(t);
    ok = run_epochs(t);
    if (ok)
      validate(t, &loss[k], &acc[k]);
    if (ok)
      printf("fold %d/%d  val loss %.4f  val acc %.2f%%  (%" PRId64 " samples)\n",
             k + 1, K, loss[k], 100 * acc[k], t->nval);
  }
  if (ok) {
    double ml, sl, ma, sa;
    mean_std(loss, K, &ml, &sl);
    mean_std(acc, K, &ma, &sa);
    printf("cross-validation, %d folds: val loss %.4f +- %.4f  val acc %.2f%% +- %.2f%%  "
           "(mean +- standard deviation)\n", K, ml, sl, 100 * ma, 100 * sa);
  }
  free(all);
  free(loss);
  free(acc);
  return ok;
}

/* ---- the command --------------------------------------------------------- */

/* Everything before the first epoch; c holds the --resume checkpoint. */
static bool setup(Trainer *t, dlrt_ckpt *c) {
  char err[DLRT_ERR_LEN];
  const dlrt_train_opts *o = t->o;
  if (!t->m->entry[DLRT_E_TRAIN].present || !o->entry[DLRT_E_TRAIN] ||
      !o->entry[DLRT_E_EVAL])
    return fail("train: model '%s' has no train step: its .dlm file has no train "
                "section with a loss", t->m->name);
  if (o->folds && (o->save || o->resume || o->log || o->plot))
    return fail("train: --folds trains %" PRId64 " separate models; it does not "
                "combine with --save, --resume, --log or --plot", o->folds);
  if (o->resume && (!dlrt_ckpt_load(o->resume, c, err) ||
                    !dlrt_ckpt_check_model(t->m, c, o->resume, err)))
    return fail("%s", err);
  if (o->resume && !resume_options(t, c))
    return false;
  for (int pass = 0; pass < 2; pass++)   /* --data and --test calls first */
    for (int i = 0; i < o->nset; i++) {
      bool call = !strcmp(o->set[i].key, "data") || !strcmp(o->set[i].key, "test");
      if (call == (pass == 0) && !apply_option(t, o->set[i].key, o->set[i].value))
        return false;
    }
  if (!configure(t) || !load_sets(t) || (!o->folds && !split(t)))
    return false;
  dlrt_pool_init((int)t->threads);
  t->hist = malloc(sizeof *t->hist * (size_t)(t->epochs * H_COLS));
  t->best = t->patience ? malloc((size_t)t->m->weight_bytes + 1) : NULL;
  if (!t->hist || (t->patience && !t->best))
    return fail("train: out of memory");
  if (!dlrt_frame_alloc(&t->f, t->m, t->batch, err))
    return fail("train: %s", err);
  reset_run(t);
  return !o->resume || resume(t, c);
}

/* What the run is about to do, in one line. */
static void print_plan(const Trainer *t) {
  if (t->o->quiet)
    return;
  printf("training %s: %" PRId64 " samples", t->m->name, t->ntrain);
  if (t->text)
    printf(" (windows of %" PRId64 " characters)", t->data.xper);
  if (t->nval)
    printf(" (+%" PRId64 " for validation)", t->nval);
  printf(", batch %" PRId64 ", %" PRId64 " epochs, lr %g", t->batch, t->epochs, t->lr0);
  const char *s = dlrt_train_get(t->m, "lr_schedule");
  if (s && *s)
    printf(" %s", s);
  printf(", seed %" PRIu64 ", %d threads", t->seed, dlrt_pool_threads());
  if (t->augmenting)
    printf(", augment %s", dlrt_train_get(t->m, "augment"));
  printf("\n");
  fflush(stdout);
}

int dlrt_train(dlrt_model *m, const dlrt_train_opts *o) {
  Trainer t = {.m = m, .o = o, .best_loss = INFINITY, .limit = o->limit,
               .threads = o->threads, .saved_step = -1};
  dlrt_ckpt c = {0};
  struct sigaction old[2];
  bool ok = setup(&t, &c);
  dlrt_ckpt_free(&c);
  catch_signals(old);
  if (ok && o->folds) {
    ok = run_folds(&t);
  } else if (ok) {
    print_plan(&t);
    ok = run_epochs(&t);
    if (ok)
      test_eval(&t);
  }
  int sig = interrupted;
  restore_signals(old);
  if (sig) {
    const char *path = o->save ? o->save : o->resume;
    fflush(stdout);
    fprintf(stderr, "interrupted (%s) at epoch %" PRId64 " step %" PRId64,
            sig == SIGINT ? "SIGINT" : "SIGTERM", t.epoch + (t.done > 0), t.step);
    if (path && !o->folds && t.saved_step == t.step)
      fprintf(stderr, "; saved %s: continue with --resume %s", path, path);
    fputc('\n', stderr);
  }
  dlrt_pool_shutdown();
  dlrt_frame_free(&t.f);
  dlrt_data_free(&t.data);
  dlrt_data_free(&t.test);
  free(t.train);
  free(t.val);
  free(t.order);
  free(t.hist);
  free(t.best);
  free(t.fill);
  return sig ? 128 + sig : ok ? 0 : 1;
}
