/* ckpt.c — fuzz target: checkpoint files through dlrt_ckpt_load. A refused
 * file must leave an empty checkpoint and a message naming the file. */
#include "dlrt.h"
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file(data, size, ".ckpt");
  dlrt_ckpt c;
  char err[DLRT_ERR_LEN] = "";
  if (dlrt_ckpt_load(path, &c, err)) {
    for (int i = 0; i < c.narrays; i++) {
      const dlrt_array *a = &c.arrays[i];
      if (dlrt_ckpt_find(&c, a->name) == NULL) abort();
      fuzz_touch(a->data, (size_t)dlrt_array_numel(a) * 4);
    }
    dlrt_ckpt_free(&c);
  } else if (c.narrays || c.nmeta || !strstr(err, path)) {
    abort();
  }
  return 0;
}
