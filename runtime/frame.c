/* frame.c — the memory of a running model: one block per lifetime class.
 *
 * The one idea: the compiler's memory planner has already placed every
 * tensor at (region, offset), so the runtime allocates exactly three
 * blocks, weights, optimiser state and activations, and never anything
 * per tensor. Weights and state are shared by every entry; each entry has
 * its own activation layout of act_k fixed bytes (region ACT) followed by
 * act_n bytes per sample (region ACTN, offsets scaled by N), so one block
 * sized for the largest entry at the largest batch serves every entry and
 * every smaller batch: entering an entry only moves base[ACTN]. Parameters
 * and state move between checkpoints and the blocks here, checked by name,
 * dtype and shape.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "dlrt.h"


static int64_t align64(int64_t x) {
  return (x + 63) / 64 * 64;
}

int64_t dlrt_act_bytes(const dlrt_model *m, int64_t N) {
  int64_t most = 0, b;
  for (int e = 0; e < DLRT_ENTRIES; e++) {
    const dlrt_entry *en = &m->entry[e];
    if (!en->present)
      continue;
    if (__builtin_mul_overflow(en->act_n, N, &b) ||
        __builtin_add_overflow(b, align64(en->act_k), &b))
      return -1;
    most = b > most ? b : most;
  }
  return most;
}

/* A zeroed block of at least `bytes` (>= 0), 64-byte aligned, or NULL.
 * A block of several megabytes (a training step's activations) is asked
 * for in huge pages: with 4 KB pages a kernel sweeping a batch's tensors
 * misses the TLB on most pages, which cost LeNet-5's training step a
 * third of its time at batch 64. */
enum { HUGE_PAGE = 2 << 20 };

static char *new_block(int64_t bytes) {
  size_t size = bytes > 0 ? (size_t)align64(bytes) : 64;
  char *b;
#ifdef MADV_HUGEPAGE
  if (size >= 2 * (size_t)HUGE_PAGE) {
    size = (size + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    b = aligned_alloc(HUGE_PAGE, size);
    if (b)
      madvise(b, size, MADV_HUGEPAGE); /* a hint: 4 KB pages still work */
  } else
#endif
    b = aligned_alloc(64, size);
  if (b)
    memset(b, 0, size);
  return b;
}

bool dlrt_frame_alloc(dlrt_frame *f, const dlrt_model *m, int64_t N, char *err) {
  memset(f, 0, sizeof *f);
  if (N < 1 || N > DLRT_MAX_BATCH)
    return dlrt_fail(err, "batch size %lld is out of range 1..%lld", (long long)N,
                (long long)DLRT_MAX_BATCH);
  int64_t act = dlrt_act_bytes(m, N);
  f->base[DLRT_R_WEIGHT] = new_block(m->weight_bytes);
  f->base[DLRT_R_STATE] = new_block(m->state_bytes);
  f->base[DLRT_R_ACT] = act < 0 ? NULL : new_block(act);
  if (!f->base[DLRT_R_WEIGHT] || !f->base[DLRT_R_STATE] || !f->base[DLRT_R_ACT]) {
    dlrt_frame_free(f);
    return dlrt_fail(err, "out of memory: %lld bytes of weights, %lld of optimiser "
                "state and %lld of activations for batch size %lld",
                (long long)m->weight_bytes, (long long)m->state_bytes,
                (long long)act, (long long)N);
  }
  dlrt_frame_enter(f, m, DLRT_E_FORWARD, N);
  dlrt_params_changed(f);
  return true;
}

/* Versions come from one counter, so that two frames (or one frame before
 * and after a change) never share one. */
void dlrt_params_changed(dlrt_frame *f) {
  static _Atomic uint64_t last;
  f->version = atomic_fetch_add(&last, 1) + 1;
}

void dlrt_frame_enter(dlrt_frame *f, const dlrt_model *m, int kind, int64_t N) {
  f->base[DLRT_R_ACTN] = f->base[DLRT_R_ACT] + align64(m->entry[kind].act_k);
  f->N = N;
}

void dlrt_frame_free(dlrt_frame *f) {
  dlrt_params_forget(f);
  free(f->base[DLRT_R_WEIGHT]);
  free(f->base[DLRT_R_STATE]);
  free(f->base[DLRT_R_ACT]);   /* base[ACTN] points into this block */
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

/* Whether a (NULL: missing) matches tensor p of the model; what = "param"
 * or "state tensor", name = the array's name. */
static bool check_array(const dlrt_tensor *p, const dlrt_array *a,
                        const char *what, const char *name, const char *path,
                        char *err) {
  char want[128], got[128];
  bool same = a && a->dtype == p->dtype && a->rank == p->rank;
  for (int i = 0; same && i < p->rank; i++)
    same = a->dim[i] == p->dim[i];
  if (same)
    return true;
  if (!a)
    return dlrt_fail(err, "%s: the checkpoint has no array for %s '%s'", path, what, name);
  format_dims(want, sizeof want, p->rank, p->dim);
  format_dims(got, sizeof got, a->rank, a->dim);
  return dlrt_fail(err, "%s: %s '%s' is %s %s in the checkpoint, but the model "
              "wants %s %s", path, what, name, dlrt_dtype_name(a->dtype), got,
              dlrt_dtype_name(p->dtype), want);
}

bool dlrt_ckpt_check_model(const dlrt_model *m, const dlrt_ckpt *c,
                           const char *path, char *err) {
  if (c->signature != m->signature)
    return dlrt_fail(err, "%s: the checkpoint is for model '%s' (signature %016llx), "
                "but this program is model '%s' (signature %016llx)", path,
                c->model, (unsigned long long)c->signature, m->name,
                (unsigned long long)m->signature);
  for (int i = 0; i < m->nparams; i++) {
    const dlrt_tensor *p = &m->params[i];
    if (!check_array(p, dlrt_ckpt_find(c, p->name), "param", p->name, path, err))
      return false;
  }
  return true;
}

bool dlrt_ckpt_get_params(const dlrt_model *m, const dlrt_ckpt *c,
                          const char *prefix, char *dst, const char *path,
                          char *err) {
  char name[160];
  for (int i = 0; i < m->nparams; i++) {
    const dlrt_tensor *p = &m->params[i];
    snprintf(name, sizeof name, "%s%s", prefix, p->name);
    const dlrt_array *a = dlrt_ckpt_find(c, name);
    if (!check_array(p, a, "param", name, path, err))
      return false;
    memcpy(dst + p->off, a->data, (size_t)dlrt_tensor_bytes(p, 1));
  }
  return true;
}

bool dlrt_frame_load_weights(dlrt_frame *f, const dlrt_model *m,
                             const dlrt_ckpt *c, const char *path, char *err) {
  dlrt_params_to_host(f);
  bool ok = dlrt_ckpt_check_model(m, c, path, err) &&
            dlrt_ckpt_get_params(m, c, "", f->base[DLRT_R_WEIGHT], path, err);
  dlrt_params_changed(f); /* also on failure, whatever was copied */
  return ok;
}

bool dlrt_frame_load_state(dlrt_frame *f, const dlrt_model *m,
                           const dlrt_ckpt *c, const char *path, char *err) {
  dlrt_params_to_host(f);
  for (int i = 0; i < m->nstates; i++) {
    const dlrt_tensor *s = &m->states[i];
    const dlrt_array *a = dlrt_ckpt_find(c, s->name);
    if (!check_array(s, a, "state tensor", s->name, path, err))
      return false;
    memcpy(dlrt_tensor_addr(f, s), a->data, (size_t)dlrt_tensor_bytes(s, 1));
  }
  return true;
}

/* Describe tensor t, whose data is at data, as array a named prefix+name. */
static bool put_array(dlrt_array *a, const dlrt_tensor *t, const char *prefix,
                      void *data) {
  a->dtype = t->dtype;
  a->rank = t->rank;
  memcpy(a->dim, t->dim, sizeof a->dim);
  a->data = data;
  return snprintf(a->name, sizeof a->name, "%s%s", prefix, t->name) <
         (int)sizeof a->name;
}

bool dlrt_frame_save_train(const dlrt_frame *f, const dlrt_model *m,
                           const char *best, const dlrt_kv *meta, int nmeta,
                           const char *path, char *err) {
  dlrt_params_to_host(f);
  dlrt_ckpt c = {.signature = m->signature, .nmeta = nmeta, .meta = (dlrt_kv *)meta};
  snprintf(c.model, sizeof c.model, "%s", m->name);
  size_t n = (size_t)m->nparams * (best ? 2 : 1) + (size_t)m->nstates;
  c.arrays = calloc(n ? n : 1, sizeof *c.arrays);
  if (!c.arrays)
    return dlrt_fail(err, "%s: out of memory", path);
  bool ok = true;
  for (int i = 0; i < m->nparams; i++)
    put_array(&c.arrays[c.narrays++], &m->params[i], "",
              dlrt_tensor_addr(f, &m->params[i]));
  for (int i = 0; i < m->nstates; i++)
    put_array(&c.arrays[c.narrays++], &m->states[i], "",
              dlrt_tensor_addr(f, &m->states[i]));
  for (int i = 0; best && ok && i < m->nparams; i++)
    ok = put_array(&c.arrays[c.narrays++], &m->params[i], "best.",
                   (char *)best + m->params[i].off);
  if (!ok)
    dlrt_fail(err, "%s: cannot save the best weights: a param name is longer "
         "than 58 characters", path);
  ok = ok && dlrt_ckpt_save(path, &c, err);
  free(c.arrays);
  return ok;
}

bool dlrt_frame_save_weights(const dlrt_frame *f, const dlrt_model *m,
                             const dlrt_kv *meta, int nmeta, const char *path,
                             char *err) {
  dlrt_params_to_host(f);
  dlrt_ckpt c = {.signature = m->signature, .nmeta = nmeta,
                 .meta = (dlrt_kv *)meta, .narrays = m->nparams};
  snprintf(c.model, sizeof c.model, "%s", m->name);
  c.arrays = calloc(m->nparams ? (size_t)m->nparams : 1, sizeof *c.arrays);
  if (!c.arrays)
    return dlrt_fail(err, "%s: out of memory", path);
  for (int i = 0; i < m->nparams; i++)
    put_array(&c.arrays[i], &m->params[i], "", dlrt_tensor_addr(f, &m->params[i]));
  bool ok = dlrt_ckpt_save(path, &c, err);
  free(c.arrays);
  return ok;
}
