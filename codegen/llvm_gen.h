/* llvm_gen.h — what the two files of the CPU backend share: the state of
 * a module being generated and the builders both use.
 *
 * The one idea: the backend is one backend in two files, llvm.c (kernel
 * IR to LLVM IR, entries, the module, the object file) and llvm_vec.c (the
 * code built by hand rather than from loops: matrix products, max pooling
 * in pairs, im2col runs), because one file would be past the ~1,500 lines
 * a file should stay under. Nothing outside codegen/llvm*.c includes this;
 * codegen.h remains the layer's interface.
 */
#ifndef DLC_LLVM_GEN_H
#define DLC_LLVM_GEN_H

#include "codegen.h"

#include <llvm-c/Core.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct Gen {
  LLVMContextRef ctx;
  LLVMModuleRef mod;
  LLVMBuilderRef b;
  LLVMTypeRef t_void, t_i1, t_i32, t_i64, t_f32, t_i8p, t_frame, t_framep, t_kfn;
  LLVMValueRef parallel;   /* dlrt_parallel */
  LLVMValueRef async;      /* dlrt_parallel_async */
  LLVMValueRef join;       /* dlrt_pool_join */
  LLVMValueRef checking;   /* dlrt_checking_numerics (a bool) */
  LLVMValueRef check;      /* dlrt_check_numerics */
  LLVMValueRef scratch;    /* dlrt_tile_scratch */
  LLVMValueRef changed;    /* dlrt_params_changed */
  bool keep_loops;         /* loops built now are not to be unrolled */
  bool weights_fixed;      /* the entry being built writes no weight */
  int64_t cache_bytes;     /* of cached panels so far */
  const Program *p;
  /* per kernel body: */
  const Kernel *k;
  LLVMValueRef fn, N, frame, *buf, *var;
} Gen;

/* ---- llvm.c ---- */

LLVMTypeRef ktype(Gen *g, KType t);
LLVMValueRef intrinsic(Gen *g, const char *name, LLVMTypeRef t, LLVMValueRef *args,
                       unsigned nargs);
LLVMValueRef cf(Gen *g, double v);   /* an f32 constant */
LLVMValueRef ci(Gen *g, int64_t v);  /* an i64 constant */
LLVMValueRef gen_expr(Gen *g, const KExpr *e);
void gen_stmts(Gen *g, KStmt *const *s, int n);
void add_attr(Gen *g, LLVMValueRef fn, unsigned idx, const char *name);

/* for i in [lo, hi), step 1: body(g, i, ctx) builds the body. The bound
 * is evaluated once, before the loop; i lives in an alloca that SROA
 * turns into a phi. counted_loop: lo = 0. */
typedef void LoopBody(Gen *g, LLVMValueRef i, void *ctx);
void range_loop(Gen *g, LLVMValueRef lo, LLVMValueRef hi, LoopBody *body, void *ctx);
void counted_loop(Gen *g, LLVMValueRef n, LoopBody *body, void *ctx);

/* ---- llvm_vec.c: bodies of kernels with a description, units [lo, hi) ---- */

void gen_gemm_panels(Gen *g, const KGemm *gm, LLVMValueRef lo, LLVMValueRef hi);
void gen_pool(Gen *g, const KPool *kp, LLVMValueRef lo, LLVMValueRef hi);
void gen_cols(Gen *g, const KCols *kc, LLVMValueRef lo, LLVMValueRef hi);

#endif
