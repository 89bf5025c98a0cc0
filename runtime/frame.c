/* frame.c — the memory of a running model: one block per region.
 *
 * The one idea: the compiler's memory planner has already placed every
 * tensor at (region, offset), so the runtime allocates exactly one block
 * per region and never anything per tensor. A region holds k + n*N bytes
 * for batch size N; a block allocated for a capacity N serves every
 * smaller batch too, because the planner's offsets for DLRT_R_ACTN scale
 * with N (off * N) and so stay inside the block. Parameters move between
 * checkpoints and the weight block here, checked by name, dtype and shape.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dlrt.h"

/* Write a message to err (DLRT_ERR_LEN bytes, truncated); false. */
__attribute__((format(printf, 2, 3)))
static bool fail(char *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, DLRT_ERR_LEN, fmt, ap);
  va_end(ap);
  return false;
}

int64_t dlrt_region_bytes(const dlrt_model *m, int r, int64_t N) {
  int64_t b;
  if (__builtin_mul_overflow(m->region_n[r], N, &b) ||
      __builtin_add_overflow(b, m->region_k[r], &b))
    return -1;
  return b;
}

bool dlrt_frame_alloc(dlrt_frame *f, const dlrt_model *m, int64_t N, char *err) {
  memset(f, 0, sizeof *f);
  if (N < 1 || N > DLRT_MAX_BATCH)
    return fail(err, "batch size %lld is out of range 1..%lld", (long long)N,
                (long long)DLRT_MAX_BATCH);
  for (int r = DLRT_R_NONE + 1; r < DLRT_REGIONS; r++) {
    int64_t b = dlrt_region_bytes(m, r, N);
    size_t size = b < 0 ? 0 : ((size_t)b + 63) / 64 * 64;
    f->base[r] = size ? aligned_alloc(64, size) : aligned_alloc(64, 64);
    if (b < 0 || !f->base[r]) {
      dlrt_frame_free(f);
      return fail(err, "out of memory: region %d needs %lld bytes for batch "
                  "size %lld", r, (long long)b, (long long)N);
    }
    memset(f->base[r], 0, size);
  }
  f->N = N;
  return true;
}

void dlrt_frame_free(dlrt_frame *f) {
  for (int r = 0; r < DLRT_REGIONS; r++)
    free(f->base[r]);
  memset(f, 0, sizeof *f);
}

void *dlrt_tensor_addr(const dlrt_frame *f, const dlrt_tensor *t) {
  int64_t off = t->region == DLRT_R_ACTN ? t->off * f->N : t->off;
  return f->base[t->region] + off;
}

/* "[4, 3]" */
static void format_dims(char *buf, size_t cap, int rank, const int64_t *dim) {
  size_t n = (size_t)snprintf(buf, cap, "[");
  for (int i = 0; i < rank && n < cap; i++)
    n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)dim[i]);
  if (n < cap)
    snprintf(buf + n, cap - n, "]");
}

static bool check_param(const dlrt_tensor *p, const dlrt_array *a,
                        const char *path, char *err) {
  char want[128], got[128];
  bool same = a && a->dtype == p->dtype && a->rank == p->rank;
  for (int i = 0; same && i < p->rank; i++)
    same = a->dim[i] == p->dim[i];
  if (same)
    return true;
  if (!a)
    return fail(err, "%s: the checkpoint has no array for param '%s'", path, p->name);
  format_dims(want, sizeof want, p->rank, p->dim);
  format_dims(got, sizeof got, a->rank, a->dim);
  return fail(err, "%s: param '%s' is %s %s in the checkpoint, but the model "
              "wants %s %s", path, p->name, dlrt_dtype_name(a->dtype), got,
              dlrt_dtype_name(p->dtype), want);
}

bool dlrt_ckpt_check_model(const dlrt_model *m, const dlrt_ckpt *c,
                           const char *path, char *err) {
  if (c->signature != m->signature)
    return fail(err, "%s: the checkpoint is for model '%s' (signature %016llx), "
                "but this program is model '%s' (signature %016llx)", path,
                c->model, (unsigned long long)c->signature, m->name,
                (unsigned long long)m->signature);
  for (int i = 0; i < m->nparams; i++)
    if (!check_param(&m->params[i], dlrt_ckpt_find(c, m->params[i].name), path, err))
      return false;
  return true;
}

bool dlrt_frame_load_weights(dlrt_frame *f, const dlrt_model *m,
                             const dlrt_ckpt *c, const char *path, char *err) {
  if (!dlrt_ckpt_check_model(m, c, path, err))
    return false;
  for (int i = 0; i < m->nparams; i++) {
    const dlrt_tensor *p = &m->params[i];
    memcpy(dlrt_tensor_addr(f, p), dlrt_ckpt_find(c, p->name)->data,
           (size_t)dlrt_tensor_bytes(p, 1));
  }
  return true;
}

bool dlrt_frame_save_weights(const dlrt_frame *f, const dlrt_model *m,
                             const dlrt_kv *meta, int nmeta, const char *path,
                             char *err) {
  dlrt_ckpt c = {.signature = m->signature, .nmeta = nmeta,
                 .meta = (dlrt_kv *)meta, .narrays = m->nparams};
  snprintf(c.model, sizeof c.model, "%s", m->name);
  c.arrays = calloc(m->nparams ? (size_t)m->nparams : 1, sizeof *c.arrays);
  if (!c.arrays)
    return fail(err, "%s: out of memory", path);
  for (int i = 0; i < m->nparams; i++) {
    const dlrt_tensor *p = &m->params[i];
    dlrt_array *a = &c.arrays[i];
    snprintf(a->name, sizeof a->name, "%s", p->name);
    a->dtype = p->dtype;
    a->rank = p->rank;
    memcpy(a->dim, p->dim, sizeof a->dim);
    a->data = dlrt_tensor_addr(f, p);
  }
  bool ok = dlrt_ckpt_save(path, &c, err);
  free(c.arrays);
  return ok;
}
