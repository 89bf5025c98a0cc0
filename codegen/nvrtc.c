/* nvrtc.c — CUDA C to PTX through NVRTC, for the CUDA target.
 *
 * The one idea: dlc needs no CUDA to build or to compile for the CPU, so
 * NVRTC is a library opened with dlopen when a CUDA build asks for it
 * ($DLC_NVRTC, else the usual names and CUDA's own directory); its
 * functions are looked up by name into a table, and a log with anything
 * in it is reported, warnings included (the generated CUDA C is meant to
 * compile cleanly).
 */
#include "codegen.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct NvrtcProgram *NvrtcProgram;   /* nvrtcProgram */
typedef int NvrtcResult;                     /* nvrtcResult: 0 is success */

typedef struct Nvrtc {
  void *lib;
  NvrtcResult (*create)(NvrtcProgram *, const char *, const char *, int, const char *const *,
                        const char *const *);
  NvrtcResult (*compile)(NvrtcProgram, int, const char *const *);
  NvrtcResult (*log_size)(NvrtcProgram, size_t *);
  NvrtcResult (*log)(NvrtcProgram, char *);
  NvrtcResult (*ptx_size)(NvrtcProgram, size_t *);
  NvrtcResult (*ptx)(NvrtcProgram, char *);
  NvrtcResult (*destroy)(NvrtcProgram *);
  const char *(*error)(NvrtcResult);
  NvrtcResult (*version)(int *, int *);
} Nvrtc;

/* Load libnvrtc: $DLC_NVRTC, else the usual names and CUDA's own
 * directory. False after a message. */
static bool nvrtc_open(Nvrtc *nv) {
  static const char *const names[] = {"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12",
                                      "/usr/local/cuda/lib64/libnvrtc.so",
                                      "/usr/local/cuda/lib64/libnvrtc.so.13"};
  const char *env = getenv("DLC_NVRTC");
  char why[512] = "";
  if (env && *env) {
    nv->lib = dlopen(env, RTLD_NOW | RTLD_LOCAL);
    if (!nv->lib) snprintf(why, sizeof why, "%s", dlerror());
  } else {
    for (size_t i = 0; i < sizeof names / sizeof *names && !nv->lib; i++) {
      nv->lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
      if (!nv->lib && !why[0]) snprintf(why, sizeof why, "%s", dlerror());
    }
  }
  if (!nv->lib) {
    fprintf(stderr, "dlc: error: --target cuda needs NVRTC (libnvrtc.so of CUDA 12 or 13), "
                    "which cannot be loaded: %s\n"
                    "dlc: note: install the CUDA toolkit, or set DLC_NVRTC to the library's "
                    "path\n", why);
    return false;
  }
  struct { const char *name; void **fn; } syms[] = {
      {"nvrtcCreateProgram", (void **)&nv->create},  {"nvrtcCompileProgram", (void **)&nv->compile},
      {"nvrtcGetProgramLogSize", (void **)&nv->log_size}, {"nvrtcGetProgramLog", (void **)&nv->log},
      {"nvrtcGetPTXSize", (void **)&nv->ptx_size},   {"nvrtcGetPTX", (void **)&nv->ptx},
      {"nvrtcDestroyProgram", (void **)&nv->destroy}, {"nvrtcGetErrorString", (void **)&nv->error},
      {"nvrtcVersion", (void **)&nv->version}};
  for (size_t i = 0; i < sizeof syms / sizeof *syms; i++) {
    *syms[i].fn = dlsym(nv->lib, syms[i].name);
    if (!*syms[i].fn) {
      fprintf(stderr, "dlc: error: the NVRTC library has no %s; is it NVRTC?\n", syms[i].name);
      dlclose(nv->lib);
      nv->lib = NULL;
      return false;
    }
  }
  return true;
}

/* "sm_80", "compute_80" or "80" -> 80; 0 if none of these. */
int cg_cuda_arch(const char *s) {
  if (strncmp(s, "sm_", 3) == 0) s += 3;
  else if (strncmp(s, "compute_", 8) == 0) s += 8;
  char *end;
  long v = strtol(s, &end, 10);
  return *end || v < 50 || v > 200 ? 0 : (int)v;
}

/* Whether a log says anything (NVRTC's empty log is "" or whitespace). */
static bool log_says(const char *log) {
  for (; log && *log; log++)
    if (*log != ' ' && *log != '\n' && *log != '\r' && *log != '\t') return true;
  return false;
}

#define NVRTC_CHECK(call)                                                                  \
  do {                                                                                     \
    NvrtcResult r_ = (call);                                                               \
    if (r_ != 0) {                                                                         \
      fprintf(stderr, "dlc: error: NVRTC: %s failed: %s\n", #call, nv->error(r_));         \
      goto done;                                                                           \
    }                                                                                      \
  } while (0)

bool cg_cuda_compile(const char *src, int arch, const char *src_path, char **ptx_out) {
  /* The library stays loaded once loaded: unloading it would orphan what
   * the C++ runtime it brings allocated (and LeakSanitizer says so). */
  static Nvrtc lib;
  Nvrtc *nv = &lib;
  *ptx_out = NULL;
  if (!nv->lib && !nvrtc_open(nv)) return false;
  NvrtcProgram prog = NULL;
  bool ok = false;
  char opt_arch[48];
  snprintf(opt_arch, sizeof opt_arch, "--gpu-architecture=compute_%d", arch);
  const char *opts[] = {opt_arch, "--std=c++17", "--fmad=true"};
  char *log = NULL, *ptx = NULL;
  size_t n = 0;
  NVRTC_CHECK(nv->create(&prog, src, "dlc_kernels.cu", 0, NULL, NULL));
  NvrtcResult rc = nv->compile(prog, 3, opts);
  NVRTC_CHECK(nv->log_size(prog, &n));
  log = calloc(1, n + 1);
  if (!log) die("out of memory");
  NVRTC_CHECK(nv->log(prog, log));
  if (rc != 0 || log_says(log)) {
    bool saved = src_path && cg_write_file(src_path, src);
    fprintf(stderr, "dlc: %s: NVRTC (compute_%d) %s the generated CUDA C%s%s:\n%s\n",
            rc ? "error" : "warning", arch, rc ? "rejects" : "warns about",
            saved ? ", written to " : "", saved ? src_path : "", log);
    if (rc != 0) goto done;
  }
  NVRTC_CHECK(nv->ptx_size(prog, &n));
  ptx = calloc(1, n + 1);
  if (!ptx) die("out of memory");
  NVRTC_CHECK(nv->ptx(prog, ptx));
  *ptx_out = ptx;
  ptx = NULL;
  ok = true;
done:
  free(ptx);
  free(log);
  if (prog) nv->destroy(&prog);
  return ok;
}
