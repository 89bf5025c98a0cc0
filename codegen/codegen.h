/* codegen.h — the interface of the codegen/ layer: the kernel (loop-nest) IR,
 * the lowering of a planned graph into it, and the backends that print it as
 * machine code (LLVM), C source (a header) or CUDA C (NVRTC's PTX).
 *
 * The one idea: a graph becomes a Program, an ordered list of Kernels. A
 * kernel is a loop nest over scalar expressions, with its outermost loop
 * split across threads. Backends see only kernels, never graph ops, so a new
 * backend is a printer of this small IR, not a second compiler.
 *
 * Sections are named after the .c file that defines them.
 */
#ifndef DLC_CODEGEN_H
#define DLC_CODEGEN_H

#include "ir.h"

/* ---- kir.c: the kernel IR ------------------------------------------------ */

typedef enum KType { KT_F32, KT_I32, KT_I64, KT_BOOL, KT_COUNT } KType;

typedef enum KOp {
  K_CONST,            /* f (KT_F32) or i (integer types) */
  K_VAR,              /* loop variable or local: var */
  K_N,                /* batch size of this call, i64 */
  K_LOAD,             /* buf[a] */
  K_ADD, K_SUB, K_MUL, K_DIV, K_MAX, K_MIN, K_REM,   /* binary, same type */
  K_NEG, K_EXP, K_LOG, K_SQRT, K_ABS, K_TANH,        /* unary f32 */
  K_SIGMOID,          /* 1 / (1 + e^-a) */
  K_LT, K_LE, K_EQ,   /* comparisons -> KT_BOOL */
  K_SELECT,           /* a ? b : c */
  K_CAST,             /* a converted to type */
  K_FMA,              /* a * b + c */
  K_XOR, K_SHR,       /* i64 bit operations (logical shift right) */
  K_HYPER,            /* f32 runtime scalar of slot i (HyperSlot) */
  K_STEP, K_SEED,     /* i64: training step and seed of this call */
  K_ITER,             /* i64: iteration of the enclosing KRepeat (0 outside) */
  K_COUNT
} KOp;

typedef struct KExpr KExpr;
struct KExpr {
  KOp op;
  KType type;
  KExpr *a, *b, *c;
  double f;     /* K_CONST of KT_F32 */
  int64_t i;    /* K_CONST of integer type */
  int var;      /* K_VAR */
  int buf;      /* K_LOAD: index into Kernel.buf */
  bool nsw;     /* integer K_ADD/K_MUL of indices (kir_iadd, kir_imul): never
                   wraps, which lets the backend vectorise around it */
};

typedef enum KStmtKind { KS_LOOP, KS_STORE, KS_SET } KStmtKind;

typedef struct KStmt KStmt;
struct KStmt {
  KStmtKind kind;
  int var;            /* KS_LOOP: loop variable; KS_SET: local to set */
  KExpr *lo, *hi;     /* KS_LOOP: var runs over [lo, hi), step 1 */
  KStmt **body;       /* KS_LOOP */
  int nbody, capbody;
  int buf;            /* KS_STORE: buf[idx] = val */
  KExpr *idx;
  KExpr *val;         /* KS_STORE, KS_SET */
};

/* A buffer a kernel reads or writes: a planned graph tensor, or constant
 * data compiled into the program. */
typedef struct KBuf {
  int node;             /* graph node it holds */
  KType type;           /* element type */
  Region region;        /* R_NONE with data != NULL: constant data */
  int64_t off;          /* planned offset (per sample for R_ACTN) */
  const double *data;   /* constant data, numel values; or NULL */
  int64_t numel;        /* for constant data */
  bool written;
} KBuf;

/* A matrix product as one statement, so that each backend can implement it
 * with its own register blocking (LLVM: a 6x16 AVX2 micro-kernel; CUDA:
 * shared-memory tiles) instead of a naive loop nest:
 *
 *   for b < batch:  C[b] = A'[b] B[b]    (C[b] += ... when accumulate)
 *
 * with A'(i, k) = A[b*sa + i*a_rs + k*a_ks] and B(k, j) = B[b*sb + k*ldb +
 * j*b_ns] (any strides, so a transposed operand needs no copy), C
 * row-major with row stride ldc. The kernel's parallel variable runs over column panels
 * of nr columns (per batch); the backend blocks K and rows inside. */
enum { GEMM_MR = 6 };

typedef struct KGemm {
  int a, b, c;                    /* buffers */
  KExpr *M, *N, *K;               /* C is M x N, K the inner dimension */
  KExpr *a_rs, *a_ks, *ldb, *ldc; /* strides in elements */
  KExpr *b_ns;                    /* B's column stride: 1 (row-major), or
                                     any with ldb = 1 (column-major) */
  KExpr *batch, *sa, *sb, *sc;    /* batch count and strides */
  KExpr *a_off, *b_off, *c_off;   /* where A, B, C start in their buffers
                                     (elements; NULL: 0), e.g. one step of
                                     a sequence (K_ITER) */
  int nr;                         /* panel width (columns per parallel unit) */
} KGemm;

/* A max pooling kernel whose windows tile each plane in pairs of columns
 * (kernel KH x 2, stride KH x 2, no padding), parallel over the N*C
 * planes: forward (dy < 0) writes the window maxima to y; the gradient
 * writes dy at each window's first maximum of x, 0 elsewhere, to y. The
 * body holds the same computation as plain loops; a backend may run this
 * description instead (LLVM: vector loads of whole rows, the even and odd
 * columns split by shuffles, where the loops would gather). */
typedef struct KPool {
  int x, dy, y;                  /* buffers */
  int64_t H, W, OH, OW, KH;      /* the plane of x; of the windows */
} KPool;

/* An im2col kernel with unit column stride, parallel over the images:
 * col[n, (c*KH + kh)*KW + kw, oh*OW + ow] = x[n, c, oh*sh - ph + kh*dh,
 * ow - pw + kw*dw], 0 outside the image. Each column row's run is a
 * contiguous stretch of an input row; the body's loops copy it, which
 * LLVM turns into a library call per run (28 floats in LeNet-5). A
 * backend may run this description instead (LLVM: masked vector loads
 * and stores, the padding lanes masked off). */
typedef struct KCols {
  int x, col;                            /* buffers */
  int64_t C, H, W, KH, KW, sh, ph, pw, dh, dw, OH, OW;
} KCols;

/* A reduction, sum, mean or max of x over some of its axes, into y:
 *
 *   y[o] = op over j of x[at(o, j)]        (mean: divided by the count)
 *
 * where o runs over the kept axes of x and j over the reduced ones, each
 * row-major (y's elements, keepdims or not, are in that order), and
 * at(o, j) is the element whose kept coordinates are o's digits and
 * reduced coordinates j's, at x's row-major strides. The body holds the
 * same computation as loops, a unit of work per output (or per strip of
 * columns); a backend may run this description instead (CUDA: a block of
 * threads per output, partial results combined in a fixed order). */
typedef struct KReduce {
  int x, y;               /* buffers */
  KOp op;                 /* K_ADD (sum, mean) or K_MAX (identity -inf,
                             combined as K_MAX is: select of >) */
  bool mean;              /* divide by the count of reduced elements */
  Shape shape;            /* x's shape; a dimension d < 0 is -d * N */
  bool red[MAX_RANK];     /* the reduced axes of x */
} KReduce;

/* One kernel: body runs for var 0 over [lo, hi) of [0, extent). Variable 0
 * is the parallel loop variable; other variables are inner loop variables
 * or scalar locals (typed by vartype). In a kernel with gemm set, the
 * backend implements the product, var 0 is the panel (batch * panels +
 * column panel), and the body, if any, is an epilogue run for each panel
 * after its product: it reads and writes only that panel's elements of C,
 * so a backend may equally run it after the whole product. */
typedef struct Kernel {
  const char *name;     /* unique symbol, e.g. k3_matmul */
  Loc loc;              /* source op it came from */
  int node;             /* graph node it computes */
  KBuf *buf;
  int nbuf, capbuf;
  KType *vartype;
  int nvar, capvar;
  KExpr *extent;        /* trip count of the parallel loop (i64) */
  KStmt **body;
  int nbody, capbody;
  double work;          /* estimated flops per unit of extent (scheduling) */
  KGemm *gemm;          /* a matrix-product kernel, or NULL */
  KPool *pool;          /* a pooling kernel a backend may vectorize, or NULL */
  KCols *cols;          /* an im2col kernel a backend may vectorize, or NULL */
  KReduce *reduce;      /* a reduction a backend may run its own way, or NULL */
  int64_t per_sample;   /* > 0: the extent is N * per_sample, and unit t reads
                           and writes batch-proportional tensors only in
                           sample t / per_sample (so a backend may run a
                           run of such kernels sample by sample) */
  int64_t tile_S;       /* a member of a sample group (codegen/tile.c): its
                           samples per step, which R_TILE buffers are deep */
} Kernel;

/* Kernels first..last-1 of a program run count times in order, K_ITER
 * reading 0, 1, ..., count - 1: the steps of a recurrent layer, whose
 * code is then the same for T = 28 or T = 512. Loops do not nest or
 * overlap. */
typedef struct KRepeat {
  int first, last;
  int64_t count;
} KRepeat;

/* Kernels first..end-1 run as a sample group (codegen/tile.c): the
 * members, each S samples at a time through all of them, then the others
 * (deferred) in order. */
typedef struct KTile {
  int first, end;
  const bool *member;   /* end - first flags */
  int64_t S;
  int64_t scratch;      /* bytes of R_TILE storage a thread needs */
} KTile;

typedef struct Program {
  Arena *arena;         /* owns kernels and expressions */
  const Graph *g;
  Kernel **k;
  int nk, capk;
  KRepeat *loop;          /* in kernel order */
  int nloop, caploop;
  KTile *tile;          /* in kernel order, disjoint */
  int ntile;
} Program;

/* Builders. Expressions and statements are allocated from p->arena. */
Kernel *kir_kernel(Program *p, const char *what, int node, Loc loc);
int kir_buf(Program *p, Kernel *k, int node, bool written);
int kir_var(Program *p, Kernel *k, KType t);
KExpr *kir_const_f(Program *p, double f);
KExpr *kir_const_i(Program *p, int64_t i);   /* KT_I64 */
KExpr *kir_var_ref(Program *p, Kernel *k, int var);
KExpr *kir_n(Program *p);
KExpr *kir_frame(Program *p, KOp op, int64_t slot); /* K_HYPER/K_STEP/K_SEED */
KExpr *kir_load(Program *p, Kernel *k, int buf, KExpr *idx);
KExpr *kir_bin(Program *p, KOp op, KExpr *a, KExpr *b);
KExpr *kir_un(Program *p, KOp op, KExpr *a);
KExpr *kir_select(Program *p, KExpr *c, KExpr *a, KExpr *b);
KExpr *kir_cast(Program *p, KType t, KExpr *a);
KExpr *kir_fma(Program *p, KExpr *a, KExpr *b, KExpr *c);
/* Integer helpers that fold constants (index arithmetic stays small). */
KExpr *kir_iadd(Program *p, KExpr *a, KExpr *b);
KExpr *kir_imul(Program *p, KExpr *a, KExpr *b);
KExpr *kir_dim(Program *p, int64_t d);       /* static d or (-d) * N */
/* Statements: append to a body (k->body when parent is NULL). */
KStmt *kir_loop(Program *p, Kernel *k, KStmt *parent, int var, KExpr *lo,
                KExpr *hi);
void kir_store(Program *p, Kernel *k, KStmt *parent, int buf, KExpr *idx,
               KExpr *val);
void kir_set(Program *p, Kernel *k, KStmt *parent, int var, KExpr *val);

/* Make the kernels added since kernel first (up to p->nk) one loop of
 * count iterations. */
void kir_repeat(Program *p, int first, int64_t count);

/* Print the program as text (dlc dump --emit kir). */
void kir_print(FILE *f, const Program *p);

/* ---- lower.c: graph IR to kernel IR -------------------------------------- */

/* Lower a planned graph (every node has region and off, passes/plan.c) to
 * kernels in node order. Reports unsupported ops with diag_error. */
Program *cg_lower(const Graph *g);
void cg_free_program(Program *p);

/* ---- recur.c: recurrent layers ------------------------------------------ */

/* Lower recurrent node (lstm, gru, rnn) or, with grad, its _grad node to
 * a KRepeat of two kernels per step (lower.c's table calls it). */
void cg_lower_recur(Program *p, int node, bool grad);

/* ---- blocked.c: the blocked layout ---------------------------------------- */

/* Lower a to_blocked, from_blocked or conv2d_blocked node (lower.c's
 * table calls it): conv2d_blocked as a loop nest whose accumulators are
 * several output columns of one block of 8 output channels, which the
 * backend keeps in vector registers. */
void cg_lower_blocked(Program *p, int node);

/* ---- manifest.c: the model description embedded in programs -------------- */

/* The entries of a program: each a planned graph and its lowered kernels,
 * compiled into one function the runtime calls (dlrt_forward, dlrt_eval,
 * dlrt_train_step). Every entry shares the weights and state layout. */
typedef enum EntryKind { ENT_FORWARD, ENT_EVAL, ENT_TRAIN, ENT_COUNT } EntryKind;
extern const char *const entry_name[ENT_COUNT];    /* forward eval train */
extern const char *const entry_symbol[ENT_COUNT];  /* dlrt_forward ... */

typedef struct Entry {
  EntryKind kind;
  const Graph *g;
  const Program *p;
} Entry;

/* The manifest text (runtime/dlrt.h, doc/manifest.txt) of the entries;
 * heap string. */
char *cg_manifest(const Entry *e, int n);

/* ---- llvm.c (and llvm_vec.c): the CPU backend ----------------------------- */

typedef struct BuildOptions {
  const char *output;      /* executable path */
  const char *obj;         /* object file path, or NULL for a temporary */
  const char *emit_llvm;   /* write LLVM IR here (after optimisation) */
  int opt_level;           /* 0..3 */
  bool stats;              /* print sizes and times */
} BuildOptions;

typedef struct BuildStats {
  double t_codegen, t_opt, t_emit, t_link;  /* seconds */
  int64_t code_bytes;                       /* .text of the object */
  int nkernels;
} BuildStats;

/* Generate an object file for the entries with the host CPU as target.
 * Returns false after printing an error. */
bool cg_llvm_emit(const Entry *e, int n, const char *manifest, const BuildOptions *o,
                  const char *obj_path, BuildStats *st);
/* Print the LLVM IR (before optimisation if opt_level is 0). */
bool cg_llvm_print(FILE *f, const Entry *e, int n, const char *manifest, int opt_level);

/* The panel width of matrix products on the host: two vectors of the
 * widest float vectors the CPU has (16 with AVX2, 32 with AVX-512). */
int cg_gemm_nr(void);

/* ---- tile.c: sample groups ------------------------------------------------ */

/* When g->tile is set (passes/tile.c): find the runs of per-sample
 * kernels of p that may run a few samples at a time, plan g's memory
 * again so that their tensors stay apart, and record them in p->tile. */
void cg_tile(Graph *g, Program *p);

/* ---- header.c: the C header backend ------------------------------------ */

typedef struct HeaderOptions {
  const char *prefix;      /* symbol prefix; NULL: the model's name */
  const char *source;      /* the .dlm path, for the header's comment */
  const char *weights;     /* checkpoint; NULL: seeded initial weights */
  uint64_t seed;           /* without weights: as `./m init --seed` */
  int64_t batch;           /* samples per call (the arena is static) */
  bool int8;               /* matrix-product weights as int8, a scale per column */
} HeaderOptions;

typedef struct HeaderStats {
  int nkernels;
  int64_t header_bytes, lines, code_lines;  /* code: all but weight values */
  int64_t weight_bytes, nparams, nquant;    /* nquant: parameters as int8 */
  int64_t arena_bytes;                      /* sizeof the context */
} HeaderStats;

/* Write the forward entry e (planned by the inference pipeline, lowered)
 * to path as one C99/C++ header, `<prefix>_predict` and its context type,
 * with the weights of o->weights (checked as the runtime checks a
 * checkpoint: signature, checksum, every parameter's dtype and shape) as
 * constant arrays. Writes nothing and returns false after printing an
 * error. */
bool cg_header(const char *path, const Entry *e, const HeaderOptions *o, HeaderStats *st);

/* ---- cuda.c: the GPU backend -------------------------------------------- */

typedef struct CudaOptions {
  const char *output;      /* executable path */
  int arch;                /* compute capability, e.g. 80 for sm_80 */
  const char *emit_cuda;   /* write the CUDA C here, or NULL */
  const char *emit_ptx;    /* write the PTX here, or NULL */
  const char *keep_host;   /* keep the host program's C here, or NULL */
} CudaOptions;

/* How one part of a kernel is launched for batch size N: grid x, y, z,
 * threads per block, static shared memory per block (bytes), the threads
 * the kernel needs (the grid may have more; they return), and whether
 * the threads of a block meet at __syncthreads (the function is then
 * marked DLC_BLOCK_SYNC in the CUDA C). */
typedef struct CudaLaunch {
  int64_t grid[3];
  int64_t block, shared, threads;
  bool sync;
} CudaLaunch;

/* The entries as CUDA C: one __global__ function per kernel, two for a
 * matrix product with an epilogue. Heap string. */
char *cg_cuda_source(const Entry *e, int n);
/* The __global__ functions of kernel k: 1, or 2 (product, epilogue). */
int cg_cuda_nparts(const Kernel *k);
/* The launch of part `part` of kernel k of p at batch size N. */
void cg_cuda_launch(const Program *p, const Kernel *k, int part, int64_t N, CudaLaunch *l);
/* The host program: the manifest, the PTX and the entries calling
 * runtime/cuda.c. Heap string. */
char *cg_cuda_host(const Entry *e, int n, const char *manifest, const char *ptx, int arch);
/* The whole CUDA build: source, PTX (cg_cuda_compile), host program, link.
 * False after a message. st: t_opt is NVRTC's time, code_bytes the PTX's
 * size. */
bool cg_cuda_build(const Entry *e, int n, const char *manifest, const CudaOptions *o,
                   BuildStats *st);

/* ---- nvrtc.c: CUDA C to PTX --------------------------------------------- */

/* "sm_80", "compute_80" or "80" -> 80; 0 when s is none of these. */
int cg_cuda_arch(const char *s);
/* Compile src with NVRTC (loaded with dlopen: $DLC_NVRTC or libnvrtc.so)
 * to PTX for compute capability arch. The log, if NVRTC says anything, is
 * printed as a warning (an error when it rejects the source, which is
 * then written to src_path when that is not NULL). *ptx: heap string. */
bool cg_cuda_compile(const char *src, int arch, const char *src_path, char **ptx);

/* ---- link.c: the final link ---------------------------------------------- */

/* Link obj with the runtime library (found beside the dlc executable, or at
 * $DLC_RUNTIME) into exe using the system C compiler ($CC or cc). */
bool cg_link(const char *obj, const char *exe, double *seconds);
/* Write text to path (a generated source, PTX); false after a message. */
bool cg_write_file(const char *path, const char *text);

#endif
