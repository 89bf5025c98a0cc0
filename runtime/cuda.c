/* cuda.c — the CUDA driver, for programs built with `dlc build --target
 * cuda`: load it, keep one device arena, copy, launch.
 *
 * The one idea: a CUDA program's entries (dlrt_forward ...) are generated
 * host code that calls the four functions here in a fixed order: enter
 * (first time: load libcuda.so.1 with dlopen, take device 0's primary
 * context, load the embedded PTX), the weights and state
 * when the device's copy is not current, the inputs, one launch per kernel,
 * sync, the outputs back. The device arena mirrors the host frame's
 * layout: weights, state and activations, each at the planner's offsets.
 *
 * Residency: the weights and the optimiser state stay on the device from
 * one entry to the next, so a training step moves only its batch in and
 * its outputs out. When an entry writes them, the host's copy is stale
 * until the runtime is about to read or write them itself (a checkpoint,
 * the best weights of early stopping, a reset): it calls
 * dlrt_params_to_host first, which copies them back if they changed on
 * the device and makes the next entry copy them in again. A frame that
 * is not the one the device holds is copied in whole (and the one held is
 * copied back to its frame first), and dlrt_frame_free forgets the frame.
 *
 * Nothing here is linked against CUDA: a program that never reaches an
 * entry never needs a driver, and one that does without a driver or a
 * device says so and exits with status 1. Every driver call is checked and
 * a failure names the call. DLRT_CUDA_SYNC=1 synchronises after every
 * launch, so that a failing kernel is named.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dlrt.h"

typedef int CUresult;                       /* 0: CUDA_SUCCESS */
typedef int CUdevice;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef unsigned long long CUdeviceptr;

enum { CU_JIT_ERROR_LOG_BUFFER = 5, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6 };

/* The driver's functions, by their ABI names (cuda.h maps cuMemAlloc to
 * cuMemAlloc_v2 and so on). */
static struct {
  void *lib;
  CUresult (*Init)(unsigned);
  CUresult (*DeviceGetCount)(int *);
  CUresult (*DeviceGet)(CUdevice *, int);
  CUresult (*DeviceGetName)(char *, int, CUdevice);
  CUresult (*DevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*CtxSetCurrent)(CUcontext);
  CUresult (*ModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *, void **);
  CUresult (*ModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*MemAlloc)(CUdeviceptr *, size_t);
  CUresult (*MemFree)(CUdeviceptr);
  CUresult (*MemcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*MemcpyDtoH)(void *, CUdeviceptr, size_t);
  CUresult (*MemsetD8)(CUdeviceptr, unsigned char, size_t);
  CUresult (*LaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                           unsigned, unsigned, CUstream, void **, void **);
  CUresult (*CtxSynchronize)(void);
  CUresult (*GetErrorName)(CUresult, const char **);
  CUresult (*GetErrorString)(CUresult, const char **);
} cu;

/* The device side of the program. */
static struct {
  /* residency: whose weights and state the arena holds, whether they are
   * current there, whether the host's copy is older */
  char *owner_base[2];      /* the frame's weight and state blocks; NULL: none */
  int64_t owner_bytes[2];
  bool current, host_stale;
  bool ready;
  CUcontext ctx;
  CUmodule mod;
  CUfunction *fn;            /* by launch index, looked up on first use */
  int nfn;
  CUdeviceptr arena;         /* one block: weights, state, activations */
  int64_t arena_bytes;
  CUdeviceptr base[DLRT_REGIONS];
  const char *entry;         /* the entry running, for messages */
  char device[256];
} dev;

__attribute__((format(printf, 1, 2), noreturn))
static void fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fflush(stdout);
  fputs("error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

/* Exit with a message naming the call when r is an error. */
static void check(CUresult r, const char *call) {
  if (r == 0) return;
  const char *name = NULL, *text = NULL;
  if (cu.GetErrorName) cu.GetErrorName(r, &name);
  if (cu.GetErrorString) cu.GetErrorString(r, &text);
  fatal("CUDA: %s failed%s%s: %s (%s) [error %d]", call, dev.entry ? " in entry " : "",
        dev.entry ? dev.entry : "", name ? name : "?", text ? text : "no description", r);
}

#define CU_CHECK(call) check(cu.call, #call)

static void load_driver(void) {
  static const char *const names[] = {"libcuda.so.1", "libcuda.so"};
  char why[512] = "";
  for (size_t i = 0; i < sizeof names / sizeof *names && !cu.lib; i++) {
    cu.lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!cu.lib && !why[0]) snprintf(why, sizeof why, "%s", dlerror());
  }
  if (!cu.lib)
    fatal("this program runs its kernels on an NVIDIA GPU (built with dlc build --target "
          "cuda), but the CUDA driver cannot be loaded: %s\n"
          "note: install the NVIDIA driver, or build the model without --target cuda to "
          "run it on the CPU", why);
  struct { const char *name; void **fn; } syms[] = {
      {"cuInit", (void **)&cu.Init},
      {"cuDeviceGetCount", (void **)&cu.DeviceGetCount},
      {"cuDeviceGet", (void **)&cu.DeviceGet},
      {"cuDeviceGetName", (void **)&cu.DeviceGetName},
      {"cuDevicePrimaryCtxRetain", (void **)&cu.DevicePrimaryCtxRetain},
      {"cuCtxSetCurrent", (void **)&cu.CtxSetCurrent},
      {"cuModuleLoadDataEx", (void **)&cu.ModuleLoadDataEx},
      {"cuModuleGetFunction", (void **)&cu.ModuleGetFunction},
      {"cuMemAlloc_v2", (void **)&cu.MemAlloc},
      {"cuMemFree_v2", (void **)&cu.MemFree},
      {"cuMemcpyHtoD_v2", (void **)&cu.MemcpyHtoD},
      {"cuMemcpyDtoH_v2", (void **)&cu.MemcpyDtoH},
      {"cuMemsetD8_v2", (void **)&cu.MemsetD8},
      {"cuLaunchKernel", (void **)&cu.LaunchKernel},
      {"cuCtxSynchronize", (void **)&cu.CtxSynchronize},
      {"cuGetErrorName", (void **)&cu.GetErrorName},
      {"cuGetErrorString", (void **)&cu.GetErrorString},
  };
  for (size_t i = 0; i < sizeof syms / sizeof *syms; i++) {
    *syms[i].fn = dlsym(cu.lib, syms[i].name);
    if (!*syms[i].fn) fatal("CUDA: the driver library has no %s; is the driver too old?", syms[i].name);
  }
}

/* Driver, device 0, its primary context, the module. */
static void start(const char *ptx, int functions) {
  load_driver();
  CUresult r = cu.Init(0);
  if (r != 0) {
    const char *name = NULL;
    cu.GetErrorName(r, &name);
    fatal("CUDA: the driver cannot start (cuInit: %s); is there an NVIDIA GPU on this machine?",
          name ? name : "?");
  }
  int count = 0;
  CU_CHECK(DeviceGetCount(&count));
  if (count < 1) fatal("CUDA: the driver finds no GPU (cuDeviceGetCount: 0)");
  CUdevice d;
  CU_CHECK(DeviceGet(&d, 0));
  CU_CHECK(DeviceGetName(dev.device, (int)sizeof dev.device, d));
  CU_CHECK(DevicePrimaryCtxRetain(&dev.ctx, d));
  CU_CHECK(CtxSetCurrent(dev.ctx));
  static char log[8192];
  int opts[2] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *vals[2] = {log, (void *)(size_t)sizeof log};
  r = cu.ModuleLoadDataEx(&dev.mod, ptx, 2, opts, vals);
  if (r != 0) {
    const char *name = NULL;
    cu.GetErrorName(r, &name);
    fatal("CUDA: cuModuleLoadDataEx cannot load the program's PTX on %s: %s%s%s%s", dev.device,
          name ? name : "?", log[0] ? "\n" : "", log,
          r == 222 ? "\nnote: the driver is older than the CUDA that dlc compiled with" : "");
  }
  dev.fn = calloc((size_t)(functions > 0 ? functions : 1), sizeof *dev.fn);
  if (!dev.fn) fatal("out of memory");
  dev.nfn = functions;
  dev.ready = true;
  if (getenv("DLRT_CUDA_VERBOSE")) fprintf(stderr, "cuda: running on %s\n", dev.device);
}

/* The held weights and state back to their frame if the device changed
 * them; the device's copy is then no longer taken as current. */
static void take_back(void) {
  if (dev.owner_base[0] && dev.host_stale)
    for (int i = 0; i < 2; i++)
      if (dev.owner_bytes[i] > 0)
        CU_CHECK(MemcpyDtoH(dev.owner_base[i], dev.base[i ? DLRT_R_STATE : DLRT_R_WEIGHT],
                            (size_t)dev.owner_bytes[i]));
  dev.host_stale = dev.current = false;
}

static bool holds(const dlrt_frame *f) {
  return dev.owner_base[0] && dev.owner_base[0] == f->base[DLRT_R_WEIGHT];
}

static int64_t align256(int64_t x) { return (x + 255) / 256 * 256; }

void dlrt_cuda_enter(const dlrt_frame *f, const char *entry, const char *ptx, int functions,
                     int64_t weight_bytes, int64_t state_bytes, int64_t act_k, int64_t act_n) {
  if (!dev.ready) start(ptx, functions);
  dev.entry = entry;
  int64_t act = align256(act_k) + act_n * f->N;
  int64_t need = align256(weight_bytes) + align256(state_bytes) + align256(act);
  if (need > dev.arena_bytes) { /* a new arena: the weights are copied in afresh */
    take_back();
    dev.current = false;
    if (dev.arena) CU_CHECK(MemFree(dev.arena));
    dev.arena = 0;
    check(cu.MemAlloc(&dev.arena, (size_t)need), "cuMemAlloc (the device arena)");
    CU_CHECK(MemsetD8(dev.arena, 0, (size_t)need));
    dev.arena_bytes = need;
  }
  dev.base[DLRT_R_WEIGHT] = dev.arena;
  dev.base[DLRT_R_STATE] = dev.arena + (CUdeviceptr)align256(weight_bytes);
  dev.base[DLRT_R_ACT] = dev.base[DLRT_R_STATE] + (CUdeviceptr)align256(state_bytes);
  /* as dlrt_frame_enter places ACTN after ACT's fixed part on the host */
  dev.base[DLRT_R_ACTN] = dev.base[DLRT_R_ACT] + (CUdeviceptr)(f->base[DLRT_R_ACTN] -
                                                                f->base[DLRT_R_ACT]);
  if (f->base[DLRT_R_ACTN] - f->base[DLRT_R_ACT] > align256(act_k))
    fatal("CUDA: entry %s: the host's activation layout does not fit the device arena", entry);
}

/* Weights and state in, unless the device holds this frame's current
 * values. */
void dlrt_cuda_params_in(const dlrt_frame *f, int64_t weight_bytes, int64_t state_bytes) {
  if (holds(f) && dev.current)
    return;
  if (!holds(f)) take_back();
  dlrt_cuda_copy(f, 1, DLRT_R_WEIGHT, 0, weight_bytes);
  dlrt_cuda_copy(f, 1, DLRT_R_STATE, 0, state_bytes);
  dev.owner_base[0] = f->base[DLRT_R_WEIGHT];
  dev.owner_base[1] = f->base[DLRT_R_STATE];
  dev.owner_bytes[0] = weight_bytes;
  dev.owner_bytes[1] = state_bytes;
  dev.current = true;
  dev.host_stale = false;
}

/* After an entry that wrote weights or state: the host's copy is stale. */
void dlrt_cuda_params_out(const dlrt_frame *f) {
  if (holds(f)) dev.host_stale = true;
}

void dlrt_params_to_host(const dlrt_frame *f) {
  if (holds(f)) take_back();
}

void dlrt_params_forget(const dlrt_frame *f) {
  if (holds(f)) {
    dev.owner_base[0] = dev.owner_base[1] = NULL;
    dev.current = dev.host_stale = false;
  }
}

void dlrt_cuda_copy(const dlrt_frame *f, int to_device, int region, int64_t off, int64_t bytes) {
  if (bytes <= 0) return;
  if (region <= DLRT_R_NONE || region >= DLRT_REGIONS) fatal("CUDA: copy of region %d", region);
  char *host = f->base[region] + off;
  CUdeviceptr d = dev.base[region] + (CUdeviceptr)off;
  if (to_device) CU_CHECK(MemcpyHtoD(d, host, (size_t)bytes));
  else CU_CHECK(MemcpyDtoH(host, d, (size_t)bytes));
}

void dlrt_cuda_launch(const dlrt_frame *f, int index, const char *name, int64_t gx, int64_t gy,
                      int64_t gz, int threads) {
  if (index < 0 || index >= dev.nfn) fatal("CUDA: kernel %s has launch index %d of %d", name, index, dev.nfn);
  if (gx <= 0 || gy <= 0 || gz <= 0) return; /* nothing to do at this batch size */
  if (gx > 2147483647 || gy > 65535 || gz > 65535 || threads > 1024)
    fatal("CUDA: kernel %s needs a grid of %lld x %lld x %lld blocks of %d threads, beyond the "
          "device's limits; try a smaller batch", name, (long long)gx, (long long)gy,
          (long long)gz, threads);
  if (!dev.fn[index]) {
    char call[320];
    snprintf(call, sizeof call, "cuModuleGetFunction(%s)", name);
    check(cu.ModuleGetFunction(&dev.fn[index], dev.mod, name), call);
  }
  dlrt_frame d = *f;  /* the frame with device addresses */
  for (int r = 0; r < DLRT_REGIONS; r++) d.base[r] = (char *)(uintptr_t)dev.base[r];
  void *args[1] = {&d};
  char call[320];
  snprintf(call, sizeof call, "cuLaunchKernel(%s)", name);
  check(cu.LaunchKernel(dev.fn[index], (unsigned)gx, (unsigned)gy, (unsigned)gz,
                        (unsigned)threads, 1, 1, 0, NULL, args, NULL), call);
  if (getenv("DLRT_CUDA_SYNC")) {
    snprintf(call, sizeof call, "cuCtxSynchronize (after kernel %s)", name);
    check(cu.CtxSynchronize(), call);
  }
}

void dlrt_cuda_sync(const dlrt_frame *f) {
  (void)f;
  check(cu.CtxSynchronize(), "cuCtxSynchronize (after the kernels; DLRT_CUDA_SYNC=1 names the "
                             "failing one)");
}
