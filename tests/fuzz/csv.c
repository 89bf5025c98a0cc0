/* csv.c — fuzz target: CSV files (raw or gzip) through dlrt_csv_load, with
 * and without a header line. */
#include "dlrt.h"
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

static void load(const char *path, bool header) {
  dlrt_array a;
  char err[DLRT_ERR_LEN] = "";
  if (dlrt_csv_load(path, header, &a, err)) {
    fuzz_touch(a.data, (size_t)dlrt_array_numel(&a) * 4);
    dlrt_array_free(&a);
  } else if (a.data || !strstr(err, path)) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file(data, size, ".csv");
  load(path, false);
  load(path, true);
  return 0;
}
