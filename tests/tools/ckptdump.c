/* ckptdump.c — print a checkpoint's arrays as text, for tests and people.
 *
 *   ckptdump FILE.ckpt [NAME...]
 *   ckptdump FILE.ckpt NAME -o OUT.npy
 *
 * One line per array: its name, then every value (%.9g). With names, only
 * those arrays, in the order given; a missing name is an error (exit 1).
 * Metadata is printed as `# key = value` lines first.
 */
#include "dlrt.h"

#include <string.h>

static void print_array(const dlrt_array *a) {
  printf("%s", a->name);
  int64_t n = dlrt_array_numel(a);
  for (int64_t i = 0; i < n; i++) {
    if (a->dtype == DLRT_I32) printf(" %d", ((const int32_t *)a->data)[i]);
    else printf(" %.9g", (double)((const float *)a->data)[i]);
  }
  printf("\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: ckptdump FILE.ckpt [NAME...]\n");
    return 2;
  }
  dlrt_ckpt c = {0};
  char err[1024];
  if (!dlrt_ckpt_load(argv[1], &c, err)) {
    fprintf(stderr, "ckptdump: %s\n", err);
    return 1;
  }
  int rc = 0;
  if (argc == 5 && strcmp(argv[3], "-o") == 0) {
    const dlrt_array *a = dlrt_ckpt_find(&c, argv[2]);
    if (!a || !dlrt_npy_save(argv[4], a, err)) {
      fprintf(stderr, "ckptdump: %s\n", a ? err : "no such array");
      rc = 1;
    }
    dlrt_ckpt_free(&c);
    return rc;
  }
  if (argc == 2) {
    for (int i = 0; i < c.nmeta; i++) printf("# %s = %s\n", c.meta[i].key, c.meta[i].value);
    for (int i = 0; i < c.narrays; i++) print_array(&c.arrays[i]);
  }
  for (int k = 2; k < argc; k++) {
    const dlrt_array *a = dlrt_ckpt_find(&c, argv[k]);
    if (a) print_array(a);
    else {
      fprintf(stderr, "ckptdump: %s has no array '%s'\n", argv[1], argv[k]);
      rc = 1;
    }
  }
  dlrt_ckpt_free(&c);
  return rc;
}
