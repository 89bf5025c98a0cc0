/* npycmp.c — compare two NPY files element by element.
 *
 *   npycmp [--rtol R] [--atol A] ACTUAL.npy EXPECTED.npy
 *
 * Element i passes when |actual - expected| <= atol + rtol * |expected|,
 * where atol defaults to rtol times the root mean square of EXPECTED (so a
 * result near zero in a long sum is judged against the sum's scale, not
 * against zero). Prints the first mismatches with index, expected and
 * actual; exit 0 when all pass, 1 when not, 2 on unreadable input.
 */
#include "dlrt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double value(const dlrt_array *a, int64_t i) {
  return a->dtype == DLRT_I32 ? (double)((const int32_t *)a->data)[i]
                              : (double)((const float *)a->data)[i];
}

int main(int argc, char **argv) {
  double rtol = 1e-5, atol = -1;
  const char *files[2] = {0};
  int nf = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--rtol") == 0 && i + 1 < argc) rtol = atof(argv[++i]);
    else if (strcmp(argv[i], "--atol") == 0 && i + 1 < argc) atol = atof(argv[++i]);
    else if (nf < 2) files[nf++] = argv[i];
  }
  if (nf != 2) {
    fprintf(stderr, "usage: npycmp [--rtol R] [--atol A] ACTUAL.npy EXPECTED.npy\n");
    return 2;
  }
  dlrt_array a = {0}, b = {0};
  char err[512];
  if (!dlrt_npy_load(files[0], &a, err) || !dlrt_npy_load(files[1], &b, err)) {
    fprintf(stderr, "npycmp: %s\n", err);
    return 2;
  }
  int64_t n = dlrt_array_numel(&a);
  if (n != dlrt_array_numel(&b)) {
    fprintf(stderr, "npycmp: sizes differ: %lld and %lld elements\n", (long long)n,
            (long long)dlrt_array_numel(&b));
    return 1;
  }
  double ss = 0;
  for (int64_t i = 0; i < n; i++) ss += value(&b, i) * value(&b, i);
  if (atol < 0) atol = rtol * (n ? sqrt(ss / (double)n) : 0);
  int64_t bad = 0;
  double worst = 0;
  for (int64_t i = 0; i < n; i++) {
    double x = value(&a, i), y = value(&b, i), d = fabs(x - y);
    bool ok = d <= atol + rtol * fabs(y) || (isnan(x) && isnan(y)) || x == y;
    if (!ok) {
      if (bad < 8)
        fprintf(stderr, "  [%lld] expected %.9g, got %.9g (diff %.3g)\n", (long long)i, y, x, d);
      bad++;
    }
    if (isfinite(d) && d / (atol + rtol * fabs(y) + 1e-300) > worst)
      worst = d / (atol + rtol * fabs(y) + 1e-300);
  }
  if (bad) fprintf(stderr, "npycmp: %lld of %lld elements differ\n", (long long)bad, (long long)n);
  else printf("npycmp: %lld elements equal within rtol %g atol %g (worst %.2f of tolerance)\n",
              (long long)n, rtol, atol, worst);
  dlrt_array_free(&a);
  dlrt_array_free(&b);
  return bad ? 1 : 0;
}
