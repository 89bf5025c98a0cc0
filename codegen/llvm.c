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
 * llvm.fmuladd into vfmadd. Kernels with a description (matrix products,
 * pooling in pairs, im2col runs) get bodies built by hand in llvm_vec.c.
 */
#include "dlrt.h"
#include "llvm_gen.h"

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


static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

LLVMTypeRef ktype(Gen *g, KType t) {
  switch (t) {
  case KT_F32: return g->t_f32;
  case KT_I32: return g->t_i32;
  case KT_I64: return g->t_i64;
  case KT_BOOL: return g->t_i1;
  case KT_COUNT: break;
  }
  die("bad ktype");
}

LLVMValueRef intrinsic(Gen *g, const char *name, LLVMTypeRef t,
                              LLVMValueRef *args, unsigned nargs) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  if (!id) die("no intrinsic %s", name);
  LLVMValueRef fn = LLVMGetIntrinsicDeclaration(g->mod, id, &t, 1);
  LLVMTypeRef fty = LLVMIntrinsicGetType(g->ctx, id, &t, 1);
  return LLVMBuildCall2(g->b, fty, fn, args, nargs, "");
}

LLVMValueRef cf(Gen *g, double v) { return LLVMConstReal(g->t_f32, v); }

LLVMValueRef ci(Gen *g, int64_t v) { return LLVMConstInt(g->t_i64, (unsigned long long)v, 1); }

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

LLVMValueRef gen_expr(Gen *g, const KExpr *e) {
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
void range_loop(Gen *g, LLVMValueRef lo, LLVMValueRef hi, LoopBody *body, void *ctx) {
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

void counted_loop(Gen *g, LLVMValueRef n, LoopBody *body, void *ctx) {
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

void gen_stmts(Gen *g, KStmt *const *s, int n) {
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

void add_attr(Gen *g, LLVMValueRef fn, unsigned idx, const char *name) {
  unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
  LLVMAddAttributeAtIndex(fn, idx, LLVMCreateEnumAttribute(g->ctx, kind, 0));
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
    int64_t bytes = node_bytes(&g->p->g->node[kb->node]).k;
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

/* Wait for the pool's chunks of the kernels before: the entry's thread is
 * about to read what they write, or to change the frame they read. */
static void join(Gen *g) {
  LLVMBuildCall2(g->b, LLVMGlobalGetValueType(g->join), g->join, NULL, 0, "");
}

/* With --check-numerics (the runtime's flag dlrt_checking_numerics set),
 * after kernel k: every f32 tensor it wrote goes to dlrt_check_numerics
 * with a description naming the kernel, its op and its source line, so
 * that the first non-finite value is traced to where it was made. Off, it
 * costs a load and a branch per kernel. */
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
