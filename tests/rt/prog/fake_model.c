/* fake_model.c — a hand-written stand-in for a compiled model, linked with
 * the runtime's main() into build/rtprog/fake_prog (and, with -DFAKE_OTHER,
 * into fake_other: another model, for the wrong-checkpoint tests).
 *
 * The one idea: the runtime's command line is tested end to end without
 * the compiler, by writing by hand the two things the compiler generates:
 * the manifest and dlrt_forward (only: like a model without a loss, it has
 * no eval or train entry). The model is
 *
 *   input  x: f32[N, 4]            ACTN, offset 0  (16 bytes per sample)
 *   label  lab: i32[N] classes 4   ACTN, offset 16 (4 bytes per sample)
 *   output y: f32[N, 4]            ACTN, offset 20 (16 bytes per sample)
 *   output total: f32[4]           ACT, offset 16: the sum of y over the batch
 *   param  w: f32[4]   const 0.25  weights, offset 0
 *   param  s: f32[2,3] xavier      weights, offset 16 (unused by forward)
 *   y = 2 x + w, computed through a copy of w in the ACT region, over the
 *   samples with dlrt_parallel; total couples the samples (predict must
 *   run it as one batch).
 */
#include <string.h>

#include "dlrt.h"

#ifdef FAKE_OTHER
#define NAME "other"
#define SIGNATURE "fedcba9876543210"
#else
#define NAME "fake"
#define SIGNATURE "0123456789abcdef"
#endif

const char dlrt_manifest[] =
  "dlc-manifest 1\n"
  "model " NAME "\n"
  "signature " SIGNATURE "\n"
  "dlc 0.1.0\n"
  "weights 64\n"
  "state 0\n"
  "input x f32 data 0 2 -1 4\n"
  "input lab i32 label 4 1 -1\n"
  "param w f32 1 4 0 const 0.25 0 0 0\n"
  "param s f32 2 2 3 16 xavier_uniform 0 0 2 3\n"
  "entry forward 64 36\n"
  "in x 3 0\n"
  "in lab 3 16\n"
  "out y f32 2 -1 4 3 20\n"
  "out total f32 1 4 2 16\n"
  "train data.scale 0.00392156862745098\n"
  "train epochs 3\n"
  "end\n";

/* Samples [lo, hi) of y = 2 x + w. */
static void kernel(const dlrt_frame *f, int64_t lo, int64_t hi) {
  const float *x = (const float *)(f->base[DLRT_R_ACTN] + 0 * f->N);
  float *y = (float *)(f->base[DLRT_R_ACTN] + 20 * f->N);
  const float *w = (const float *)f->base[DLRT_R_ACT];
  for (int64_t i = lo; i < hi; i++)
    for (int j = 0; j < 4; j++)
      y[i * 4 + j] = 2 * x[i * 4 + j] + w[j];
}

void dlrt_forward(const dlrt_frame *f);
void dlrt_forward(const dlrt_frame *f) {
  memcpy(f->base[DLRT_R_ACT], f->base[DLRT_R_WEIGHT], 16);
  dlrt_parallel(kernel, f, f->N);
  const float *y = (const float *)(f->base[DLRT_R_ACTN] + 20 * f->N);
  float *total = (float *)(f->base[DLRT_R_ACT] + 16);
  for (int j = 0; j < 4; j++) {
    total[j] = 0;
    for (int64_t i = 0; i < f->N; i++)
      total[j] += y[i * 4 + j];
  }
}
