/* cudaemu.h — what the CUDA C that dlc generates needs to compile as C++
 * for the CPU, so that tests can run it without a GPU: force-included
 * (c++ -include cudaemu.h -x c++ model.cu -shared) into a module that
 * tests/tools/cudaemu.c, a stand-in libcuda.so.1, loads and launches.
 *
 * Each emulated CUDA thread is an OS thread (or, for kernels without
 * block synchronisation, an iteration of a loop) that calls dlc_emu_enter
 * with its indices before it calls the kernel. Blocks run one at a time,
 * so __shared__ arrays are simply static ones.
 */
#include <math.h>
#include <string.h>

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __shared__ static

struct dlc_emu_dim { unsigned x, y, z; };
static thread_local dlc_emu_dim threadIdx, blockIdx, blockDim, gridDim;
static void (*dlc_emu_sync)(void);
#define __syncthreads() dlc_emu_sync()

static inline float __int_as_float(int i) {
  float f;
  memcpy(&f, &i, sizeof f);
  return f;
}

extern "C" void dlc_emu_enter(const unsigned *t, const unsigned *b, const unsigned *bd,
                              const unsigned *gd, void (*sync)(void)) {
  threadIdx = {t[0], t[1], t[2]};
  blockIdx = {b[0], b[1], b[2]};
  blockDim = {bd[0], bd[1], bd[2]};
  gridDim = {gd[0], gd[1], gd[2]};
  dlc_emu_sync = sync;
}

/* A kernel that synchronises its blocks: its threads must run at once. */
#define DLC_BLOCK_SYNC(kernel) extern "C" const int kernel##_block_sync = 1;
