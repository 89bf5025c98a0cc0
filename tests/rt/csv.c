/* csv.c — tests of the CSV loader: what it accepts (spaces, quotes, CRLF,
 * blank lines, a header, gzip), and that each defect is reported at its
 * line and column. */
#include <zlib.h>

#include "rt_test.h"

/* Write text to a scratch file and load it. */
static bool load(const char *name, const char *text, bool header, dlrt_array *a,
                 char *err) {
  const char *p = tpath(name);
  write_file(p, text, strlen(text));
  return dlrt_csv_load(p, header, a, err);
}

static void test_good(void) {
  dlrt_array a;
  char err[DLRT_ERR_LEN] = "";
  bool ok = load("good.csv", "a,b,c\r\n1, 2.5 ,\"3\"\r\n\r\n  \n-4,5e1,6\n", true, &a, err);
  const float *v = a.data;
  check("csv_reads_table", ok && a.rank == 2 && a.dim[0] == 2 && a.dim[1] == 3 &&
        a.dtype == DLRT_F32 && v[0] == 1 && v[1] == 2.5f && v[2] == 3 && v[3] == -4 &&
        v[4] == 50 && v[5] == 6 && strcmp(a.src_type, "csv") == 0, "%s", err);
  dlrt_array_free(&a);
  ok = load("nonl.csv", "7,8", false, &a, err);
  check("csv_no_final_newline", ok && a.dim[0] == 1 && ((float *)a.data)[1] == 8, "%s", err);
  dlrt_array_free(&a);
  const char *gz = tpath("z.csv.gz");
  gzFile g = gzopen(gz, "wb");
  gzputs(g, "1,2\n3,4\n");
  gzclose(g);
  ok = dlrt_csv_load(gz, false, &a, err);
  check("csv_gzip", ok && a.dim[0] == 2 && ((float *)a.data)[3] == 4, "%s", err);
  dlrt_array_free(&a);
}

typedef struct Bad {
  const char *name, *text, *want;
} Bad;

static const Bad bad[] = {
  {"not_a_number", "1,2,3\n4,x5,6\n", "bad.csv:2:3: field 2: 'x5' is not a number"},
  {"empty_field", "1,2,3\n4,,6\n", "bad.csv:2:3: field 2 is empty"},
  {"trailing_junk", "1,2,3\n4,5 7,6\n", "bad.csv:2:5: field 2: unexpected '7' after the number"},
  {"field_count", "1,2,3\n\n4,5\n", "bad.csv:3: 2 fields, but line 1 has 3"},
  {"infinite", "1,1e999\n", "bad.csv:1:3: field 2: 1e999 is not a finite f32 number"},
  {"nan", "nan,1\n", "bad.csv:1:1: field 1: nan is not a finite f32 number"},
  {"f32_range", "1e39\n", "is not a finite f32 number"},
  {"open_quote", "\"1,2\n", "bad.csv:1:3: field 1: missing closing '\"'"},
  {"only_header", "a,b\n", "bad.csv:2: no data lines"},
  {"nul_byte", "1,2\n3\0,4\n", "not a text file"},
};

static void test_bad(void) {
  dlrt_array a;
  char err[DLRT_ERR_LEN], name[64];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const Bad *b = &bad[i];
    const char *p = tpath("bad.csv");
    size_t n = strcmp(b->name, "nul_byte") == 0 ? 9 : strlen(b->text);
    write_file(p, b->text, n);
    snprintf(name, sizeof name, "csv_refuses_%s", b->name);
    bool header = strcmp(b->name, "only_header") == 0;
    bool ok = !dlrt_csv_load(p, header, &a, err) && strstr(err, b->want) && !a.data;
    check(name, ok, "got \"%s\", want \"%s\"", err, b->want);
  }
  check("csv_missing_file", !dlrt_csv_load(tpath("none.csv"), false, &a, err) &&
        strstr(err, "none.csv: cannot open"), "%s", err);
}

int main(void) {
  t_begin();
  test_good();
  test_bad();
  return t_end();
}
