/* idx.c — tests of the IDX reader: every element type, raw and gzip files
 * written here, truncation of either kind refused with a byte offset,
 * malformed headers, and the real Fashion-MNIST test labels and images. */
#include <zlib.h>

#include "rt_test.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/"

/* An IDX file in memory: header, big-endian dims, then n data bytes. */
static size_t idx_bytes(unsigned char *out, int type, int ndim, const uint32_t *dims,
                        const void *data, size_t n) {
  size_t k = 0;
  out[k++] = 0, out[k++] = 0, out[k++] = (unsigned char)type, out[k++] = (unsigned char)ndim;
  for (int i = 0; i < ndim; i++)
    for (int s = 24; s >= 0; s -= 8)
      out[k++] = (unsigned char)(dims[i] >> s);
  memcpy(out + k, data, n);
  return k + n;
}

static bool write_gz(const char *path, const void *data, size_t n) {
  gzFile g = gzopen(path, "wb");
  bool ok = g && gzwrite(g, data, (unsigned)n) == (int)n;
  return g && gzclose(g) == Z_OK && ok;
}

/* Load path and compare with want (as doubles). */
static void expect(const char *name, const char *path, bool as_int, const char *src,
                   int rank, const double *want, int n) {
  dlrt_array a;
  char err[DLRT_ERR_LEN] = "";
  bool ok = dlrt_array_load(path, as_int, &a, err);
  bool same = ok && a.rank == rank && dlrt_array_numel(&a) == n &&
              a.dtype == (as_int ? DLRT_I32 : DLRT_F32) && strcmp(a.src_type, src) == 0;
  for (int i = 0; same && i < n; i++)
    same = (as_int ? (double)((int32_t *)a.data)[i] : (double)((float *)a.data)[i]) == want[i];
  check(name, same, "%s", ok ? "values, shape or type differ" : err);
  if (ok)
    dlrt_array_free(&a);
}

static void test_types(void) {
  unsigned char buf[256], d[24];
  double want[12];
  uint32_t dims[3] = {2, 3, 2};
  for (int i = 0; i < 12; i++)
    d[i] = (unsigned char)(i * 20), want[i] = i * 20;
  size_t n = idx_bytes(buf, 0x08, 3, dims, d, 12);
  write_file(tpath("u8.idx"), buf, n);
  write_gz(tpath("u8.idx.gz"), buf, n);
  expect("idx_u8_raw_as_f32", tpath("u8.idx"), false, "u8", 3, want, 12);
  expect("idx_u8_raw_as_i32", tpath("u8.idx"), true, "u8", 3, want, 12);
  expect("idx_u8_gzip", tpath("u8.idx.gz"), false, "u8", 3, want, 12);
  uint32_t d1[1] = {3}, d2[1] = {2};
  unsigned char i8[3] = {0xff, 0, 0x7f};
  const double wi8[3] = {-1, 0, 127};
  write_file(tpath("i8.idx"), buf, idx_bytes(buf, 0x09, 1, d1, i8, 3));
  expect("idx_i8", tpath("i8.idx"), true, "i8", 1, wi8, 3);
  unsigned char i16[4] = {0xfe, 0xd4, 0x03, 0xe8};   /* -300, 1000 */
  const double wi16[2] = {-300, 1000};
  write_file(tpath("i16.idx"), buf, idx_bytes(buf, 0x0B, 1, d2, i16, 4));
  expect("idx_i16", tpath("i16.idx"), false, "i16", 1, wi16, 2);
  unsigned char i32[8] = {0xff, 0xfe, 0xee, 0x90, 0x7f, 0xff, 0xff, 0xff};
  const double wi32[2] = {-70000, 2147483647};
  write_file(tpath("i32.idx"), buf, idx_bytes(buf, 0x0C, 1, d2, i32, 8));
  expect("idx_i32", tpath("i32.idx"), true, "i32", 1, wi32, 2);
  unsigned char f32[8] = {0x3f, 0xc0, 0, 0, 0xbe, 0x80, 0, 0};   /* 1.5, -0.25 */
  const double wf32[2] = {1.5, -0.25};
  write_file(tpath("f32.idx"), buf, idx_bytes(buf, 0x0D, 1, d2, f32, 8));
  expect("idx_f32", tpath("f32.idx"), false, "f32", 1, wf32, 2);
  unsigned char f64[16] = {0x40, 0x08, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0};
  const double wf64[2] = {3, -2};
  write_file(tpath("f64.idx"), buf, idx_bytes(buf, 0x0E, 1, d2, f64, 16));
  expect("idx_f64_as_f32", tpath("f64.idx"), false, "f64", 1, wf64, 2);
  expect("idx_f64_integral_as_i32", tpath("f64.idx"), true, "f64", 1, wf64, 2);
  char err[DLRT_ERR_LEN] = "";
  dlrt_array a;
  check("idx_refuses_fraction_as_int", !dlrt_idx_load(tpath("f32.idx"), true, &a, err) &&
        strstr(err, "byte 8: element 0 (1.5) is not a 32-bit integer"), "%s", err);
}

static bool refused(const char *path, const char *want, char *err) {
  dlrt_array a;
  if (dlrt_idx_load(path, false, &a, err)) {
    dlrt_array_free(&a);
    snprintf(err, DLRT_ERR_LEN, "accepted");
    return false;
  }
  return names_offset(err, path) && (!want || strstr(err, want)) && a.data == NULL;
}

static void test_truncated(void) {
  unsigned char buf[4096], d[600];
  uint32_t dims[2] = {20, 30};
  for (int i = 0; i < 600; i++)
    d[i] = (unsigned char)(i * 7);
  size_t n = idx_bytes(buf, 0x08, 2, dims, d, 600), bad = 0;
  char err[DLRT_ERR_LEN] = "", sample[DLRT_ERR_LEN] = "";
  const char *path = tpath("cut.idx");
  for (size_t len = 0; len < n && !bad; len++) {
    write_file(path, buf, len);
    if (!refused(path, len >= 4 ? "truncated" : NULL, err))
      bad = len ? len : n;
    if (len == 300)
      snprintf(sample, sizeof sample, "%s", err);
  }
  check("idx_refuses_every_raw_truncation", !bad, "length %zu: %s", bad, err);
  check("idx_truncation_names_offset", strstr(sample, "byte 300: truncated: the data needs "
        "600 bytes from byte 12, the file has 288") != NULL, "%s", sample);
  /* A gzip file cut anywhere: refused, with a file name and an offset. */
  write_gz(tpath("full.gz"), buf, n);
  size_t gn;
  unsigned char *gz = read_file(tpath("full.gz"), &gn);
  path = tpath("cut.gz");
  for (size_t len = 0; len < gn && !bad; len++) {
    write_file(path, gz, len);
    if (!refused(path, NULL, err))
      bad = len ? len : gn;
  }
  check("idx_refuses_every_gzip_truncation", !bad, "length %zu of %zu: %s", bad, gn, err);
  gz[gn / 2] ^= 0x55;
  write_file(path, gz, gn);
  check("idx_refuses_corrupt_gzip", refused(path, NULL, err), "%s", err);
  free(gz);
}

static void test_malformed(void) {
  unsigned char buf[64], d[4] = {1, 2, 3, 4};
  uint32_t dims[7] = {4, 1, 1, 1, 1, 1, 1}, huge[2] = {0xffffffff, 0xffffffff},
           big[2] = {0xffffffff, 0x1000};
  char err[DLRT_ERR_LEN] = "";
  const char *path = tpath("bad.idx");
  size_t n = idx_bytes(buf, 0x08, 1, dims, d, 4);
  buf[0] = 1;
  write_file(path, buf, n);
  check("idx_refuses_magic", refused(path, "byte 0: not an IDX file", err), "%s", err);
  write_file(path, buf, idx_bytes(buf, 0x0A, 1, dims, d, 4));
  check("idx_refuses_type", refused(path, "byte 2: unknown IDX element type 0x0a", err), "%s", err);
  write_file(path, buf, idx_bytes(buf, 0x08, 7, dims, d, 4));
  check("idx_refuses_rank_7", refused(path, "byte 3: 7 dimensions", err), "%s", err);
  n = idx_bytes(buf, 0x08, 1, dims, d, 4);
  buf[n++] = 9;
  write_file(path, buf, n);
  check("idx_refuses_trailing_bytes", refused(path, "byte 12: unexpected bytes after the data", err),
        "%s", err);
  write_file(path, buf, idx_bytes(buf, 0x0E, 2, huge, d, 4));
  check("idx_refuses_overflowing_dims", refused(path, "overflow", err), "%s", err);
  write_file(path, buf, idx_bytes(buf, 0x08, 2, big, d, 4));
  check("idx_refuses_huge_dims_without_allocating", refused(path, "truncated", err), "%s", err);
  dlrt_array a;
  check("idx_refuses_missing_file", !dlrt_idx_load(tpath("none.gz"), false, &a, err) &&
        strstr(err, "none.gz: cannot open"), "%s", err);
}

static void test_fashion_mnist(void) {
  const char *labels = FMNIST "t10k-labels-idx1-ubyte.gz", *images = FMNIST "t10k-images-idx3-ubyte.gz";
  if (access(labels, R_OK) != 0 || access(images, R_OK) != 0) {
    skip("idx_fashion_mnist_t10k_labels", "dataset-fashion-mnist is not installed");
    return;
  }
  dlrt_array a;
  char err[DLRT_ERR_LEN] = "";
  bool ok = dlrt_array_load(labels, true, &a, err);
  int in_range = 0, count[10] = {0};
  for (int64_t i = 0; ok && i < dlrt_array_numel(&a); i++) {
    int32_t v = ((int32_t *)a.data)[i];
    in_range += v >= 0 && v <= 9;
    if (v >= 0 && v <= 9)
      count[v]++;
  }
  check("idx_fashion_mnist_t10k_labels", ok && a.rank == 1 && a.dim[0] == 10000 &&
        a.dtype == DLRT_I32 && in_range == 10000 && count[0] == 1000 && count[9] == 1000,
        "%s; %d labels in 0..9", ok ? "shape or values" : err, in_range);
  if (ok)
    dlrt_array_free(&a);
  ok = dlrt_array_load(images, false, &a, err);
  float lo = 1e9f, hi = -1e9f;
  for (int64_t i = 0; ok && i < dlrt_array_numel(&a); i++) {
    float v = ((float *)a.data)[i];
    lo = v < lo ? v : lo, hi = v > hi ? v : hi;
  }
  check("idx_fashion_mnist_t10k_images", ok && a.rank == 3 && a.dim[0] == 10000 &&
        a.dim[1] == 28 && a.dim[2] == 28 && lo == 0 && hi == 255 &&
        strcmp(a.src_type, "u8") == 0, "%s; range [%g, %g]", ok ? "shape" : err, lo, hi);
  if (ok)
    dlrt_array_free(&a);
}

int main(void) {
  t_begin();
  test_types();
  test_truncated();
  test_malformed();
  test_fashion_mnist();
  return t_end();
}
