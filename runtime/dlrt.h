/* dlrt.h — the dlc runtime: what generated programs link against.
 *
 * The one idea: the compiler generates every kernel and the functions that
 * run them in order; the runtime only provides memory, threads, files and
 * the command line. A generated object file defines
 *
 *   const char dlrt_manifest[];                 model description (text)
 *   void dlrt_forward(const dlrt_frame *f);     inference, whole batch
 *
 * and the runtime's main() (runtime/main.c) reads the manifest, allocates
 * the blocks it lists, loads data and checkpoints, and calls the entries.
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
  DLRT_REGIONS
};

/* Runtime scalars of a training step, indexed like the compiler's
 * HyperSlot (ir/ir.h); the manifest's `hyper` lines name each slot used. */
enum { DLRT_HYPERS = 16 };

/* What a generated kernel sees: the base address of each region and the
 * batch size of this call. A tensor planned at (region r, offset off) lives
 * at base[r] + off, or base[r] + off * N for DLRT_R_ACTN. Every base is
 * 64-byte aligned. */
typedef struct dlrt_frame {
  char *base[DLRT_REGIONS];
  int64_t N;
  float hyper[DLRT_HYPERS];  /* learning rate etc. for this step */
  int64_t step;              /* training steps done before this one */
  uint64_t seed;             /* run seed (dropout masks) */
} dlrt_frame;

/* A kernel body over the half-open range [lo, hi) of its outermost loop. */
typedef void (*dlrt_kernel)(const dlrt_frame *f, int64_t lo, int64_t hi);

/* Run k over [0, n): split into contiguous chunks, one per pool thread, the
 * split depending only on n and the thread count (so results are
 * deterministic for a given thread count). Returns when every chunk is
 * done. Called by generated code. */
void dlrt_parallel(dlrt_kernel k, const dlrt_frame *f, int64_t n);

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

/* A planned tensor. Dimensions: d > 0 static; d < 0 means (-d) * N. */
typedef struct dlrt_tensor {
  char name[64];
  dlrt_dtype dtype;
  int rank;
  int64_t dim[DLRT_MAX_RANK];
  int region;
  int64_t off;          /* bytes; per sample for DLRT_R_ACTN */
  /* inputs: */
  bool label;           /* an input declared as `label` */
  int64_t classes;      /* label class count, 0 if not given */
  /* params: */
  char init[24];        /* zeros ones const uniform normal xavier_uniform ... */
  double init_a, init_b;
  int64_t fan_in, fan_out;
} dlrt_tensor;

typedef struct dlrt_kv {
  char key[64];
  char value[256];
} dlrt_kv;

typedef struct dlrt_model {
  char name[64];
  uint64_t signature;
  char dlc_version[32];
  int64_t region_k[DLRT_REGIONS];  /* bytes: fixed part */
  int64_t region_n[DLRT_REGIONS];  /* bytes per sample */
  dlrt_tensor *inputs, *outputs, *params;
  int ninputs, noutputs, nparams;
  dlrt_kv *train;                  /* train section, key = value */
  int ntrain;
} dlrt_model;

/* Parse manifest text (format: doc/manifest.txt). Returns false and writes
 * a message to err (at least 256 bytes) naming the line on failure; m is
 * then empty. Free m with dlrt_model_free. */
bool dlrt_manifest_parse(dlrt_model *m, const char *text, char *err);
void dlrt_model_free(dlrt_model *m);
/* Value of train key, or NULL. */
const char *dlrt_train_get(const dlrt_model *m, const char *key);
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

/* ---- npy.c, idx.c: array files ------------------------------------------- */

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
void dlrt_array_free(dlrt_array *a);
int64_t dlrt_array_numel(const dlrt_array *a);

/* ---- frame.c: the memory of a running model ----------------------------- */

/* Bytes of region r for batch size N (region_k + region_n * N), -1 on
 * overflow. */
int64_t dlrt_region_bytes(const dlrt_model *m, int r, int64_t N);
/* Allocate one zeroed, 64-byte-aligned block per region, sized for batch
 * sizes up to N, and set f->N = N. A caller may then lower f->N for a
 * smaller batch (ACTN offsets scale with f->N and stay inside the block).
 * False with a message on failure (f is then empty). Free with
 * dlrt_frame_free. */
bool dlrt_frame_alloc(dlrt_frame *f, const dlrt_model *m, int64_t N,
                      char *err);
void dlrt_frame_free(dlrt_frame *f);
/* Address of a planned tensor for batch size f->N. */
void *dlrt_tensor_addr(const dlrt_frame *f, const dlrt_tensor *t);
/* Check that c belongs to m: the same signature, and every param present
 * with the model's dtype and shape (extra arrays are ignored). Messages
 * name path, both models or the offending param. */
bool dlrt_ckpt_check_model(const dlrt_model *m, const dlrt_ckpt *c,
                           const char *path, char *err);
/* dlrt_ckpt_check_model, then copy the params into f's weight block. */
bool dlrt_frame_load_weights(dlrt_frame *f, const dlrt_model *m,
                             const dlrt_ckpt *c, const char *path, char *err);
/* Save f's params as a checkpoint of m at path (atomically, see
 * dlrt_ckpt_save), with the given metadata. */
bool dlrt_frame_save_weights(const dlrt_frame *f, const dlrt_model *m,
                             const dlrt_kv *meta, int nmeta, const char *path,
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
/* Whether name is an init kind dlrt_init_param knows (the manifest parser
 * refuses others; an unknown kind would fill zeros). */
bool dlrt_init_known(const char *name);

#endif
