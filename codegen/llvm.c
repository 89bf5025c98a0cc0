/* llvm.c — the CPU backend: kernel IR to LLVM IR to an object file, through
 * LLVM's C API.
 *
 * Each kernel becomes two functions: an internal, always-inlined body that
 * takes every buffer as a `noalias` pointer (so the vectorizer needs no
 * runtime overlap checks), and an exported wrapper with the runtime's
 * kernel signature, void(const dlrt_frame *, i64 lo, i64 hi), that computes
 * the pointers from the frame. The entry dlrt_forward calls the kernels in
 * order, through dlrt_parallel_async when a kernel has enough work to
 * share (consecutive kernels on the pool meet at a barrier), joining the
 * pool before anything that runs on the entry's thread alone.
 *
 * Loop variables and locals live in allocas; the optimiser's SROA turns
 * them into SSA values, so this file never builds phi nodes by hand. The
 * module is optimised with the new pass manager at -O3 for the host CPU,
 * which vectorizes the unit-stride innermost loops to AVX2 and turns
 * llvm.fmuladd into vfmadd.
 */
#include "codegen.h"
#include "dlrt.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/DebugInfo.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Below this many flops a kernel runs on the calling thread: waking the
 * pool costs more than it saves. */
#define PARALLEL_MIN_WORK 65536.0

/* Bytes of cached weight panels in one module at most: they are static
 * data, which the default code model keeps within 2 GB. */
#define PANEL_CACHE_MAX (1LL << 30)

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

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static LLVMTypeRef ktype(Gen *g, KType t) {
  switch (t) {
  case KT_F32: return g->t_f32;
  case KT_I32: return g->t_i32;
  case KT_I64: return g->t_i64;
  case KT_BOOL: return g->t_i1;
  case KT_COUNT: break;
  }
  die("bad ktype");
}

static LLVMValueRef intrinsic(Gen *g, const char *name, LLVMTypeRef t,
                              LLVMValueRef *args, unsigned nargs) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  if (!id) die("no intrinsic %s", name);
  LLVMValueRef fn = LLVMGetIntrinsicDeclaration(g->mod, id, &t, 1);
  LLVMTypeRef fty = LLVMIntrinsicGetType(g->ctx, id, &t, 1);
  return LLVMBuildCall2(g->b, fty, fn, args, nargs, "");
}

static LLVMValueRef gen_expr(Gen *g, const KExpr *e);

static LLVMValueRef cf(Gen *g, double v) { return LLVMConstReal(g->t_f32, v); }

static LLVMValueRef fma_f(Gen *g, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
  LLVMValueRef args[3] = {a, b, c};
  return intrinsic(g, "llvm.fmuladd", g->t_f32, args, 3);
}

/* e^x in plain instructions that the loop vectorizer widens (a libm call
 * keeps a loop scalar): x = n ln2 + r with |r| <= ln2/2, e^r by its Taylor
 * polynomial to r^7 (truncation below 1e-8), 2^n built in the exponent
 * bits. x is clamped to [-87, 88], where e^x is a normal float. */
static LLVMValueRef fast_exp(Gen *g, LLVMValueRef x) {
  LLVMValueRef lo = cf(g, -87.0), hi = cf(g, 88.0);
  x = LLVMBuildSelect(g->b, LLVMBuildFCmp(g->b, LLVMRealOLT, x, lo, ""), lo, x, "");
  x = LLVMBuildSelect(g->b, LLVMBuildFCmp(g->b, LLVMRealOGT, x, hi, ""), hi, x, "");
  LLVMValueRef t = fma_f(g, x, cf(g, 1.44269504088896341), cf(g, 0.5));
  LLVMValueRef n = intrinsic(g, "llvm.floor", g->t_f32, &t, 1);
  LLVMValueRef r = fma_f(g, n, cf(g, -0.693359375), x);
  r = fma_f(g, n, cf(g, 2.12194440054690583e-4), r);
  static const double taylor[8] = {1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24,
                                   1.0 / 6, 0.5, 1, 1};
  LLVMValueRef p = cf(g, taylor[0]);
  for (int i = 1; i < 8; i++) p = fma_f(g, p, r, cf(g, taylor[i]));
  LLVMValueRef e = LLVMBuildFPToSI(g->b, n, g->t_i32, "");
  e = LLVMBuildShl(g->b, LLVMBuildAdd(g->b, e, LLVMConstInt(g->t_i32, 127, 0), ""),
                   LLVMConstInt(g->t_i32, 23, 0), "");
  return LLVMBuildFMul(g->b, p, LLVMBuildBitCast(g->b, e, g->t_f32, ""), "");
}

/* 1 / (1 + e^-x) */
static LLVMValueRef fast_sigmoid(Gen *g, LLVMValueRef x) {
  LLVMValueRef d = LLVMBuildFAdd(g->b, cf(g, 1), fast_exp(g, LLVMBuildFNeg(g->b, x, "")), "");
  return LLVMBuildFDiv(g->b, cf(g, 1), d, "");
}

/* tanh x: for |x| < 0.4 its odd Taylor series to x^15 (truncation below
 * 1e-9, and no cancellation near 0); beyond, sign(x) (1 - 2 / (e^2|x| + 1)),
 * within a few float ulps. */
static LLVMValueRef fast_tanh(Gen *g, LLVMValueRef x) {
  static const double odd[8] = {-929569.0 / 638512875, 21844.0 / 6081075, -1382.0 / 155925,
                                62.0 / 2835, -17.0 / 315, 2.0 / 15, -1.0 / 3, 1};
  LLVMValueRef x2 = LLVMBuildFMul(g->b, x, x, ""), p = cf(g, odd[0]);
  for (int i = 1; i < 8; i++) p = fma_f(g, p, x2, cf(g, odd[i]));
  LLVMValueRef small = LLVMBuildFMul(g->b, p, x, "");
  LLVMValueRef ax = intrinsic(g, "llvm.fabs", g->t_f32, &x, 1);
  LLVMValueRef e = fast_exp(g, LLVMBuildFMul(g->b, ax, cf(g, 2), ""));
  LLVMValueRef big = LLVMBuildFSub(g->b, cf(g, 1),
                                   LLVMBuildFDiv(g->b, cf(g, 2), LLVMBuildFAdd(g->b, e, cf(g, 1), ""), ""), "");
  LLVMValueRef args[2] = {big, x};
  big = intrinsic(g, "llvm.copysign", g->t_f32, args, 2);
  return LLVMBuildSelect(g->b, LLVMBuildFCmp(g->b, LLVMRealOLT, ax, cf(g, 0.4), ""), small, big, "");
}

static LLVMValueRef gen_max_min(Gen *g, const KExpr *e, LLVMValueRef a, LLVMValueRef b) {
  bool mx = e->op == K_MAX;
  LLVMValueRef c = e->type == KT_F32
                       ? LLVMBuildFCmp(g->b, mx ? LLVMRealOGT : LLVMRealOLT, a, b, "")
                       : LLVMBuildICmp(g->b, mx ? LLVMIntSGT : LLVMIntSLT, a, b, "");
  return LLVMBuildSelect(g->b, c, a, b, "");
}

static LLVMValueRef gen_binary(Gen *g, const KExpr *e) {
  LLVMValueRef a = gen_expr(g, e->a), b = gen_expr(g, e->b);
  bool f = e->a->type == KT_F32;
  switch (e->op) {
  case K_ADD:
    if (f) return LLVMBuildFAdd(g->b, a, b, "");
    return e->nsw ? LLVMBuildNSWAdd(g->b, a, b, "") : LLVMBuildAdd(g->b, a, b, "");
  case K_SUB: return f ? LLVMBuildFSub(g->b, a, b, "") : LLVMBuildSub(g->b, a, b, "");
  case K_MUL:
    if (f) return LLVMBuildFMul(g->b, a, b, "");
    return e->nsw ? LLVMBuildNSWMul(g->b, a, b, "") : LLVMBuildMul(g->b, a, b, "");
  case K_DIV: return f ? LLVMBuildFDiv(g->b, a, b, "") : LLVMBuildSDiv(g->b, a, b, "");
  case K_REM: return f ? LLVMBuildFRem(g->b, a, b, "") : LLVMBuildSRem(g->b, a, b, "");
  case K_MAX: case K_MIN: return gen_max_min(g, e, a, b);
  case K_LT: return f ? LLVMBuildFCmp(g->b, LLVMRealOLT, a, b, "") : LLVMBuildICmp(g->b, LLVMIntSLT, a, b, "");
  case K_LE: return f ? LLVMBuildFCmp(g->b, LLVMRealOLE, a, b, "") : LLVMBuildICmp(g->b, LLVMIntSLE, a, b, "");
  case K_EQ: return f ? LLVMBuildFCmp(g->b, LLVMRealOEQ, a, b, "") : LLVMBuildICmp(g->b, LLVMIntEQ, a, b, "");
  case K_XOR: return LLVMBuildXor(g->b, a, b, "");
  case K_SHR: return LLVMBuildLShr(g->b, a, b, "");
  default: die("not binary");
  }
}

static LLVMValueRef gen_cast(Gen *g, const KExpr *e) {
  LLVMValueRef a = gen_expr(g, e->a);
  LLVMTypeRef to = ktype(g, e->type);
  KType from = e->a->type;
  if (e->type == KT_F32) return LLVMBuildSIToFP(g->b, a, to, "");
  if (from == KT_F32) return LLVMBuildFPToSI(g->b, a, to, "");
  if (from == KT_BOOL) return LLVMBuildZExt(g->b, a, to, "");
  return LLVMBuildIntCast2(g->b, a, to, 1, "");
}

static LLVMValueRef gen_expr(Gen *g, const KExpr *e) {
  LLVMValueRef a, args[3];
  switch (e->op) {
  case K_CONST:
    if (e->type == KT_F32) return LLVMConstReal(g->t_f32, e->f);
    return LLVMConstInt(ktype(g, e->type), (unsigned long long)e->i, 1);
  case K_VAR: return LLVMBuildLoad2(g->b, ktype(g, e->type), g->var[e->var], "");
  case K_N: return g->N;
  case K_HYPER: case K_STEP: case K_SEED: case K_ITER: {
    unsigned field = e->op == K_HYPER ? 2 : e->op == K_STEP ? 3 : e->op == K_SEED ? 4 : 5;
    LLVMValueRef idx[3] = {LLVMConstInt(g->t_i32, 0, 0), LLVMConstInt(g->t_i32, field, 0),
                           LLVMConstInt(g->t_i32, (unsigned long long)e->i, 0)};
    LLVMValueRef slot = LLVMBuildInBoundsGEP2(g->b, g->t_frame, g->frame, idx,
                                              e->op == K_HYPER ? 3 : 2, "");
    return LLVMBuildLoad2(g->b, ktype(g, e->type), slot, "");
  }
  case K_LOAD: {
    LLVMTypeRef t = ktype(g, e->type);
    LLVMValueRef idx = gen_expr(g, e->a);
    LLVMValueRef ptr = LLVMBuildInBoundsGEP2(g->b, t, g->buf[e->buf], &idx, 1, "");
    return LLVMBuildLoad2(g->b, t, ptr, "");
  }
  case K_ADD: case K_SUB: case K_MUL: case K_DIV: case K_REM: case K_MAX: case K_MIN:
  case K_LT: case K_LE: case K_EQ: case K_XOR: case K_SHR:
    return gen_binary(g, e);
  case K_NEG: return LLVMBuildFNeg(g->b, gen_expr(g, e->a), "");
  case K_EXP: case K_LOG: case K_SQRT: case K_ABS:
    a = gen_expr(g, e->a);
    return intrinsic(g, e->op == K_EXP ? "llvm.exp" : e->op == K_LOG ? "llvm.log"
                        : e->op == K_SQRT ? "llvm.sqrt" : "llvm.fabs", g->t_f32, &a, 1);
  case K_TANH: return fast_tanh(g, gen_expr(g, e->a));
  case K_SIGMOID: return fast_sigmoid(g, gen_expr(g, e->a));
  case K_SELECT:
    return LLVMBuildSelect(g->b, gen_expr(g, e->a), gen_expr(g, e->b), gen_expr(g, e->c), "");
  case K_CAST: return gen_cast(g, e);
  case K_FMA:
    args[0] = gen_expr(g, e->a);
    args[1] = gen_expr(g, e->b);
    args[2] = gen_expr(g, e->c);
    return intrinsic(g, "llvm.fmuladd", g->t_f32, args, 3);
  case K_COUNT: break;
  }
  die("bad kir expression");
}

static void gen_stmts(Gen *g, KStmt *const *s, int n);

/* Mark the loop whose back edge is br as not to be unrolled. A gemm
 * epilogue's column loop has a trip count LLVM can often prove (a full
 * panel); unrolled before the vectorizer sees it, the row loop around it
 * would be vectorized instead, across rows, with gathers. Kept as a loop,
 * it is vectorized along the contiguous columns. */
static void no_unroll(Gen *g, LLVMValueRef br) {
  const char *what = "llvm.loop.unroll.disable";
  LLVMMetadataRef opt = LLVMMDNodeInContext2(g->ctx, (LLVMMetadataRef[]){
      LLVMMDStringInContext2(g->ctx, what, strlen(what))}, 1);
  LLVMMetadataRef tmp = LLVMTemporaryMDNode(g->ctx, NULL, 0);
  LLVMMetadataRef id = LLVMMDNodeInContext2(g->ctx, (LLVMMetadataRef[]){tmp, opt}, 2);
  LLVMMetadataReplaceAllUsesWith(tmp, id);
  unsigned kind = LLVMGetMDKindIDInContext(g->ctx, "llvm.loop", 9);
  LLVMSetMetadata(br, kind, LLVMMetadataAsValue(g->ctx, id));
}

/* for i in [lo, hi), step 1: body(g, i, ctx) builds the body. The bound
 * is evaluated once, before the loop; i lives in an alloca that SROA
 * turns into a phi. */
typedef void LoopBody(Gen *g, LLVMValueRef i, void *ctx);
static void range_loop(Gen *g, LLVMValueRef lo, LLVMValueRef hi, LoopBody *body, void *ctx) {
  LLVMValueRef iv = LLVMBuildAlloca(g->b, g->t_i64, "");
  LLVMBasicBlockRef cond = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "loop");
  LLVMBasicBlockRef bb = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "body");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "done");
  LLVMBuildStore(g->b, lo, iv);
  LLVMBuildBr(g->b, cond);
  LLVMPositionBuilderAtEnd(g->b, cond);
  LLVMValueRef i = LLVMBuildLoad2(g->b, g->t_i64, iv, "");
  LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, i, hi, ""), bb, done);
  LLVMPositionBuilderAtEnd(g->b, bb);
  body(g, i, ctx);
  LLVMBuildStore(g->b, LLVMBuildNSWAdd(g->b, i, LLVMConstInt(g->t_i64, 1, 0), ""), iv);
  LLVMValueRef back = LLVMBuildBr(g->b, cond);
  if (g->keep_loops) no_unroll(g, back);
  LLVMPositionBuilderAtEnd(g->b, done);
}

static void counted_loop(Gen *g, LLVMValueRef n, LoopBody *body, void *ctx) {
  range_loop(g, LLVMConstInt(g->t_i64, 0, 0), n, body, ctx);
}

/* A kernel IR loop: its variable takes each value of the range. */
typedef struct KLoop {
  LLVMValueRef var;
  KStmt *const *body;
  int nbody;
} KLoop;

static void kloop_body(Gen *g, LLVMValueRef i, void *ctx) {
  const KLoop *l = ctx;
  LLVMBuildStore(g->b, i, l->var);
  gen_stmts(g, l->body, l->nbody);
}

static void gen_loop(Gen *g, LLVMValueRef var, LLVMValueRef lo, LLVMValueRef hi,
                     KStmt *const *body, int nbody) {
  KLoop l = {var, body, nbody};
  range_loop(g, lo, hi, kloop_body, &l);
}

static void gen_stmts(Gen *g, KStmt *const *s, int n) {
  for (int i = 0; i < n; i++) {
    const KStmt *st = s[i];
    switch (st->kind) {
    case KS_LOOP:
      gen_loop(g, g->var[st->var], gen_expr(g, st->lo), gen_expr(g, st->hi), st->body,
               st->nbody);
      break;
    case KS_STORE: {
      LLVMTypeRef t = ktype(g, g->k->buf[st->buf].type);
      LLVMValueRef idx = gen_expr(g, st->idx), val = gen_expr(g, st->val);
      LLVMValueRef ptr = LLVMBuildInBoundsGEP2(g->b, t, g->buf[st->buf], &idx, 1, "");
      LLVMBuildStore(g->b, val, ptr);
      break;
    }
    case KS_SET:
      LLVMBuildStore(g->b, gen_expr(g, st->val), g->var[st->var]);
      break;
    }
  }
}

static void add_attr(Gen *g, LLVMValueRef fn, unsigned idx, const char *name) {
  unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
  LLVMAddAttributeAtIndex(fn, idx, LLVMCreateEnumAttribute(g->ctx, kind, 0));
}

/* ---- matrix products: packed panels and a register-blocked micro-kernel ----
 *
 * For each column panel of nr = 2 vectors (16 floats with AVX2, 32 with
 * AVX-512) and each block of KC rows of B, the panel is copied into a
 * contiguous, zero-padded buffer on the stack (so the micro-kernel's loads
 * are sequential, full-width and L1-resident), then every block of up to
 * six rows of C is computed by ukr<mr>:
 *
 *     for k < kc:  b0, b1 = Bp[k][0:VW], Bp[k][VW:2VW]
 *                  for i < mr:  a = broadcast A'(i, k)
 *                               acc[i][0] += a * b0;  acc[i][1] += a * b1
 *
 * twelve accumulators held in registers over the whole block
 * (llvm.fmuladd -> vfmadd231ps); C is loaded (after the first K block) and
 * stored with masks where the panel is narrower than nr.
 *
 * A product of at most 2 * GEMM_MR rows does not pay for packing: the
 * micro-kernel reads B in place, nr floats of every row, a new page every
 * few rows. Where B is a weight and the entry does not write weights
 * (inference, evaluation), the packed panels are instead kept from one
 * call to the next, in a zero-initialised global of the kernel,
 *
 *     name.panels: float[panel][K rounded up to VW][nr]    (B packed whole)
 *     name.stamps: i64[panel]     the frame's version it was packed at
 *
 * and every call, at any M, reads them as it reads a panel packed for the
 * call (the same arithmetic in the same order, so the same results). The
 * thread that computes panel t packs it again first when its stamp is not
 * f->version, which the runtime and the training entries change whenever
 * the weights may have changed (dlrt_params_changed); 0 means unknown and
 * is never taken as current. A batch-1 forward pass then streams its
 * weights contiguously from cache, like a large product. */

static int vector_width = 0;  /* floats per vector: 8 or 16 */

int cg_gemm_nr(void) {
  if (!vector_width) {
    char *f = LLVMGetHostCPUFeatures();
    vector_width = f && strstr(f, "+avx512f") ? 16 : 8;
    LLVMDisposeMessage(f);
  }
  return 2 * vector_width;
}

static LLVMTypeRef vecf(Gen *g) { return LLVMVectorType(g->t_f32, (unsigned)vector_width); }

static LLVMValueRef vload(Gen *g, LLVMValueRef ptr, LLVMValueRef mask, unsigned align) {
  LLVMTypeRef vt = vecf(g), vp = LLVMPointerType(vt, 0);
  LLVMValueRef p = LLVMBuildBitCast(g->b, ptr, vp, "");
  if (!mask) {
    LLVMValueRef l = LLVMBuildLoad2(g->b, vt, p, "");
    LLVMSetAlignment(l, align);
    return l;
  }
  LLVMTypeRef tys[2] = {vt, vp};
  unsigned id = LLVMLookupIntrinsicID("llvm.masked.load", 16);
  LLVMValueRef fn = LLVMGetIntrinsicDeclaration(g->mod, id, tys, 2);
  LLVMValueRef args[4] = {p, LLVMConstInt(g->t_i32, 4, 0), mask, LLVMConstNull(vt)};
  return LLVMBuildCall2(g->b, LLVMIntrinsicGetType(g->ctx, id, tys, 2), fn, args, 4, "");
}

static void vstore(Gen *g, LLVMValueRef v, LLVMValueRef ptr, LLVMValueRef mask, unsigned align) {
  LLVMTypeRef vt = vecf(g), vp = LLVMPointerType(vt, 0);
  LLVMValueRef p = LLVMBuildBitCast(g->b, ptr, vp, "");
  if (!mask) {
    LLVMSetAlignment(LLVMBuildStore(g->b, v, p), align);
    return;
  }
  LLVMTypeRef tys[2] = {vt, vp};
  unsigned id = LLVMLookupIntrinsicID("llvm.masked.store", 17);
  LLVMValueRef fn = LLVMGetIntrinsicDeclaration(g->mod, id, tys, 2);
  LLVMValueRef args[4] = {v, p, LLVMConstInt(g->t_i32, 4, 0), mask};
  LLVMBuildCall2(g->b, LLVMIntrinsicGetType(g->ctx, id, tys, 2), fn, args, 4, "");
}

static LLVMValueRef ci(Gen *g, int64_t v) { return LLVMConstInt(g->t_i64, (unsigned long long)v, 1); }

static LLVMValueRef gep_f(Gen *g, LLVMValueRef p, LLVMValueRef idx) {
  return LLVMBuildInBoundsGEP2(g->b, g->t_f32, p, &idx, 1, "");
}

/* x (a scalar of any type) in every lane of a vector of VW. */
static LLVMValueRef splat(Gen *g, LLVMValueRef x) {
  unsigned w = (unsigned)vector_width;
  LLVMTypeRef vt = LLVMVectorType(LLVMTypeOf(x), w);
  LLVMValueRef v = LLVMBuildInsertElement(g->b, LLVMGetUndef(vt), x, LLVMConstInt(g->t_i32, 0, 0), "");
  return LLVMBuildShuffleVector(g->b, v, LLVMGetUndef(vt), LLVMConstNull(LLVMVectorType(g->t_i32, w)), "");
}

/* lane < n for lanes first..first+VW-1, as a vector of i1. */
static LLVMValueRef lane_mask(Gen *g, LLVMValueRef n, int first) {
  unsigned w = (unsigned)vector_width;
  LLVMValueRef lanes[16];
  for (unsigned i = 0; i < w; i++) lanes[i] = ci(g, first + (int)i);
  return LLVMBuildICmp(g->b, LLVMIntSLT, LLVMConstVector(lanes, w), splat(g, n), "");
}

/* Accumulator sets of a micro-kernel: a short tile has too few independent
 * FMA chains to hide the FMA latency (4 cycles, 2 per cycle), so its k
 * loop is split over several sets of accumulators, summed at the end. */
enum { MAX_SETS = 4 };

typedef struct Ukr {
  int mr, sets;
  LLVMValueRef A, ars, aks, Bp, bstride, mask[2], acc[MAX_SETS][GEMM_MR][2];
  LLVMValueRef kbase;  /* k of set 0 in the unrolled loop */
} Ukr;

/* One k step into accumulator set s. */
static void ukr_k(Gen *g, Ukr *u, LLVMValueRef k, int s) {
  LLVMValueRef brow = gep_f(g, u->Bp, LLVMBuildMul(g->b, k, u->bstride, ""));
  LLVMValueRef bv[2] = {vload(g, brow, u->mask[0], 4),
                        vload(g, gep_f(g, brow, ci(g, vector_width)), u->mask[1], 4)};
  LLVMValueRef acol = gep_f(g, u->A, LLVMBuildMul(g->b, k, u->aks, ""));
  for (int i = 0; i < u->mr; i++) {
    LLVMValueRef ap = gep_f(g, acol, LLVMBuildMul(g->b, ci(g, i), u->ars, ""));
    LLVMValueRef av = splat(g, LLVMBuildLoad2(g->b, g->t_f32, ap, ""));
    for (int h = 0; h < 2; h++) {
      LLVMValueRef args[3] = {av, bv[h], LLVMBuildLoad2(g->b, vecf(g), u->acc[s][i][h], "")};
      LLVMBuildStore(g->b, intrinsic(g, "llvm.fmuladd", vecf(g), args, 3), u->acc[s][i][h]);
    }
  }
}

static void ukr_unrolled(Gen *g, LLVMValueRef kb, void *ctx) {
  Ukr *u = ctx;
  LLVMValueRef k0 = LLVMBuildMul(g->b, kb, ci(g, u->sets), "");
  for (int s = 0; s < u->sets; s++) ukr_k(g, u, LLVMBuildAdd(g->b, k0, ci(g, s), ""), s);
}

static void ukr_tail(Gen *g, LLVMValueRef k, void *ctx) {
  Ukr *u = ctx;
  ukr_k(g, u, LLVMBuildAdd(g->b, u->kbase, k, ""), 0);
}

/* void ukr<mr>(float *C, i64 ldc, float *A, i64 a_rs, i64 a_ks, float *Bp,
 * i64 kc, i64 nc, i64 accumulate, i64 bstride): C[0:mr, 0:nc] (+)= A' Bp,
 * where row k of Bp starts at Bp + k * bstride (a packed panel, or B
 * itself for short products, which are not worth packing). Loads of Bp
 * are masked to the nc columns. */
static LLVMValueRef ukr(Gen *g, int mr) {
  char name[32];
  snprintf(name, sizeof name, "dlc.ukr%d", mr);
  LLVMValueRef fn = LLVMGetNamedFunction(g->mod, name);
  if (fn) return fn;
  LLVMTypeRef fp = LLVMPointerType(g->t_f32, 0);
  LLVMTypeRef pt[10] = {fp, g->t_i64, fp, g->t_i64, g->t_i64, fp, g->t_i64, g->t_i64, g->t_i64,
                        g->t_i64};
  fn = LLVMAddFunction(g->mod, name, LLVMFunctionType(g->t_void, pt, 10, 0));
  LLVMSetLinkage(fn, LLVMInternalLinkage);
  add_attr(g, fn, LLVMAttributeFunctionIndex, "nounwind");
  add_attr(g, fn, LLVMAttributeFunctionIndex, "noinline"); /* one copy per module */
  static const unsigned ptr_args[3] = {1, 3, 6};          /* C, A, Bp (1-based) */
  for (int i = 0; i < 3; i++) add_attr(g, fn, ptr_args[i], "noalias");
  LLVMBasicBlockRef saved = LLVMGetInsertBlock(g->b);
  LLVMValueRef saved_fn = g->fn;
  g->fn = fn;
  LLVMPositionBuilderAtEnd(g->b, LLVMAppendBasicBlockInContext(g->ctx, fn, "entry"));
  LLVMValueRef arg[10];
  for (int i = 0; i < 10; i++) arg[i] = LLVMGetParam(fn, (unsigned)i);
  Ukr u = {.mr = mr, .sets = mr == 1 ? 4 : mr == 2 ? 2 : 1, .A = arg[2], .ars = arg[3],
           .aks = arg[4], .Bp = arg[5], .bstride = arg[9]};
  u.mask[0] = lane_mask(g, arg[7], 0);
  u.mask[1] = lane_mask(g, arg[7], vector_width);
  LLVMValueRef acc_on = LLVMBuildICmp(g->b, LLVMIntNE, arg[8], ci(g, 0), "");
  for (int s = 0; s < u.sets; s++)
    for (int i = 0; i < mr; i++) {
      LLVMValueRef crow = gep_f(g, arg[0], LLVMBuildMul(g->b, ci(g, i), arg[1], ""));
      for (int h = 0; h < 2; h++) {
        u.acc[s][i][h] = LLVMBuildAlloca(g->b, vecf(g), "");
        LLVMValueRef init = LLVMConstNull(vecf(g));
        if (s == 0)
          init = LLVMBuildSelect(g->b, acc_on,
                                 vload(g, gep_f(g, crow, ci(g, h * vector_width)), u.mask[h], 4),
                                 init, "");
        LLVMBuildStore(g->b, init, u.acc[s][i][h]);
      }
    }
  LLVMValueRef nb = LLVMBuildSDiv(g->b, arg[6], ci(g, u.sets), "");
  counted_loop(g, nb, ukr_unrolled, &u);
  u.kbase = LLVMBuildMul(g->b, nb, ci(g, u.sets), "");
  counted_loop(g, LLVMBuildSub(g->b, arg[6], u.kbase, ""), ukr_tail, &u);
  for (int i = 0; i < mr; i++) {
    LLVMValueRef crow = gep_f(g, arg[0], LLVMBuildMul(g->b, ci(g, i), arg[1], ""));
    for (int h = 0; h < 2; h++) {
      LLVMValueRef v = LLVMBuildLoad2(g->b, vecf(g), u.acc[0][i][h], "");
      for (int s = 1; s < u.sets; s++)
        v = LLVMBuildFAdd(g->b, v, LLVMBuildLoad2(g->b, vecf(g), u.acc[s][i][h], ""), "");
      vstore(g, v, gep_f(g, crow, ci(g, h * vector_width)), u.mask[h], 4);
    }
  }
  LLVMBuildRetVoid(g->b);
  g->fn = saved_fn;
  if (saved) LLVMPositionBuilderAtEnd(g->b, saved);
  return fn;
}

/* The state of one panel of a gemm kernel while its loops are built. */
typedef struct Panel {
  const KGemm *gm;
  LLVMValueRef M, K, ars, aks, ldb, ldc, bns;
  LLVMValueRef j_tile;           /* pack_tiles: first column of the tile */
  LLVMValueRef C, A, B;      /* this panel's corners (batch applied) */
  LLVMValueRef nc, Bp;       /* panel width, packed buffer */
  LLVMValueRef Buse, bstride;/* what the micro-kernel reads: Bp or B */
  LLVMValueRef pack;         /* i1: pack the panel (enough rows to pay off) */
  LLVMValueRef Ncols, panels, kblocks, sa, sb, sc;
  LLVMValueRef k0, kc;       /* current K block */
  LLVMValueRef mask[2];
  LLVMValueRef base[3];      /* A, B, C with their offsets applied */
  /* B from the cache of packed panels (NULL cache: packed per call) */
  LLVMValueRef cache, stamps;/* the kernel's globals */
  LLVMValueRef version;      /* the frame's */
  LLVMValueRef cpanel;       /* this panel's packed rows in the cache */
  int64_t kpad;              /* rows of a cached panel: K rounded up to VW */
  LLVMValueRef apriv;        /* the stack copy of A's rows (see own_rows) */
} Panel;

static void pack_row(Gen *g, LLVMValueRef k, void *ctx) {
  Panel *pn = ctx;
  LLVMValueRef src = gep_f(g, pn->B, LLVMBuildMul(g->b, LLVMBuildAdd(g->b, pn->k0, k, ""), pn->ldb, ""));
  LLVMValueRef dst = gep_f(g, pn->Bp, LLVMBuildMul(g->b, k, ci(g, 2 * vector_width), ""));
  for (int h = 0; h < 2; h++)
    vstore(g, vload(g, gep_f(g, src, ci(g, h * vector_width)), pn->mask[h], 4),
           gep_f(g, dst, ci(g, h * vector_width)), NULL, 64);
}

/* Packing a transposed B (column stride b_ns, row stride ldb = 1): each
 * column is contiguous in B, so the panel is packed in square tiles of
 * VW columns by VW rows: VW vector loads down the columns, a transpose in
 * registers (log2 VW stages, each swapping blocks of s lanes between rows
 * i and i + s), VW aligned vector stores along the packed rows.
 *
 * Columns past nc repeat column nc - 1 (valid memory; the micro-kernel
 * masks those columns). Rows past kc are loaded as 0 and stored past kc
 * but inside the panel buffer (kcmax is a multiple of VW), where the
 * micro-kernel never reads. */
static void pack_tile(Gen *g, LLVMValueRef kb, void *ctx) {
  Panel *pn = ctx;
  int vw = vector_width, nr = 2 * vw;
  LLVMValueRef k = LLVMBuildMul(g->b, kb, ci(g, vw), "");
  LLVMValueRef left = LLVMBuildSub(g->b, pn->kc, k, "");
  LLVMValueRef mask = lane_mask(g, left, 0);
  LLVMValueRef src = gep_f(g, pn->B, LLVMBuildAdd(g->b, pn->k0, k, ""));
  LLVMValueRef row[16];
  for (int t = 0; t < vw; t++) {
    LLVMValueRef j = LLVMBuildAdd(g->b, pn->j_tile, ci(g, t), "");
    LLVMValueRef last = LLVMBuildSub(g->b, pn->nc, ci(g, 1), "");
    j = LLVMBuildSelect(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, j, last, ""), j, last, "");
    row[t] = vload(g, gep_f(g, src, LLVMBuildMul(g->b, j, pn->bns, "")), mask, 4);
  }
  for (int st = vw / 2; st >= 1; st /= 2)
    for (int i = 0; i < vw; i++) {
      if (i & st) continue;
      LLVMValueRef lo[16], hi[16];
      for (int l = 0; l < vw; l++) {
        lo[l] = LLVMConstInt(g->t_i32, (unsigned long long)((l & st) ? vw + l - st : l), 0);
        hi[l] = LLVMConstInt(g->t_i32, (unsigned long long)((l & st) ? vw + l : l + st), 0);
      }
      LLVMValueRef a = row[i], b = row[i + st];
      row[i] = LLVMBuildShuffleVector(g->b, a, b, LLVMConstVector(lo, (unsigned)vw), "");
      row[i + st] = LLVMBuildShuffleVector(g->b, a, b, LLVMConstVector(hi, (unsigned)vw), "");
    }
  LLVMValueRef dst = gep_f(g, pn->Bp, LLVMBuildAdd(g->b, LLVMBuildMul(g->b, k, ci(g, nr), ""),
                                                    pn->j_tile, ""));
  for (int t = 0; t < vw; t++) vstore(g, row[t], gep_f(g, dst, ci(g, t * nr)), NULL, 64);
}

/* Column tile jt of the panel (VW columns), all its row tiles. */
static void pack_tiles(Gen *g, LLVMValueRef jt, void *ctx) {
  Panel *pn = ctx;
  pn->j_tile = LLVMBuildMul(g->b, jt, ci(g, vector_width), "");
  LLVMValueRef kt = LLVMBuildSDiv(g->b, LLVMBuildAdd(g->b, pn->kc, ci(g, vector_width - 1), ""),
                                  ci(g, vector_width), "");
  counted_loop(g, kt, pack_tile, pn);
}

/* One block of rows: C[i0:i0+mr, panel] (+)= A'[i0:, k0:k0+kc] Bp. */
static void row_block(Gen *g, LLVMValueRef rb, void *ctx) {
  Panel *pn = ctx;
  LLVMValueRef i0 = LLVMBuildMul(g->b, rb, ci(g, GEMM_MR), "");
  LLVMValueRef left = LLVMBuildSub(g->b, pn->M, i0, "");
  LLVMValueRef mr = LLVMBuildSelect(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, left, ci(g, GEMM_MR), ""),
                                    left, ci(g, GEMM_MR), "");
  LLVMValueRef args[10] = {
      gep_f(g, pn->C, LLVMBuildMul(g->b, i0, pn->ldc, "")), pn->ldc,
      gep_f(g, pn->A, LLVMBuildAdd(g->b, LLVMBuildMul(g->b, i0, pn->ars, ""),
                                   LLVMBuildMul(g->b, pn->k0, pn->aks, ""), "")),
      pn->ars, pn->aks, pn->Buse, pn->kc, pn->nc,
      LLVMBuildZExt(g->b, LLVMBuildICmp(g->b, LLVMIntSGT, pn->k0, ci(g, 0), ""), g->t_i64, ""),
      pn->bstride};
  LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "rb_next");
  LLVMValueRef sw = LLVMBuildSwitch(g->b, mr, next, GEMM_MR);
  for (int h = 1; h <= GEMM_MR; h++) {
    LLVMBasicBlockRef cb = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "mr");
    LLVMAddCase(sw, ci(g, h), cb);
    LLVMPositionBuilderAtEnd(g->b, cb);
    LLVMValueRef f = ukr(g, h);
    LLVMBuildCall2(g->b, LLVMGlobalGetValueType(f), f, args, 10, "");
    LLVMBuildBr(g->b, next);
  }
  LLVMPositionBuilderAtEnd(g->b, next);
}

/* K block kb of a panel: rows [k0, k0 + kc) of B. */
static void set_k_block(Gen *g, Panel *pn, LLVMValueRef kb) {
  int kcmax = 8192 / (2 * vector_width);
  pn->k0 = LLVMBuildMul(g->b, kb, ci(g, kcmax), "");
  LLVMValueRef left = LLVMBuildSub(g->b, pn->K, pn->k0, "");
  pn->kc = LLVMBuildSelect(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, left, ci(g, kcmax), ""), left,
                           ci(g, kcmax), "");
}

/* Copy the current K block of the panel into pn->Bp: kc rows of nr
 * floats, zero-padded past nc. */
static void pack_block(Gen *g, Panel *pn) {
  LLVMBasicBlockRef rows = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "pack_rows");
  LLVMBasicBlockRef cols = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "pack_columns");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "pack_done");
  LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntEQ, pn->bns, ci(g, 1), ""), rows, cols);
  LLVMPositionBuilderAtEnd(g->b, rows);
  counted_loop(g, pn->kc, pack_row, pn);
  LLVMBuildBr(g->b, done);
  LLVMPositionBuilderAtEnd(g->b, cols);
  counted_loop(g, LLVMBuildSDiv(g->b, LLVMBuildAdd(g->b, pn->nc, ci(g, vector_width - 1), ""),
                                ci(g, vector_width), ""), pack_tiles, pn);
  LLVMBuildBr(g->b, done);
  LLVMPositionBuilderAtEnd(g->b, done);
}

/* One K block of a panel: pack (or find it in the cache), then every row
 * block. */
static void k_block(Gen *g, LLVMValueRef kb, void *ctx) {
  Panel *pn = ctx;
  int nr = 2 * vector_width;
  set_k_block(g, pn, kb);
  if (pn->cache) {
    pn->Buse = gep_f(g, pn->cpanel, LLVMBuildMul(g->b, pn->k0, ci(g, nr), ""));
    pn->bstride = ci(g, nr);
  } else { /* pack (pn->pack), or let the micro-kernel read B in place */
    LLVMBasicBlockRef pk = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "pack");
    LLVMBasicBlockRef go = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "packed");
    LLVMBuildCondBr(g->b, pn->pack, pk, go);
    LLVMPositionBuilderAtEnd(g->b, pk);
    pack_block(g, pn);
    LLVMBuildBr(g->b, go);
    LLVMPositionBuilderAtEnd(g->b, go);
    LLVMValueRef direct = gep_f(g, pn->B, LLVMBuildMul(g->b, pn->k0, pn->ldb, ""));
    pn->Buse = LLVMBuildSelect(g->b, pn->pack, pn->Bp, direct, "");
    pn->bstride = LLVMBuildSelect(g->b, pn->pack, ci(g, nr), pn->ldb, "");
  }
  LLVMValueRef rblocks = LLVMBuildSDiv(g->b, LLVMBuildAdd(g->b, pn->M, ci(g, GEMM_MR - 1), ""),
                                       ci(g, GEMM_MR), "");
  counted_loop(g, rblocks, row_block, pn);
}

/* Filling a cached panel: K block kb packed into its place. */
static void fill_block(Gen *g, LLVMValueRef kb, void *ctx) {
  Panel *pn = ctx;
  set_k_block(g, pn, kb);
  pn->Bp = gep_f(g, pn->cpanel, LLVMBuildMul(g->b, pn->k0, ci(g, 2 * vector_width), ""));
  pack_block(g, pn);
}

/* Panel t's place in the cache, filled first unless its stamp is the
 * frame's (non-zero) version. Panel t belongs to one thread in a call,
 * and calls are ordered by the pool's barriers, so stamp and rows need no
 * atomics. */
static void find_cached(Gen *g, Panel *pn, LLVMValueRef t) {
  pn->cpanel = gep_f(g, pn->cache, LLVMBuildMul(g->b, t, ci(g, pn->kpad * 2 * vector_width), ""));
  LLVMValueRef slot = LLVMBuildInBoundsGEP2(g->b, g->t_i64, pn->stamps, &t, 1, "");
  LLVMValueRef fresh = LLVMBuildAnd(
      g->b, LLVMBuildICmp(g->b, LLVMIntEQ, LLVMBuildLoad2(g->b, g->t_i64, slot, "stamp"), pn->version, ""),
      LLVMBuildICmp(g->b, LLVMIntNE, pn->version, ci(g, 0), ""), "fresh");
  LLVMBasicBlockRef fill = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "cache_fill");
  LLVMBasicBlockRef go = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "cached");
  LLVMBuildCondBr(g->b, fresh, go, fill);
  LLVMPositionBuilderAtEnd(g->b, fill);
  counted_loop(g, pn->kblocks, fill_block, pn);
  LLVMBuildStore(g->b, pn->version, slot);
  LLVMBuildBr(g->b, go);
  LLVMPositionBuilderAtEnd(g->b, go);
}

/* One panel t = batch * panels + column panel: its corners and width,
 * then every K block. */
static void panel(Gen *g, LLVMValueRef t, void *ctx) {
  Panel *pn = ctx;
  int nr = 2 * vector_width;
  LLVMValueRef bt = LLVMBuildSDiv(g->b, t, pn->panels, ""), p = LLVMBuildSRem(g->b, t, pn->panels, "");
  LLVMValueRef j0 = LLVMBuildMul(g->b, p, ci(g, nr), "");
  LLVMValueRef nleft = LLVMBuildSub(g->b, pn->Ncols, j0, "");
  pn->nc = LLVMBuildSelect(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, nleft, ci(g, nr), ""), nleft, ci(g, nr), "");
  pn->mask[0] = lane_mask(g, pn->nc, 0);
  pn->mask[1] = lane_mask(g, pn->nc, vector_width);
  pn->C = gep_f(g, pn->base[2], LLVMBuildAdd(g->b, LLVMBuildMul(g->b, bt, pn->sc, ""), j0, ""));
  pn->A = gep_f(g, pn->base[0], LLVMBuildMul(g->b, bt, pn->sa, ""));
  pn->B = gep_f(g, pn->base[1], LLVMBuildAdd(g->b, LLVMBuildMul(g->b, bt, pn->sb, ""),
                                             LLVMBuildMul(g->b, j0, pn->bns, ""), ""));
  if (pn->cache) find_cached(g, pn, t);
  counted_loop(g, pn->kblocks, k_block, pn);
  if (g->k->nbody) { /* the epilogue of this panel, while it is in cache */
    LLVMBuildStore(g->b, t, g->var[0]);
    g->keep_loops = true;
    gen_stmts(g, g->k->body, g->k->nbody);
    g->keep_loops = false;
  }
}

/* Whether the panels of B come from a cache: B is a weight that this
 * entry never writes, read at fixed strides from a fixed place, and each
 * panel t (batch * panels + column panel) reads its own part of it. */
static bool cacheable(Gen *g, const KGemm *gm) {
  const KExpr *fixed[] = {gm->K, gm->N, gm->ldb, gm->b_ns, gm->batch, gm->sb};
  if (!g->weights_fixed || g->k->buf[gm->b].region != R_WEIGHT) return false;
  for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
    if (fixed[i]->op != K_CONST) return false;
  if (gm->b_off && gm->b_off->op != K_CONST) return false;
  int nr = 2 * vector_width;
  int64_t rows = (gm->K->i + vector_width - 1) / vector_width * vector_width;
  int64_t units = gm->batch->i * ((gm->N->i + nr - 1) / nr);
  double bytes = (double)units * (double)rows * nr * 4;
  return (gm->batch->i == 1 || gm->sb->i != 0) &&
         (double)g->cache_bytes + bytes <= (double)PANEL_CACHE_MAX;
}

/* The kernel's cache, name.panels: float[units][kpad][nr], and its stamps,
 * name.stamps: i64[units], zero-initialised globals (so .bss: memory only
 * once used); the frame's version. */
static void new_cache(Gen *g, Panel *pn, const KGemm *gm) {
  int nr = 2 * vector_width;
  int64_t units = gm->batch->i * ((gm->N->i + nr - 1) / nr);
  pn->kpad = (gm->K->i + vector_width - 1) / vector_width * vector_width;
  g->cache_bytes += units * pn->kpad * nr * 4;
  size_t len;
  const char *fn = LLVMGetValueName2(g->fn, &len); /* entry.kernel.body */
  int base = (int)len - 5;
  char name[300];
  snprintf(name, sizeof name, "%.*s.panels", base, fn);
  LLVMTypeRef at = LLVMArrayType(g->t_f32, (unsigned)(units * pn->kpad * nr));
  LLVMValueRef panels = LLVMAddGlobal(g->mod, at, name);
  LLVMSetInitializer(panels, LLVMConstNull(at));
  LLVMSetLinkage(panels, LLVMInternalLinkage);
  LLVMSetAlignment(panels, 64);
  snprintf(name, sizeof name, "%.*s.stamps", base, fn);
  LLVMTypeRef st = LLVMArrayType(g->t_i64, (unsigned)units);
  LLVMValueRef stamps = LLVMAddGlobal(g->mod, st, name);
  LLVMSetInitializer(stamps, LLVMConstNull(st));
  LLVMSetLinkage(stamps, LLVMInternalLinkage);
  pn->cache = LLVMBuildBitCast(g->b, panels, LLVMPointerType(g->t_f32, 0), "");
  pn->stamps = LLVMBuildBitCast(g->b, stamps, LLVMPointerType(g->t_i64, 0), "");
  LLVMValueRef idx[2] = {LLVMConstInt(g->t_i32, 0, 0), LLVMConstInt(g->t_i32, 6, 0)};
  pn->version = LLVMBuildLoad2(g->b, g->t_i64,
                               LLVMBuildInBoundsGEP2(g->b, g->t_frame, g->frame, idx, 2, ""), "version");
}

static void copy_row(Gen *g, LLVMValueRef i, void *ctx) {
  Panel *pn = ctx;
  int64_t K = pn->gm->K->i;
  LLVMValueRef src = gep_f(g, pn->base[0], LLVMBuildMul(g->b, i, pn->ars, ""));
  LLVMBuildMemCpy(g->b, gep_f(g, pn->apriv, LLVMBuildMul(g->b, i, ci(g, K), "")), 64, src, 4,
                  ci(g, K * 4));
}

/* A's rows, for a thread that streams cached panels of B for a few rows
 * and computes several but not all of the panels: copied to its stack
 * once, then read from there by every panel. A (the input, or the
 * previous layer's output, written by several threads) is read by every
 * thread, and its lines, shared between the cores, are slow to read again
 * after each panel's stream of B has pushed them out of L1: the MLP at
 * batch 1 and 2 threads takes 7.2 us with the copy, 8.3 us without. One
 * thread, or one panel, reads A from its own cache, and copies nothing.
 * Only the address of A changes: same values, same results. */
static void own_rows(Gen *g, Panel *pn, const KGemm *gm, LLVMValueRef lo, LLVMValueRef hi) {
  int64_t rows = 2 * GEMM_MR, K = gm->K->i;
  if (gm->batch->i != 1 || gm->a_ks->op != K_CONST || gm->a_ks->i != 1 || rows * K * 4 > 65536)
    return;
  LLVMValueRef buf = LLVMBuildAlloca(g->b, LLVMArrayType(g->t_f32, (unsigned)(rows * K)), "A");
  LLVMSetAlignment(buf, 64);
  LLVMValueRef slot[2] = {LLVMBuildAlloca(g->b, LLVMPointerType(g->t_f32, 0), ""),
                          LLVMBuildAlloca(g->b, g->t_i64, "")};
  LLVMBuildStore(g->b, pn->base[0], slot[0]);
  LLVMBuildStore(g->b, pn->ars, slot[1]);
  LLVMValueRef n = LLVMBuildSub(g->b, hi, lo, ""), units = ci(g, (gm->N->i + 2 * vector_width - 1) /
                                                                 (2 * vector_width));
  LLVMValueRef copy = LLVMBuildAnd(
      g->b, LLVMBuildICmp(g->b, LLVMIntSLE, pn->M, ci(g, rows), ""),
      LLVMBuildAnd(g->b, LLVMBuildICmp(g->b, LLVMIntSGT, n, ci(g, 1), ""),
                   LLVMBuildICmp(g->b, LLVMIntSLT, n, units, ""), ""), "");
  LLVMBasicBlockRef cp = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "own_rows");
  LLVMBasicBlockRef go = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "owned");
  LLVMBuildCondBr(g->b, copy, cp, go);
  LLVMPositionBuilderAtEnd(g->b, cp);
  pn->apriv = LLVMBuildBitCast(g->b, buf, LLVMPointerType(g->t_f32, 0), "");
  counted_loop(g, pn->M, copy_row, pn);
  LLVMBuildStore(g->b, pn->apriv, slot[0]);
  LLVMBuildStore(g->b, ci(g, K), slot[1]);
  LLVMBuildBr(g->b, go);
  LLVMPositionBuilderAtEnd(g->b, go);
  pn->base[0] = LLVMBuildLoad2(g->b, LLVMPointerType(g->t_f32, 0), slot[0], "");
  pn->ars = LLVMBuildLoad2(g->b, g->t_i64, slot[1], "");
}

/* The panel loop of a gemm kernel body: for t in [lo, hi). */
static void gen_gemm_panels(Gen *g, const KGemm *gm, LLVMValueRef lo, LLVMValueRef hi) {
  int nr = cg_gemm_nr(), kcmax = 8192 / nr;
  Panel pn = {.gm = gm, .M = gen_expr(g, gm->M), .K = gen_expr(g, gm->K),
              .ars = gen_expr(g, gm->a_rs), .aks = gen_expr(g, gm->a_ks),
              .ldb = gen_expr(g, gm->ldb), .bns = gen_expr(g, gm->b_ns),
              .ldc = gen_expr(g, gm->ldc), .Ncols = gen_expr(g, gm->N),
              .sa = gen_expr(g, gm->sa), .sb = gen_expr(g, gm->sb), .sc = gen_expr(g, gm->sc)};
  int bufs[3] = {gm->a, gm->b, gm->c};
  KExpr *offs[3] = {gm->a_off, gm->b_off, gm->c_off};
  for (int i = 0; i < 3; i++)
    pn.base[i] = offs[i] ? gep_f(g, g->buf[bufs[i]], gen_expr(g, offs[i])) : g->buf[bufs[i]];
  if (cacheable(g, gm)) {
    new_cache(g, &pn, gm);
    own_rows(g, &pn, gm, lo, hi);
  } else {
    LLVMValueRef buf = LLVMBuildAlloca(g->b, LLVMArrayType(g->t_f32, (unsigned)(kcmax * nr)), "Bp");
    LLVMSetAlignment(buf, 64);
    pn.Bp = LLVMBuildBitCast(g->b, buf, LLVMPointerType(g->t_f32, 0), "");
    /* pack when there are enough rows to reuse the panel, or B is transposed */
    pn.pack = LLVMBuildOr(g->b, LLVMBuildICmp(g->b, LLVMIntSGT, pn.M, ci(g, 2 * GEMM_MR), ""),
                          LLVMBuildICmp(g->b, LLVMIntNE, pn.bns, ci(g, 1), ""), "");
  }
  pn.panels = LLVMBuildSDiv(g->b, LLVMBuildAdd(g->b, pn.Ncols, ci(g, nr - 1), ""), ci(g, nr), "");
  pn.kblocks = LLVMBuildSDiv(g->b, LLVMBuildAdd(g->b, pn.K, ci(g, kcmax - 1), ""), ci(g, kcmax), "");
  range_loop(g, lo, hi, panel, &pn);
}

/* ---- max pooling in pairs of columns (KPool) ----
 *
 * The loop nest of such a kernel reads x at stride 2 along a row, which
 * the loop vectorizer turns into gathers. Here each row of windows is
 * taken VW windows at a time: two vector loads of the 2*VW input columns
 * of each of the KH rows, split into even and odd columns by shuffles,
 * and the running maximum (and, for the gradient, which of the 2*KH
 * positions holds it) kept with the same strict compare as the loops:
 *
 *     best = -inf, at = -1
 *     for kh < KH, kw < 2:  v = x[oh*KH + kh][2*ow + kw]   (VW of ow)
 *                           at = best < v ? 2*kh + kw : at; best = max...
 *     forward:  y[oh][ow] = best
 *     gradient: dx[oh*KH + kh][2*ow + kw] = at == 2*kh + kw ? dy[oh][ow] : 0
 *
 * with the even and odd results interleaved again by shuffles. Loads and
 * stores are masked to the row's last window. */
typedef struct PoolGen {
  const KPool *kp;
  LLVMValueRef x, dy, y;        /* this plane's */
  LLVMValueRef oh;
  LLVMValueRef even, odd, lo, hi; /* shuffle masks */
} PoolGen;

static LLVMValueRef pool_shuffle_mask(Gen *g, int kind) {
  int vw = vector_width;
  LLVMValueRef m[16];
  for (int i = 0; i < vw; i++) {
    int v = kind == 0 ? 2 * i : kind == 1 ? 2 * i + 1 : (kind == 2 ? 0 : vw / 2) + i / 2 + (i & 1) * vw;
    m[i] = LLVMConstInt(g->t_i32, (unsigned long long)v, 0);
  }
  return LLVMConstVector(m, (unsigned)vw);
}

static LLVMValueRef splat_i32(Gen *g, int v) {
  return splat(g, LLVMConstInt(g->t_i32, (unsigned long long)(int64_t)v, 1));
}

/* VW windows of row oh from column j0 = chunk * VW. */
static void pool_chunk(Gen *g, LLVMValueRef chunk, void *ctx) {
  PoolGen *pg = ctx;
  const KPool *kp = pg->kp;
  int vw = vector_width;
  LLVMValueRef j0 = LLVMBuildMul(g->b, chunk, ci(g, vw), "");
  LLVMValueRef left = LLVMBuildSub(g->b, ci(g, kp->OW), j0, "");
  LLVMValueRef n = LLVMBuildSelect(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, left, ci(g, vw), ""), left,
                                   ci(g, vw), "");
  LLVMValueRef n2 = LLVMBuildMul(g->b, n, ci(g, 2), "");
  LLVMValueRef in_mask[2] = {lane_mask(g, n2, 0), lane_mask(g, n2, vw)};
  LLVMValueRef out_mask = lane_mask(g, n, 0);
  LLVMValueRef best = splat(g, cf(g, -__builtin_inf()));
  LLVMValueRef at = splat_i32(g, -1);
  bool grad = kp->dy >= 0;
  LLVMValueRef row0 = LLVMBuildMul(g->b, pg->oh, ci(g, kp->KH), "");
  for (int kh = 0; kh < kp->KH; kh++) {
    LLVMValueRef off = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, LLVMBuildAdd(g->b, row0, ci(g, kh), ""),
                                                       ci(g, kp->W), ""),
                                    LLVMBuildMul(g->b, j0, ci(g, 2), ""), "");
    LLVMValueRef row = gep_f(g, pg->x, off);
    LLVMValueRef a = vload(g, row, in_mask[0], 4), b = vload(g, gep_f(g, row, ci(g, vw)), in_mask[1], 4);
    LLVMValueRef v[2] = {LLVMBuildShuffleVector(g->b, a, b, pg->even, ""),
                         LLVMBuildShuffleVector(g->b, a, b, pg->odd, "")};
    for (int kw = 0; kw < 2; kw++) {
      LLVMValueRef beats = LLVMBuildFCmp(g->b, LLVMRealOLT, best, v[kw], "");
      if (grad) at = LLVMBuildSelect(g->b, beats, splat_i32(g, 2 * kh + kw), at, "");
      best = LLVMBuildSelect(g->b, beats, v[kw], best, "");
    }
  }
  LLVMValueRef oat = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, pg->oh, ci(g, kp->OW), ""), j0, "");
  if (!grad) {
    vstore(g, best, gep_f(g, pg->y, oat), out_mask, 4);
    return;
  }
  LLVMValueRef dv = vload(g, gep_f(g, pg->dy, oat), out_mask, 4), zero = LLVMConstNull(vecf(g));
  for (int kh = 0; kh < kp->KH; kh++) {
    LLVMValueRef part[2];
    for (int kw = 0; kw < 2; kw++)
      part[kw] = LLVMBuildSelect(g->b, LLVMBuildICmp(g->b, LLVMIntEQ, at, splat_i32(g, 2 * kh + kw), ""),
                                 dv, zero, "");
    LLVMValueRef off = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, LLVMBuildAdd(g->b, row0, ci(g, kh), ""),
                                                       ci(g, kp->W), ""),
                                    LLVMBuildMul(g->b, j0, ci(g, 2), ""), "");
    LLVMValueRef row = gep_f(g, pg->y, off);
    vstore(g, LLVMBuildShuffleVector(g->b, part[0], part[1], pg->lo, ""), row, in_mask[0], 4);
    vstore(g, LLVMBuildShuffleVector(g->b, part[0], part[1], pg->hi, ""), gep_f(g, row, ci(g, vw)),
           in_mask[1], 4);
  }
}

static void pool_row(Gen *g, LLVMValueRef oh, void *ctx) {
  PoolGen *pg = ctx;
  pg->oh = oh;
  counted_loop(g, ci(g, (pg->kp->OW + vector_width - 1) / vector_width), pool_chunk, pg);
}

static void pool_zero(Gen *g, LLVMValueRef i, void *ctx) {
  PoolGen *pg = ctx;
  LLVMBuildStore(g->b, cf(g, 0), gep_f(g, pg->y, i));
}

static void pool_plane(Gen *g, LLVMValueRef t, void *ctx) {
  PoolGen *pg = ctx;
  const KPool *kp = pg->kp;
  bool grad = kp->dy >= 0;
  int64_t hw = kp->H * kp->W, ohw = kp->OH * kp->OW;
  PoolGen pl = *pg;
  pl.x = gep_f(g, g->buf[kp->x], LLVMBuildMul(g->b, t, ci(g, hw), ""));
  pl.y = gep_f(g, g->buf[kp->y], LLVMBuildMul(g->b, t, ci(g, grad ? hw : ohw), ""));
  if (grad) {
    pl.dy = gep_f(g, g->buf[kp->dy], LLVMBuildMul(g->b, t, ci(g, ohw), ""));
    /* rows and a column outside every window get 0 */
    if (kp->OH * kp->KH != kp->H || kp->OW * 2 != kp->W) counted_loop(g, ci(g, hw), pool_zero, &pl);
  }
  counted_loop(g, ci(g, kp->OH), pool_row, &pl);
}

static void gen_pool(Gen *g, const KPool *kp, LLVMValueRef lo, LLVMValueRef hi) {
  cg_gemm_nr(); /* sets vector_width */
  PoolGen pg = {.kp = kp, .even = pool_shuffle_mask(g, 0), .odd = pool_shuffle_mask(g, 1),
                .lo = pool_shuffle_mask(g, 2), .hi = pool_shuffle_mask(g, 3)};
  range_loop(g, lo, hi, pool_plane, &pg);
}

/* ---- im2col runs (KCols) ----
 *
 * For each image, tap r = (c, kh, kw) and output row oh, the column row's
 * run of OW values is the input row ih = oh*sh - ph + kh*dh from column
 * -pw + kw*dw: VW lanes at a time, a masked load of the lanes inside the
 * image (the others read as 0, and are not touched) and a masked store of
 * the lanes inside the run. A padding row loads nothing. */
typedef struct ColsGen {
  const KCols *kc;
  LLVMValueRef x, col;          /* this image's */
  LLVMValueRef tap, kw, src, dst, row_in, shift;
  LLVMValueRef lanes;           /* <0, 1, ..., VW-1> as i32 */
} ColsGen;

static void cols_chunk(Gen *g, LLVMValueRef j, void *ctx) {
  ColsGen *cg = ctx;
  const KCols *kc = cg->kc;
  LLVMValueRef ow0 = LLVMBuildMul(g->b, j, ci(g, vector_width), "");
  LLVMValueRef ow = LLVMBuildAdd(g->b, splat(g, LLVMBuildTrunc(g->b, ow0, g->t_i32, "")), cg->lanes, "");
  LLVMValueRef iw = LLVMBuildAdd(g->b, ow, cg->shift, "");
  LLVMValueRef run = LLVMBuildICmp(g->b, LLVMIntSLT, ow, splat_i32(g, (int)kc->OW), "");
  LLVMValueRef inside = LLVMBuildAnd(
      g->b, LLVMBuildICmp(g->b, LLVMIntSGE, iw, LLVMConstNull(LLVMTypeOf(iw)), ""),
      LLVMBuildICmp(g->b, LLVMIntSLT, iw, splat_i32(g, (int)kc->W), ""), "");
  inside = LLVMBuildAnd(g->b, LLVMBuildAnd(g->b, inside, run, ""), cg->row_in, "");
  LLVMValueRef from = LLVMBuildGEP2(g->b, g->t_f32, cg->src, &ow0, 1, "");
  vstore(g, vload(g, from, inside, 4), gep_f(g, cg->dst, ow0), run, 4);
}

static void cols_row(Gen *g, LLVMValueRef oh, void *ctx) {
  ColsGen *cg = ctx;
  const KCols *kc = cg->kc;
  LLVMValueRef r = cg->tap;
  LLVMValueRef kh = LLVMBuildSRem(g->b, LLVMBuildSDiv(g->b, r, ci(g, kc->KW), ""), ci(g, kc->KH), "");
  LLVMValueRef c = LLVMBuildSDiv(g->b, r, ci(g, kc->KH * kc->KW), "");
  LLVMValueRef ih = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, oh, ci(g, kc->sh), ""),
                                 LLVMBuildSub(g->b, LLVMBuildMul(g->b, kh, ci(g, kc->dh), ""), ci(g, kc->ph), ""), "");
  LLVMValueRef ok = LLVMBuildAnd(g->b, LLVMBuildICmp(g->b, LLVMIntSGE, ih, ci(g, 0), ""),
                                 LLVMBuildICmp(g->b, LLVMIntSLT, ih, ci(g, kc->H), ""), "");
  cg->row_in = splat(g, ok);
  /* where column 0 of the run would read (outside the row for a left pad) */
  LLVMValueRef at = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, LLVMBuildAdd(g->b, LLVMBuildMul(g->b, c, ci(g, kc->H), ""),
                                                                       ih, ""), ci(g, kc->W), ""),
                                 LLVMBuildSub(g->b, LLVMBuildMul(g->b, cg->kw, ci(g, kc->dw), ""), ci(g, kc->pw), ""), "");
  at = LLVMBuildSelect(g->b, ok, at, ci(g, 0), "");
  cg->src = LLVMBuildGEP2(g->b, g->t_f32, cg->x, &at, 1, "");
  cg->dst = gep_f(g, cg->col, LLVMBuildAdd(g->b, LLVMBuildMul(g->b, r, ci(g, kc->OH * kc->OW), ""),
                                           LLVMBuildMul(g->b, oh, ci(g, kc->OW), ""), ""));
  counted_loop(g, ci(g, (kc->OW + vector_width - 1) / vector_width), cols_chunk, cg);
}

static void cols_tap(Gen *g, LLVMValueRef r, void *ctx) {
  ColsGen *cg = ctx;
  const KCols *kc = cg->kc;
  cg->tap = r;
  cg->kw = LLVMBuildSRem(g->b, r, ci(g, kc->KW), "");
  LLVMValueRef shift = LLVMBuildSub(g->b, LLVMBuildMul(g->b, cg->kw, ci(g, kc->dw), ""), ci(g, kc->pw), "");
  cg->shift = splat(g, LLVMBuildTrunc(g->b, shift, g->t_i32, ""));
  counted_loop(g, ci(g, kc->OH), cols_row, cg);
}

static void cols_image(Gen *g, LLVMValueRef n, void *ctx) {
  ColsGen cg = *(ColsGen *)ctx;
  const KCols *kc = cg.kc;
  cg.x = gep_f(g, g->buf[kc->x], LLVMBuildMul(g->b, n, ci(g, kc->C * kc->H * kc->W), ""));
  cg.col = gep_f(g, g->buf[kc->col], LLVMBuildMul(g->b, n, ci(g, kc->C * kc->KH * kc->KW * kc->OH * kc->OW), ""));
  counted_loop(g, ci(g, kc->C * kc->KH * kc->KW), cols_tap, &cg);
}

static void gen_cols(Gen *g, const KCols *kc, LLVMValueRef lo, LLVMValueRef hi) {
  cg_gemm_nr(); /* sets vector_width */
  LLVMValueRef l[16];
  for (int i = 0; i < vector_width; i++) l[i] = LLVMConstInt(g->t_i32, (unsigned long long)i, 0);
  ColsGen cg = {.kc = kc, .lanes = LLVMConstVector(l, (unsigned)vector_width)};
  range_loop(g, lo, hi, cols_image, &cg);
}

/* The body: void name.body(T* noalias b0, ..., i64 N, i64 lo, i64 hi,
 * frame*): buffers as arguments, so that noalias can say they are
 * distinct; the frame for runtime scalars. */
static LLVMValueRef gen_body(Gen *g, const Kernel *k, const char *entry) {
  int nb = k->nbuf;
  LLVMTypeRef *params = calloc((size_t)nb + 4, sizeof *params);
  for (int i = 0; i < nb; i++) params[i] = LLVMPointerType(ktype(g, k->buf[i].type), 0);
  params[nb] = params[nb + 1] = params[nb + 2] = g->t_i64;
  params[nb + 3] = g->t_framep;
  LLVMTypeRef fty = LLVMFunctionType(g->t_void, params, (unsigned)nb + 4, 0);
  free(params);
  char name[256];
  snprintf(name, sizeof name, "%s.%s.body", entry, k->name);
  LLVMValueRef fn = LLVMAddFunction(g->mod, name, fty);
  LLVMSetLinkage(fn, LLVMInternalLinkage);
  add_attr(g, fn, LLVMAttributeFunctionIndex, "alwaysinline");
  add_attr(g, fn, LLVMAttributeFunctionIndex, "nounwind");
  for (int i = 0; i < nb; i++) add_attr(g, fn, (unsigned)i + 1, "noalias");
  g->k = k;
  g->fn = fn;
  LLVMPositionBuilderAtEnd(g->b, LLVMAppendBasicBlockInContext(g->ctx, fn, "entry"));
  g->buf = calloc((size_t)nb + 1, sizeof *g->buf);
  g->var = calloc((size_t)k->nvar, sizeof *g->var);
  for (int i = 0; i < nb; i++) g->buf[i] = LLVMGetParam(fn, (unsigned)i);
  g->N = LLVMGetParam(fn, (unsigned)nb);
  g->frame = LLVMGetParam(fn, (unsigned)nb + 3);
  for (int v = 0; v < k->nvar; v++) g->var[v] = LLVMBuildAlloca(g->b, ktype(g, k->vartype[v]), "");
  if (k->gemm)
    gen_gemm_panels(g, k->gemm, LLVMGetParam(fn, (unsigned)nb + 1), LLVMGetParam(fn, (unsigned)nb + 2));
  else if (k->pool)
    gen_pool(g, k->pool, LLVMGetParam(fn, (unsigned)nb + 1), LLVMGetParam(fn, (unsigned)nb + 2));
  else if (k->cols)
    gen_cols(g, k->cols, LLVMGetParam(fn, (unsigned)nb + 1), LLVMGetParam(fn, (unsigned)nb + 2));
  else
    gen_loop(g, g->var[0], LLVMGetParam(fn, (unsigned)nb + 1), LLVMGetParam(fn, (unsigned)nb + 2),
             k->body, k->nbody);
  LLVMBuildRetVoid(g->b);
  free(g->buf);
  free(g->var);
  return fn;
}

static LLVMValueRef iter_slot(Gen *g, LLVMValueRef frame);

/* A pointer to buffer b of kernel k: frame base + offset, or a constant.
 * An R_TILE buffer holds only the samples of this step of the group, from
 * s0 (which the group's code puts in its frame's iter field): its pointer
 * is where sample 0 would be, so that the kernel's own indexing lands in
 * the scratch. */
static LLVMValueRef buf_ptr(Gen *g, const Kernel *k, int b, LLVMValueRef frame,
                            LLVMValueRef N) {
  const KBuf *kb = &k->buf[b];
  LLVMTypeRef pt = LLVMPointerType(ktype(g, kb->type), 0);
  if (kb->region == R_NONE) {
    LLVMTypeRef at = LLVMArrayType(g->t_f32, (unsigned)kb->numel);
    LLVMValueRef *vals = malloc(sizeof *vals * (size_t)kb->numel);
    for (int64_t i = 0; i < kb->numel; i++) vals[i] = LLVMConstReal(g->t_f32, kb->data[i]);
    LLVMValueRef gv = LLVMAddGlobal(g->mod, at, "");
    LLVMSetInitializer(gv, LLVMConstArray(g->t_f32, vals, (unsigned)kb->numel));
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetLinkage(gv, LLVMPrivateLinkage);
    LLVMSetAlignment(gv, 64);
    free(vals);
    return LLVMBuildBitCast(g->b, gv, pt, "");
  }
  LLVMValueRef idx[3] = {LLVMConstInt(g->t_i32, 0, 0), LLVMConstInt(g->t_i32, 0, 0),
                         LLVMConstInt(g->t_i32, (unsigned)kb->region, 0)};
  LLVMValueRef slot = LLVMBuildInBoundsGEP2(g->b, g->t_frame, frame, idx, 3, "");
  LLVMValueRef base = LLVMBuildLoad2(g->b, g->t_i8p, slot, "");
  LLVMValueRef off = LLVMConstInt(g->t_i64, (unsigned long long)kb->off, 0);
  if (kb->region == R_ACTN) off = LLVMBuildMul(g->b, off, N, "");
  if (kb->region == R_TILE) {
    const Node *nd = &g->p->g->node[kb->node];
    int64_t bytes = dtype_bytes(nd->dtype, shape_numel(&nd->shape)).k;
    LLVMValueRef s0 = LLVMBuildLoad2(g->b, g->t_i64, iter_slot(g, frame), "s0");
    off = LLVMBuildSub(g->b, ci(g, kb->off * k->tile_S), LLVMBuildMul(g->b, s0, ci(g, bytes), ""), "");
    LLVMValueRef p = LLVMBuildGEP2(g->b, LLVMInt8TypeInContext(g->ctx), base, &off, 1, "");
    return LLVMBuildBitCast(g->b, p, pt, "");
  }
  LLVMValueRef p = LLVMBuildInBoundsGEP2(g->b, LLVMInt8TypeInContext(g->ctx), base, &off, 1, "");
  return LLVMBuildBitCast(g->b, p, pt, "");
}

static LLVMValueRef load_n(Gen *g, LLVMValueRef frame) {
  LLVMValueRef idx[2] = {LLVMConstInt(g->t_i32, 0, 0), LLVMConstInt(g->t_i32, 1, 0)};
  LLVMValueRef slot = LLVMBuildInBoundsGEP2(g->b, g->t_frame, frame, idx, 2, "");
  return LLVMBuildLoad2(g->b, g->t_i64, slot, "N");
}

/* The wrapper with the runtime's kernel signature, named entry.kernel. */
static LLVMValueRef gen_kernel(Gen *g, const Kernel *k, const char *entry) {
  LLVMValueRef body = gen_body(g, k, entry);
  char name[256];
  snprintf(name, sizeof name, "%s.%s", entry, k->name);
  LLVMValueRef fn = LLVMAddFunction(g->mod, name, g->t_kfn);
  LLVMSetLinkage(fn, LLVMInternalLinkage);
  add_attr(g, fn, LLVMAttributeFunctionIndex, "nounwind");
  /* The entry calls it directly or through the pool: one copy serves both
   * (inlining it into the direct call would double the code and the
   * compile time for nothing measurable). */
  add_attr(g, fn, LLVMAttributeFunctionIndex, "noinline");
  LLVMPositionBuilderAtEnd(g->b, LLVMAppendBasicBlockInContext(g->ctx, fn, "entry"));
  LLVMValueRef frame = LLVMGetParam(fn, 0);
  LLVMValueRef N = load_n(g, frame);
  int nb = k->nbuf;
  LLVMValueRef *args = calloc((size_t)nb + 4, sizeof *args);
  for (int b = 0; b < nb; b++) args[b] = buf_ptr(g, k, b, frame, N);
  args[nb] = N;
  args[nb + 1] = LLVMGetParam(fn, 1);
  args[nb + 2] = LLVMGetParam(fn, 2);
  args[nb + 3] = frame;
  LLVMBuildCall2(g->b, LLVMGlobalGetValueType(body), body, args, (unsigned)nb + 4, "");
  LLVMBuildRetVoid(g->b);
  free(args);
  return fn;
}

/* Kernel expressions that need only N: evaluate in the entry function. */
static LLVMValueRef gen_extent(Gen *g, const KExpr *e, LLVMValueRef N) {
  g->N = N;
  return gen_expr(g, e);
}

/* With --check-numerics (the runtime's flag dlrt_checking_numerics set),
 * after kernel k: every f32 tensor it wrote goes to dlrt_check_numerics
 * with a description naming the kernel, its op and its source line, so
 * that the first non-finite value is traced to where it was made. Off, it
 * costs a load and a branch per kernel. */
/* Wait for the pool's chunks of the kernels before: the entry's thread is
 * about to read what they write, or to change the frame they read. */
static void join(Gen *g) {
  LLVMBuildCall2(g->b, LLVMGlobalGetValueType(g->join), g->join, NULL, 0, "");
}

static void gen_check(Gen *g, const Kernel *k, LLVMValueRef frame, LLVMValueRef N) {
  const Graph *G = g->p->g;
  LLVMValueRef on = LLVMBuildLoad2(g->b, LLVMInt8TypeInContext(g->ctx), g->checking, "");
  LLVMBasicBlockRef yes = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "check");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "checked");
  LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntNE, on, LLVMConstInt(LLVMInt8TypeInContext(g->ctx), 0, 0), ""),
                  yes, done);
  LLVMPositionBuilderAtEnd(g->b, yes);
  join(g);
  for (int b = 0; b < k->nbuf; b++) {
    const KBuf *kb = &k->buf[b];
    if (!kb->written || kb->type != KT_F32 || kb->region == R_NONE || kb->region == R_TILE) continue;
    const Node *nd = &G->node[kb->node];
    char what[512], type[128];
    shape_str(type, sizeof type, nd->dtype, &nd->shape);
    snprintf(what, sizeof what, "%s:%d:%d: %s (kernel %s) wrote %%%d %s", nd->loc.file ? nd->loc.file : "?",
             nd->loc.line, nd->loc.col, op_info[nd->op].name, k->name, kb->node, type);
    Size z = shape_numel(&nd->shape);
    LLVMValueRef n = LLVMConstInt(g->t_i64, (unsigned long long)z.k, 0);
    if (z.sym) n = LLVMBuildMul(g->b, n, N, "");
    LLVMValueRef args[3] = {buf_ptr(g, k, b, frame, N), n, LLVMBuildGlobalStringPtr(g->b, what, "")};
    LLVMBuildCall2(g->b, LLVMGlobalGetValueType(g->check), g->check, args, 3, "");
  }
  LLVMBuildBr(g->b, done);
  LLVMPositionBuilderAtEnd(g->b, done);
}

/* The frame's iter field. */
static LLVMValueRef iter_slot(Gen *g, LLVMValueRef frame) {
  LLVMValueRef idx[2] = {LLVMConstInt(g->t_i32, 0, 0), LLVMConstInt(g->t_i32, 5, 0)};
  return LLVMBuildInBoundsGEP2(g->b, g->t_frame, frame, idx, 2, "");
}

/* Kernel k, on the pool when its work (flops per extent unit times
 * extent) is large enough, else on this thread once the pool has
 * finished the kernels before. On the pool it may still run when this
 * returns: see join. */
static void call_kernel(Gen *g, const Kernel *k, LLVMValueRef kfn, LLVMValueRef frame,
                        LLVMValueRef N) {
  LLVMValueRef ext = gen_extent(g, k->extent, N);
  LLVMValueRef zero = LLVMConstInt(g->t_i64, 0, 0);
  /* work * extent >= PARALLEL_MIN_WORK  <=>  extent >= ceil(min / work) */
  double w = k->work > 0 ? k->work : 1;
  int64_t min_ext = (int64_t)(PARALLEL_MIN_WORK / w) + 1;
  if (min_ext < 2) min_ext = 2;
  LLVMValueRef big = LLVMBuildICmp(g->b, LLVMIntSGE, ext, LLVMConstInt(g->t_i64, (unsigned long long)min_ext, 0), "");
  LLVMBasicBlockRef par = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "par");
  LLVMBasicBlockRef ser = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "ser");
  LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "next");
  LLVMBuildCondBr(g->b, big, par, ser);
  LLVMPositionBuilderAtEnd(g->b, par);
  LLVMBuildCall2(g->b, LLVMGlobalGetValueType(g->async), g->async, (LLVMValueRef[]){kfn, frame, ext}, 3, "");
  LLVMBuildBr(g->b, next);
  LLVMPositionBuilderAtEnd(g->b, ser);
  join(g);
  LLVMBuildCall2(g->b, g->t_kfn, kfn, (LLVMValueRef[]){frame, zero, ext}, 3, "");
  LLVMBuildBr(g->b, next);
  LLVMPositionBuilderAtEnd(g->b, next);
}

/* ---- sample groups (codegen/tile.c) ----
 *
 * A group runs as one parallel job over the samples: each thread takes
 * its samples S at a time through every member,
 *
 *     tile(lo, hi): for s0 in [lo, hi) step S:
 *                     for each member m: m(s0 * u_m, min(s0 + S, hi) * u_m)
 *
 * then the kernels the group deferred run as usual. */
typedef struct TileGen {
  const Program *p;
  const KTile *t;
  LLVMValueRef *kfns, *shims, frame, lo, hi;
  bool wide;             /* members on the pool, steps in turn */
} TileGen;

static void tile_step(Gen *g, LLVMValueRef c, void *ctx) {
  TileGen *t = ctx;
  const KTile *kt = t->t;
  LLVMValueRef s0 = LLVMBuildAdd(g->b, t->lo, LLVMBuildMul(g->b, c, ci(g, kt->S), ""), "");
  LLVMValueRef s1 = LLVMBuildAdd(g->b, s0, ci(g, kt->S), "");
  s1 = LLVMBuildSelect(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, s1, t->hi, ""), s1, t->hi, "");
  LLVMBuildStore(g->b, s0, iter_slot(g, t->frame));
  for (int i = kt->first; i < kt->end; i++) {
    if (!kt->member[i - kt->first]) continue;
    LLVMValueRef u = ci(g, t->p->k[i]->per_sample);
    if (t->wide) {
      LLVMValueRef n = LLVMBuildMul(g->b, LLVMBuildSub(g->b, s1, s0, ""), u, "");
      LLVMBuildCall2(g->b, LLVMGlobalGetValueType(g->parallel), g->parallel,
                     (LLVMValueRef[]){t->shims[i], t->frame, n}, 3, "");
      continue;
    }
    LLVMValueRef args[3] = {t->frame, LLVMBuildMul(g->b, s0, u, ""), LLVMBuildMul(g->b, s1, u, "")};
    LLVMBuildCall2(g->b, g->t_kfn, t->kfns[i], args, 3, "");
  }
}

/* Member i's units of the current step, for the pool: [lo, hi) of the
 * step's units, offset by s0 * per_sample (s0 in the frame's iter). */
static LLVMValueRef gen_shim(Gen *g, const char *entry, const Kernel *k, LLVMValueRef kfn) {
  char name[256];
  snprintf(name, sizeof name, "%s.%s.step", entry, k->name);
  LLVMValueRef fn = LLVMAddFunction(g->mod, name, g->t_kfn);
  LLVMSetLinkage(fn, LLVMInternalLinkage);
  add_attr(g, fn, LLVMAttributeFunctionIndex, "nounwind");
  LLVMBasicBlockRef saved = LLVMGetInsertBlock(g->b);
  LLVMPositionBuilderAtEnd(g->b, LLVMAppendBasicBlockInContext(g->ctx, fn, "entry"));
  LLVMValueRef frame = LLVMGetParam(fn, 0);
  LLVMValueRef base = LLVMBuildMul(g->b, LLVMBuildLoad2(g->b, g->t_i64, iter_slot(g, frame), ""),
                                   ci(g, k->per_sample), "");
  LLVMValueRef args[3] = {frame, LLVMBuildAdd(g->b, base, LLVMGetParam(fn, 1), ""),
                          LLVMBuildAdd(g->b, base, LLVMGetParam(fn, 2), "")};
  LLVMBuildCall2(g->b, g->t_kfn, kfn, args, 3, "");
  LLVMBuildRetVoid(g->b);
  LLVMPositionBuilderAtEnd(g->b, saved);
  return fn;
}

/* The group's job, named entry.tile<first>: samples [lo, hi) S at a time,
 * in a copy of the frame that holds the step's first sample (iter) and
 * this thread's scratch; .wide: on the calling thread, each member on the
 * pool. */
static LLVMValueRef gen_tile(Gen *g, const char *entry, TileGen *t) {
  char name[256];
  snprintf(name, sizeof name, "%s.tile%d%s", entry, t->t->first, t->wide ? ".wide" : "");
  LLVMValueRef fn = LLVMAddFunction(g->mod, name, g->t_kfn);
  LLVMSetLinkage(fn, LLVMInternalLinkage);
  add_attr(g, fn, LLVMAttributeFunctionIndex, "nounwind");
  LLVMBasicBlockRef saved = LLVMGetInsertBlock(g->b);
  LLVMValueRef saved_fn = g->fn;
  g->fn = fn;
  LLVMPositionBuilderAtEnd(g->b, LLVMAppendBasicBlockInContext(g->ctx, fn, "entry"));
  t->lo = LLVMGetParam(fn, 1);
  t->hi = LLVMGetParam(fn, 2);
  LLVMValueRef copy = LLVMBuildAlloca(g->b, g->t_frame, "frame");
  LLVMBuildStore(g->b, LLVMBuildLoad2(g->b, g->t_frame, LLVMGetParam(fn, 0), ""), copy);
  if (t->t->scratch) {
    LLVMValueRef idx[3] = {LLVMConstInt(g->t_i32, 0, 0), LLVMConstInt(g->t_i32, 0, 0),
                           LLVMConstInt(g->t_i32, R_TILE, 0)};
    LLVMValueRef slot = LLVMBuildInBoundsGEP2(g->b, g->t_frame, copy, idx, 3, "");
    LLVMValueRef bytes = ci(g, t->t->scratch);
    LLVMBuildStore(g->b, LLVMBuildCall2(g->b, LLVMGlobalGetValueType(g->scratch), g->scratch, &bytes, 1, ""),
                   slot);
  }
  t->frame = copy;
  LLVMValueRef steps = LLVMBuildSDiv(g->b, LLVMBuildAdd(g->b, LLVMBuildSub(g->b, t->hi, t->lo, ""),
                                                        ci(g, t->t->S - 1), ""), ci(g, t->t->S), "");
  counted_loop(g, steps, tile_step, t);
  LLVMBuildRetVoid(g->b);
  g->fn = saved_fn;
  LLVMPositionBuilderAtEnd(g->b, saved);
  return fn;
}

/* Batches of fewer samples than this run a group's steps in turn, each
 * member's units on the pool, rather than samples on separate threads. */
enum { TILE_WIDE_N = 8 };

/* Runs the group starting at kernel first, if there is one; returns the
 * index after it, or first. */
static int call_group(Gen *g, const char *entry, int first, LLVMValueRef *kfns, LLVMValueRef frame,
                      LLVMValueRef N) {
  const Program *p = g->p;
  const KTile *kt = NULL;
  for (int i = 0; i < p->ntile && !kt; i++)
    if (p->tile[i].first == first) kt = &p->tile[i];
  if (!kt) return first;
  join(g);
  LLVMValueRef *shims = calloc((size_t)p->nk, sizeof *shims);
  for (int i = first; i < kt->end; i++)
    if (kt->member[i - first]) shims[i] = gen_shim(g, entry, p->k[i], kfns[i]);
  TileGen narrow = {.p = p, .t = kt, .kfns = kfns}, wide = {.p = p, .t = kt, .shims = shims, .wide = true};
  LLVMValueRef fn = gen_tile(g, entry, &narrow), wfn = gen_tile(g, entry, &wide);
  free(shims);
  LLVMBasicBlockRef many = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "tile_samples");
  LLVMBasicBlockRef few = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "tile_steps");
  LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "tiled");
  LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntSGE, N, ci(g, TILE_WIDE_N), ""), many, few);
  LLVMPositionBuilderAtEnd(g->b, many);
  LLVMBuildCall2(g->b, LLVMGlobalGetValueType(g->parallel), g->parallel, (LLVMValueRef[]){fn, frame, N}, 3, "");
  LLVMBuildBr(g->b, next);
  LLVMPositionBuilderAtEnd(g->b, few);
  LLVMBuildCall2(g->b, g->t_kfn, wfn, (LLVMValueRef[]){frame, ci(g, 0), N}, 3, "");
  LLVMBuildBr(g->b, next);
  LLVMPositionBuilderAtEnd(g->b, next);
  for (int i = first; i < kt->end; i++)
    if (kt->member[i - first]) gen_check(g, p->k[i], frame, N);
  for (int i = first; i < kt->end; i++)
    if (!kt->member[i - first]) {
      call_kernel(g, p->k[i], kfns[i], frame, N);
      gen_check(g, p->k[i], frame, N);
    }
  return kt->end;
}

/* An entry (dlrt_forward, ...): each kernel in order, the kernels of a
 * KRepeat inside a counted loop that writes the iteration into the frame.
 * The runtime's frame is read-only here: a program with loops works on
 * its own copy. */
static void gen_entry(Gen *g, const char *symbol, LLVMValueRef *kfns) {
  LLVMTypeRef fty = LLVMFunctionType(g->t_void, &g->t_framep, 1, 0);
  LLVMValueRef fn = LLVMAddFunction(g->mod, symbol, fty);
  add_attr(g, fn, LLVMAttributeFunctionIndex, "nounwind");
  g->fn = fn;
  LLVMPositionBuilderAtEnd(g->b, LLVMAppendBasicBlockInContext(g->ctx, fn, "entry"));
  LLVMValueRef frame = LLVMGetParam(fn, 0), ctr = NULL;
  if (g->p->nloop) {
    LLVMValueRef copy = LLVMBuildAlloca(g->b, g->t_frame, "frame");
    LLVMBuildStore(g->b, LLVMBuildLoad2(g->b, g->t_frame, frame, ""), copy);
    frame = copy;
    LLVMBuildStore(g->b, ci(g, 0), iter_slot(g, frame));
    ctr = LLVMBuildAlloca(g->b, g->t_i64, "iter");
  }
  g->frame = frame;
  LLVMValueRef N = load_n(g, frame);
  LLVMBasicBlockRef head = NULL, exit = NULL;
  for (int i = 0, l = 0; i < g->p->nk; i++) {
    const KRepeat *lp = l < g->p->nloop ? &g->p->loop[l] : NULL;
    if (lp && lp->first == i) {
      head = LLVMAppendBasicBlockInContext(g->ctx, fn, "repeat");
      LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(g->ctx, fn, "repeat_body");
      exit = LLVMAppendBasicBlockInContext(g->ctx, fn, "repeat_end");
      LLVMBuildStore(g->b, ci(g, 0), ctr);
      LLVMBuildBr(g->b, head);
      LLVMPositionBuilderAtEnd(g->b, head);
      LLVMValueRef it = LLVMBuildLoad2(g->b, g->t_i64, ctr, "");
      LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, it, ci(g, lp->count), ""), body, exit);
      LLVMPositionBuilderAtEnd(g->b, body);
      join(g);
      LLVMBuildStore(g->b, it, iter_slot(g, frame));
    }
    int after = call_group(g, symbol, i, kfns, frame, N);
    if (after > i) {
      i = after - 1;
      continue;
    }
    call_kernel(g, g->p->k[i], kfns[i], frame, N);
    gen_check(g, g->p->k[i], frame, N);
    if (lp && lp->last == i + 1) {
      LLVMValueRef it = LLVMBuildLoad2(g->b, g->t_i64, ctr, "");
      LLVMBuildStore(g->b, LLVMBuildAdd(g->b, it, ci(g, 1), ""), ctr);
      LLVMBuildBr(g->b, head);
      LLVMPositionBuilderAtEnd(g->b, exit);
      join(g);
      LLVMBuildStore(g->b, ci(g, 0), iter_slot(g, frame));
      l++;
    }
  }
  join(g);
  /* the weights changed: caches of them (cached panels) are stale */
  if (!g->weights_fixed)
    LLVMBuildCall2(g->b, LLVMGlobalGetValueType(g->changed), g->changed, &(LLVMValueRef){LLVMGetParam(fn, 0)},
                   1, "");
  LLVMBuildRetVoid(g->b);
}

static void gen_manifest(Gen *g, const char *manifest) {
  LLVMValueRef s = LLVMConstStringInContext(g->ctx, manifest, (unsigned)strlen(manifest), 0);
  LLVMValueRef gv = LLVMAddGlobal(g->mod, LLVMTypeOf(s), "dlrt_manifest");
  LLVMSetInitializer(gv, s);
  LLVMSetGlobalConstant(gv, 1);
}

_Static_assert(offsetof(dlrt_frame, version) == offsetof(dlrt_frame, iter) + sizeof(int64_t),
               "the frame's version is field 6 of t_frame, after iter");

static void gen_types(Gen *g) {
  g->t_void = LLVMVoidTypeInContext(g->ctx);
  g->t_i1 = LLVMInt1TypeInContext(g->ctx);
  g->t_i32 = LLVMInt32TypeInContext(g->ctx);
  g->t_i64 = LLVMInt64TypeInContext(g->ctx);
  g->t_f32 = LLVMFloatTypeInContext(g->ctx);
  g->t_i8p = LLVMPointerType(LLVMInt8TypeInContext(g->ctx), 0);
  /* struct dlrt_frame of runtime/dlrt.h, field for field */
  LLVMTypeRef fields[7] = {LLVMArrayType(g->t_i8p, R_COUNT), g->t_i64,
                           LLVMArrayType(g->t_f32, DLRT_HYPERS), g->t_i64, g->t_i64, g->t_i64,
                           g->t_i64};
  g->t_frame = LLVMStructCreateNamed(g->ctx, "dlrt_frame");
  LLVMStructSetBody(g->t_frame, fields, 7, 0);
  g->t_framep = LLVMPointerType(g->t_frame, 0);
  LLVMTypeRef kp[3] = {g->t_framep, g->t_i64, g->t_i64};
  g->t_kfn = LLVMFunctionType(g->t_void, kp, 3, 0);
  LLVMTypeRef pp[3] = {LLVMPointerType(g->t_kfn, 0), g->t_framep, g->t_i64};
  g->parallel = LLVMAddFunction(g->mod, "dlrt_parallel", LLVMFunctionType(g->t_void, pp, 3, 0));
  g->async = LLVMAddFunction(g->mod, "dlrt_parallel_async", LLVMFunctionType(g->t_void, pp, 3, 0));
  g->join = LLVMAddFunction(g->mod, "dlrt_pool_join", LLVMFunctionType(g->t_void, NULL, 0, 0));
  g->checking = LLVMAddGlobal(g->mod, LLVMInt8TypeInContext(g->ctx), "dlrt_checking_numerics");
  LLVMTypeRef cp[3] = {LLVMPointerType(g->t_f32, 0), g->t_i64, g->t_i8p};
  g->check = LLVMAddFunction(g->mod, "dlrt_check_numerics", LLVMFunctionType(g->t_void, cp, 3, 0));
  g->scratch = LLVMAddFunction(g->mod, "dlrt_tile_scratch", LLVMFunctionType(g->t_i8p, &g->t_i64, 1, 0));
  g->changed = LLVMAddFunction(g->mod, "dlrt_params_changed", LLVMFunctionType(g->t_void, &g->t_framep, 1, 0));
}

/* Whether some kernel of p writes a weight (p is a training step). */
static bool writes_weights(const Program *p) {
  for (int i = 0; i < p->nk; i++)
    for (int b = 0; b < p->k[i]->nbuf; b++)
      if (p->k[i]->buf[b].written && p->k[i]->buf[b].region == R_WEIGHT) return true;
  return false;
}

/* Build the module for the entries. The caller disposes g->mod, g->b and
 * g->ctx (in that order). */
static void gen_module(Gen *g, const Entry *e, int n, const char *manifest) {
  g->ctx = LLVMContextCreate();
  g->mod = LLVMModuleCreateWithNameInContext(n ? e[0].g->name : "model", g->ctx);
  g->b = LLVMCreateBuilderInContext(g->ctx);
  gen_types(g);
  for (int j = 0; j < n; j++) {
    const Program *p = e[j].p;
    g->p = p;
    g->weights_fixed = !writes_weights(p);
    LLVMValueRef *kfns = calloc((size_t)p->nk + 1, sizeof *kfns);
    for (int i = 0; i < p->nk; i++) kfns[i] = gen_kernel(g, p->k[i], entry_name[e[j].kind]);
    gen_entry(g, entry_symbol[e[j].kind], kfns);
    free(kfns);
  }
  gen_manifest(g, manifest);
  char *msg = NULL;
  if (LLVMVerifyModule(g->mod, LLVMReturnStatusAction, &msg)) {
    char *ir = LLVMPrintModuleToString(g->mod);
    fprintf(stderr, "%s\n", ir);
    LLVMDisposeMessage(ir);
    die("generated LLVM IR does not verify: %s", msg);
  }
  LLVMDisposeMessage(msg);
}

static void dispose(Gen *g) {
  LLVMDisposeBuilder(g->b);
  LLVMDisposeModule(g->mod);
  LLVMContextDispose(g->ctx);
}

/* A target machine for the host CPU; NULL after printing an error. */
static LLVMTargetMachineRef host_machine(int opt_level) {
  LLVMInitializeNativeTarget();
  LLVMInitializeNativeAsmPrinter();
  char *triple = LLVMGetDefaultTargetTriple();
  char *err = NULL;
  LLVMTargetRef t;
  if (LLVMGetTargetFromTriple(triple, &t, &err)) {
    fprintf(stderr, "dlc: error: no LLVM target for %s: %s\n", triple, err);
    LLVMDisposeMessage(err);
    LLVMDisposeMessage(triple);
    return NULL;
  }
  char *cpu = LLVMGetHostCPUName(), *features = LLVMGetHostCPUFeatures();
  LLVMCodeGenOptLevel lvl = opt_level >= 3 ? LLVMCodeGenLevelAggressive
                            : opt_level == 0 ? LLVMCodeGenLevelNone
                                             : LLVMCodeGenLevelDefault;
  LLVMTargetMachineRef tm = LLVMCreateTargetMachine(t, triple, cpu, features, lvl,
                                                    LLVMRelocPIC, LLVMCodeModelDefault);
  LLVMDisposeMessage(features);
  LLVMDisposeMessage(cpu);
  LLVMDisposeMessage(triple);
  return tm;
}

static bool optimize(Gen *g, LLVMTargetMachineRef tm, int opt_level) {
  char *triple = LLVMGetTargetMachineTriple(tm);
  LLVMSetTarget(g->mod, triple);
  LLVMDisposeMessage(triple);
  LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
  char *layout = LLVMCopyStringRepOfTargetData(td);
  LLVMSetDataLayout(g->mod, layout);
  LLVMDisposeMessage(layout);
  LLVMDisposeTargetData(td);
  char pipeline[32];
  snprintf(pipeline, sizeof pipeline, "default<O%d>", opt_level);
  LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
  LLVMPassBuilderOptionsSetLoopVectorization(opts, opt_level >= 2);
  LLVMPassBuilderOptionsSetSLPVectorization(opts, opt_level >= 2);
  LLVMErrorRef err = LLVMRunPasses(g->mod, pipeline, tm, opts);
  LLVMDisposePassBuilderOptions(opts);
  if (err) {
    char *msg = LLVMGetErrorMessage(err);
    fprintf(stderr, "dlc: error: LLVM optimisation failed: %s\n", msg);
    LLVMDisposeErrorMessage(msg);
    return false;
  }
  return true;
}

bool cg_llvm_emit(const Entry *e, int n, const char *manifest, const BuildOptions *o,
                  const char *obj_path, BuildStats *st) {
  Gen g = {0};
  double t0 = now();
  gen_module(&g, e, n, manifest);
  double t1 = now();
  LLVMTargetMachineRef tm = host_machine(o->opt_level);
  bool ok = tm && optimize(&g, tm, o->opt_level);
  double t2 = now();
  if (ok && o->emit_llvm) {
    char *err = NULL;
    if (LLVMPrintModuleToFile(g.mod, o->emit_llvm, &err)) {
      fprintf(stderr, "dlc: error: cannot write %s: %s\n", o->emit_llvm, err);
      ok = false;
    }
    LLVMDisposeMessage(err);
  }
  if (ok) {
    char *err = NULL;
    if (LLVMTargetMachineEmitToFile(tm, g.mod, (char *)obj_path, LLVMObjectFile, &err)) {
      fprintf(stderr, "dlc: error: cannot write %s: %s\n", obj_path, err);
      ok = false;
    }
    LLVMDisposeMessage(err);
  }
  if (tm) LLVMDisposeTargetMachine(tm);
  dispose(&g);
  if (st) {
    struct stat sb;
    st->t_codegen = t1 - t0;
    st->t_opt = t2 - t1;
    st->t_emit = now() - t2;
    st->nkernels = 0;
    for (int j = 0; j < n; j++) st->nkernels += e[j].p->nk;
    st->code_bytes = ok && stat(obj_path, &sb) == 0 ? (int64_t)sb.st_size : 0;
  }
  return ok;
}

bool cg_llvm_print(FILE *f, const Entry *e, int n, const char *manifest, int opt_level) {
  Gen g = {0};
  gen_module(&g, e, n, manifest);
  bool ok = true;
  if (opt_level > 0) {
    LLVMTargetMachineRef tm = host_machine(opt_level);
    ok = tm && optimize(&g, tm, opt_level);
    if (tm) LLVMDisposeTargetMachine(tm);
  }
  if (ok) {
    char *s = LLVMPrintModuleToString(g.mod);
    fputs(s, f);
    LLVMDisposeMessage(s);
  }
  dispose(&g);
  return ok;
}
