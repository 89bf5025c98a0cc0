/* ckptcmp.c — compare the arrays of two checkpoints byte for byte.
 *
 *   ckptcmp [--prefix P] A.ckpt B.ckpt
 *
 * Every array of A (whose name starts with P, when given) must exist in B
 * with the same dtype, shape and bytes, and B must have no such array that
 * A lacks; metadata is ignored. Prints the first difference (array and
 * element) and exits 1 when they differ, 0 when identical, 2 when a file
 * cannot be read. Used by the determinism and resume tests: bit-identical
 * weights, not "close".
 */
#include "dlrt.h"

#include <string.h>

static bool wanted(const dlrt_array *a, const char *prefix) {
  return !prefix || strncmp(a->name, prefix, strlen(prefix)) == 0;
}

/* 0 when a and b are identical, else 1 after a message. */
static int compare(const dlrt_array *a, const dlrt_array *b) {
  bool same = b && a->dtype == b->dtype && a->rank == b->rank;
  for (int i = 0; same && i < a->rank; i++)
    same = a->dim[i] == b->dim[i];
  if (!same) {
    printf("array '%s': %s\n", a->name, b ? "dtype or shape differs" : "missing in B");
    return 1;
  }
  int64_t n = dlrt_array_numel(a);
  for (int64_t i = 0; i < n; i++)
    if (memcmp((const char *)a->data + 4 * i, (const char *)b->data + 4 * i, 4) != 0) {
      const float *x = a->data, *y = b->data;
      printf("array '%s' element %lld: %.9g vs %.9g\n", a->name, (long long)i,
             (double)x[i], (double)y[i]);
      return 1;
    }
  return 0;
}

int main(int argc, char **argv) {
  const char *prefix = NULL, *files[2] = {0};
  int nf = 0;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--prefix") == 0 && i + 1 < argc)
      prefix = argv[++i];
    else if (nf < 2)
      files[nf++] = argv[i];
  if (nf != 2) {
    fprintf(stderr, "usage: ckptcmp [--prefix P] A.ckpt B.ckpt\n");
    return 2;
  }
  dlrt_ckpt c[2] = {{0}, {0}};
  char err[DLRT_ERR_LEN];
  for (int k = 0; k < 2; k++)
    if (!dlrt_ckpt_load(files[k], &c[k], err)) {
      fprintf(stderr, "ckptcmp: %s\n", err);
      return 2;
    }
  int rc = 0, count = 0;
  for (int i = 0; i < c[0].narrays && !rc; i++)
    if (wanted(&c[0].arrays[i], prefix)) {
      rc = compare(&c[0].arrays[i], dlrt_ckpt_find(&c[1], c[0].arrays[i].name));
      count++;
    }
  for (int i = 0; i < c[1].narrays && !rc; i++)
    if (wanted(&c[1].arrays[i], prefix) && !dlrt_ckpt_find(&c[0], c[1].arrays[i].name)) {
      printf("array '%s': missing in A\n", c[1].arrays[i].name);
      rc = 1;
    }
  if (!rc)
    printf("identical: %d arrays\n", count);
  dlrt_ckpt_free(&c[0]);
  dlrt_ckpt_free(&c[1]);
  return rc;
}
