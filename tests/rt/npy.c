/* npy.c — tests of the NPY reader and writer: round trips, hand-made files
 * of every supported element type and header variant, malformed headers
 * refused with byte offsets, truncation at every length, random damage. */
#include <math.h>

#include "rt_test.h"

/* Write an NPY file: magic, version major.0, the header dict padded with
 * spaces and '\n' to a multiple of 64 (unless raw), then n data bytes. */
static const char *make_npy(const char *name, int major, const char *dict,
                            const void *data, size_t n, bool raw) {
  static unsigned char buf[1 << 16];
  size_t lb = major == 1 ? 2 : 4, pre = 8 + lb, h = strlen(dict);
  memcpy(buf, "\x93NUMPY", 6);
  buf[6] = (unsigned char)major;
  buf[7] = 0;
  memcpy(buf + pre, dict, h);
  while (!raw && (pre + h + 1) % 64)
    buf[pre + h++] = ' ';
  if (!raw)
    buf[pre + h++] = '\n';
  for (size_t i = 0; i < lb; i++)
    buf[8 + i] = (unsigned char)(h >> (8 * i));
  memcpy(buf + pre + h, data, n);
  const char *path = tpath(name);
  write_file(path, buf, pre + h + n);
  return path;
}

static void test_round_trip(void) {
  float f[6] = {1.5f, -2, 0, 3.25f, 1e-7f, -1e30f};
  int32_t i[4] = {-7, 0, 42, 2147483647};
  float s = 9.75f;
  struct { const char *name, *shape; dlrt_array a; } cases[] = {
    {"f32_2x3", "(2, 3)", {.dtype = DLRT_F32, .rank = 2, .dim = {2, 3}, .data = f}},
    {"i32_4", "(4,)", {.dtype = DLRT_I32, .rank = 1, .dim = {4}, .data = i}},
    {"f32_scalar", "()", {.dtype = DLRT_F32, .rank = 0, .data = &s}},
    {"f32_empty", "(0, 5)", {.dtype = DLRT_F32, .rank = 2, .dim = {0, 5}, .data = f}},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    char err[DLRT_ERR_LEN] = "", name[64];
    const char *path = tpath("rt.npy");
    dlrt_array *a = &cases[k].a, b;
    size_t n;
    bool ok = dlrt_npy_save(path, a, err) && dlrt_npy_load(path, &b, err);
    int64_t numel = dlrt_array_numel(a);
    ok = ok && b.dtype == a->dtype && b.rank == a->rank &&
         memcmp(b.dim, a->dim, sizeof b.dim) == 0 &&
         memcmp(b.data, a->data, (size_t)numel * 4) == 0;
    unsigned char *file = read_file(path, &n);
    size_t hend = file ? 10 + (size_t)(file[8] | file[9] << 8) : 0;
    ok = ok && file && hend % 64 == 0 && file[hend - 1] == '\n' && n == hend + (size_t)numel * 4 &&
         memmem(file, hend, cases[k].shape, strlen(cases[k].shape));
    snprintf(name, sizeof name, "npy_round_trip_%s", cases[k].name);
    check(name, ok, "%s (header %.*s)", err, (int)(hend > 10 ? hend - 10 : 0),
          file ? (char *)file + 10 : "");
    free(file);
    if (b.data)
      dlrt_array_free(&b);
  }
}

/* Load a hand-made file and compare with the expected values (as doubles). */
static void expect_values(const char *name, const char *path, dlrt_dtype dtype,
                          const char *src, int rank, const double *want, int n) {
  dlrt_array a;
  char err[DLRT_ERR_LEN] = "";
  bool ok = dlrt_npy_load(path, &a, err);
  bool same = ok && a.dtype == dtype && a.rank == rank && dlrt_array_numel(&a) == n &&
              strcmp(a.src_type, src) == 0;
  for (int i = 0; same && i < n; i++)
    same = (dtype == DLRT_F32 ? (double)((float *)a.data)[i]
                              : (double)((int32_t *)a.data)[i]) == want[i];
  check(name, same, "%s", ok ? "values, shape or type differ" : err);
  if (ok)
    dlrt_array_free(&a);
}

static void test_kinds(void) {
  double f8[3] = {1.5, -2, 0.25};
  int64_t i8[4] = {-5, 0, 7, 2147483647};
  unsigned char u1[3] = {0, 128, 255}, b1[4] = {0, 1, 1, 0};
  const double w8[3] = {1.5, -2, 0.25}, wi8[4] = {-5, 0, 7, 2147483647},
               wu1[3] = {0, 128, 255}, wb1[4] = {0, 1, 1, 0};
  expect_values("npy_reads_f8", make_npy("a.npy", 1,
    "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", f8, 24, false),
    DLRT_F32, "f64", 1, w8, 3);
  expect_values("npy_reads_i8", make_npy("a.npy", 1,
    "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }", i8, 32, false),
    DLRT_I32, "i64", 2, wi8, 4);
  expect_values("npy_reads_u1", make_npy("a.npy", 1,
    "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", u1, 3, false),
    DLRT_I32, "u8", 1, wu1, 3);
  expect_values("npy_reads_lt_u1", make_npy("a.npy", 1,
    "{'descr': '<u1', 'fortran_order': False, 'shape': (3,), }", u1, 3, false),
    DLRT_I32, "u8", 1, wu1, 3);
  expect_values("npy_reads_b1", make_npy("a.npy", 1,
    "{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }", b1, 4, false),
    DLRT_I32, "bool", 1, wb1, 4);
  expect_values("npy_reads_v2", make_npy("a.npy", 2,
    "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", f8, 24, false),
    DLRT_F32, "f64", 1, w8, 3);
  expect_values("npy_reads_v3", make_npy("a.npy", 3,
    "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", f8, 24, false),
    DLRT_F32, "f64", 1, w8, 3);
  expect_values("npy_reads_header_variants", make_npy("a.npy", 1,
    "{\"shape\":(3L ,) ,  \"descr\":\"|u1\",\"fortran_order\" : False}", u1, 3, true),
    DLRT_I32, "u8", 1, wu1, 3);
  /* Found by magic bytes, whatever the name. */
  make_npy("noext.dat", 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }",
           u1, 3, false);
  dlrt_array a;
  char err[DLRT_ERR_LEN] = "";
  bool ok = dlrt_array_load(tpath("noext.dat"), false, &a, err);
  check("npy_array_load_by_magic", ok && a.dtype == DLRT_I32 && a.dim[0] == 3, "%s", err);
  if (ok)
    dlrt_array_free(&a);
}

typedef struct Bad {
  const char *name;
  int major;
  const char *dict;
  size_t ndata;       /* bytes of data after the header */
  const char *want;   /* substring of the message */
} Bad;

#define H(d, s) "{'descr': '" d "', 'fortran_order': False, 'shape': " s ", }"
static const Bad bad[] = {
  {"missing_key", 1, "{'descr': '<f4', 'fortran_order': False}", 0, "byte 10: header: missing key 'shape'"},
  {"unknown_key", 1, "{'descr': '<f4', 'foo': 1, 'fortran_order': False, 'shape': (1,)}", 4,
   "byte 27: header: unexpected or repeated key 'foo'"},
  {"repeated_key", 1, "{'descr': '<f4', 'descr': '<f4'}", 0, "repeated key 'descr'"},
  {"fortran_order", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1,)}", 4, "Fortran-order"},
  {"big_endian", 1, H(">f4", "(1,)"), 4, "byte 20: unsupported dtype '>f4'"},
  {"complex", 1, H("<c8", "(1,)"), 8, "unsupported dtype '<c8'"},
  {"shape_not_tuple", 1, H("<f4", "3"), 4, "expected '('"},
  {"negative_dim", 1, H("<f4", "(-1,)"), 4, "expected a dimension"},
  {"rank_7", 1, H("<f4", "(1,1,1,1,1,1,1)"), 4, "more than 6 dimensions"},
  {"huge_dim", 1, H("<f4", "(99999999999999999999,)"), 4, "too large"},
  {"overflowing_shape", 1, H("<f4", "(1099511627776, 1099511627776)"), 4, "shape overflows"},
  {"unterminated_string", 1, "{'descr': '<f4", 0, "byte 20: header: unterminated"},
  {"lowercase_bool", 1, "{'descr': '<f4', 'fortran_order': false, 'shape': (1,)}", 4, "expected True or False"},
  {"junk_after_dict", 1, H("<f4", "(1,)") " x", 4, "unexpected text after the dict"},
  {"not_a_dict", 1, "['descr']", 0, "byte 10: header: expected '{'"},
  {"missing_comma", 1, "{'descr': '<f4' 'shape': (1,)}", 4, "expected ',' or '}'"},
  {"data_truncated", 1, H("<f4", "(10,)"), 32, "byte 128: truncated: the shape needs 40 bytes"},
  {"data_trailing", 1, H("<f4", "(2,)"), 12, "byte 136: 4 unexpected bytes after the data"},
};

static void test_malformed(void) {
  static unsigned char zeros[64];
  char err[DLRT_ERR_LEN], name[80];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const Bad *b = &bad[i];
    const char *path = make_npy("bad.npy", b->major, b->dict, zeros, b->ndata, false);
    dlrt_array a;
    bool ok = !dlrt_npy_load(path, &a, err) && names_offset(err, path) &&
              strstr(err, b->want) && a.data == NULL;
    snprintf(name, sizeof name, "npy_refuses_%s", b->name);
    check(name, ok, "got \"%s\", want \"%s\"", err, b->want);
  }
}

/* A whole file given as bytes. */
static void refuse_bytes(const char *name, const void *bytes, size_t n, const char *want) {
  const char *path = tpath("bytes.npy");
  char err[DLRT_ERR_LEN] = "";
  dlrt_array a;
  write_file(path, bytes, n);
  check(name, !dlrt_npy_load(path, &a, err) && names_offset(err, path) && strstr(err, want),
        "got \"%s\", want \"%s\"", err, want);
}

static void test_preamble_and_values(void) {
  refuse_bytes("npy_refuses_magic", "\x93NUMPX\x01\x00\x10\x00", 10, "byte 0: not an NPY file");
  refuse_bytes("npy_refuses_version_4", "\x93NUMPY\x04\x00\x10\x00", 10,
               "byte 6: unsupported NPY version 4.0");
  refuse_bytes("npy_refuses_version_1_1", "\x93NUMPY\x01\x01\x10\x00", 10, "version 1.1");
  refuse_bytes("npy_refuses_short_preamble", "\x93NUM", 4, "truncated");
  refuse_bytes("npy_refuses_missing_header_length", "\x93NUMPY\x02\x00\x10", 9,
               "byte 8: truncated: header length needs 4 bytes");
  refuse_bytes("npy_refuses_header_past_end", "\x93NUMPY\x01\x00\xff\x00{}", 12,
               "byte 8: truncated: header length 255 exceeds the 2 bytes");
  refuse_bytes("npy_refuses_absurd_header", "\x93NUMPY\x02\x00\xff\xff\xff\x7f{}", 14,
               "byte 8: truncated");
  refuse_bytes("npy_refuses_nul_in_header", "\x93NUMPY\x01\x00\x04\x00{\0}\n", 14,
               "byte 11: header contains a NUL byte");
  int64_t big[2] = {1, (int64_t)1 << 40};
  const char *path = make_npy("i8.npy", 1, H("<i8", "(2,)"), big, 16, false);
  char err[DLRT_ERR_LEN] = "";
  dlrt_array a;
  check("npy_refuses_i8_out_of_range", !dlrt_npy_load(path, &a, err) &&
        strstr(err, "byte 136: element 1 (1099511627776) is out of the i32 range"), "%s", err);
  double d[2] = {1, 1e300};
  path = make_npy("f8.npy", 1, H("<f8", "(2,)"), d, 16, false);
  check("npy_refuses_f8_out_of_range", !dlrt_npy_load(path, &a, err) &&
        strstr(err, "byte 136: element 1 (1e+300) is out of the f32 range"), "%s", err);
  check("npy_refuses_missing_file", !dlrt_npy_load(tpath("none.npy"), &a, err) &&
        strstr(err, "none.npy: cannot open"), "%s", err);
}

/* Every proper prefix of a valid file is refused; random damage to the
 * header never crashes the reader. */
static void test_truncation_and_fuzz(void) {
  float v[12] = {0};
  dlrt_array a = {.dtype = DLRT_F32, .rank = 2, .dim = {3, 4}, .data = v}, b;
  char err[DLRT_ERR_LEN] = "";
  size_t n, bad_len = 0;
  dlrt_npy_save(tpath("ok.npy"), &a, err);
  unsigned char *f = read_file(tpath("ok.npy"), &n);
  const char *path = tpath("cut.npy");
  for (size_t len = 0; len < n && !bad_len; len++) {
    write_file(path, f, len);
    if (dlrt_npy_load(path, &b, err) || !names_offset(err, path))
      bad_len = len ? len : n;
  }
  check("npy_refuses_every_truncation", !bad_len, "length %zu: %s", bad_len, err);
  dlrt_rng r;
  dlrt_rng_seed(&r, 5);
  static const char alphabet[] = "(),:'\" 0123456789{}<>|fiub TrueFalse\n\\";
  int unnamed = 0;
  for (int it = 0; it < 5000; it++) {
    unsigned char g[256];
    memcpy(g, f, n);
    for (int e = 0; e < 1 + it % 4; e++)
      g[dlrt_rng_next(&r) % 64] = (unsigned char)alphabet[dlrt_rng_next(&r) % (sizeof alphabet - 1)];
    write_file(path, g, n);
    if (dlrt_npy_load(path, &b, err))
      dlrt_array_free(&b);
    else
      unnamed += !names_offset(err, path);
  }
  check("npy_fuzz_header", unnamed == 0, "%d messages without file and offset", unnamed);
  free(f);
}

int main(void) {
  t_begin();
  test_round_trip();
  test_kinds();
  test_malformed();
  test_preamble_and_values();
  test_truncation_and_fuzz();
  return t_end();
}
