/* numerics.c — --check-numerics: where the first NaN or infinity came from.
 *
 * Generated entries test dlrt_checking_numerics after each kernel and,
 * when it is set, hand every f32 tensor the kernel wrote to
 * dlrt_check_numerics with a description naming the kernel, the op, the
 * tensor and the source line. The first non-finite value is recorded;
 * the trainer reports it after the step. Later faults are consequences
 * of the first and are not recorded.
 */
#include <math.h>

#include "dlrt.h"

bool dlrt_checking_numerics;
dlrt_numerics_fault dlrt_fault;

void dlrt_check_numerics(const float *p, int64_t n, const char *what) {
  if (dlrt_fault.set)
    return;
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(p[i])) {
      dlrt_fault = (dlrt_numerics_fault){.set = true, .what = what, .index = i, .value = p[i]};
      return;
    }
}
