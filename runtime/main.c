/* main.c — the command line of a generated program: info, init, predict,
 * train, eval, bench, generate.
 *
 * The one idea: a generated program is the compiler's object file (the
 * manifest text and the entry points) plus this file; main() parses the
 * manifest once and everything else is driven by it. This is the only
 * file of the runtime that references the generated symbols (it hands the
 * entries to train.c and score.c as pointers), so the compiler, which
 * links libdlrt.a for the file formats, never pulls it in. A model without
 * a loss defines only dlrt_forward: the other entries are weak, NULL when
 * absent, and the manifest says which exist.
 *
 * Conventions: every command is one cmd_ function; flags are declared in
 * a table per command and parsed by parse_flags; every error goes to
 * stderr as "error: ..." naming the file involved and exits 1; usage
 * mistakes (unknown command) exit 2.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dlrt.h"

/* Defined by the compiler's object file (see dlrt.h). */
extern const char dlrt_manifest[];
void dlrt_forward(const dlrt_frame *f);
void dlrt_eval(const dlrt_frame *f) __attribute__((weak));
void dlrt_train_step(const dlrt_frame *f) __attribute__((weak));

typedef struct Prog {
  const char *name;                       /* argv[0] */
  dlrt_model m;
  dlrt_entry_fn entry[DLRT_ENTRIES];      /* NULL where the object has none */
} Prog;

static void verror(const char *fmt, va_list ap) {
  fflush(stdout);
  fputs("error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

/* Report an error; the exit status of a failed command. */
__attribute__((format(printf, 1, 2)))
static int error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  verror(fmt, ap);
  va_end(ap);
  return 1;
}

/* Report an error; false, for helpers. */
__attribute__((format(printf, 1, 2)))
static bool fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  verror(fmt, ap);
  va_end(ap);
  return false;
}

/* ---- flags --------------------------------------------------------------- */

enum { MAX_LIST = 64 };

typedef enum { F_STR, F_INT, F_U64, F_LIST, F_BOOL } FlagKind;

typedef struct StrList {
  const char *v[MAX_LIST];
  int n;
} StrList;

/* One flag of a command. dst points to a const char * (F_STR), int64_t
 * (F_INT, range lo..hi), uint64_t (F_U64), StrList (F_LIST, repeatable)
 * or bool (F_BOOL: a flag without a value). */
typedef struct Flag {
  const char *name;     /* "--seed" */
  const char *alias;    /* "-o", or NULL */
  FlagKind kind;
  void *dst;
  int64_t lo, hi;
  bool seen;
} Flag;

static bool parse_int(const char *flag, const char *s, int64_t lo, int64_t hi,
                      int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (end == s || *end || errno == ERANGE)
    return fail("%s: '%s' is not an integer", flag, s);
  if (v < lo || v > hi)
    return fail("%s: %lld is out of range %" PRId64 "..%" PRId64, flag, v, lo, hi);
  *out = v;
  return true;
}

static bool parse_u64(const char *flag, const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (end == s || *end || errno == ERANGE || s[strspn(s, " \t")] == '-')
    return fail("%s: '%s' is not a non-negative integer", flag, s);
  *out = v;
  return true;
}

static bool set_flag(Flag *f, const char *value) {
  if (f->seen && f->kind != F_LIST)
    return fail("%s is given twice", f->name);
  f->seen = true;
  switch (f->kind) {
  case F_STR: *(const char **)f->dst = value; return true;
  case F_INT: return parse_int(f->name, value, f->lo, f->hi, f->dst);
  case F_U64: return parse_u64(f->name, value, f->dst);
  case F_BOOL: *(bool *)f->dst = true; return true;
  case F_LIST: {
    StrList *l = f->dst;
    if (l->n == MAX_LIST)
      return fail("%s is given more than %d times", f->name, MAX_LIST);
    l->v[l->n++] = value;
    return true;
  }
  }
  return false;
}

/* Whether the first len characters of arg spell name. */
static bool spells(const char *arg, size_t len, const char *name) {
  return name && strlen(name) == len && strncmp(arg, name, len) == 0;
}

/* Parse argv[0..argc) as "--flag value", "--flag=value" or "-o value"
 * (a flag's name or its alias); F_BOOL flags take no value. Every
 * argument must be a flag of the table. */
static bool parse_flags(const char *cmd, int argc, char **argv, Flag *flags,
                        int nflags) {
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i], *eq = strchr(arg, '=');
    size_t len = eq && arg[0] == '-' && arg[1] == '-' ? (size_t)(eq - arg) : strlen(arg);
    Flag *f = NULL;
    for (int k = 0; k < nflags && !f; k++)
      if (spells(arg, len, flags[k].name) || spells(arg, len, flags[k].alias))
        f = &flags[k];
    if (!f)
      return fail("%s: unknown %s '%s' (see 'help')", cmd,
                  arg[0] == '-' ? "flag" : "argument", arg);
    if (f->kind == F_BOOL && len < strlen(arg))
      return fail("%s: %s takes no value", cmd, f->name);
    const char *value = f->kind == F_BOOL ? "" : len < strlen(arg) ? arg + len + 1
                        : i + 1 < argc ? argv[++i] : NULL;
    if (!value)
      return fail("%s: %s needs a value", cmd, f->name);
    if (!set_flag(f, value))
      return false;
  }
  return true;
}

/* ---- help and info ------------------------------------------------------- */

static void usage_train(FILE *out) {
  fputs(
    "  train [FLAGS]             train from the seed's initial weights (or --resume)\n"
    "      --epochs E --batch B --lr X --seed S      (defaults: the train section)\n"
    "      --validation-split F  hold out this fraction of the data for validation\n"
    "      --early-stopping P    stop after P epochs without a better validation loss\n"
    "      --save FILE           checkpoint after every epoch (atomically), and\n"
    "                            on SIGINT/SIGTERM (exit 130/143) where it stopped\n"
    "      --resume FILE         continue a run from its checkpoint, bit for bit\n"
    "      --log FILE.csv        epoch,train_loss,val_loss,val_acc,lr,seconds\n"
    "      --plot FILE.svg       a chart of the training and validation loss\n"
    "      --folds K             k-fold cross-validation instead of one run\n"
    "      --limit K             train on the first K samples only\n"
    "      --threads T           threads (default 0: one per core)\n"
    "      --quiet               no progress and no epoch lines\n"
    "      --check-numerics      check every tensor of every step for nan and inf,\n"
    "                            and name the op and source line that made the first\n"
    "      --KEY VALUE           any train key: --momentum 0.5 --l2 1e-4\n"
    "                            --clip-norm 1 --lr-schedule 'step(every=2, gamma=0.5)'\n"
    "                            --data-images F --data-labels F --test-images F ...\n"
    "                            --data 'idx(IMAGES, LABELS, scale=1/255)' 'csv(FILE)'\n"
    "                            'text(PATH, part=[0, 0.9])' --data-part 0,0.5\n"
    "                            --augment 'crop(pad=2), flip' or none\n"
    "  eval --weights FILE [--images F --labels F] [--batch B] [--limit K]\n"
    "                            loss, accuracy and confusion matrix on the test\n"
    "                            set (default: the train section's test data);\n"
    "                            binary: precision, recall, F1 and ROC AUC too;\n"
    "                            text: bits per character\n", out);
}

static void usage(const Prog *p, FILE *out) {
  fprintf(out,
    "usage: %s COMMAND [FLAGS]\n"
    "\n"
    "Model '%s', compiled by dlc %s.\n"
    "\n"
    "commands:\n"
    "  info                      the model: inputs, outputs, parameters, memory\n"
    "  init [--seed S] -o FILE   initialise the parameters, save a checkpoint\n"
    "  bench [--batch B] [--iters K] [--threads T] [--train]\n"
    "                            time the forward pass (or a training step) on\n"
    "                            seeded weights and inputs\n"
    "  predict --weights FILE --input [NAME=]FILE ... [FLAGS]\n"
    "                            run the model on NPY or IDX (.gz) data\n"
    "                            (--weights: not for a model without parameters)\n"
    "      -o FILE               write the output as NPY instead of printing it\n"
    "                            (a model with a decode statement: the tokens it\n"
    "                            decodes greedily; its feed input is not given)\n"
    "      --output NAME         the output to use (default: the first)\n"
    "      --batch B             samples per forward call (default 256)\n"
    "      --limit K             use only the first K samples\n"
    "      --labels FILE         also print the accuracy against these labels\n"
    "      --threads T           threads (default 0: one per core)\n",
    p->name, p->m.name, p->m.dlc_version);
  if (p->m.entry[DLRT_E_TRAIN].present)
    usage_train(out);
  fputs(
    "  generate --weights FILE [--seed S] [--length N] [--prime TEXT]\n"
    "           [--temperature X] [--threads T]\n"
    "                            for a character model (input i32[N, T], output\n"
    "                            f32[N, T, V]): print TEXT, then N characters\n"
    "                            (default 200) drawn one by one from the model;\n"
    "                            a seed (default 1) gives the same text\n", out);
  fputs("  help                      this text\n", out);
}

/* "[N, 1, 28, 28]"; a dimension -k prints as kN. */
static const char *shape_str(const dlrt_tensor *t, char *buf, size_t cap) {
  size_t n = (size_t)snprintf(buf, cap, "[");
  for (int i = 0; i < t->rank && n < cap; i++) {
    int64_t d = t->dim[i];
    const char *sep = i ? ", " : "";
    if (d == -1)
      n += (size_t)snprintf(buf + n, cap - n, "%sN", sep);
    else if (d < 0)
      n += (size_t)snprintf(buf + n, cap - n, "%s%" PRId64 "N", sep, -d);
    else
      n += (size_t)snprintf(buf + n, cap - n, "%s%" PRId64, sep, d);
  }
  if (n < cap)
    snprintf(buf + n, cap - n, "]");
  return buf;
}

/* A line per tensor; m (or NULL) says which input is a decoder's feed. */
static void info_tensors(const char *title, const dlrt_tensor *t, int n,
                         const dlrt_model *m) {
  char s[128], line[256];
  const dlrt_decode *d = m && m->decode.present ? &m->decode : NULL;
  if (title)
    printf("%s\n", title);
  for (int i = 0; i < n; i++) {
    int k = snprintf(line, sizeof line, "  %-16s %s %-18s", t[i].name,
                     dlrt_dtype_name(t[i].dtype), shape_str(&t[i], s, sizeof s));
    if (d && strcmp(t[i].name, d->feed) == 0)
      snprintf(line + k, sizeof line - (size_t)k, " decoder feed: START, then %s's "
               "tokens so far", d->output);
    else if (d && t == &d->answer && d->end >= 0)
      snprintf(line + k, sizeof line - (size_t)k, " greedy decoding of %s (start %d, end %d)",
               d->logits, d->start, d->end);
    else if (d && t == &d->answer)
      snprintf(line + k, sizeof line - (size_t)k, " greedy decoding of %s (start %d)",
               d->logits, d->start);
    else if (t[i].label && t[i].classes)
      snprintf(line + k, sizeof line - (size_t)k, " label, %" PRId64 " classes",
               t[i].classes);
    else if (t[i].label)
      snprintf(line + k, sizeof line - (size_t)k, " label");
    else if (t[i].init[0])
      snprintf(line + k, sizeof line - (size_t)k, " %12" PRId64 "  %s",
               dlrt_numel(&t[i], 1), t[i].init);
    for (k = (int)strlen(line); k > 0 && line[k - 1] == ' ';)
      line[--k] = 0;
    printf("%s\n", line);
  }
}

/* Total values and bytes of n tensors. */
static void info_total(const dlrt_tensor *t, int n) {
  int64_t total = 0;
  for (int i = 0; i < n; i++)
    total += dlrt_numel(&t[i], 1);
  printf("  %-16s %" PRId64 " values, %" PRId64 " bytes\n", "total", total, 4 * total);
}

static void info_memory(const dlrt_model *m) {
  int64_t fixed = m->weight_bytes + m->state_bytes;
  printf("memory (bytes, N = batch size)\n");
  printf("  %-18s %" PRId64 "\n", "weights", m->weight_bytes);
  printf("  %-18s %" PRId64 "\n", "optimiser state", m->state_bytes);
  for (int e = 0; e < DLRT_ENTRIES; e++)
    if (m->entry[e].present)
      printf("  %-18s %" PRId64 " + %" PRId64 "*N\n", dlrt_entry_name(e),
             m->entry[e].act_k, m->entry[e].act_n);
  printf("  %-18s N=1: %" PRId64 "    N=64: %" PRId64 "  (activations: the largest "
         "entry)\n", "total", fixed + dlrt_act_bytes(m, 1), fixed + dlrt_act_bytes(m, 64));
}

/* Hyper-parameters and the train section, for a model that trains. */
static void info_training(const dlrt_model *m) {
  if (m->nhypers)
    printf("hyper-parameters (train --NAME VALUE overrides)\n");
  for (int i = 0; i < m->nhypers; i++)
    if (strncmp(m->hypers[i].name, "bias_", 5) == 0)
      printf("  %-16s computed per step\n", m->hypers[i].name);
    else
      printf("  %-16s %.9g\n", m->hypers[i].name, m->hypers[i].value);
  if (m->ntrain)
    printf("train section\n");
  for (int i = 0; i < m->ntrain; i++)
    printf("  %-16s %s\n", m->train[i].key, m->train[i].value);
}

static int cmd_info(Prog *p, int argc, char **argv) {
  const dlrt_model *m = &p->m;
  if (!parse_flags("info", argc, argv, NULL, 0))
    return 1;
  printf("model      %s\n", m->name);
  printf("dlc        %s\n", m->dlc_version);
  printf("signature  %016" PRIx64 "\n", m->signature);
  printf("entries   ");
  for (int e = 0; e < DLRT_ENTRIES; e++)
    if (m->entry[e].present)
      printf(" %s", dlrt_entry_name(e));
  printf("\n\n");
  const dlrt_entry *fwd = &m->entry[DLRT_E_FORWARD];
  info_tensors("inputs", m->inputs, m->ninputs, m);
  info_tensors("outputs", fwd->out, fwd->nout, NULL);
  if (m->decode.present)
    info_tensors(NULL, &m->decode.answer, 1, m);
  info_tensors("parameters", m->params, m->nparams, NULL);
  info_total(m->params, m->nparams);
  if (m->nstates) {
    info_tensors("optimiser state (zero at the start of training)", m->states, m->nstates,
                 NULL);
    info_total(m->states, m->nstates);
  }
  info_training(m);
  printf("\n");
  info_memory(m);
  return 0;
}

/* ---- init ---------------------------------------------------------------- */

static int cmd_init(Prog *p, int argc, char **argv) {
  uint64_t seed = 1;
  const char *out = NULL;
  Flag flags[] = {
    {.name = "--seed", .kind = F_U64, .dst = &seed},
    {.name = "-o", .kind = F_STR, .dst = &out},
  };
  char err[DLRT_ERR_LEN], seedstr[32];
  dlrt_frame f;
  if (!parse_flags("init", argc, argv, flags, 2))
    return 1;
  if (!out)
    return error("init: -o FILE is required (where to write the checkpoint)");
  if (!dlrt_frame_alloc(&f, &p->m, 1, err))
    return error("init: %s", err);
  int64_t total = 0;
  dlrt_init_weights(&f, &p->m, seed);
  for (int i = 0; i < p->m.nparams; i++)
    total += dlrt_numel(&p->m.params[i], 1);
  snprintf(seedstr, sizeof seedstr, "%" PRIu64, seed);
  dlrt_kv meta = {.key = "seed"};
  snprintf(meta.value, sizeof meta.value, "%s", seedstr);
  bool ok = dlrt_frame_save_weights(&f, &p->m, &meta, 1, out, err);
  dlrt_frame_free(&f);
  if (!ok)
    return error("%s", err);
  printf("wrote %s: model %s, %d parameters, %" PRId64 " values, seed %s\n",
         out, p->m.name, p->m.nparams, total, seedstr);
  return 0;
}

/* ---- predict: inputs ----------------------------------------------------- */

/* A data file bound to a model input, converted to the input's dtype. An
 * input with a batch dimension (first: [kN, ...]) gets samples [b, b+n) of
 * the file in each batch; one without gets the whole file every time. */
typedef struct Feed {
  const dlrt_tensor *t;
  const char *path;
  dlrt_array a;
  int64_t per;     /* elements per sample; 0: no batch dimension */
  int64_t count;   /* samples in the file */
} Feed;

typedef struct Predict {
  const char *weights, *out_path, *output, *labels_path;
  StrList inputs;
  int64_t batch, limit, threads;
  Feed feed[MAX_LIST];
  int nfeed;
  const dlrt_tensor *out;  /* the selected output */
  bool whole;              /* one batch of all samples: the output is not
                              [N, ...], so batches would not concatenate */
  int64_t per_out;         /* output elements per sample (not whole) */
  int64_t S;               /* samples to run */
  dlrt_array labels;       /* i32, when --labels */
  char *result;            /* -o: every output element */
  bool decoding;           /* the model decodes (decode.c): each batch is
                              decoded, its feed made, not read */
  bool answer;             /* the output is the decoded tokens */
  int32_t *tokens;         /* decoding: a batch's decoded tokens */
  int64_t correct;
} Predict;

/* The scale for byte images from the train key data.scale: "0.0039..." or
 * "1/255"; 1 when absent. */
static bool data_scale(const dlrt_model *m, double *scale) {
  const char *s = dlrt_train_get(m, "data.scale");
  char *end;
  *scale = 1.0;
  if (!s)
    return true;
  *scale = strtod(s, &end);
  if (end != s && *end == '/') {
    const char *d = end + 1;
    double den = strtod(d, &end);
    *scale = end != d && den != 0 ? *scale / den : NAN;
  }
  if (end == s || *end || !isfinite(*scale))
    return fail("the model's train key data.scale is not a number: '%s'", s);
  return true;
}

/* Convert fd->a in place to the input's dtype; byte images (u8 in the
 * file) become f32 times scale. */
static bool convert_feed(Feed *fd, double scale) {
  dlrt_array *a = &fd->a;
  int64_t n = dlrt_array_numel(a);
  bool bytes = strcmp(a->src_type, "u8") == 0;
  if (fd->t->dtype == DLRT_F32) {
    float *f = a->data;
    for (int64_t i = 0; a->dtype == DLRT_I32 && i < n; i++)
      f[i] = (float)((int32_t *)a->data)[i];
    for (int64_t i = 0; bytes && scale != 1.0 && i < n; i++)
      f[i] = (float)(f[i] * scale);
  } else {
    int32_t *o = a->data;
    for (int64_t i = 0; a->dtype == DLRT_F32 && i < n; i++) {
      float v = ((float *)a->data)[i];
      if (v != floorf(v) || fabsf(v) > 2147483520.0f)
        return fail("%s: element %" PRId64 " (%g) is not an integer, but input "
                     "'%s' is i32", fd->path, i, v, fd->t->name);
      o[i] = (int32_t)v;
    }
  }
  a->dtype = fd->t->dtype;
  return true;
}

/* Sample count of a file for a tensor [kN, ...] whose samples have `per`
 * elements: the first dimension / k when it is a multiple of k and the
 * rest make up the sample, or 1 when the whole file is one sample; -1
 * when neither. */
static int64_t sample_count(const dlrt_array *a, int64_t k, int64_t per) {
  int64_t n = dlrt_array_numel(a);
  if (a->rank >= 1 && a->dim[0] == 0)
    return 0;
  if (a->rank >= 1 && a->dim[0] % k == 0 && n / a->dim[0] * k == per)
    return a->dim[0] / k;
  return n == per ? 1 : -1;
}

static const char *array_shape(const dlrt_array *a, char *buf, size_t cap) {
  dlrt_tensor t = {.rank = a->rank};
  memcpy(t.dim, a->dim, sizeof t.dim);
  return shape_str(&t, buf, cap);
}

static bool load_feed(Feed *fd, double scale) {
  char err[DLRT_ERR_LEN], s1[128], s2[128];
  const dlrt_tensor *t = fd->t;
  bool batched = t->rank >= 1 && t->dim[0] < 0;
  for (int i = 1; i < t->rank; i++)
    if (t->dim[i] < 0)
      return fail("input '%s' %s: predict needs the batch dimension first",
                  t->name, shape_str(t, s1, sizeof s1));
  if (!dlrt_array_load(fd->path, t->dtype == DLRT_I32, &fd->a, err))
    return fail("%s", err);
  fd->per = batched ? dlrt_numel(t, 1) : 0;
  fd->count = batched ? sample_count(&fd->a, -t->dim[0], fd->per) : 1;
  if (!batched && dlrt_array_numel(&fd->a) != dlrt_numel(t, 1))
    return fail("%s: shape %s does not match input '%s' %s", fd->path,
                array_shape(&fd->a, s2, sizeof s2), t->name, shape_str(t, s1, sizeof s1));
  if (fd->count < 0)
    return fail("%s: shape %s does not hold samples of input '%s' %s (%" PRId64
                 " values each)", fd->path, array_shape(&fd->a, s2, sizeof s2),
                 t->name, shape_str(t, s1, sizeof s1), fd->per);
  return convert_feed(fd, scale);
}

/* The tensor of ts[0..n) called name[0..len), or NULL. */
static const dlrt_tensor *find_tensor(const dlrt_tensor *ts, int n, const char *name,
                                      size_t len) {
  for (int i = 0; i < n; i++)
    if (strlen(ts[i].name) == len && strncmp(ts[i].name, name, len) == 0)
      return &ts[i];
  return NULL;
}

static Feed *find_feed(Predict *pr, const dlrt_tensor *t) {
  for (int i = 0; i < pr->nfeed; i++)
    if (pr->feed[i].t == t)
      return &pr->feed[i];
  return NULL;
}

/* The input of entry e named by "NAME=FILE" (and *path = FILE), or NULL
 * (and *path = arg) when arg does not start with such a name and '='. */
static const dlrt_tensor *named_input(const dlrt_entry *e, const char *arg,
                                      const char **path) {
  const char *eq = strchr(arg, '=');
  const dlrt_tensor *t = eq ? find_tensor(e->in, e->nin, arg, (size_t)(eq - arg)) : NULL;
  *path = t ? eq + 1 : arg;
  return t;
}

/* Whether t is an input predict must be given: data, not made by
 * decoding. */
static bool wanted(const dlrt_model *m, const dlrt_tensor *t) {
  return !t->label && !(m->decode.present && strcmp(t->name, m->decode.feed) == 0);
}

static bool add_feed(Predict *pr, const dlrt_tensor *t, const char *path) {
  if (find_feed(pr, t))
    return fail("predict: input '%s' is given twice", t->name);
  pr->feed[pr->nfeed++] = (Feed){.t = t, .path = path};
  return true;
}

/* Bind each --input to an input of the forward entry e: "NAME=FILE" by
 * name, then each plain FILE to the first data input still unbound. Every
 * data input the entry reads must be bound. The Feed's tensor is the
 * entry's placed input. */
static bool bind_inputs(Predict *pr, const dlrt_model *m, const dlrt_entry *e) {
  const StrList *in = &pr->inputs;
  const char *path, *eq;
  const dlrt_tensor *t;
  for (int i = 0; i < in->n; i++) {
    if ((t = named_input(e, in->v[i], &path)) && !t->label && !wanted(m, t))
      return fail("predict: input '%s' is the decoder's feed, which decoding makes: "
                  "give only the other inputs", t->name);
    if (t && !add_feed(pr, t, path))
      return false;
  }
  for (int i = 0; i < in->n; i++) {
    if (named_input(e, in->v[i], &path))
      continue;
    if ((eq = strchr(path, '=')) &&
        (t = find_tensor(m->inputs, m->ninputs, path, (size_t)(eq - path))))
      return fail("predict: the forward entry does not read input '%s'", t->name);
    t = NULL;
    for (int k = 0; !t && k < e->nin; k++)
      if (wanted(m, &e->in[k]) && !find_feed(pr, &e->in[k]))
        t = &e->in[k];
    if (!t)
      return fail("predict: more --input files than the model has data inputs "
                  "(%s is left over)", path);
    add_feed(pr, t, path);
  }
  for (int k = 0; k < e->nin; k++)
    if (wanted(m, &e->in[k]) && !find_feed(pr, &e->in[k]))
      return fail("predict: no data for input '%s' (--input %s=FILE)",
                  e->in[k].name, e->in[k].name);
  return true;
}

/* Load every bound file; all must hold the same number of samples. The
 * model's first input gets the normalisation of data.mean and data.std. */
static bool load_feeds(Predict *pr, const dlrt_model *m, double scale) {
  char err[DLRT_ERR_LEN];
  for (int i = 0; i < pr->nfeed; i++) {
    Feed *fd = &pr->feed[i];
    if (!load_feed(fd, scale))
      return false;
    if (fd->per && fd->t->dtype == DLRT_F32 && strcmp(fd->t->name, m->inputs[0].name) == 0 &&
        !dlrt_data_normalise(m, "data", fd->a.data, fd->count, false, err))
      return fail("%s", err);
  }
  const Feed *first = NULL;
  for (int i = 0; i < pr->nfeed; i++) {
    const Feed *fd = &pr->feed[i];
    if (fd->per && !first)
      first = fd;
    else if (fd->per && fd->count != first->count)
      return fail("%s has %" PRId64 " samples but %s has %" PRId64, fd->path,
                  fd->count, first->path, first->count);
  }
  pr->S = first ? first->count : 1;
  if (pr->limit > 0 && pr->limit < pr->S)
    pr->S = pr->limit;
  if (pr->S == 0)
    return fail("%s: no samples", first->path);
  return true;
}

/* ---- predict: outputs ---------------------------------------------------- */

/* The output to keep: --output, else the decoded tokens of a model that
 * decodes, else the first. */
static bool select_output(Predict *pr, const dlrt_model *m, const dlrt_entry *e) {
  if (e->nout == 0)
    return fail("predict: the model has no outputs");
  pr->out = &e->out[0];
  pr->decoding = m->decode.present;
  pr->answer = pr->decoding && (!pr->output || strcmp(pr->output, m->decode.output) == 0);
  if (pr->answer)
    pr->out = &m->decode.answer;
  else if (pr->output) {
    pr->out = NULL;
    for (int i = 0; i < e->nout && !pr->out; i++)
      if (strcmp(e->out[i].name, pr->output) == 0)
        pr->out = &e->out[i];
    if (!pr->out)
      return fail("predict: the model has no output '%s'", pr->output);
  }
  return true;
}

/* Batches of --batch samples (default 256) when the output is [N, ...] and
 * every batched input [N, ...]; otherwise one batch of all samples. */
static bool plan_batches(Predict *pr) {
  char s[128];
  const dlrt_tensor *o = pr->out;
  pr->whole = o->rank < 1 || o->dim[0] != -1;
  for (int i = 0; i < pr->nfeed; i++)
    pr->whole |= pr->feed[i].per && pr->feed[i].t->dim[0] != -1;
  if (pr->whole && pr->batch && pr->batch < pr->S)
    return fail("predict: output '%s' %s is not one row per sample, so the %" PRId64
                " samples must run as one batch: drop --batch", o->name,
                shape_str(o, s, sizeof s), pr->S);
  if (!pr->batch || pr->whole)
    pr->batch = pr->whole ? pr->S : 256;
  pr->per_out = pr->whole ? 0 : dlrt_numel(o, 1);
  return true;
}

/* Labels for accuracy: one integer per sample, at least S of them, each a
 * class of the (rank-2) output. */
static bool load_labels(Predict *pr) {
  char err[DLRT_ERR_LEN], s[128];
  const char *path = pr->labels_path;
  if (pr->answer)
    return fail("predict: --labels scores classes; the decoded sequences of '%s' are "
                "scored by eval (exact-sequence and token accuracy)", pr->out->name);
  if (pr->out->rank != 2 || pr->out->dim[0] != -1)
    return fail("predict: --labels needs an output of class scores [N, C]; "
                "'%s' is %s", pr->out->name, shape_str(pr->out, s, sizeof s));
  if (!dlrt_array_load(path, true, &pr->labels, err))
    return fail("%s", err);
  dlrt_array *a = &pr->labels;
  int64_t n = sample_count(a, 1, 1), C = pr->out->dim[1];
  if (n < 0 || a->dtype != DLRT_I32)
    return fail("%s: labels must be one integer per sample (got %s data, shape %s)",
                path, a->src_type, array_shape(a, s, sizeof s));
  if (n < pr->S)
    return fail("%s: %" PRId64 " labels for %" PRId64 " samples", path, n, pr->S);
  for (int64_t i = 0; i < pr->S; i++) {
    int32_t v = ((int32_t *)a->data)[i];
    if (v < 0 || v >= C)
      return fail("%s: label %d of sample %" PRId64 " is not a class 0..%" PRId64,
                  path, v, i, C - 1);
  }
  return true;
}

/* Index of the largest of n values (the first on ties; NaN never wins). */
static int64_t argmax(const dlrt_tensor *t, const void *v, int64_t n, double *best) {
  int64_t k = -1;
  *best = NAN;
  for (int64_t i = 0; i < n; i++) {
    double x = t->dtype == DLRT_I32 ? ((const int32_t *)v)[i] : ((const float *)v)[i];
    if (!isnan(x) && (k < 0 || x > *best)) {
      k = i;
      *best = x;
    }
  }
  return k < 0 ? 0 : k;
}

/* "g: v0 v1 ..." for n values of type t. */
static void print_values(const dlrt_tensor *t, int64_t g, const void *y, int64_t n) {
  printf("%" PRId64 ":", g);
  for (int64_t i = 0; i < n; i++)
    if (t->dtype == DLRT_I32)
      printf(" %d", ((const int32_t *)y)[i]);
    else
      printf(" %.6g", ((const float *)y)[i]);
  printf("\n");
}

/* Sample g: its class for class scores [N, C], else its values. */
static void print_sample(const Predict *pr, int64_t g, const void *y) {
  const dlrt_tensor *t = pr->out;
  double best;
  if (t->rank == 2 && !pr->answer) {
    int64_t k = argmax(t, y, pr->per_out, &best);
    printf("%" PRId64 ": class %" PRId64 "  (value %.6g)\n", g, k, best);
  } else {
    print_values(t, g, y, pr->per_out);
  }
}

/* Elements of the whole output for the S samples; -1 on overflow. */
static int64_t output_elems(const Predict *pr) {
  int64_t n = 1;
  for (int i = 0; i < pr->out->rank; i++) {
    int64_t d = pr->out->dim[i];
    if ((d < 0 && __builtin_mul_overflow(-d, pr->S, &d)) || __builtin_mul_overflow(n, d, &n))
      return -1;
  }
  return n;
}

/* Handle the outputs of samples [b, b + n): keep, print, score. An output
 * of the whole run prints one line per row of its last dimension. */
static void take_outputs(Predict *pr, const dlrt_frame *f, int64_t b, int64_t n) {
  const char *y = pr->answer ? (const char *)pr->tokens : dlrt_tensor_addr(f, pr->out);
  if (pr->whole) {
    int64_t total = output_elems(pr), row = pr->out->rank ? pr->out->dim[pr->out->rank - 1] : 1;
    if (pr->result)
      memcpy(pr->result, y, (size_t)total * 4);
    for (int64_t r = 0; !pr->result && r < total / row; r++)
      print_values(pr->out, r, y + (size_t)(r * row) * 4, row);
    return;
  }
  size_t bytes = (size_t)pr->per_out * 4;
  if (pr->result)
    memcpy(pr->result + (size_t)b * bytes, y, (size_t)n * bytes);
  for (int64_t s = 0; s < n; s++) {
    if (!pr->result)
      print_sample(pr, b + s, y + (size_t)s * bytes);
    if (pr->labels.data) {
      double best;
      int64_t k = argmax(pr->out, y + (size_t)s * bytes, pr->per_out, &best);
      pr->correct += k == ((int32_t *)pr->labels.data)[b + s];
    }
  }
}

/* ---- predict: running ---------------------------------------------------- */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Run the model over all S samples in batches, the last one smaller. */
static void run_batches(Predict *pr, Prog *p, dlrt_frame *f) {
  int64_t cap = f->N;
  for (int64_t b = 0; b < pr->S; b += cap) {
    int64_t n = pr->S - b < cap ? pr->S - b : cap;
    dlrt_frame_enter(f, &p->m, DLRT_E_FORWARD, n);
    for (int i = 0; i < pr->nfeed; i++) {
      const Feed *fd = &pr->feed[i];
      size_t bytes = (size_t)fd->per * 4;
      if (fd->per)
        memcpy(dlrt_tensor_addr(f, fd->t), (char *)fd->a.data + (size_t)b * bytes,
               (size_t)n * bytes);
      else
        memcpy(dlrt_tensor_addr(f, fd->t), fd->a.data,
               (size_t)dlrt_array_numel(&fd->a) * 4);
    }
    if (pr->decoding)
      dlrt_decode_run(f, &p->m, p->entry[DLRT_E_FORWARD], pr->tokens);
    else
      p->entry[DLRT_E_FORWARD](f);
    take_outputs(pr, f, b, n);
  }
  f->N = cap;
}

/* Refuse an output path that cannot be written before the work is done. */
static bool check_writable(const char *path) {
  char dir[4096];
  const char *slash = strrchr(path, '/');
  size_t n = slash ? (size_t)(slash - path) : 0;
  if (n >= sizeof dir)
    return fail("%s: path too long", path);
  memcpy(dir, path, n);
  strcpy(dir + n, slash ? (n ? "" : "/") : ".");
  if (access(dir, W_OK) != 0)
    return fail("%s: cannot create: %s", path, strerror(errno));
  return true;
}

static bool write_result(const Predict *pr) {
  char err[DLRT_ERR_LEN], s[128];
  dlrt_array a = {.dtype = pr->out->dtype, .rank = pr->out->rank, .data = pr->result};
  for (int i = 0; i < a.rank; i++)
    a.dim[i] = pr->out->dim[i] < 0 ? -pr->out->dim[i] * pr->S : pr->out->dim[i];
  if (!dlrt_npy_save(pr->out_path, &a, err))
    return fail("%s", err);
  printf("wrote %s: output '%s' %s %s\n", pr->out_path, pr->out->name,
         dlrt_dtype_name(a.dtype), array_shape(&a, s, sizeof s));
  return true;
}

/* Everything of predict after the flags; pr owns what it loads (freed by
 * the caller, also on failure). */
static bool predict(Predict *pr, Prog *p, dlrt_ckpt *c, dlrt_frame *f) {
  char err[DLRT_ERR_LEN];
  double scale, t0;
  if (pr->weights && (!dlrt_ckpt_load(pr->weights, c, err) ||
                      !dlrt_ckpt_check_model(&p->m, c, pr->weights, err)))
    return fail("%s", err);
  const dlrt_entry *fwd = &p->m.entry[DLRT_E_FORWARD];
  if (!select_output(pr, &p->m, fwd) || !data_scale(&p->m, &scale) ||
      !bind_inputs(pr, &p->m, fwd) || !load_feeds(pr, &p->m, scale) || !plan_batches(pr) ||
      (pr->labels_path && !load_labels(pr)))
    return false;
  int64_t nout = output_elems(pr);
  if (pr->out_path && !check_writable(pr->out_path))
    return false;
  if (pr->out_path && (nout < 0 || nout > INT64_MAX / 4 ||
                       !(pr->result = malloc(nout ? (size_t)nout * 4 : 1))))
    return fail("predict: out of memory for %" PRId64 " samples of output '%s'",
                pr->S, pr->out->name);
  if (!dlrt_frame_alloc(f, &p->m, pr->batch < pr->S ? pr->batch : pr->S, err) ||
      (pr->weights && !dlrt_frame_load_weights(f, &p->m, c, pr->weights, err)))
    return fail("%s", err);
  if (pr->decoding &&
      !(pr->tokens = malloc(sizeof *pr->tokens * (size_t)(f->N * p->m.decode.T))))
    return fail("predict: out of memory for the decoded tokens");
  dlrt_pool_init((int)pr->threads);
  t0 = now();
  run_batches(pr, p, f);
  t0 = now() - t0;
  fprintf(stderr, "predict: %" PRId64 " samples in %.3f s (%.0f/s), batch %"
          PRId64 ", %d threads\n", pr->S, t0, (double)pr->S / (t0 > 0 ? t0 : 1e-9),
          f->N, dlrt_pool_threads());
  dlrt_pool_shutdown();
  if (pr->labels.data)
    printf("accuracy: %.4f (%" PRId64 "/%" PRId64 ")\n",
           (double)pr->correct / (double)pr->S, pr->correct, pr->S);
  return !pr->out_path || write_result(pr);
}

/* ./m bench: the speed of the forward entry (or with --train, of one
 * training step: forward, backward and update) on seeded weights and
 * inputs, with no file I/O in the timed loop: the median latency of one
 * call and the samples per second at that batch size. */
static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int cmd_bench(Prog *p, int argc, char **argv) {
  int64_t batch = 1, iters = 1000, threads = 0;
  bool train = false;
  Flag flags[] = {
    {.name = "--batch", .kind = F_INT, .dst = &batch, .lo = 1, .hi = DLRT_MAX_BATCH},
    {.name = "--iters", .kind = F_INT, .dst = &iters, .lo = 1, .hi = 100000000},
    {.name = "--threads", .kind = F_INT, .dst = &threads, .lo = 0, .hi = 1024},
    {.name = "--train", .kind = F_BOOL, .dst = &train},
  };
  char err[DLRT_ERR_LEN];
  dlrt_frame f;
  if (!parse_flags("bench", argc, argv, flags, sizeof flags / sizeof flags[0]))
    return 1;
  int kind = train ? DLRT_E_TRAIN : DLRT_E_FORWARD;
  if (!p->m.entry[kind].present || !p->entry[kind])
    return error("bench: --train: the model has no train section");
  if (!dlrt_frame_alloc(&f, &p->m, batch, err))
    return error("bench: %s", err);
  dlrt_init_weights(&f, &p->m, 1);
  dlrt_frame_enter(&f, &p->m, kind, batch);
  const dlrt_entry *e = &p->m.entry[kind];
  if (train) { /* the train section's hyper-parameters */
    double base[DLRT_HYPERS] = {0}, lr = 0;
    for (int i = 0; i < p->m.nhypers; i++) {
      base[p->m.hypers[i].slot] = p->m.hypers[i].value;
      if (strcmp(p->m.hypers[i].name, "lr") == 0) lr = p->m.hypers[i].value;
    }
    dlrt_hypers_fill(f.hyper, &p->m, base, lr, 0);
  }
  dlrt_rng r;
  dlrt_rng_seed(&r, 1);
  for (int i = 0; i < e->nin; i++) { /* inputs in [0, 1); labels 0 */
    const dlrt_tensor *t = &e->in[i];
    if (t->dtype != DLRT_F32) continue;
    float *x = dlrt_tensor_addr(&f, t);
    for (int64_t j = 0; j < dlrt_numel(t, batch); j++) x[j] = (float)dlrt_rng_uniform(&r);
  }
  dlrt_pool_init((int)threads);
  double *dt = malloc(sizeof *dt * (size_t)iters);
  if (!dt) return error("bench: out of memory");
  for (int64_t i = 0; i < iters / 10 + 1; i++) p->entry[kind](&f); /* warm up */
  double t0 = now();
  for (int64_t i = 0; i < iters; i++) {
    double t = now();
    p->entry[kind](&f);
    dt[i] = now() - t;
  }
  double total = now() - t0;
  qsort(dt, (size_t)iters, sizeof *dt, cmp_double);
  printf("bench: %s, batch %" PRId64 ", %" PRId64 " calls, %d threads\n",
         train ? "training step" : "forward", batch, iters, dlrt_pool_threads());
  printf("latency_us %.2f\n", dt[iters / 2] * 1e6);
  printf("samples_per_s %.0f\n", (double)batch * (double)iters / total);
  dlrt_pool_shutdown();
  free(dt);
  dlrt_frame_free(&f);
  return 0;
}

static int cmd_predict(Prog *p, int argc, char **argv) {
  Predict pr = {.batch = 0};   /* 0: not given */
  Flag flags[] = {
    {.name = "--weights", .kind = F_STR, .dst = &pr.weights},
    {.name = "--input", .kind = F_LIST, .dst = &pr.inputs},
    {.name = "-o", .kind = F_STR, .dst = &pr.out_path},
    {.name = "--output", .kind = F_STR, .dst = &pr.output},
    {.name = "--labels", .kind = F_STR, .dst = &pr.labels_path},
    {.name = "--batch", .kind = F_INT, .dst = &pr.batch, .lo = 1, .hi = DLRT_MAX_BATCH},
    {.name = "--limit", .kind = F_INT, .dst = &pr.limit, .lo = 1, .hi = INT64_MAX},
    {.name = "--threads", .kind = F_INT, .dst = &pr.threads, .lo = 0, .hi = 1024},
  };
  if (!parse_flags("predict", argc, argv, flags, sizeof flags / sizeof flags[0]))
    return 1;
  if (!pr.weights && p->m.nparams > 0)
    return error("predict: --weights FILE is required (the model has %d parameters)",
                 p->m.nparams);
  if (pr.inputs.n == 0)
    return error("predict: --input FILE is required");
  dlrt_ckpt c = {0};
  dlrt_frame f = {0};
  bool ok = predict(&pr, p, &c, &f);
  dlrt_frame_free(&f);
  dlrt_ckpt_free(&c);
  for (int i = 0; i < pr.nfeed; i++)
    dlrt_array_free(&pr.feed[i].a);
  dlrt_array_free(&pr.labels);
  free(pr.result);
  free(pr.tokens);
  return ok ? 0 : 1;
}

/* ---- train --------------------------------------------------------------- */

enum { MAX_KEYS = 64 };

/* "--data.images" and its alias "--data-images": dots and underscores
 * become dashes. */
static void key_flag(Flag *f, char names[2][80], const char *key, const char **dst) {
  snprintf(names[0], 80, "--%s", key);
  snprintf(names[1], 80, "--%s", key);
  for (char *c = names[1]; *c; c++)
    if (*c == '.' || *c == '_')
      *c = '-';
  *f = (Flag){.name = names[0], .alias = strcmp(names[0], names[1]) ? names[1] : NULL,
              .kind = F_STR, .dst = dst};
}

static int cmd_train(Prog *p, int argc, char **argv) {
  dlrt_train_opts o = {.threads = 0};
  const char *value[MAX_KEYS] = {0};
  char names[MAX_KEYS][2][80];
  dlrt_kv set[MAX_KEYS];
  bool check = false;
  Flag flags[MAX_KEYS + 9] = {
    {.name = "--save", .kind = F_STR, .dst = &o.save},
    {.name = "--resume", .kind = F_STR, .dst = &o.resume},
    {.name = "--log", .kind = F_STR, .dst = &o.log},
    {.name = "--plot", .kind = F_STR, .dst = &o.plot},
    {.name = "--folds", .kind = F_INT, .dst = &o.folds, .lo = 2, .hi = 1000000},
    {.name = "--limit", .kind = F_INT, .dst = &o.limit, .lo = 1, .hi = INT64_MAX},
    {.name = "--threads", .kind = F_INT, .dst = &o.threads, .lo = 0, .hi = 1024},
    {.name = "--quiet", .kind = F_BOOL, .dst = &o.quiet},
    {.name = "--check-numerics", .kind = F_BOOL, .dst = &check},
  };
  int nk = 0;
  for (const char *k; nk < MAX_KEYS && (k = dlrt_train_key(nk)); nk++)
    key_flag(&flags[9 + nk], names[nk], k, &value[nk]);
  if (!parse_flags("train", argc, argv, flags, 9 + nk))
    return 1;
  dlrt_checking_numerics = check;
  memcpy(o.entry, p->entry, sizeof o.entry);
  o.threads_given = flags[6].seen;
  for (int i = 0; i < nk; i++)
    if (value[i]) {
      snprintf(set[o.nset].key, sizeof set->key, "%s", dlrt_train_key(i));
      if (snprintf(set[o.nset].value, sizeof set->value, "%s", value[i]) >= (int)sizeof set->value)
        return error("train: --%s: the value is longer than 255 characters", set[o.nset].key);
      o.nset++;
    }
  o.set = set;
  return dlrt_train(&p->m, &o);
}

/* ---- eval ---------------------------------------------------------------- */

typedef struct Eval {
  const char *weights, *images, *labels;
  int64_t batch, limit, threads;
} Eval;

/* The confusion matrix, columns as wide as the largest count. */
static void print_confusion(const dlrt_score *s) {
  int64_t C = s->classes, most = C - 1;
  for (int64_t i = 0; i < C * C; i++)
    most = s->confusion[i] > most ? s->confusion[i] : most;
  int w = snprintf(NULL, 0, "%" PRId64, most) + 2, wl = snprintf(NULL, 0, "%" PRId64, C - 1);
  printf("confusion matrix (rows: true class, columns: predicted class)\n%*s", wl + 2, "");
  for (int64_t c = 0; c < C; c++)
    printf("%*" PRId64, w, c);
  printf("\n");
  for (int64_t r = 0; r < C; r++) {
    printf("  %*" PRId64, wl, r);
    for (int64_t c = 0; c < C; c++)
      printf("%*" PRId64, w, s->confusion[r * C + c]);
    printf("\n");
  }
}

/* text: the samples are windows of a text, and the loss the mean
 * cross-entropy per character, in nats: also shown in bits. */
static void print_score(const dlrt_score *s, bool text) {
  printf("eval: %" PRId64 " samples\nloss %.4f\n", s->n, s->loss);
  if (text)
    printf("bits per character %.4f\n", s->loss / M_LN2);
  if (s->kind == DLRT_ACC_NONE)
    return;
  printf("accuracy %.2f%% (%" PRId64 "/%" PRId64 ")", 100 * dlrt_score_accuracy(s),
         s->correct, s->n);
  if (s->kind == DLRT_ACC_BINARY)
    printf("  threshold %g (outputs %s)", s->threshold,
           s->threshold == 0.5 ? "in [0, 1]: probabilities" : "outside [0, 1]: logits");
  printf("\n");
  if (s->kind == DLRT_ACC_BINARY) {
    const char *name[4] = {"precision", "recall", "F1", "ROC AUC"};
    double v[4] = {s->precision, s->recall, s->f1, s->auc};
    for (int i = 0; i < 4; i++)
      if (isnan(v[i]))
        printf("%s%s n/a", i ? "  " : "", name[i]);
      else
        printf("%s%s %.4f", i ? "  " : "", name[i], v[i]);
    printf("  (positive: class 1)\n");
  }
  print_confusion(s);
}

/* A model that decodes: its answers decoded greedily (not teacher-forced
 * as for the loss), against the targets. */
static bool eval_decoding(Prog *p, dlrt_frame *f, const dlrt_data *d, int64_t B) {
  dlrt_decode_score s;
  if (!dlrt_decode_eval(&s, f, &p->m, p->entry[DLRT_E_FORWARD], d, B))
    return fail("eval: out of memory for the decoded tokens");
  printf("greedy decoding: exact-sequence accuracy %.2f%% (%" PRId64 "/%" PRId64 "), "
         "token accuracy %.2f%% (%" PRId64 "/%" PRId64 ")\n",
         100.0 * (double)s.exact / (double)s.n, s.exact, s.n,
         100.0 * (double)s.tokens_right / (double)s.tokens, s.tokens_right, s.tokens);
  return true;
}

/* Everything of eval after the flags; the caller frees c, d and f. */
static bool evaluate(const Eval *ev, Prog *p, dlrt_ckpt *c, dlrt_data *d,
                     dlrt_frame *f) {
  char err[DLRT_ERR_LEN];
  dlrt_model *m = &p->m;
  if (ev->weights && (!dlrt_ckpt_load(ev->weights, c, err) ||
                      !dlrt_ckpt_check_model(m, c, ev->weights, err)))
    return fail("%s", err);
  if (ev->images ? !dlrt_data_files(d, m, "test", ev->images, ev->labels, ev->limit, err)
                 : !dlrt_data_load(d, m, "test", ev->limit, err))
    return fail("%s", err);
  if (!dlrt_frame_alloc(f, m, ev->batch, err) ||
      (ev->weights && !dlrt_frame_load_weights(f, m, c, ev->weights, err)))
    return fail("%s", err);
  dlrt_score s;
  dlrt_pool_init((int)ev->threads);
  dlrt_score_begin(&s, m);
  dlrt_score_run(&s, f, m, p->entry[DLRT_E_EVAL], d, NULL, d->n, ev->batch);
  dlrt_score_end(&s);
  const char *fmt = dlrt_train_get(m, "test.format");
  print_score(&s, !ev->images && fmt && strcmp(fmt, "text") == 0);
  dlrt_score_free(&s);
  bool ok = !m->decode.present || eval_decoding(p, f, d, ev->batch);
  dlrt_pool_shutdown();
  return ok;
}

/* eval's flags, and the train keys test.* (and data.mean, data.std) as
 * flags that override the train section. */
static bool eval_flags(Prog *p, Eval *ev, int argc, char **argv) {
  char err[DLRT_ERR_LEN], names[MAX_KEYS][2][80];
  const char *value[MAX_KEYS] = {0}, *keys[MAX_KEYS];
  Flag flags[MAX_KEYS + 6] = {
    {.name = "--weights", .kind = F_STR, .dst = &ev->weights},
    {.name = "--images", .kind = F_STR, .dst = &ev->images},
    {.name = "--labels", .kind = F_STR, .dst = &ev->labels},
    {.name = "--batch", .kind = F_INT, .dst = &ev->batch, .lo = 1, .hi = DLRT_MAX_BATCH},
    {.name = "--limit", .kind = F_INT, .dst = &ev->limit, .lo = 1, .hi = INT64_MAX},
    {.name = "--threads", .kind = F_INT, .dst = &ev->threads, .lo = 0, .hi = 1024},
  };
  int nk = 0;
  for (int i = 0; nk < MAX_KEYS && dlrt_train_key(i); i++) {
    const char *k = dlrt_train_key(i);
    if (strncmp(k, "test.", 5) == 0 || !strcmp(k, "data.mean") || !strcmp(k, "data.std")) {
      keys[nk] = k;
      key_flag(&flags[6 + nk], names[nk], k, &value[nk]);
      nk++;
    }
  }
  if (!parse_flags("eval", argc, argv, flags, 6 + nk))
    return false;
  for (int i = 0; i < nk; i++)
    if (value[i] && !dlrt_train_set(&p->m, keys[i], value[i], err))
      return fail("eval: --%s: %s", keys[i], err);
  return true;
}

static int cmd_eval(Prog *p, int argc, char **argv) {
  Eval ev = {.batch = 256};
  if (!eval_flags(p, &ev, argc, argv))
    return 1;
  if (!p->m.entry[DLRT_E_EVAL].present || !p->entry[DLRT_E_EVAL])
    return error("eval: model '%s' has no eval entry: its .dlm file has no train "
                 "section with a loss (predict --labels gives the accuracy)", p->m.name);
  if (!ev.weights && p->m.nparams > 0)
    return error("eval: --weights FILE is required (the model has %d parameters)",
                 p->m.nparams);
  if (!ev.images && (ev.labels || !dlrt_data_configured(&p->m, "test")))
    return error("eval: no test data: give --images FILE%s (the train section has none)",
                 p->m.ninputs > 1 ? " --labels FILE" : "");
  dlrt_ckpt c = {0};
  dlrt_data d = {0};
  dlrt_frame f = {0};
  bool ok = evaluate(&ev, p, &c, &d, &f);
  dlrt_frame_free(&f);
  dlrt_data_free(&d);
  dlrt_ckpt_free(&c);
  return ok ? 0 : 1;
}

/* ---- generate ------------------------------------------------------------ */

static int cmd_generate(Prog *p, int argc, char **argv) {
  dlrt_generate_opts o = {.forward = p->entry[DLRT_E_FORWARD], .seed = 1, .length = 200,
                          .temperature = 1, .threads = 1};
  const char *temp = NULL;
  Flag flags[] = {
    {.name = "--weights", .kind = F_STR, .dst = &o.weights},
    {.name = "--seed", .kind = F_U64, .dst = &o.seed},
    {.name = "--length", .kind = F_INT, .dst = &o.length, .lo = 0, .hi = 100000000},
    {.name = "--prime", .kind = F_STR, .dst = &o.prime},
    {.name = "--temperature", .kind = F_STR, .dst = &temp},
    {.name = "--threads", .kind = F_INT, .dst = &o.threads, .lo = 0, .hi = 1024},
  };
  if (!parse_flags("generate", argc, argv, flags, sizeof flags / sizeof flags[0]))
    return 1;
  if (temp && (!dlrt_parse_number(temp, &o.temperature) || !(o.temperature > 0)))
    return error("generate: --temperature: '%s' is not a number > 0", temp);
  if (!o.weights)
    return error("generate: --weights FILE is required (a trained checkpoint: "
                 "train --save FILE)");
  return dlrt_generate(&p->m, &o);
}

/* ---- main ---------------------------------------------------------------- */

static bool wants_help(int argc, char **argv) {
  for (int i = 0; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
      return true;
  return false;
}

int main(int argc, char **argv) {
  Prog p = {.name = argc > 0 ? argv[0] : "model",
            .entry = {dlrt_forward, dlrt_eval, dlrt_train_step}};
  char err[DLRT_ERR_LEN];
  if (!dlrt_manifest_parse(&p.m, dlrt_manifest, err))
    return error("this program's embedded manifest is invalid (a dlc bug): %s", err);
  const char *cmd = argc > 1 ? argv[1] : "help";
  int rc, n = argc > 1 ? argc - 2 : 0;
  char **rest = argv + 2;
  if (strcmp(cmd, "help") == 0 || wants_help(n, rest)) {
    usage(&p, stdout);
    rc = 0;
  } else if (strcmp(cmd, "info") == 0) {
    rc = cmd_info(&p, n, rest);
  } else if (strcmp(cmd, "init") == 0) {
    rc = cmd_init(&p, n, rest);
  } else if (strcmp(cmd, "predict") == 0) {
    rc = cmd_predict(&p, n, rest);
  } else if (strcmp(cmd, "train") == 0) {
    rc = cmd_train(&p, n, rest);
  } else if (strcmp(cmd, "eval") == 0) {
    rc = cmd_eval(&p, n, rest);
  } else if (strcmp(cmd, "bench") == 0) {
    rc = cmd_bench(&p, n, rest);
  } else if (strcmp(cmd, "generate") == 0) {
    rc = cmd_generate(&p, n, rest);
  } else {
    error("unknown command '%s'", cmd);
    usage(&p, stderr);
    rc = 2;
  }
  dlrt_model_free(&p.m);
  if (fflush(stdout) != 0)
    rc = error("cannot write the output: %s", strerror(errno));
  return rc;
}
