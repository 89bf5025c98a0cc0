/* npy.c — fuzz target: NPY files through dlrt_npy_load. */
#include "dlrt.h"
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file(data, size, ".npy");
  dlrt_array a;
  char err[DLRT_ERR_LEN] = "";
  if (dlrt_npy_load(path, &a, err)) {
    fuzz_touch(a.data, (size_t)dlrt_array_numel(&a) * 4);
    dlrt_array_free(&a);
  } else if (a.data || !strstr(err, path)) {
    abort();
  }
  return 0;
}
