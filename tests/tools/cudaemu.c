/* cudaemu.c — a stand-in for the CUDA driver (libcuda.so.1) that runs a
 * CUDA program's kernels on the CPU, so that the CUDA target's host code,
 * runtime and generated kernels are tested on machines without a GPU.
 *
 * It implements the driver calls runtime/cuda.c makes. Memory is host
 * memory. cuModuleLoadDataEx checks that it was given PTX, then loads
 * instead the module named by $DLC_CUDAEMU_MODULE: the same CUDA C
 * compiled as C++ with tests/tools/cudaemu.h; every kernel launched must
 * also be an .entry of the PTX. cuLaunchKernel checks the launch against
 * the device limits (1024 threads per block, grid x < 2^31, y and z <=
 * 65535, 48 KiB of shared memory) and runs the grid one block at a time:
 * the threads of a block in a loop, or, for a kernel marked
 * DLC_BLOCK_SYNC, on a pool of blockDim OS threads that meet at a barrier
 * in __syncthreads.
 *
 * Built as $(BUILD)/cudaemu/libcuda.so.1; a test puts that directory on
 * LD_LIBRARY_PATH. Errors print a line on stderr and return a CUDA error
 * code, so the runtime's own messages are exercised too.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlrt.h"

typedef int CUresult;
enum {
  OK = 0,
  ERR_INVALID_VALUE = 1,
  ERR_OUT_OF_MEMORY = 2,
  ERR_INVALID_IMAGE = 200,
  ERR_NOT_FOUND = 500,
};

typedef void (*Kernel)(dlrt_frame f);
typedef void (*Enter)(const unsigned *t, const unsigned *b, const unsigned *bd,
                      const unsigned *gd, void (*sync)(void));

typedef struct Func {
  Kernel fn;
  bool block_sync;
  char name[256];
} Func;

static void *module;         /* the C++ build of the kernels */
static Enter enter;
static const char *ptx_text; /* as loaded, to check kernel names */

/* The exported driver API: declared here, as cuda.h would. */
CUresult cuInit(unsigned flags);
CUresult cuDeviceGetCount(int *n);
CUresult cuDeviceGet(int *d, int i);
CUresult cuDeviceGetName(char *name, int len, int d);
CUresult cuDevicePrimaryCtxRetain(void **ctx, int d);
CUresult cuCtxSetCurrent(void *ctx);
CUresult cuModuleLoadDataEx(void **mod, const void *image, unsigned n, int *opts, void **vals);
CUresult cuModuleGetFunction(void **fn, void *mod, const char *name);
CUresult cuMemAlloc_v2(uint64_t *p, size_t bytes);
CUresult cuMemFree_v2(uint64_t p);
CUresult cuMemcpyHtoD_v2(uint64_t dst, const void *src, size_t bytes);
CUresult cuMemcpyDtoH_v2(void *dst, uint64_t src, size_t bytes);
CUresult cuMemsetD8_v2(uint64_t dst, unsigned char v, size_t bytes);
CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                        unsigned bz, unsigned shared, void *stream, void **params, void **extra);
CUresult cuCtxSynchronize(void);
CUresult cuGetErrorName(CUresult r, const char **s);
CUresult cuGetErrorString(CUresult r, const char **s);

static CUresult fail(CUresult r, const char *fmt, const char *arg) {
  fprintf(stderr, "cudaemu: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n");
  return r;
}

CUresult cuInit(unsigned flags) { return flags ? ERR_INVALID_VALUE : OK; }
CUresult cuDeviceGetCount(int *n) {
  *n = 1;
  return OK;
}
CUresult cuDeviceGet(int *d, int i) {
  *d = i;
  return i == 0 ? OK : ERR_INVALID_VALUE;
}
CUresult cuDeviceGetName(char *name, int len, int d) {
  (void)d;
  snprintf(name, (size_t)len, "cudaemu (CPU emulation)");
  return OK;
}
static int the_ctx;
CUresult cuDevicePrimaryCtxRetain(void **ctx, int d) {
  *ctx = &the_ctx;
  return d == 0 ? OK : ERR_INVALID_VALUE;
}
CUresult cuCtxSetCurrent(void *ctx) { return ctx == &the_ctx ? OK : ERR_INVALID_VALUE; }

CUresult cuModuleLoadDataEx(void **mod, const void *image, unsigned n, int *opts, void **vals) {
  (void)n, (void)opts, (void)vals;
  const char *ptx = image;
  if (!strstr(ptx, ".version") || !strstr(ptx, ".target"))
    return fail(ERR_INVALID_IMAGE, "the module image is not PTX%s", "");
  const char *path = getenv("DLC_CUDAEMU_MODULE");
  if (!path) return fail(ERR_INVALID_IMAGE, "DLC_CUDAEMU_MODULE is not set%s", "");
  module = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!module) return fail(ERR_INVALID_IMAGE, "%s", dlerror());
  *(void **)&enter = dlsym(module, "dlc_emu_enter"); /* POSIX's idiom for functions */
  if (!enter) return fail(ERR_INVALID_IMAGE, "%s has no dlc_emu_enter", path);
  ptx_text = ptx;
  *mod = module;
  return OK;
}

CUresult cuModuleGetFunction(void **fn, void *mod, const char *name) {
  char entry[300], sync[300];
  snprintf(entry, sizeof entry, ".entry %s(", name);
  if (mod != module || !strstr(ptx_text, entry))
    return fail(ERR_NOT_FOUND, "no .entry %s in the PTX", name);
  Func *f = calloc(1, sizeof *f);
  if (!f) return ERR_OUT_OF_MEMORY;
  *(void **)&f->fn = dlsym(module, name);
  if (!f->fn) {
    free(f);
    return fail(ERR_NOT_FOUND, "no kernel %s in the emulation module", name);
  }
  snprintf(sync, sizeof sync, "%s_block_sync", name);
  f->block_sync = dlsym(module, sync) != NULL;
  snprintf(f->name, sizeof f->name, "%s", name);
  *fn = f;
  return OK;
}

CUresult cuMemAlloc_v2(uint64_t *p, size_t bytes) {
  void *m = aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (!m) return ERR_OUT_OF_MEMORY;
  memset(m, 0xA5, bytes); /* not zero: the runtime must clear what it relies on */
  *p = (uint64_t)(uintptr_t)m;
  return OK;
}
CUresult cuMemFree_v2(uint64_t p) {
  free((void *)(uintptr_t)p);
  return OK;
}
/* DLC_CUDAEMU_COPIES=FILE: one line per copy, "htod BYTES" or "dtoh
 * BYTES", for the tests of what the runtime moves. */
static void log_copy(const char *dir, size_t bytes) {
  const char *path = getenv("DLC_CUDAEMU_COPIES");
  FILE *f = path ? fopen(path, "a") : NULL;
  if (!f) return;
  fprintf(f, "%s %zu\n", dir, bytes);
  fclose(f);
}
CUresult cuMemcpyHtoD_v2(uint64_t dst, const void *src, size_t bytes) {
  memcpy((void *)(uintptr_t)dst, src, bytes);
  log_copy("htod", bytes);
  return OK;
}
CUresult cuMemcpyDtoH_v2(void *dst, uint64_t src, size_t bytes) {
  memcpy(dst, (const void *)(uintptr_t)src, bytes);
  log_copy("dtoh", bytes);
  return OK;
}
CUresult cuMemsetD8_v2(uint64_t dst, unsigned char v, size_t bytes) {
  memset((void *)(uintptr_t)dst, v, bytes);
  return OK;
}

/* ---- launching ---- */

typedef struct Block {
  const Func *f;
  dlrt_frame frame;
  unsigned b[3], bd[3], gd[3];
} Block;

static pthread_barrier_t sync_barrier;
static void block_sync(void) { pthread_barrier_wait(&sync_barrier); }
static void no_sync(void) {
  fprintf(stderr, "cudaemu: __syncthreads in a kernel not marked DLC_BLOCK_SYNC\n");
  abort();
}

/* The threads of blocks that synchronise: a pool of blockDim threads that
 * meet at `start` for each block and at `end` when it is done. */
static struct {
  pthread_t th[1024];
  unsigned n;                  /* threads; 0: no pool yet */
  pthread_barrier_t start, end;
  const Block *blk;            /* the block to run; NULL: exit */
} pool;

static void *worker(void *arg) {
  unsigned i = (unsigned)(uintptr_t)arg;
  for (;;) {
    pthread_barrier_wait(&pool.start);
    const Block *blk = pool.blk;
    if (!blk) return NULL;
    unsigned t[3] = {i, 0, 0};
    enter(t, blk->b, blk->bd, blk->gd, block_sync);
    blk->f->fn(blk->frame);
    pthread_barrier_wait(&pool.end);
  }
}

static void pool_stop(void) {
  if (!pool.n) return;
  pool.blk = NULL;
  pthread_barrier_wait(&pool.start);
  for (unsigned i = 0; i < pool.n; i++) pthread_join(pool.th[i], NULL);
  pthread_barrier_destroy(&pool.start);
  pthread_barrier_destroy(&pool.end);
  pthread_barrier_destroy(&sync_barrier);
  pool.n = 0;
}

static void pool_start(unsigned n) {
  pthread_barrier_init(&pool.start, NULL, n + 1);
  pthread_barrier_init(&pool.end, NULL, n + 1);
  pthread_barrier_init(&sync_barrier, NULL, n);
  for (unsigned i = 0; i < n; i++)
    if (pthread_create(&pool.th[i], NULL, worker, (void *)(uintptr_t)i) != 0) {
      fprintf(stderr, "cudaemu: cannot start %u threads\n", n);
      abort();
    }
  pool.n = n;
}

static void run_block(const Block *blk) {
  unsigned n = blk->bd[0];
  if (!blk->f->block_sync) {
    for (unsigned i = 0; i < n; i++) {
      unsigned t[3] = {i, 0, 0};
      enter(t, blk->b, blk->bd, blk->gd, no_sync);
      blk->f->fn(blk->frame);
    }
    return;
  }
  if (pool.n != n) {
    static bool registered;
    if (!registered) /* threads left waiting at exit upset LeakSanitizer */
      registered = atexit(pool_stop) == 0;
    pool_stop();
    pool_start(n);
  }
  pool.blk = blk;
  pthread_barrier_wait(&pool.start);
  pthread_barrier_wait(&pool.end);
}

CUresult cuLaunchKernel(void *fp, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                        unsigned bz, unsigned shared, void *stream, void **params, void **extra) {
  const Func *f = fp;
  (void)stream;
  if (!f || !params || extra) return ERR_INVALID_VALUE;
  if (bx * by * bz > 1024 || by != 1 || bz != 1 || gx == 0 || gy == 0 || gz == 0 ||
      gx > 2147483647u || gy > 65535 || gz > 65535 || shared > 48 * 1024)
    return fail(ERR_INVALID_VALUE, "launch of %s beyond the device limits", f->name);
  Block blk = {.f = f, .frame = *(const dlrt_frame *)params[0], .bd = {bx, 1, 1},
               .gd = {gx, gy, gz}};
  for (unsigned z = 0; z < gz; z++)
    for (unsigned y = 0; y < gy; y++)
      for (unsigned x = 0; x < gx; x++) {
        blk.b[0] = x, blk.b[1] = y, blk.b[2] = z;
        run_block(&blk);
      }
  return OK;
}

CUresult cuCtxSynchronize(void) { return OK; }

CUresult cuGetErrorName(CUresult r, const char **s) {
  *s = r == OK                  ? "CUDA_SUCCESS"
       : r == ERR_INVALID_VALUE ? "CUDA_ERROR_INVALID_VALUE"
       : r == ERR_OUT_OF_MEMORY ? "CUDA_ERROR_OUT_OF_MEMORY"
       : r == ERR_INVALID_IMAGE ? "CUDA_ERROR_INVALID_IMAGE"
       : r == ERR_NOT_FOUND     ? "CUDA_ERROR_NOT_FOUND"
                                : "CUDA_ERROR_UNKNOWN";
  return OK;
}

CUresult cuGetErrorString(CUresult r, const char **s) {
  *s = r == OK ? "no error" : "an error reported by cudaemu (see above)";
  return OK;
}
