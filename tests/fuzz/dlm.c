/* dlm.c — fuzz target: .dlm source through the frontend (parse, check and
 * lower: what `dlc check` runs). A graph the frontend accepts must pass
 * the verifier. */
#include "fuzz.h"
#include "frontend.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static FILE *null;
  if (!null) null = fopen("/dev/null", "w");
  char *text = fuzz_text(data, size);
  if (!text) return 0;
  diag_set_stream(null);
  diag_reset();
  Graph *g = fe_load_text("fuzz.dlm", text);
  if (g && !ir_verify(g, "frontend")) abort();
  ir_free_graph(g);
  free(text);
  return 0;
}
