/* dlrt.h — the dlc runtime: what generated programs link against.
 *
 * The one idea: the compiler generates every kernel and the functions that
 * run them in order; the runtime only provides memory, threads, files and
 * the command line. A generated object file defines
 *
 *   const char dlrt_manifest[];                 model description (text)
 *   void dlrt_forward(const dlrt_frame *f);     inference, whole batch
 *   void dlrt_eval(const dlrt_frame *f);        outputs and the loss
 *   void dlrt_train_step(const dlrt_frame *f);  one optimiser step
 *
 * (eval and train_step only for a model with a loss), and the runtime's
 * main() (runtime/main.c) reads the manifest, allocates the blocks it
 * lists, loads data and checkpoints, and calls the entries: predict the
 * forward entry, the trainer (train.c) the train and eval entries.
 *
 * This header includes no compiler header: the runtime is linked into
 * generated programs. The compiler (dlc) also links the runtime's file
 * formats (checkpoints, NPY, IDX) so that there is one implementation of
 * each.
 *
 * Sections are named after the .c file that defines them.
 */
#ifndef DLRT_H
#define DLRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DLRT_MANIFEST_VERSION 1
#define DLRT_CKPT_VERSION 1

/* Size of the err buffers that runtime functions write messages into. */
#define DLRT_ERR_LEN 256

/* ---- the contract with generated code ------------------------------------ */

/* Storage regions; numbering equals the compiler's Region enum (ir/ir.h). */
enum {
  DLRT_R_NONE,
  DLRT_R_WEIGHT,  /* parameters */
  DLRT_R_ACT,     /* batch-independent temporaries */
  DLRT_R_ACTN,    /* batch-proportional tensors: offset = off * N */
  DLRT_R_STATE,   /* optimiser state (moments, accumulators) */
  DLRT_R_TILE,    /* a sample group's scratch: set per thread by the
                     group's code (dlrt_tile_scratch) */
  DLRT_REGIONS
};

/* Runtime scalars of a training step, indexed like the compiler's
 * HyperSlot (ir/ir.h); the manifest's `hyper` lines name each slot used. */
enum { DLRT_HYPERS = 16 };

/* What a generated kernel sees: the base address of each region and the
 * batch size of this call. A tensor planned at (region r, offset off) lives
 * at base[r] + off, or base[r] + off * N for DLRT_R_ACTN. Every base is
 * 64-byte aligned. The CPU entries keep packed copies of weights in the
 * object's own memory (valid for one f->version), so they are called one
 * at a time, as the runtime does; they may write f->version. */
typedef struct dlrt_frame {
  char *base[DLRT_REGIONS];
  int64_t N;
  float hyper[DLRT_HYPERS];  /* learning rate etc. for this step */
  int64_t step;              /* training steps done before this one */
  uint64_t seed;             /* run seed (dropout masks) */
  int64_t iter;              /* step of a recurrent loop: set by generated
                                code in its own copy of the frame */
  uint64_t version;          /* of the weights: see dlrt_params_changed */
} dlrt_frame;

/* A kernel body over the half-open range [lo, hi) of its outermost loop. */
typedef void (*dlrt_kernel)(const dlrt_frame *f, int64_t lo, int64_t hi);

/* Run k over [0, n): split into contiguous chunks, one per pool thread, the
 * split depending only on n and the thread count (so results are
 * deterministic for a given thread count). Returns when every chunk is
 * done. Called by generated code. */
void dlrt_parallel(dlrt_kernel k, const dlrt_frame *f, int64_t n);
/* The same, returning as soon as the calling thread's chunk is done: the
 * other chunks finish before any chunk of the next call on the pool starts
 * (a barrier between consecutive kernels rather than a join and a fresh
 * start), and before dlrt_pool_join returns. Until then the caller holds
 * the pool, must not read what the other chunks write, and must call
 * dlrt_pool_join before it returns to code that does. */
void dlrt_parallel_async(dlrt_kernel k, const dlrt_frame *f, int64_t n);
void dlrt_pool_join(void);

/* This thread's scratch of at least `bytes` for a sample group's tensors
 * (DLRT_R_TILE), 64-byte aligned; allocated on a thread's first group and
 * kept, so a training loop allocates nothing after its first step. Called
 * by generated code; exits with a message when memory runs out. */
char *dlrt_tile_scratch(int64_t bytes);

/* ---- cuda.c: the CUDA driver, for programs built with --target cuda ------ */

/* Called by a CUDA program's generated entries, in this order: enter
 * (loads the driver and the PTX on first use, sizes the device arena for
 * the entry at f->N), copies between the frame and the device arena
 * (to_device 1: host to device; off and bytes already scaled by N), one
 * launch per kernel (index: the kernel's number in the program, name: its
 * symbol in the PTX), sync, copies back. Each exits with a message naming
 * the driver call that failed, or saying that there is no driver or GPU. */
void dlrt_cuda_enter(const dlrt_frame *f, const char *entry, const char *ptx, int functions,
                     int64_t weight_bytes, int64_t state_bytes, int64_t act_k, int64_t act_n);
void dlrt_cuda_copy(const dlrt_frame *f, int to_device, int region, int64_t off, int64_t bytes);
/* The weights and optimiser state stay on the device between entries:
 * params_in copies them in unless the device holds f's current values;
 * params_out, called by an entry that writes some of them, marks the
 * host's copy stale. */
void dlrt_cuda_params_in(const dlrt_frame *f, int64_t weight_bytes, int64_t state_bytes);
void dlrt_cuda_params_out(const dlrt_frame *f);
/* Before the host reads or writes f's weights or optimiser state: brings
 * them back from the device if an entry changed them there, and has the
 * next entry copy them in again. A no-op when nothing runs on a device.
 * forget: f is being freed. */
void dlrt_params_to_host(const dlrt_frame *f);
void dlrt_params_forget(const dlrt_frame *f);
void dlrt_cuda_launch(const dlrt_frame *f, int index, const char *name, int64_t gx, int64_t gy,
                      int64_t gz, int threads);
void dlrt_cuda_sync(const dlrt_frame *f);

/* ---- pool.c: the thread pool --------------------------------------------- */

/* Start nthreads workers (including the caller); 0 means one per core.
 * Replaces a running pool. Before it (and after dlrt_pool_shutdown)
 * dlrt_parallel runs inline. Not to be called while a dlrt_parallel call
 * is running. */
void dlrt_pool_init(int nthreads);
/* Threads of the pool, the caller included (1 when not started). */
int dlrt_pool_threads(void);
void dlrt_pool_shutdown(void);

/* ---- manifest.c: the model description ----------------------------------- */

typedef enum { DLRT_F32, DLRT_I32 } dlrt_dtype;

enum { DLRT_MAX_RANK = 6 };

/* The entry points a generated object may define; forward always. */
enum { DLRT_E_FORWARD, DLRT_E_EVAL, DLRT_E_TRAIN, DLRT_ENTRIES };
typedef void (*dlrt_entry_fn)(const dlrt_frame *f);

/* A tensor of the manifest. Dimensions: d > 0 static; d < 0 means
 * (-d) * N. Placed tensors (params, state, an entry's inputs and outputs)
 * live at (region, off). */
typedef struct dlrt_tensor {
  char name[64];
  dlrt_dtype dtype;
  int rank;
  int64_t dim[DLRT_MAX_RANK];
  int region;           /* DLRT_R_*; DLRT_R_NONE for the model's inputs */
  int64_t off;          /* bytes; per sample for DLRT_R_ACTN */
  /* inputs: */
  bool label;           /* an input declared as `label` */
  int64_t classes;      /* label class count, 0 if not given */
  /* params: */
  char init[24];        /* zeros ones const uniform normal xavier_uniform ... */
  double init_a, init_b;
  int64_t fan_in, fan_out;
} dlrt_tensor;

/* One compiled entry: its activation arena (act_k fixed bytes in region
 * ACT, act_n bytes per sample in region ACTN) and where it reads each
 * input and leaves each output. in[i] is a copy of the model's input of
 * the same name, placed. */
typedef struct dlrt_entry {
  bool present;
  int64_t act_k, act_n;
  dlrt_tensor *in, *out;
  int nin, nout;
} dlrt_entry;

/* A runtime scalar of the train step: frame.hyper[slot]. */
typedef struct dlrt_hyper {
  int slot;
  char name[32];        /* lr momentum beta1 ... bias_correction2 */
  double value;         /* the default compiled from the train section */
} dlrt_hyper;

typedef struct dlrt_kv {
  char key[64];
  char value[256];
} dlrt_kv;

/* A model's greedy decoding (decode.c), from its train key "decode". */
typedef struct dlrt_decode {
  bool present;
  char output[64];      /* the decoded tokens' name */
  char logits[64];      /* output f32 [N, T, V] of the forward entry */
  char feed[64];        /* input i32 [N, T]: the decoder's input tokens */
  char target[64];      /* input i32 [N, T]: the answer, in training */
  int32_t start, end;   /* tokens; end -1: none */
  int64_t T, V;
  dlrt_tensor answer;   /* i32 [N, T]: what predict writes */
} dlrt_decode;

typedef struct dlrt_model {
  char name[64];
  uint64_t signature;
  char dlc_version[32];
  int64_t weight_bytes, state_bytes;  /* regions WEIGHT and STATE */
  dlrt_tensor *inputs, *params, *states;
  int ninputs, nparams, nstates;
  dlrt_hyper *hypers;
  int nhypers;
  dlrt_entry entry[DLRT_ENTRIES];
  dlrt_kv *train;                     /* train section, key = value */
  int ntrain;
  dlrt_decode decode;                 /* present: the feed is the last input */
} dlrt_model;

/* Parse manifest text (format: doc/manifest.txt). Returns false and writes
 * a message to err (at least 256 bytes) naming the line on failure; m is
 * then empty. Free m with dlrt_model_free. */
bool dlrt_manifest_parse(dlrt_model *m, const char *text, char *err);
void dlrt_model_free(dlrt_model *m);
/* Value of train key, or NULL. */
const char *dlrt_train_get(const dlrt_model *m, const char *key);
/* Set train key to value (replacing or adding it): how the command line
 * overrides the train section. False with a message when the key or value
 * is too long or memory runs out. */
bool dlrt_train_set(dlrt_model *m, const char *key, const char *value,
                    char *err);
/* "forward", "eval" or "train". */
const char *dlrt_entry_name(int kind);
/* The input or output of entry e called name, or NULL. */
const dlrt_tensor *dlrt_entry_input(const dlrt_entry *e, const char *name);
const dlrt_tensor *dlrt_entry_output(const dlrt_entry *e, const char *name);
/* The hyper line called name, or NULL. */
const dlrt_hyper *dlrt_model_hyper(const dlrt_model *m, const char *name);
int64_t dlrt_numel(const dlrt_tensor *t, int64_t N);
/* numel * 4: the bytes of t for batch size N. The manifest parser checks
 * that this does not overflow for N up to DLRT_MAX_BATCH. */
int64_t dlrt_tensor_bytes(const dlrt_tensor *t, int64_t N);
/* "f32" or "i32". */
const char *dlrt_dtype_name(dlrt_dtype t);
/* Largest batch size a program accepts; sizes are overflow-checked up to
 * it. */
#define DLRT_MAX_BATCH ((int64_t)1 << 24)

/* ---- ckpt.c: checkpoint files -------------------------------------------- */

/* A named array in a checkpoint. */
typedef struct dlrt_array {
  char name[64];
  dlrt_dtype dtype;
  int rank;
  int64_t dim[DLRT_MAX_RANK];  /* concrete */
  void *data;                  /* heap; numel * 4 bytes */
  /* Set by the loaders: element type in the file ("u8", "i8", "i16",
   * "i32", "i64", "f32", "f64", "bool"), so that callers can scale byte
   * images; "" for arrays made in memory. */
  char src_type[8];
} dlrt_array;

typedef struct dlrt_ckpt {
  uint64_t signature;
  char model[64];
  dlrt_array *arrays;
  int narrays;
  dlrt_kv *meta;               /* free-form key/value (step, epoch, seed) */
  int nmeta;
} dlrt_ckpt;

/* Write atomically (temporary file in the same folder, fsync, rename, fsync
 * of the folder). False with a message in err on failure; the old file, if
 * any, is untouched then. Refuses content the reader would refuse (empty
 * or over-long names, duplicates, bad shapes). Format: doc/checkpoint.txt. */
bool dlrt_ckpt_save(const char *path, const dlrt_ckpt *c, char *err);
/* Read and verify magic, version, checksum and structure. False with a
 * message naming the file and byte offset on any defect (c is then empty).
 * Never reads or allocates beyond what the file holds. The caller frees c
 * with dlrt_ckpt_free. */
bool dlrt_ckpt_load(const char *path, dlrt_ckpt *c, char *err);
void dlrt_ckpt_free(dlrt_ckpt *c);
/* The array called name, or NULL. */
const dlrt_array *dlrt_ckpt_find(const dlrt_ckpt *c, const char *name);

/* ---- npy.c, idx.c, csv.c: array files ------------------------------------------- */

/* All loaders: on failure a is empty and err names the file and the byte
 * offset (of the uncompressed data, for gzip); no input makes them crash
 * or allocate much more than the data the file holds. The caller frees a
 * with dlrt_array_free. */

/* Load an NPY file (v1-v3, little-endian <f4 <f8 <i4 <i8 |u1 |b1, C order)
 * as f32 or i32: integer kinds become i32 (i8 range-checked), float kinds
 * f32 (f8 range-checked). */
bool dlrt_npy_load(const char *path, dlrt_array *a, char *err);
/* Write a (f32 as <f4, i32 as <i4) as an NPY v1.0 file whose data starts
 * at a multiple of 64 bytes. */
bool dlrt_npy_save(const char *path, const dlrt_array *a, char *err);
/* Load an IDX file, raw or gzip-compressed (u8, i8, i16, i32, f32, f64
 * element types) as f32 (u8 data becomes 0..255), or as i32 when as_int
 * (labels; float values must then be integers). */
bool dlrt_idx_load(const char *path, bool as_int, dlrt_array *a, char *err);
/* NPY when the name ends in .npy or the file starts with the NPY magic;
 * IDX (raw or gzip) otherwise. as_int applies to IDX only. */
bool dlrt_array_load(const char *path, bool as_int, dlrt_array *a, char *err);
/* Load a numeric CSV file (raw or gzip) as an f32 array [rows, columns],
 * skipping the first line when skip_header. Errors read
 * "PATH:LINE:COLUMN: ..." (1-based). src_type is "csv". */
bool dlrt_csv_load(const char *path, bool skip_header, dlrt_array *a,
                   char *err);
void dlrt_array_free(dlrt_array *a);
int64_t dlrt_array_numel(const dlrt_array *a);

/* ---- text.c: plain-text corpora ------------------------------------------ */

/* The bytes of a part of a corpus (text.c explains the choices). */
typedef struct dlrt_text {
  unsigned char *bytes;     /* n bytes, each < the vocabulary */
  int64_t n;
  char **files;             /* the files read, in order */
  int nfiles;
} dlrt_text;

/* Load the part [lo, hi) (fractions, 0 <= lo < hi <= 1) of the corpus at
 * path: a file, or the regular files of a folder in name order, each file
 * once (links to a file of the folder are not read again), the same
 * fraction of every file, joined. Every byte of every file must be below
 * vocab (1..256). False with a message naming the file and, for a bad
 * byte, its offset; t is then empty. Free t with dlrt_text_free. */
bool dlrt_text_load(dlrt_text *t, const char *path, double lo, double hi,
                    int vocab, char *err);
void dlrt_text_free(dlrt_text *t);

/* ---- numerics.c: --check-numerics --------------------------------------- */

/* Set by --check-numerics: generated code then passes every f32 tensor a
 * kernel writes to dlrt_check_numerics, which records the first
 * non-finite value it sees (and nothing after it). */
extern bool dlrt_checking_numerics;

typedef struct dlrt_numerics_fault {
  bool set;
  const char *what;     /* "k15_matmul_add (add, %55 m.dlm:10:10)" */
  int64_t index;        /* element of the tensor */
  float value;
} dlrt_numerics_fault;

extern dlrt_numerics_fault dlrt_fault;

/* Called by generated code: scan the n values at p, written by what. */
void dlrt_check_numerics(const float *p, int64_t n, const char *what);

/* ---- frame.c: the memory of a running model ----------------------------- */

/* Bytes of the activation block that serves every entry of m at batch
 * sizes up to N: the largest over the entries of align64(act_k) +
 * act_n * N; -1 on overflow. */
int64_t dlrt_act_bytes(const dlrt_model *m, int64_t N);
/* Allocate zeroed, 64-byte-aligned blocks: weights, optimiser state, and
 * one activation block for every entry at batch sizes up to N; then enter
 * the forward entry at N (see dlrt_frame_enter). base[ACT] is the start
 * of the activation block for every entry. False with a message on
 * failure (f is then empty). Free with dlrt_frame_free. */
bool dlrt_frame_alloc(dlrt_frame *f, const dlrt_model *m, int64_t N,
                      char *err);
/* Prepare f for a call of entry `kind` (present in m) on N samples: f->N =
 * N and base[ACTN] = base[ACT] + align64(act_k) of that entry. N must not
 * exceed the N given to dlrt_frame_alloc. Touches nothing else. */
void dlrt_frame_enter(dlrt_frame *f, const dlrt_model *m, int kind, int64_t N);
void dlrt_frame_free(dlrt_frame *f);
/* Record that f's weight block may have changed: f->version takes a value
 * that no frame has had in this process (never 0). Generated CPU code keeps
 * copies of weights (the packed panels of a matrix product whose B is a
 * weight) stamped with the version they were made at, and makes them
 * again when f->version differs, so this must be called after every write
 * to the weight block that is not made by an entry: initialisation, a
 * checkpoint loaded, early stopping's best weights restored. An entry that
 * writes weights (a training step) calls it itself before it returns.
 * dlrt_frame_alloc calls it; a frame built by other means has version 0,
 * for which nothing is cached. Not thread-safe with entries running on f. */
void dlrt_params_changed(dlrt_frame *f);
/* Address of a placed tensor for batch size f->N. */
void *dlrt_tensor_addr(const dlrt_frame *f, const dlrt_tensor *t);
/* Check that c belongs to m: the same signature, and every param present
 * with the model's dtype and shape (extra arrays are ignored). Messages
 * name path, both models or the offending param. */
bool dlrt_ckpt_check_model(const dlrt_model *m, const dlrt_ckpt *c,
                           const char *path, char *err);
/* dlrt_ckpt_check_model, then copy the params into f's weight block. */
bool dlrt_frame_load_weights(dlrt_frame *f, const dlrt_model *m,
                             const dlrt_ckpt *c, const char *path, char *err);
/* Copy the arrays "<prefix><param>" of c (each checked against its param)
 * into dst, a buffer laid out like the weight block; prefix "" reads the
 * params themselves, "best." the best weights a trainer kept. */
bool dlrt_ckpt_get_params(const dlrt_model *m, const dlrt_ckpt *c,
                          const char *prefix, char *dst, const char *path,
                          char *err);
/* Copy every state tensor of m from c (by name, checked like params) into
 * f's state block. */
bool dlrt_frame_load_state(dlrt_frame *f, const dlrt_model *m,
                           const dlrt_ckpt *c, const char *path, char *err);
/* Save f's params as a checkpoint of m at path (atomically, see
 * dlrt_ckpt_save), with the given metadata. */
bool dlrt_frame_save_weights(const dlrt_frame *f, const dlrt_model *m,
                             const dlrt_kv *meta, int nmeta, const char *path,
                             char *err);
/* Save a trainer's checkpoint: the params, every state tensor (by its
 * name) and, when best is not NULL, the params found in best (a copy of
 * the weight block) as arrays "best.<param>"; with the metadata. */
bool dlrt_frame_save_train(const dlrt_frame *f, const dlrt_model *m,
                           const char *best, const dlrt_kv *meta, int nmeta,
                           const char *path, char *err);

/* ---- config.c: the train section as values ----------------------------- */

/* Write a message to err (DLRT_ERR_LEN bytes, truncated) and return false:
 * the error convention of every runtime function with an err argument. */
bool dlrt_fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A number: decimal ("0.01", "1e-3") or a quotient ("1/255"), finite. */
bool dlrt_parse_number(const char *s, double *out);

/* A call `name(a, key = v, ...)` or a bare `name`, as the train section
 * stores options and a person types them. Values are kept as text (quotes
 * removed from "..." values, spaces trimmed). */
enum { DLRT_MAX_ARGS = 8 };
typedef struct dlrt_call {
  char name[32];
  int nargs;
  char key[DLRT_MAX_ARGS][32];     /* "" for a positional argument */
  char value[DLRT_MAX_ARGS][256];
} dlrt_call;
/* False with a message on a syntax error or over-long parts. */
bool dlrt_call_parse(dlrt_call *c, const char *text, char *err);
/* The value of argument `key`, else of the pos-th positional argument
 * (pos >= 0), else NULL. */
const char *dlrt_call_arg(const dlrt_call *c, const char *key, int pos);

/* Learning-rate schedules (per epoch, counted from 0):
 *   constant                 lr0
 *   step(every=K, gamma=g)   lr0 * g^floor(epoch / K)    (g default 0.1)
 *   exponential(gamma=g)     lr0 * g^epoch
 *   cosine(min_lr=m)         m + (lr0 - m) (1 + cos(pi epoch / E)) / 2 */
typedef enum {
  DLRT_LR_CONSTANT, DLRT_LR_STEP, DLRT_LR_EXPONENTIAL, DLRT_LR_COSINE
} dlrt_sched_kind;
typedef struct dlrt_schedule {
  dlrt_sched_kind kind;
  int64_t every;
  double gamma, min_lr;
} dlrt_schedule;
/* Parse text (NULL or empty: constant); false with a message. */
bool dlrt_schedule_parse(dlrt_schedule *s, const char *text, char *err);
/* The learning rate of epoch `epoch` of `epochs`. */
double dlrt_schedule_lr(const dlrt_schedule *s, double lr0, int64_t epoch,
                        int64_t epochs);
/* Fill hyper[slot] for every hyper line of m for the train step after
 * `step` steps: value[slot] (the line's default or an override), except
 * lr, which is `lr`, and Adam's bias corrections, computed with t = step
 * + 1 as bias_correction1 = 1 / (1 - beta1^t) and bias_correction2 =
 * 1 / sqrt(1 - beta2^t) (beta from value[], 0.9 and 0.999 when the model
 * has no such line). Slots without a line are left alone. */
void dlrt_hypers_fill(float *hyper, const dlrt_model *m, const double *value,
                      double lr, int64_t step);

/* ---- data.c: data sets ---------------------------------------------------- */

/* A data set for a model's first two inputs, one row per sample: the
 * features x (for the first input) and the targets y (for the second, if
 * the model has one), each in its input's dtype (4-byte elements). */
typedef struct dlrt_data {
  int64_t n;                /* samples */
  int64_t xper, yper;       /* elements per sample; yper 0: no targets */
  void *x, *y;              /* n * xper and n * yper elements */
  char source[160];         /* the features' file, for messages */
} dlrt_data;

/* Load the set described by the train keys "<set>.*" (set "data" for
 * training, "test"; keys in runtime/data.c and doc/training.txt):
 * only the samples of <set>.classes (relabelled 0, 1, ...) when given,
 * features scaled and normalised, labels checked against the classes of a
 * label input; at most limit samples (0: all). False with a message that
 * names the file and, for a bad value, the sample; d is then empty. Free
 * with dlrt_data_free. */
bool dlrt_data_load(dlrt_data *d, const dlrt_model *m, const char *set,
                    int64_t limit, char *err);
/* The same from the files given (IDX or NPY; ypath NULL when the model
 * has one input), with the classes, scaling and normalisation keys of
 * set. */
bool dlrt_data_files(dlrt_data *d, const dlrt_model *m, const char *set,
                     const char *xpath, const char *ypath, int64_t limit,
                     char *err);
/* Normalise n samples x of the model's first input (f32) in place with
 * the keys of set: x' = (x * scale - mean[c]) / std[c]; without
 * with_scale, scale is 1 (predict scales byte images itself). Nothing to
 * do, and true, when the keys give no mean or std and no scale is
 * wanted. */
bool dlrt_data_normalise(const dlrt_model *m, const char *set, float *x,
                         int64_t n, bool with_scale, char *err);
/* The value a raw 0 of channel c (axis 1 of the first input) becomes
 * after the normalisation keys of set, -mean[c] / std[c], into fill[c]
 * for C channels: what augmentation shows outside the image. */
bool dlrt_data_fill(const dlrt_model *m, const char *set, float *fill,
                    int64_t C, char *err);
/* Whether the train keys describe set (any of its images, path, format). */
bool dlrt_data_configured(const dlrt_model *m, const char *set);
void dlrt_data_free(dlrt_data *d);

/* ---- decode.c: greedy decoding ------------------------------------------ */

/* Read the train key "decode" of m into m->decode (not present when there
 * is none), check it against the inputs and the forward entry's outputs,
 * and move the feed input to the end of m->inputs. Called by
 * dlrt_manifest_parse. False with a message. */
bool dlrt_decode_parse(dlrt_model *m, char *err);
/* Teacher forcing: when entry e reads both the feed and the target, set
 * the feed of the f->N samples to START followed by the target but its
 * last token. Called after the target is in place (dlrt_data_gather). */
void dlrt_decode_teacher(dlrt_frame *f, const dlrt_entry *e, const dlrt_model *m);
/* Greedy decoding of the f->N samples whose other inputs are in place (f
 * entered for the forward entry): up to T calls of forward, the argmax at
 * t fed back at t + 1. Writes answer [f->N, T]: the tokens, END after the
 * first END. */
void dlrt_decode_run(dlrt_frame *f, const dlrt_model *m, dlrt_entry_fn forward,
                     int32_t *answer);

typedef struct dlrt_decode_score {
  int64_t n, exact;                  /* sequences, and those right at every position */
  int64_t tokens, tokens_right;      /* target positions up to its first END */
} dlrt_decode_score;

/* Count n decoded sequences against their targets, both [n, T]. */
void dlrt_decode_count(dlrt_decode_score *s, const dlrt_model *m, const int32_t *answer,
                       const int32_t *target, int64_t n);
/* Decode every sample of d (its targets: the model's second input) in
 * batches of at most B, which f was allocated for, and count. False when
 * memory runs out. */
bool dlrt_decode_eval(dlrt_decode_score *s, dlrt_frame *f, const dlrt_model *m,
                      dlrt_entry_fn forward, const dlrt_data *d, int64_t B);

/* ---- score.c: evaluation ------------------------------------------------- */

/* Copy samples idx[b], ..., idx[b + n - 1] (b, ..., b + n - 1 when idx is
 * NULL) of d into the first two inputs of entry e, for a call with f->N =
 * n (dlrt_frame_enter first), and a decoder's feed from the target
 * (dlrt_decode_teacher). Inputs the entry does not read are skipped. */
void dlrt_data_gather(dlrt_frame *f, const dlrt_entry *e, const dlrt_model *m,
                      const dlrt_data *d, const int64_t *idx, int64_t b,
                      int64_t n);

/* How predictions are scored (runtime/score.c explains the choice). */
typedef enum { DLRT_ACC_NONE, DLRT_ACC_ARGMAX, DLRT_ACC_BINARY } dlrt_acc_kind;

typedef struct dlrt_score {
  dlrt_acc_kind kind;
  const dlrt_tensor *out;    /* the output scored, or NULL */
  int64_t classes;           /* argmax: C; binary: 2 */
  int64_t n;                 /* samples scored */
  double loss_sum, loss;     /* loss: loss_sum / n, after dlrt_score_end */
  int64_t correct;           /* after dlrt_score_end */
  double threshold;          /* binary: 0.5 (probabilities) or 0 (logits) */
  int64_t *confusion;        /* classes x classes: [true][predicted] */
  int64_t *confusion0;       /* binary: the counts at threshold 0 */
  double lo, hi;             /* binary: range of the outputs */
  float *scores;             /* binary: every output scored, in order */
  unsigned char *positive;   /* binary: whether its target is 1 */
  int64_t cap, nkept;        /* binary: room in scores and positive, used */
  bool kept;                 /* binary: no allocation failed */
  /* binary, after dlrt_score_end, class 1 being the positive one; NaN
   * where undefined (no positive prediction, no positive or negative
   * sample): */
  double precision, recall, f1, auc;
} dlrt_score;

/* Decide how the eval entry of m is scored and reset the counts. */
void dlrt_score_begin(dlrt_score *s, const dlrt_model *m);
/* Run the eval entry over samples idx[0..n) of d (0..n-1 when idx is
 * NULL) in batches of at most B, which f was allocated for; accumulate
 * loss and counts. False when the loss sum is no longer finite. */
bool dlrt_score_run(dlrt_score *s, dlrt_frame *f, const dlrt_model *m,
                    dlrt_entry_fn eval, const dlrt_data *d, const int64_t *idx,
                    int64_t n, int64_t B);
/* The mean loss, the binary threshold and the correct count. */
void dlrt_score_end(dlrt_score *s);
/* correct / n, or NaN when predictions are not scored. */
double dlrt_score_accuracy(const dlrt_score *s);
/* The area under the ROC curve of n scores (higher: more likely
 * positive) against positive[i]: the probability that a positive sample
 * scores above a negative one, ties counting one half (the Mann-Whitney
 * statistic, computed exactly by sorting). NaN when there is no positive
 * or no negative sample, or memory runs out. */
double dlrt_roc_auc(const float *score, const unsigned char *positive, int64_t n);
void dlrt_score_free(dlrt_score *s);

/* ---- train.c: the trainer ------------------------------------------------ */

/* What `./model train` was asked to do (main.c parses the flags). */
typedef struct dlrt_train_opts {
  dlrt_entry_fn entry[DLRT_ENTRIES];  /* the program's entries, NULL if absent */
  const char *save, *resume, *log, *plot;  /* files, or NULL */
  int64_t folds;                      /* k-fold cross-validation; 0: off */
  int64_t limit;                      /* training samples used; 0: all */
  int64_t threads;                    /* 0: one per core */
  bool threads_given, quiet;
  const dlrt_kv *set;                 /* train keys from the command line, */
  int nset;                           /* canonical names (dlrt_train_key) */
} dlrt_train_opts;

/* The i-th train key the command line may set (i = 0, 1, ... until
 * NULL): hyper-parameters first, then the train section's keys. */
const char *dlrt_train_key(int i);
/* Run `train` for m (whose train keys it overrides); messages on stdout
 * (results) and stderr (progress, errors). Returns the exit status. */
int dlrt_train(dlrt_model *m, const dlrt_train_opts *o);

/* ---- generate.c: text from a character model ---------------------------- */

/* What `./model generate` was asked to do (main.c parses the flags). */
typedef struct dlrt_generate_opts {
  dlrt_entry_fn forward;      /* the program's forward entry */
  const char *weights;        /* checkpoint (required) */
  const char *prime;          /* text to continue, printed first; NULL: none */
  uint64_t seed;
  int64_t length;             /* characters to draw */
  double temperature;         /* > 0; 1 samples the model's distribution */
  int64_t threads;            /* 0: one per core */
} dlrt_generate_opts;

/* Print the prime and `length` characters drawn one at a time from the
 * model's forward entry (generate.c explains how); the same seed gives
 * the same text. A model without an input i32[N, T] and an output
 * f32[N, T, V] is refused with a message. Returns the exit status. */
int dlrt_generate(const dlrt_model *m, const dlrt_generate_opts *o);

/* ---- augment.c: data augmentation ---------------------------------------- */

/* The transforms of the train key augment (doc/training.txt), for the
 * model's first input, an image [N, C, H, W]: each training sample is
 * shifted, mirrored, rotated and scaled by its own random amounts. */
typedef struct dlrt_augment {
  int64_t pad;               /* crop: a shift by -pad..pad pixels; 0: off */
  double flip;               /* probability of a horizontal flip; 0: off */
  double degrees;            /* rotate: angle in [-degrees, degrees]; 0: off */
  double zoom_lo, zoom_hi;   /* scale: factor in [lo, hi]; 1, 1: off */
} dlrt_augment;

/* The random amounts for one sample. */
typedef struct dlrt_augment_choice {
  int dx, dy;                /* crop: output (x, y) shows input (x+dx, y+dy) */
  bool flip;                 /* mirror left and right */
  double angle;              /* radians, counterclockwise as displayed */
  double zoom;               /* > 1 enlarges the content */
} dlrt_augment_choice;

/* Parse the key's value: "none" or empty (no augmentation), or a list of
 * transforms "crop(pad=2), flip(p=0.5), rotate(degrees=10),
 * scale(low=0.9, high=1.1)" (arguments by name or position, brackets
 * around the list allowed, each transform at most once). False with a
 * message. */
bool dlrt_augment_parse(dlrt_augment *a, const char *text, char *err);
/* Whether a changes anything. */
bool dlrt_augment_active(const dlrt_augment *a);
/* The amounts for data-set sample `sample` in epoch `epoch` of a run
 * with this seed: a function of these three numbers and a alone. */
void dlrt_augment_choose(const dlrt_augment *a, uint64_t seed, int64_t epoch,
                         int64_t sample, dlrt_augment_choice *c);
/* Write the transformed image src [C, H, W] to dst (not overlapping):
 * an integer shift and mirror when c has no rotation or scaling, else
 * bilinear samples; positions outside the image read fill[channel] (0
 * when fill is NULL). Allocates nothing. */
void dlrt_augment_apply(float *dst, const float *src, int64_t C, int64_t H,
                        int64_t W, const dlrt_augment_choice *c,
                        const float *fill);

/* ---- svg.c: charts ------------------------------------------------------- */

/* A line of a chart: y[i] is the value at x = i + 1 (the epoch); NaN
 * values leave a gap. */
typedef struct dlrt_series {
  const char *name;
  const double *y;
  int n;
} dlrt_series;
/* Write a line chart of the ns series (axes with round-number ticks, a
 * grid, a legend, the title and axis labels) as a self-contained SVG file
 * at path, through a temporary file renamed over it. False with a message
 * on failure. */
bool dlrt_svg_plot(const char *path, const char *title, const char *xlabel,
                   const char *ylabel, const dlrt_series *s, int ns,
                   char *err);

/* ---- rng.c, init.c: random numbers and parameter initialisation ---------- */

typedef struct dlrt_rng {
  uint64_t s[4];
} dlrt_rng;
void dlrt_rng_seed(dlrt_rng *r, uint64_t seed);
uint64_t dlrt_rng_next(dlrt_rng *r);
double dlrt_rng_uniform(dlrt_rng *r);       /* [0, 1) */
double dlrt_rng_normal(dlrt_rng *r);        /* mean 0, std 1 */

/* Fill a parameter's values (numel floats) by its init spec. The stream for
 * param k is seeded from (seed, k) so that adding a parameter does not
 * change the others. */
void dlrt_init_param(float *out, const dlrt_tensor *p, int index,
                     uint64_t seed);
/* Fill every param of m in f's weight block by its init spec from seed
 * (dlrt_init_param with the param's index). */
void dlrt_init_weights(dlrt_frame *f, const dlrt_model *m, uint64_t seed);
/* Whether name is an init kind dlrt_init_param knows (the manifest parser
 * refuses others; an unknown kind would fill zeros). */
bool dlrt_init_known(const char *name);

#endif
