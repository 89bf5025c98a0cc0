/* test_cuda.c — the CUDA backend without a GPU: for every model in
 * models/, every entry's kernels get a launch that fits the limits the
 * generated code assumes (at most 1024 threads per block, 48 KiB of static
 * shared memory, grid x below 2^31 and y, z at most 65535, enough threads
 * for the kernel's work) at batch sizes from 1 to 65536, and the CUDA C
 * defines one __global__ function per launch. Each function's own
 * __shared__ arrays fit the launch's shared memory, one that calls
 * __syncthreads is a launch that synchronises, and exactly those are
 * marked DLC_BLOCK_SYNC (the emulator runs their threads at once); a
 * reduction whose reduced range grows with N runs as a block reduction.
 * That NVRTC accepts the CUDA C is tests/e2e/cuda.sh's part.
 */
#include "codegen.h"
#include "frontend.h"
#include "passes.h"

#include <glob.h>
#include <stdlib.h>
#include <string.h>

static const int64_t batches[] = {1, 64, 256, 65536};

/* Whether a reduction's reduced range grows with N. */
static bool reduces_batch(const KReduce *r) {
  for (int i = 0; i < r->shape.rank; i++)
    if (r->red[i] && r->shape.d[i] < 0) return true;
  return false;
}

/* What the CUDA C of function sym (" name(") says against its launch l:
 * NULL, or the mismatch. */
static const char *check_source(const char *src, const char *sym, const Kernel *k,
                                const CudaLaunch *l) {
  const char *body = strstr(src, sym), *end = body ? strstr(body, "\n}\n") : NULL;
  if (!end) return "no body";
  char mark[300];
  snprintf(mark, sizeof mark, "DLC_BLOCK_SYNC(%.*s)", (int)strlen(sym) - 2, sym + 1);
  if (l->sync != (strstr(src, mark) != NULL)) return "DLC_BLOCK_SYNC against the launch";
  const char *sync = strstr(body, "__syncthreads");
  if (sync && sync < end && !l->sync) return "__syncthreads in a launch that does not synchronise";
  int64_t shared = 0;
  for (const char *d = strstr(body, "__shared__ float "); d && d < end;
       d = strstr(d + 1, "__shared__ float ")) {
    long long n = 0;
    const char *br = strchr(d, '[');
    if (!br || sscanf(br, "[%lld]", &n) != 1) return "a __shared__ array of unknown size";
    shared += 4 * n;
  }
  if (shared > l->shared) return "__shared__ arrays beyond the launch's shared memory";
  if (k->reduce && reduces_batch(k->reduce) && !l->sync) return "not a block reduction";
  return NULL;
}

/* Launch limits of every part of every kernel of p; false after printing
 * the first violation (indented, under the FAIL line that follows). */
static bool check_launches(const char *model, const char *entry, const Program *p,
                           const char *src) {
  for (int i = 0; i < p->nk; i++) {
    const Kernel *k = p->k[i];
    for (int part = 0; part < cg_cuda_nparts(k); part++) {
      char sym[256];
      snprintf(sym, sizeof sym, " %s_%s%s(", entry, k->name, part ? "_epi" : "");
      if (!strstr(src, sym)) {
        printf("  %s: no __global__%s) in the CUDA C\n", model, sym);
        return false;
      }
      CudaLaunch l;
      cg_cuda_launch(p, k, part, 64, &l);
      const char *why = check_source(src, sym, k, &l);
      if (why) {
        printf("  %s: %s%s): %s\n", model, entry, sym, why);
        return false;
      }
      for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
        cg_cuda_launch(p, k, part, batches[b], &l);
        int64_t blocks = l.grid[0] * l.grid[1] * l.grid[2];
        const char *bad = l.block < 1 || l.block > 1024           ? "threads per block"
                          : l.shared > 48 * 1024                   ? "shared memory"
                          : l.grid[0] < 1 || l.grid[0] > 2147483647 ? "grid x"
                          : l.grid[1] < 1 || l.grid[1] > 65535     ? "grid y"
                          : l.grid[2] < 1 || l.grid[2] > 65535     ? "grid z"
                          : !k->gemm && blocks * l.block < l.threads ? "threads for the work"
                                                                   : NULL;
        if (bad) {
          printf("  %s: %s%s N=%lld: %s: grid %lld x %lld x %lld, block %lld, "
                 "shared %lld, threads %lld\n", model, entry, sym, (long long)batches[b], bad,
                 (long long)l.grid[0], (long long)l.grid[1], (long long)l.grid[2],
                 (long long)l.block, (long long)l.shared, (long long)l.threads);
          return false;
        }
      }
    }
  }
  return true;
}

static bool check_model(const char *path, char *name, size_t cap) {
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  snprintf(name, cap, "%.*s", (int)(strcspn(base, ".")), base);
  Graph *src = fe_load(path);
  if (!src) return false;
  static const char *const *pipes[ENT_COUNT] = {pipeline_infer, pipeline_eval, pipeline_train};
  const int lens[ENT_COUNT] = {pipeline_infer_len, pipeline_eval_len, pipeline_train_len};
  Entry e[ENT_COUNT];
  int n = 0;
  bool ok = true;
  for (int k = 0; k < ENT_COUNT && ok; k++) {
    if (k != ENT_FORWARD && src->loss < 0) continue;
    Graph *g = ir_clone(src);
    ok = pass_run(g, pipes[k], lens[k], NULL);
    if (!ok) {
      ir_free_graph(g);
      break;
    }
    e[n++] = (Entry){.kind = (EntryKind)k, .g = g, .p = cg_lower(g)};
  }
  char *cu = ok ? cg_cuda_source(e, n) : NULL;
  for (int j = 0; j < n && ok; j++) ok = check_launches(name, entry_name[e[j].kind], e[j].p, cu);
  free(cu);
  for (int j = 0; j < n; j++) {
    cg_free_program((Program *)e[j].p);
    ir_free_graph((Graph *)e[j].g);
  }
  ir_free_graph(src);
  return ok;
}

int main(void) {
  const char *root = getenv("DLC_ROOT") ? getenv("DLC_ROOT") : ".";
  char pat[4096];
  snprintf(pat, sizeof pat, "%s/models/*.dlm", root);
  glob_t gl;
  if (glob(pat, 0, NULL, &gl) != 0 || gl.gl_pathc == 0) {
    printf("FAIL cuda/launch (no models at %s)\n", pat);
    return 1;
  }
  int failed = 0;
  for (size_t i = 0; i < gl.gl_pathc; i++) {
    char name[256];
    if (check_model(gl.gl_pathv[i], name, sizeof name)) printf("PASS cuda/launch/%s\n", name);
    else {
      printf("FAIL cuda/launch/%s\n", name);
      failed++;
    }
  }
  globfree(&gl);
  return failed ? 1 : 0;
}
