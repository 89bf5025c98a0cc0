/* llvm_vec.c — the CPU backend's code built by hand rather than from the
 * kernel IR's loops: matrix products (packed panels, a register-blocked
 * micro-kernel, panels of weights cached across calls), max pooling in
 * pairs of columns, and im2col runs as masked vector copies.
 *
 * The one idea: each of these kernels carries a description beside its
 * loops (KGemm, KPool, KCols in codegen.h); the loops say what to compute,
 * and here the same arithmetic, in the same order, is laid out in vector
 * instructions the loop vectorizer would not find. llvm.c calls these for
 * the kernels' bodies; llvm_gen.h is what the two files share.
 */
#include "llvm_gen.h"

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of cached weight panels in one module at most: they are static
 * data, which the default code model keeps within 2 GB. */
#define PANEL_CACHE_MAX (1LL << 30)

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
void gen_gemm_panels(Gen *g, const KGemm *gm, LLVMValueRef lo, LLVMValueRef hi) {
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

/* Where row kh of the windows from column j0 starts in a plane of x (or
 * of the gradient, its shape): (oh*KH + kh)*W + 2*j0. */
static LLVMValueRef pool_row_at(Gen *g, const PoolGen *pg, int kh, LLVMValueRef j0) {
  LLVMValueRef ih = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, pg->oh, ci(g, pg->kp->KH), ""), ci(g, kh), "");
  return LLVMBuildAdd(g->b, LLVMBuildMul(g->b, ih, ci(g, pg->kp->W), ""),
                      LLVMBuildMul(g->b, j0, ci(g, 2), ""), "");
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
  for (int kh = 0; kh < kp->KH; kh++) {
    LLVMValueRef row = gep_f(g, pg->x, pool_row_at(g, pg, kh, j0));
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
    LLVMValueRef row = gep_f(g, pg->y, pool_row_at(g, pg, kh, j0));
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

void gen_pool(Gen *g, const KPool *kp, LLVMValueRef lo, LLVMValueRef hi) {
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

void gen_cols(Gen *g, const KCols *kc, LLVMValueRef lo, LLVMValueRef hi) {
  cg_gemm_nr(); /* sets vector_width */
  LLVMValueRef l[16];
  for (int i = 0; i < vector_width; i++) l[i] = LLVMConstInt(g->t_i32, (unsigned long long)i, 0);
  ColsGen cg = {.kc = kc, .lanes = LLVMConstVector(l, (unsigned)vector_width)};
  range_loop(g, lo, hi, cols_image, &cg);
}
