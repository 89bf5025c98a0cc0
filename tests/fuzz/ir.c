/* ir.c — fuzz target: IR text through ir_parse. A graph the parser
 * accepts must verify, and print to text that parses back and prints the
 * same (what the printer writes, the parser reads). */
#include "fuzz.h"
#include "ir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static FILE *null;
  if (!null) null = fopen("/dev/null", "w");
  char *text = fuzz_text(data, size);
  if (!text) return 0;
  diag_set_stream(null);
  diag_reset();
  Graph *g = ir_parse("fuzz.ir", text);
  if (g) {
    if (!ir_verify(g, "parse")) abort();
    char *t1 = ir_print_str(g);
    Graph *h = ir_parse("fuzz2.ir", t1);
    if (!h) abort();
    char *t2 = ir_print_str(h);
    if (strcmp(t1, t2) != 0) abort();
    free(t1);
    free(t2);
    ir_free_graph(h);
  }
  ir_free_graph(g);
  free(text);
  return 0;
}
