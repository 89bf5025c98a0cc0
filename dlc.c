/* dlc.c — the compiler driver: the command line of dlc.
 *
 *   dlc check  FILE.dlm                      parse and check, report errors
 *   dlc dump   FILE [--after PASS|all] [--format text|dot] [--emit kir|llvm]
 *              [--target cpu|cuda]           (the passes of that target)
 *   dlc opt    --passes=a,b FILE.ir          run passes on IR text
 *   dlc build  FILE.dlm -o EXE [--stats]     compile to a native executable
 *              [--target cpu|cuda]           (cuda: kernels as PTX, see doc/cuda.txt)
 *   dlc run    FILE --weights W --input X    the reference interpreter
 *   dlc header FILE.dlm --weights W -o M.h   the network as a C header
 *
 * The one idea: every command is the same pipeline (load, passes, lower,
 * emit) stopped at a different point, so what `dump` shows is exactly what
 * `build` compiles.
 */
#include "codegen.h"
#include "dlrt.h"
#include "frontend.h"
#include "passes.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct Opts {
  const char *cmd, *file, *out, *after, *format, *emit, *passes, *weights, *graph;
  const char *inputs[16];
  int ninputs;
  const char *output_name;
  const char *disabled[32];
  int ndisabled;
  bool verify_each, stats;
  int64_t limit;       /* run: use only the first samples; gradcheck: N */
  int samples;         /* gradcheck: elements checked per parameter */
  const char *mode;    /* run: predict (default) or train */
  int64_t step, seed;  /* run --mode train: the step's counter and seed */
  int opt_level;
  const char *emit_llvm, *keep_obj;
  const char *prefix;  /* header: symbol prefix */
  int64_t batch;       /* header: samples per call */
  bool seeded;         /* --seed given */
  const char *quantize;/* header: none or int8 */
  int64_t max_memory;  /* build: refuse a plan above this many bytes; 0: no limit */
  const char *target;  /* build: cpu (default) or cuda */
  const char *gpu_arch;/* build --target cuda: sm_80 (default) ... */
  const char *emit_cuda, *emit_ptx;
} Opts;

static void usage(FILE *f) {
  fprintf(f,
          "usage: dlc COMMAND [options] FILE\n"
          "\n"
          "commands:\n"
          "  check FILE.dlm              parse and check a model; report every error\n"
          "  dump FILE [--after PASS|all] [--graph forward|eval|train] [--format text|dot]\n"
          "            [--emit ir|kir|llvm|cuda] [--target cpu|cuda] [-o OUT]\n"
          "                              print the IR (after a pass), the kernels or LLVM IR\n"
          "  opt --passes=a,b FILE       run passes on a model or IR text, print the IR\n"
          "  build FILE.dlm -o EXE [--stats] [-O0..3] [--emit-llvm F] [--keep-obj F]\n"
          "        [--max-memory BYTES[k|M|G]]\n"
          "        [--target cpu|cuda] [--gpu-arch sm_80] [--emit-cuda F] [--emit-ptx F]\n"
          "                              compile to a native executable (cuda: the kernels\n"
          "                              run on an NVIDIA GPU through the CUDA driver)\n"
          "  run FILE --weights W.ckpt --input [NAME=]X [-o OUT.npy] [--output NAME] [--limit K]\n"
          "      [--mode predict|train [--step S] [--seed K]]\n"
          "                              evaluate with the reference interpreter\n"
          "  gradcheck FILE [--weights W.ckpt] [--limit N] [--samples K]\n"
          "                              check autodiff against central differences\n"
          "  header FILE.dlm --weights W.ckpt -o M.h [--prefix P] [--batch N] [--stats]\n"
          "         [--quantize int8]\n"
          "                              the trained network as a dependency-free C header\n"
          "                              (--seed S instead of --weights: initial weights)\n"
          "  passes                      list the passes\n"
          "\n"
          "options for every command: --verify-each, --disable-pass NAME\n"
          "dlc %s\n",
          DLC_VERSION);
}

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* A byte count "123", "64k", "512M", "2G" (powers of 1024), positive and
 * not overflowing. */
static bool parse_bytes(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  int shift = *end == 'k' || *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
  if (shift) end++;
  if (errno || end == s || *end || v <= 0 || v > (INT64_MAX >> shift)) return false;
  *out = (int64_t)v << shift;
  return true;
}

/* Parse argv into o; false after printing a message. */
static bool parse_args(int argc, char **argv, Opts *o) {
  o->cmd = argv[1];
  o->opt_level = 3;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define VALUE(dst)                                                          \
  do {                                                                      \
    if (!v) {                                                               \
      fprintf(stderr, "dlc: error: %s needs a value\n", a);                 \
      return false;                                                         \
    }                                                                       \
    dst = v;                                                                \
    i++;                                                                    \
  } while (0)
    if (strcmp(a, "-o") == 0) VALUE(o->out);
    else if (strcmp(a, "--after") == 0) VALUE(o->after);
    else if (strcmp(a, "--format") == 0) VALUE(o->format);
    else if (strcmp(a, "--emit") == 0) VALUE(o->emit);
    else if (strcmp(a, "--graph") == 0) VALUE(o->graph);
    else if (strncmp(a, "--passes=", 9) == 0) o->passes = a + 9;
    else if (strcmp(a, "--passes") == 0) VALUE(o->passes);
    else if (strcmp(a, "--weights") == 0) VALUE(o->weights);
    else if (strcmp(a, "--output") == 0) VALUE(o->output_name);
    else if (strcmp(a, "--emit-llvm") == 0) VALUE(o->emit_llvm);
    else if (strcmp(a, "--keep-obj") == 0) VALUE(o->keep_obj);
    else if (strcmp(a, "--prefix") == 0) VALUE(o->prefix);
    else if (strcmp(a, "--quantize") == 0) VALUE(o->quantize);
    else if (strcmp(a, "--target") == 0) VALUE(o->target);
    else if (strcmp(a, "--gpu-arch") == 0) VALUE(o->gpu_arch);
    else if (strcmp(a, "--emit-cuda") == 0) VALUE(o->emit_cuda);
    else if (strcmp(a, "--emit-ptx") == 0) VALUE(o->emit_ptx);
    else if (strcmp(a, "--input") == 0) {
      if (o->ninputs == 16) { fprintf(stderr, "dlc: error: too many --input\n"); return false; }
      VALUE(o->inputs[o->ninputs]);
      o->ninputs++;
    } else if (strcmp(a, "--disable-pass") == 0) {
      if (o->ndisabled == 32) { fprintf(stderr, "dlc: error: too many --disable-pass\n"); return false; }
      VALUE(o->disabled[o->ndisabled]);
      o->ndisabled++;
    } else if (strcmp(a, "--limit") == 0) {
      const char *lv;
      VALUE(lv);
      char *end;
      o->limit = strtoll(lv, &end, 10);
      if (*end || o->limit <= 0) {
        fprintf(stderr, "dlc: error: --limit needs a positive count, not '%s'\n", lv);
        return false;
      }
    } else if (strcmp(a, "--mode") == 0) {
      VALUE(o->mode);
    } else if (strcmp(a, "--step") == 0 || strcmp(a, "--seed") == 0) {
      const char *nv;
      VALUE(nv);
      char *end;
      int64_t x = strtoll(nv, &end, 10);
      if (*end || x < 0) {
        fprintf(stderr, "dlc: error: %s needs a non-negative integer, not '%s'\n", a, nv);
        return false;
      }
      *(a[2] == 's' && a[3] == 't' ? &o->step : &o->seed) = x;
      o->seeded |= a[3] == 'e';
    } else if (strcmp(a, "--batch") == 0) {
      const char *bv;
      VALUE(bv);
      char *end;
      o->batch = strtoll(bv, &end, 10);
      if (*end || o->batch <= 0 || o->batch > DLRT_MAX_BATCH) {
        fprintf(stderr, "dlc: error: --batch needs a count 1..%lld, not '%s'\n",
                (long long)DLRT_MAX_BATCH, bv);
        return false;
      }
    } else if (strcmp(a, "--max-memory") == 0) {
      const char *mv;
      VALUE(mv);
      if (!parse_bytes(mv, &o->max_memory)) {
        fprintf(stderr, "dlc: error: --max-memory needs a byte count (suffix k, M or G "
                        "for 2^10, 2^20, 2^30), not '%s'\n", mv);
        return false;
      }
    } else if (strcmp(a, "--samples") == 0) {
      const char *sv;
      VALUE(sv);
      o->samples = atoi(sv);
    } else if (strcmp(a, "--verify-each") == 0) o->verify_each = true;
    else if (strcmp(a, "--stats") == 0) o->stats = true;
    else if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3' && !a[3])
      o->opt_level = a[2] - '0';
    else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "dlc: error: unknown option '%s' (see dlc help)\n", a);
      return false;
    } else if (!o->file) o->file = a;
    else {
      fprintf(stderr, "dlc: error: more than one input file ('%s' and '%s')\n", o->file, a);
      return false;
    }
#undef VALUE
  }
  return true;
}

/* IR text must not hold a NUL byte: the parser would stop there and accept
 * the part before it. True after reporting the first one's position. */
static bool has_nul(const char *path, const char *text, size_t len) {
  size_t n = strlen(text);
  if (n == len) return false;
  int line = 1, col = 1;
  for (size_t i = 0; i < n; i++) {
    if (text[i] == '\n') line++, col = 1;
    else col++;
  }
  diag_error((Loc){intern(path), line, col},
             "the file contains a NUL byte (offset %zu); is it an IR text file?", n);
  return true;
}

/* Load a model from .dlm source or IR text; NULL after errors. */
static Graph *load(const char *path) {
  if (ends_with(path, ".ir")) {
    size_t len;
    char *text = read_file(path, &len);
    if (!text) {
      fprintf(stderr, "dlc: error: cannot read %s: %s\n", path, strerror(errno));
      return NULL;
    }
    if (has_nul(path, text, len)) {
      free(text);
      return NULL;
    }
    Graph *g = ir_parse(intern(path), text); /* keeps its own copy */
    free(text);
    return g;
  }
  struct stat sb;
  if (stat(path, &sb) != 0) {
    fprintf(stderr, "dlc: error: cannot read %s: %s\n", path, strerror(errno));
    return NULL;
  }
  return fe_load(path);
}

static PassOptions pass_options(const Opts *o, FILE *dump) {
  PassOptions po = {.after = o->after, .format = o->format, .dump = dump,
                    .verify_each = o->verify_each, .disabled = (const char **)o->disabled,
                    .ndisabled = o->ndisabled};
  return po;
}

static FILE *open_out(const char *path) {
  if (!path || strcmp(path, "-") == 0) return stdout;
  FILE *f = fopen(path, "w");
  if (!f) fprintf(stderr, "dlc: error: cannot write %s: %s\n", path, strerror(errno));
  return f;
}

static int close_out(FILE *f) {
  if (f == stdout) return fflush(f) == 0 ? 0 : 1;
  return fclose(f) == 0 ? 0 : 1;
}

static int cmd_check(const Opts *o) {
  Graph *g = load(o->file);
  if (!g) return 1;
  if (o->verify_each && !ir_verify(g, "frontend")) return 1;
  ir_free_graph(g);
  return 0;
}

static const char *const *pipeline_of(EntryKind k, int *n) {
  switch (k) {
  case ENT_FORWARD: *n = pipeline_infer_len; return pipeline_infer;
  case ENT_EVAL: *n = pipeline_eval_len; return pipeline_eval;
  case ENT_TRAIN: *n = pipeline_train_len; return pipeline_train;
  case ENT_COUNT: break;
  }
  die("bad entry");
}

/* Which entry `--after`/`--graph` refers to: --graph names it; a pass
 * only the training pipeline has implies train; else forward. */
static bool dump_entry(const Opts *o, EntryKind *k) {
  *k = ENT_FORWARD;
  if (o->graph) {
    for (int e = 0; e < ENT_COUNT; e++)
      if (strcmp(o->graph, entry_name[e]) == 0) {
        *k = (EntryKind)e;
        return true;
      }
    fprintf(stderr, "dlc: error: --graph must be forward, eval or train, not '%s'\n", o->graph);
    return false;
  }
  if (o->after && strcmp(o->after, "autodiff") == 0) *k = ENT_TRAIN;
  return true;
}

/* Compile entry k of src: a copy of the graph through the entry's
 * pipeline, memory planning included; dumps go to dump when this is the
 * entry being dumped. NULL after errors. */
static Graph *compile_entry(const Graph *src, EntryKind k, const Opts *o, FILE *dump,
                            bool dumped) {
  Graph *g = ir_clone(src);
  PassOptions po = pass_options(o, dump);
  if (!dumped) po.after = NULL;
  int n;
  const char *const *names = pipeline_of(k, &n);
  if (!pass_run(g, names, n, &po)) {
    ir_free_graph(g);
    return NULL;
  }
  return g;
}

/* Every entry the model has: forward always; eval and train when it has
 * a loss. Returns the count, or -1 after errors. */
static int compile_all(const Graph *src, const Opts *o, FILE *dump, Entry *e) {
  EntryKind want;
  if (!dump_entry(o, &want)) return -1;
  int n = 0;
  for (int k = 0; k < ENT_COUNT; k++) {
    if (k != ENT_FORWARD && src->loss < 0) continue;
    Graph *g = compile_entry(src, (EntryKind)k, o, dump, k == (int)want);
    if (!g) {
      for (int j = 0; j < n; j++) ir_free_graph((Graph *)e[j].g);
      return -1;
    }
    Program *p = cg_lower(g);
    cg_tile(g, p);
    e[n++] = (Entry){.kind = (EntryKind)k, .g = g, .p = p};
  }
  return n;
}

static void free_entries(Entry *e, int n) {
  for (int j = 0; j < n; j++) {
    cg_free_program((Program *)e[j].p);
    ir_free_graph((Graph *)e[j].g);
  }
}

static void skip_passes_of(Opts *o, const char *target);
static const struct Target *target_of(const Opts *o);

/* The passes and kernels of a dump are those of the target it names
 * (--target, or cuda for --emit cuda): the CUDA target leaves some out. */
static int cmd_dump(const Opts *opts) {
  const char *emit = opts->emit ? opts->emit : "ir";
  Opts q = *opts;
  if (!q.target) q.target = strcmp(emit, "cuda") == 0 ? "cuda" : "cpu";
  if (!target_of(&q)) return 1;
  if (strcmp(emit, "llvm") == 0 && strcmp(q.target, "cpu") != 0) {
    fprintf(stderr, "dlc: error: --emit llvm needs --target cpu\n");
    return 1;
  }
  if (strcmp(emit, "cuda") == 0 && strcmp(q.target, "cuda") != 0) {
    fprintf(stderr, "dlc: error: --emit cuda needs --target cuda\n");
    return 1;
  }
  skip_passes_of(&q, q.target);
  const Opts *o = &q;
  Graph *g = load(o->file);
  if (!g) return 1;
  FILE *f = open_out(o->out);
  if (!f) return 1;
  bool dot = o->format && strcmp(o->format, "dot") == 0;
  int rc = 0;
  Entry e[ENT_COUNT];
  if (strcmp(emit, "ir") == 0 && !o->after) {
    if (dot) ir_dot(f, g);
    else ir_print(f, g);
  } else if (strcmp(emit, "ir") == 0) {
    int n = compile_all(g, o, f, e);
    rc = n < 0;
    if (n > 0) free_entries(e, n);
  } else if (strcmp(emit, "kir") == 0 || strcmp(emit, "llvm") == 0 ||
             strcmp(emit, "cuda") == 0) {
    Opts k = *o;
    k.after = NULL;
    int n = compile_all(g, &k, f, e);
    if (n < 0) return 1;
    if (strcmp(emit, "kir") == 0) {
      for (int j = 0; j < n; j++) {
        fprintf(f, "# entry %s\n", entry_name[e[j].kind]);
        kir_print(f, e[j].p);
      }
    } else if (strcmp(emit, "cuda") == 0) {
      char *src = cg_cuda_source(e, n);
      fputs(src, f);
      free(src);
    } else {
      char *m = cg_manifest(e, n);
      rc = cg_llvm_print(f, e, n, m, o->opt_level) ? 0 : 1;
      free(m);
    }
    free_entries(e, n);
  } else {
    fprintf(stderr, "dlc: error: --emit must be ir, kir, llvm or cuda, not '%s'\n", emit);
    rc = 1;
  }
  rc |= close_out(f);
  ir_free_graph(g);
  return rc;
}

static int cmd_opt(const Opts *o) {
  Graph *g = load(o->file);
  if (!g) return 1;
  FILE *f = open_out(o->out);
  if (!f) return 1;
  int n = 0;
  const char **names = o->passes ? pass_split(g->arena, o->passes, &n) : NULL;
  PassOptions po = pass_options(o, f);
  int rc = pass_run(g, names, n, &po) ? 0 : 1;
  if (rc == 0 && !o->after) {
    if (o->format && strcmp(o->format, "dot") == 0) ir_dot(f, g);
    else ir_print(f, g);
  }
  rc |= close_out(f);
  ir_free_graph(g);
  return rc;
}

static double seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void print_stats(const Entry *e, int n, const BuildStats *st, double t_front,
                        double t_passes, bool cuda) {
  const Graph *g = e[0].g;
  fprintf(stderr, "dlc: %s: %d kernels, %s %lld bytes\n", g->name, st->nkernels, cuda ? "PTX" : "object",
          (long long)st->code_bytes);
  fprintf(stderr, "dlc: weights %lld bytes (%lld parameters)\n",
          (long long)g->region_k[R_WEIGHT], (long long)ir_param_count(g));
  for (int j = 0; j < n; j++) {
    const Program *p = e[j].p;
    int64_t scratch = 0;
    for (int t = 0; t < p->ntile; t++)
      if (p->tile[t].scratch > scratch) scratch = p->tile[t].scratch;
    char tiles[96] = "";
    if (p->ntile)
      snprintf(tiles, sizeof tiles, "; %d sample groups, %lld bytes of scratch per thread", p->ntile,
               (long long)scratch);
    fprintf(stderr, "dlc: %-7s arena %lld + %lld*N bytes planned, %lld + %lld*N without reuse%s\n",
            entry_name[e[j].kind], (long long)e[j].g->region_k[R_ACT],
            (long long)e[j].g->region_n[R_ACTN], (long long)e[j].g->naive_k,
            (long long)e[j].g->naive_n, tiles);
  }
  if (n == ENT_COUNT)
    fprintf(stderr, "dlc: optimizer state %lld bytes\n", (long long)e[ENT_TRAIN].g->region_k[R_STATE]);
  fprintf(stderr,
          "dlc: time: frontend %.3fs, passes %.3fs, codegen %.3fs, %s %.3fs, "
          "emit %.3fs, link %.3fs\n",
          t_front, t_passes, st->t_codegen, cuda ? "nvrtc" : "llvm opt", st->t_opt, st->t_emit,
          st->t_link);
}


static const char *train_value(const Graph *g, const char *key) {
  for (int t = 0; t < g->ntrain; t++)
    if (strcmp(g->train[t].key, key) == 0) return g->train[t].value;
  return NULL;
}

/* The memory a built program allocates to train at the train section's
 * batch size B (the runtime's default 32 without one): weights, optimiser
 * state, and the activation block, which serves every entry (the largest
 * of align64(act_k) + act_n * B, as dlrt_act_bytes computes it). Refuses
 * (false, after the message) a total above o->max_memory or one that
 * overflows 64 bits. */
static bool check_memory(const Graph *g, const Entry *e, int n, const Opts *o) {
  const char *bs = train_value(g, "batch");
  int64_t B = bs ? strtoll(bs, NULL, 10) : 32, act = 0, worst = 0, total;
  if (B <= 0) B = 1;
  bool over = false;
  for (int j = 0; j < n; j++) {
    int64_t k = (e[j].g->region_k[R_ACT] + 63) / 64 * 64, a;
    over |= __builtin_mul_overflow(e[j].g->region_n[R_ACTN], B, &a) ||
            __builtin_add_overflow(a, k, &a);
    if (!over && a > act) act = a, worst = j;
  }
  int64_t state = n == ENT_COUNT ? e[ENT_TRAIN].g->region_k[R_STATE] : 0;
  int64_t weights = e[0].g->region_k[R_WEIGHT];
  over |= __builtin_add_overflow(weights, state, &total) ||
          __builtin_add_overflow(total, act, &total);
  if (over) {
    fprintf(stderr, "dlc: error: model '%s': the memory plan at batch %lld overflows "
                    "64 bits\n", g->name, (long long)B);
    return false;
  }
  if (total <= o->max_memory) return true;
  fprintf(stderr, "dlc: error: model '%s' needs %lld bytes at batch %lld, more than "
                  "--max-memory %lld: weights %lld, optimizer state %lld, activations "
                  "%lld (the %s entry)\n", g->name, (long long)total, (long long)B,
          (long long)o->max_memory, (long long)weights, (long long)state,
          (long long)act, entry_name[e[worst].kind]);
  fprintf(stderr, "hint: a smaller batch (train section: batch = ...) needs less\n");
  return false;
}

/* ---- dlc build: the targets ---- */

/* Build the entries for the CPU: LLVM object, then the link. */
static bool build_cpu(const Opts *o, const Entry *e, int n, const char *manifest, BuildStats *st) {
  char obj[4096];
  if (o->keep_obj)
    snprintf(obj, sizeof obj, "%s", o->keep_obj);
  else
    snprintf(obj, sizeof obj, "%s.o.%ld", o->out, (long)getpid());
  BuildOptions bo = {.output = o->out, .emit_llvm = o->emit_llvm, .opt_level = o->opt_level,
                     .stats = o->stats};
  bool ok = cg_llvm_emit(e, n, manifest, &bo, obj, st) && cg_link(obj, o->out, &st->t_link);
  if (!o->keep_obj) unlink(obj);
  return ok;
}

/* Build the entries for an NVIDIA GPU: CUDA C, PTX by NVRTC, the host
 * program linked with the runtime (which loads the driver at run time). */
static bool build_cuda(const Opts *o, const Entry *e, int n, const char *manifest,
                       BuildStats *st) {
  CudaOptions co = {.output = o->out, .arch = cg_cuda_arch(o->gpu_arch ? o->gpu_arch : "sm_80"),
                    .emit_cuda = o->emit_cuda, .emit_ptx = o->emit_ptx, .keep_host = o->keep_obj};
  return cg_cuda_build(e, n, manifest, &co, st);
}

/* The targets of dlc build: the one place that lists them. A target may
 * leave passes out of its pipelines: CUDA the layout pass, whose blocked
 * convolutions are loops for a CPU's vector registers (one GPU thread
 * per output row), where convgemm's are tiled products; and tile, whose
 * sample groups keep a CPU core's tensors in its cache. */
typedef struct Target {
  const char *name;
  bool (*build)(const Opts *o, const Entry *e, int n, const char *manifest, BuildStats *st);
  const char *skip[2];  /* passes the target leaves out, or NULL */
} Target;

static const Target targets[] = {{"cpu", build_cpu, {NULL}},
                                 {"cuda", build_cuda, {"layout", "tile"}}};

static void skip_passes_of(Opts *o, const char *target) {
  for (size_t i = 0; i < sizeof targets / sizeof *targets; i++)
    for (int j = 0; j < 2; j++)
      if (strcmp(targets[i].name, target) == 0 && targets[i].skip[j] && o->ndisabled < 32)
        o->disabled[o->ndisabled++] = targets[i].skip[j];
}

/* The target o asks for, or NULL after a message. */
static const struct Target *target_of(const Opts *o) {
  const char *name = o->target ? o->target : "cpu";
  const Target *t = NULL;
  for (size_t i = 0; i < sizeof targets / sizeof *targets; i++)
    if (strcmp(targets[i].name, name) == 0) t = &targets[i];
  if (!t) {
    fprintf(stderr, "dlc: error: --target must be cpu or cuda, not '%s'\n", name);
    return NULL;
  }
  if (o->gpu_arch && (strcmp(name, "cuda") != 0 || !cg_cuda_arch(o->gpu_arch))) {
    fprintf(stderr, strcmp(name, "cuda") != 0
                        ? "dlc: error: --gpu-arch '%s' needs --target cuda\n"
                        : "dlc: error: --gpu-arch must name a compute capability such as sm_80, "
                          "not '%s'\n",
            o->gpu_arch);
    return NULL;
  }
  if ((o->emit_cuda || o->emit_ptx) && strcmp(name, "cuda") != 0) {
    fprintf(stderr, "dlc: error: --emit-cuda and --emit-ptx need --target cuda\n");
    return NULL;
  }
  return t;
}

static int cmd_build(const Opts *o) {
  if (!o->out) {
    fprintf(stderr, "dlc: error: build needs -o EXE\n");
    return 1;
  }
  const Target *t = target_of(o);
  if (!t) return 1;
  Opts q = *o;
  skip_passes_of(&q, t->name);
  o = &q;
  double t0 = seconds();
  Graph *g = load(o->file);
  if (!g) return 1;
  double t1 = seconds();
  Entry e[ENT_COUNT];
  int n = compile_all(g, o, stdout, e);
  if (n < 0) return 1;
  if (o->max_memory && !check_memory(g, e, n, o)) {
    free_entries(e, n);
    ir_free_graph(g);
    return 1;
  }
  double t2 = seconds();
  char *manifest = cg_manifest(e, n);
  BuildStats st = {0};
  bool ok = t->build(o, e, n, manifest, &st);
  if (ok && o->stats) print_stats(e, n, &st, t1 - t0, t2 - t1, t->build == build_cuda);
  free(manifest);
  free_entries(e, n);
  ir_free_graph(g);
  return ok ? 0 : 1;
}

/* ---- dlc run: the reference interpreter on files ---- */

static int64_t per_sample(const Node *n) { return shape_numel(&n->shape).k; }

/* Tensor of node n from a loaded array, N samples; false if sizes differ. */
static bool tensor_from_array(const Node *n, const dlrt_array *a, int64_t N, double scale,
                              Tensor *t, const char *what) {
  Shape s = n->shape;
  for (int i = 0; i < s.rank; i++) s.d[i] = dim_eval(s.d[i], N);
  int64_t want = numel_eval(&n->shape, N);
  if (dlrt_array_numel(a) != want && !(shape_numel(&n->shape).sym && dlrt_array_numel(a) > want &&
                                       dlrt_array_numel(a) % per_sample(n) == 0)) {
    char buf[96];
    shape_str(buf, sizeof buf, n->dtype, &n->shape);
    fprintf(stderr, "dlc: error: %s has %lld values; %s needs %lld (%s with N=%lld)\n", what,
            (long long)dlrt_array_numel(a), n->name, (long long)want, buf, (long long)N);
    return false;
  }
  *t = tensor_new(n->dtype, s);
  for (int64_t i = 0; i < want; i++)
    t->v[i] = a->dtype == DLRT_I32 ? (double)((const int32_t *)a->data)[i]
                                   : (double)((const float *)a->data)[i] * scale;
  return true;
}


/* Load --input files into tensors for every input node (missing labels are
 * zeros). Sets *N from the first file. */
static bool load_inputs(const Graph *g, const Opts *o, Tensor *in, int nin, const int *idx,
                        int64_t *N) {
  dlrt_array arr[16] = {0};
  int node_of[16];
  char err[512];
  const char *scale_s = train_value(g, "data.scale");
  for (int k = 0; k < o->ninputs; k++) {
    const char *spec = o->inputs[k], *eq = strchr(spec, '=');
    const char *path = eq ? eq + 1 : spec;
    node_of[k] = eq ? -1 : idx[k < nin ? k : 0];
    for (int j = 0; eq && j < nin; j++)
      if (strlen(g->node[idx[j]].name) == (size_t)(eq - spec) &&
          strncmp(g->node[idx[j]].name, spec, (size_t)(eq - spec)) == 0)
        node_of[k] = idx[j];
    if (node_of[k] < 0) {
      fprintf(stderr, "dlc: error: --input %s: the model has no input of that name\n", spec);
      return false;
    }
    const Node *n = &g->node[node_of[k]];
    bool ok = ends_with(path, ".csv") ? dlrt_csv_load(path, false, &arr[k], err)
                                      : dlrt_array_load(path, n->dtype == DT_I32, &arr[k], err);
    if (!ok) {
      fprintf(stderr, "dlc: error: %s\n", err);
      return false;
    }
    if (k == 0) {
      *N = dlrt_array_numel(&arr[0]) / per_sample(n);
      if (o->limit && o->limit < *N) *N = o->limit;
    }
  }
  bool ok = true;
  for (int j = 0; j < nin; j++) {
    const Node *n = &g->node[idx[j]];
    int k = 0;
    while (k < o->ninputs && node_of[k] != idx[j]) k++;
    double scale = 1;
    const char *path = k < o->ninputs ? (strchr(o->inputs[k], '=') ? strchr(o->inputs[k], '=') + 1 : o->inputs[k]) : "";
    if (k < o->ninputs && scale_s && !ends_with(path, ".npy") && !ends_with(path, ".csv"))
      scale = strtod(scale_s, NULL);
    if (k < o->ninputs) {
      ok = ok && tensor_from_array(n, &arr[k], *N, scale, &in[j], o->inputs[k]);
    } else {
      Shape s = n->shape;
      for (int i = 0; i < s.rank; i++) s.d[i] = dim_eval(s.d[i], *N);
      in[j] = tensor_new(n->dtype, s);
    }
  }
  for (int k = 0; k < o->ninputs; k++) dlrt_array_free(&arr[k]);
  return ok;
}

/* The parameters of g from a checkpoint whose signature must be sig (the
 * model's as written, before any pass changed its outputs). */
static bool load_params(const Graph *g, uint64_t sig, const char *path, Tensor *par, int np,
                        const int *idx) {
  dlrt_ckpt c = {0};
  char err[512];
  if (!dlrt_ckpt_load(path, &c, err)) {
    fprintf(stderr, "dlc: error: %s\n", err);
    return false;
  }
  bool ok = true;
  if (c.signature != sig) {
    fprintf(stderr, "dlc: error: %s is a checkpoint of model '%s', not of '%s' "
                    "(signatures %016llx and %016llx differ)\n", path, c.model, g->name,
            (unsigned long long)c.signature, (unsigned long long)sig);
    ok = false;
  }
  for (int j = 0; ok && j < np; j++) {
    const Node *n = &g->node[idx[j]];
    const dlrt_array *a = dlrt_ckpt_find(&c, n->name);
    if (!a) {
      fprintf(stderr, "dlc: error: %s has no parameter '%s'\n", path, n->name);
      ok = false;
    } else {
      ok = tensor_from_array(n, a, 1, 1, &par[j], path);
    }
  }
  dlrt_ckpt_free(&c);
  return ok;
}

static bool write_output(const Tensor *t, const char *path) {
  dlrt_array a = {.dtype = t->dtype == DT_I32 ? DLRT_I32 : DLRT_F32, .rank = t->shape.rank};
  snprintf(a.name, sizeof a.name, "out");
  for (int i = 0; i < t->shape.rank; i++) a.dim[i] = t->shape.d[i];
  if (t->dtype == DT_I32) {
    int32_t *d = malloc(sizeof *d * (size_t)(t->n ? t->n : 1));
    for (int64_t i = 0; i < t->n; i++) d[i] = (int32_t)t->v[i];
    a.data = d;
  } else {
    float *d = malloc(sizeof *d * (size_t)(t->n ? t->n : 1));
    for (int64_t i = 0; i < t->n; i++) d[i] = (float)t->v[i];
    a.data = d;
  }
  char err[512];
  bool ok = dlrt_npy_save(path, &a, err);
  if (!ok) fprintf(stderr, "dlc: error: %s\n", err);
  free(a.data);
  return ok;
}

static void print_tensor(const Tensor *t) {
  int64_t row = t->shape.rank ? t->n / (t->shape.d[0] ? t->shape.d[0] : 1) : t->n;
  for (int64_t i = 0; i < t->n; i++)
    printf("%.9g%s", t->v[i], (i + 1) % row == 0 ? "\n" : " ");
}

/* The graph `dlc run` evaluates: the model as `./m predict` runs it
 * (dropout off), or with --mode train one training step as
 * `./m train` runs it: outputs "loss" and "new:<param>", the value the
 * step writes into each parameter, with the train section's
 * hyper-parameters and the given step and seed. */
static bool run_mode(Graph *g, const Opts *o) {
  if (!o->mode || strcmp(o->mode, "predict") == 0) {
    pass_inference(g);
    return true;
  }
  if (strcmp(o->mode, "train") != 0) {
    fprintf(stderr, "dlc: error: --mode must be predict or train, not '%s'\n", o->mode);
    return false;
  }
  pass_autodiff(g);
  if (diag_count() > 0) return false;
  for (int i = 0; i < g->nnode; i++) {
    const Node *n = &g->node[i];
    if ((n->op == OP_ASSIGN || n->op == OP_SCATTER_UPDATE) && g->node[n->in[0]].op == OP_PARAM) {
      char name[256];
      snprintf(name, sizeof name, "new:%s", g->node[n->in[0]].name);
      ir_output(g, name, i, n->loc);
    }
  }
  double h[H_COUNT];
  for (int k = 0; k < H_COUNT; k++) h[k] = g->hyper[k];
  double t = (double)o->step + 1; /* Adam's bias corrections, as the runtime */
  h[H_BC1] = 1 / (1 - pow(h[H_BETA1], t));
  h[H_BC2] = 1 / sqrt(1 - pow(h[H_BETA2], t));
  interp_set_step(h, o->step, (uint64_t)o->seed);
  return true;
}

static int dlc_run(Graph *g, const Opts *o) {
  uint64_t sig = ir_signature(g);
  if (!run_mode(g, o)) return 1;
  int nin, np;
  int *iidx = ir_inputs(g, &nin), *pidx = ir_params(g, &np);
  if (o->ninputs == 0 && nin > 0) {
    fprintf(stderr, "dlc: error: run needs --input FILE (the model has %d input%s)\n", nin,
            nin == 1 ? "" : "s");
    return 1;
  }
  if (np > 0 && !o->weights) {
    fprintf(stderr, "dlc: error: run needs --weights W.ckpt (make one with ./model init)\n");
    return 1;
  }
  Tensor *in = calloc((size_t)nin + 1, sizeof *in), *par = calloc((size_t)np + 1, sizeof *par);
  int64_t N = 1;
  int rc = 1;
  if (load_inputs(g, o, in, nin, iidx, &N) && (np == 0 || load_params(g, sig, o->weights, par, np, pidx))) {
    Tensor *vals = interp_run(g, N, in, par);
    if (vals) {
      int out = g->nout ? g->out[0].node : -1;
      if (o->output_name) out = ir_find_output(g, o->output_name);
      if (out < 0) {
        fprintf(stderr, "dlc: error: the model has no output '%s'\n",
                o->output_name ? o->output_name : "");
      } else if (o->out) {
        rc = write_output(&vals[out], o->out) ? 0 : 1;
      } else {
        print_tensor(&vals[out]);
        rc = 0;
      }
      interp_free(g, vals);
    }
  }
  for (int j = 0; j < nin; j++) tensor_free(&in[j]);
  for (int j = 0; j < np; j++) tensor_free(&par[j]);
  free(in);
  free(par);
  ir_free_graph(g);
  return rc;
}

/* dlc gradcheck: autodiff's gradients of the model's loss against central
 * differences, on seeded inputs and parameters (or --weights). */
static int cmd_gradcheck(const Opts *o) {
  Graph *g = load(o->file);
  if (!g) return 1;
  if (g->loss < 0) {
    fprintf(stderr, "dlc: error: %s has no loss to differentiate (add `loss = ...` to its "
                    "train section)\n", o->file);
    ir_free_graph(g);
    return 1;
  }
  int np;
  int *pidx = ir_params(g, &np);
  Tensor *par = NULL;
  if (o->weights) {
    par = calloc((size_t)np + 1, sizeof *par);
    if (!load_params(g, ir_signature(g), o->weights, par, np, pidx)) return 1;
  }
  int64_t N = o->limit ? o->limit : 4;
  printf("gradcheck %s: N=%lld, %s parameters, central differences in double precision\n",
         g->name, (long long)N, o->weights ? "given" : "seeded");
  interp_set_step(NULL, 0, 1);
  bool ok = ad_gradcheck(g, N, NULL, par, o->samples ? o->samples : 16, 1, 1e-4, stdout);
  printf("%s\n", ok ? "gradients agree" : "gradients DIFFER");
  for (int j = 0; par && j < np; j++) tensor_free(&par[j]);
  free(par);
  ir_free_graph(g);
  return ok ? 0 : 1;
}

/* dlc header: the forward entry, as `dlc build` compiles it, printed as C
 * with the weights of a checkpoint (codegen/header.c). */
static int cmd_header(const Opts *o) {
  if (!o->out) {
    fprintf(stderr, "dlc: error: header needs -o FILE.h\n");
    return 1;
  }
  if (!o->weights && !o->seeded) {
    fprintf(stderr, "dlc: error: header needs --weights W.ckpt, the trained weights to embed "
                    "(make them with ./model train --save W.ckpt; or give --seed S for the "
                    "untrained initial weights of ./model init --seed S)\n");
    return 1;
  }
  if (o->quantize && strcmp(o->quantize, "int8") != 0 && strcmp(o->quantize, "none") != 0) {
    fprintf(stderr, "dlc: error: --quantize must be int8 or none, not '%s'\n", o->quantize);
    return 1;
  }
  Graph *g = load(o->file);
  if (!g) return 1;
  Graph *fg = compile_entry(g, ENT_FORWARD, o, stdout, false);
  int rc = 1;
  if (fg) {
    Entry e = {.kind = ENT_FORWARD, .g = fg, .p = cg_lower(fg)};
    HeaderOptions ho = {.prefix = o->prefix, .source = o->file, .weights = o->weights,
                        .seed = (uint64_t)o->seed, .batch = o->batch ? o->batch : 1,
                        .int8 = o->quantize && strcmp(o->quantize, "int8") == 0};
    HeaderStats st = {0};
    if (diag_count() == 0 && cg_header(o->out, &e, &ho, &st)) {
      rc = 0;
      if (o->stats) {
        fprintf(stderr, "dlc: %s: %d kernels, header %lld bytes, %lld lines (%lld of code)\n",
                fg->name, st.nkernels, (long long)st.header_bytes, (long long)st.lines,
                (long long)st.code_lines);
        fprintf(stderr, "dlc: weights %lld bytes (%lld parameters, %lld of them as int8)\n",
                (long long)st.weight_bytes, (long long)st.nparams, (long long)st.nquant);
        fprintf(stderr, "dlc: context %lld bytes (arena %lld + %lld*N, N = %lld)\n",
                (long long)st.arena_bytes, (long long)fg->region_k[R_ACT],
                (long long)fg->region_n[R_ACTN], (long long)ho.batch);
      }
    }
    cg_free_program((Program *)e.p);
    ir_free_graph(fg);
  }
  ir_free_graph(g);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
      strcmp(argv[1], "-h") == 0) {
    usage(stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
    printf("dlc %s\n", DLC_VERSION);
    return 0;
  }
  Opts o = {0};
  if (!parse_args(argc, argv, &o)) return 2;
  if (strcmp(o.cmd, "passes") == 0) {
    for (int i = 0; i < pass_count; i++)
      printf("%-10s %s\n", pass_table[i].name, pass_table[i].what);
    return 0;
  }
  static const char *const cmds[] = {"check", "dump", "opt", "build", "run", "gradcheck",
                                     "header"};
  bool known = false;
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) known |= strcmp(o.cmd, cmds[i]) == 0;
  if (!known) {
    fprintf(stderr, "dlc: error: unknown command '%s'\n", o.cmd);
    usage(stderr);
    return 2;
  }
  if (!o.file) {
    fprintf(stderr, "dlc: error: %s needs an input file\n", o.cmd);
    return 2;
  }
  if (strcmp(o.cmd, "check") == 0) return cmd_check(&o);
  if (strcmp(o.cmd, "dump") == 0) return cmd_dump(&o);
  if (strcmp(o.cmd, "opt") == 0) return cmd_opt(&o);
  if (strcmp(o.cmd, "build") == 0) return cmd_build(&o);
  if (strcmp(o.cmd, "gradcheck") == 0) return cmd_gradcheck(&o);
  if (strcmp(o.cmd, "header") == 0) return cmd_header(&o);
  Graph *g = load(o.file);
  if (!g) return 1;
  return dlc_run(g, &o);
}
