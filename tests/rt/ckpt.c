/* ckpt.c — tests of checkpoint files: round trip, layout, refusal of every
 * truncation and every flipped byte, crafted absurd or inconsistent files
 * with valid checksums, and atomic saving that leaves the old file intact
 * when the save fails. */
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <zlib.h>

#include "rt_test.h"

static float W[15], b[5];
static int32_t idx[4] = {-2, 0, 7, 2147483647};
static float scalar = 3.5f;
static dlrt_array arrays[5];
static dlrt_kv meta[3] = {{"seed", "1"}, {"step", "100"}, {"note", ""}};

static dlrt_ckpt sample(void) {
  for (int i = 0; i < 15; i++)
    W[i] = 0.5f * (float)i - 3;
  for (int i = 0; i < 5; i++)
    b[i] = -(float)i;
  arrays[0] = (dlrt_array){.name = "W", .dtype = DLRT_F32, .rank = 2, .dim = {3, 5}, .data = W};
  arrays[1] = (dlrt_array){.name = "b", .dtype = DLRT_F32, .rank = 1, .dim = {5}, .data = b};
  arrays[2] = (dlrt_array){.name = "idx", .dtype = DLRT_I32, .rank = 1, .dim = {4}, .data = idx};
  arrays[3] = (dlrt_array){.name = "scalar", .dtype = DLRT_F32, .rank = 0, .data = &scalar};
  arrays[4] = (dlrt_array){.name = "empty", .dtype = DLRT_F32, .rank = 2, .dim = {0, 3}};
  return (dlrt_ckpt){.signature = 0x1122334455667788ull, .model = "mlp",
                     .arrays = arrays, .narrays = 5, .meta = meta, .nmeta = 3};
}

static bool same_ckpt(const dlrt_ckpt *a, const dlrt_ckpt *c) {
  if (a->signature != c->signature || strcmp(a->model, c->model) != 0 ||
      a->narrays != c->narrays || a->nmeta != c->nmeta)
    return false;
  for (int i = 0; i < a->nmeta; i++)
    if (strcmp(a->meta[i].key, c->meta[i].key) || strcmp(a->meta[i].value, c->meta[i].value))
      return false;
  for (int i = 0; i < a->narrays; i++) {
    const dlrt_array *x = &a->arrays[i], *y = &c->arrays[i];
    if (strcmp(x->name, y->name) || x->dtype != y->dtype || x->rank != y->rank ||
        memcmp(x->dim, y->dim, sizeof x->dim[0] * (size_t)x->rank) ||
        memcmp(x->data ? x->data : "", y->data, (size_t)dlrt_array_numel(x) * 4))
      return false;
  }
  return true;
}

/* Store the CRC-32 of buf[0, n-4) in its last 4 bytes. */
static void recrc(unsigned char *buf, size_t n) {
  uint32_t c = (uint32_t)crc32(0, buf, (uInt)(n - 4));
  for (int i = 0; i < 4; i++)
    buf[n - 4 + i] = (unsigned char)(c >> (8 * i));
}

static void test_round_trip(void) {
  dlrt_ckpt c = sample(), back;
  char err[DLRT_ERR_LEN] = "";
  const char *path = tpath("rt.ckpt");
  bool ok = dlrt_ckpt_save(path, &c, err) && dlrt_ckpt_load(path, &back, err);
  check("ckpt_round_trip", ok && same_ckpt(&c, &back), "%s", err);
  if (ok) {
    const dlrt_array *a = dlrt_ckpt_find(&back, "idx");
    check("ckpt_find", a && ((int32_t *)a->data)[3] == 2147483647 &&
          !dlrt_ckpt_find(&back, "nope"), "dlrt_ckpt_find");
    dlrt_ckpt_free(&back);
  }
  size_t n;
  unsigned char *f = read_file(path, &n);
  unsigned char *w = f ? memmem(f, n, W, sizeof W) : NULL;
  unsigned char *bb = f ? memmem(f, n, b, sizeof b) : NULL;
  check("ckpt_data_aligned_64", w && bb && (w - f) % 64 == 0 && (bb - f) % 64 == 0,
        "W data at %td, b data at %td", w ? w - f : -1, bb ? bb - f : -1);
  free(f);
  dlrt_ckpt e = {.signature = 1};
  ok = dlrt_ckpt_save(tpath("empty.ckpt"), &e, err) &&
       dlrt_ckpt_load(tpath("empty.ckpt"), &back, err);
  check("ckpt_round_trip_empty", ok && back.narrays == 0 && back.signature == 1, "%s", err);
  if (ok)
    dlrt_ckpt_free(&back);
}

/* Load buf[0, n) written to a file; true when refused with a message that
 * names the file and an offset (and contains want, if given). */
static bool refused(const unsigned char *buf, size_t n, const char *want, char *err) {
  const char *path = tpath("bad.ckpt");
  dlrt_ckpt c;
  write_file(path, buf, n);
  if (dlrt_ckpt_load(path, &c, err)) {
    dlrt_ckpt_free(&c);
    snprintf(err, DLRT_ERR_LEN, "accepted");
    return false;
  }
  return names_offset(err, path) && (!want || strstr(err, want)) &&
         c.arrays == NULL && c.narrays == 0;
}

static unsigned char *sample_bytes(size_t *n) {
  dlrt_ckpt c = sample();
  char err[DLRT_ERR_LEN];
  dlrt_ckpt_save(tpath("sample.ckpt"), &c, err);
  return read_file(tpath("sample.ckpt"), n);
}

static void test_truncated(void) {
  size_t n;
  unsigned char *f = sample_bytes(&n);
  char err[DLRT_ERR_LEN] = "", first[DLRT_ERR_LEN] = "";
  size_t bad_len = n;
  for (size_t len = 0; len < n && bad_len == n; len++) {
    bool ok = refused(f, len, len >= 8 ? "truncated" : NULL, err);
    if (!ok)
      bad_len = len;
    if (len == n / 2)
      snprintf(first, sizeof first, "%s", err);
  }
  check("ckpt_refuses_every_truncation", bad_len == n, "length %zu of %zu: %s", bad_len, n, err);
  printf("    (e.g. %s)\n", first);
  free(f);
}

static void test_flipped(void) {
  size_t n;
  unsigned char *f = sample_bytes(&n);
  char err[DLRT_ERR_LEN] = "";
  size_t bad_at = n;
  for (size_t i = 0; i < n && bad_at == n; i++)
    for (int mask = 1; mask <= 0x80 && bad_at == n; mask <<= 7) {
      f[i] ^= (unsigned char)mask;
      if (!refused(f, n, NULL, err))
        bad_at = i;
      f[i] ^= (unsigned char)mask;
    }
  check("ckpt_refuses_every_flipped_byte", bad_at == n, "byte %zu: %s", bad_at, err);
  unsigned char *w = memmem(f, n, W, sizeof W);
  w[5] ^= 1;
  refused(f, n, NULL, err);
  check("ckpt_flipped_data_says_checksum", strstr(err, "checksum mismatch") != NULL, "%s", err);
  free(f);
}

static void test_header_errors(void) {
  size_t n;
  unsigned char *f = sample_bytes(&n);
  char err[DLRT_ERR_LEN] = "";
  f[1] = 'X';
  check("ckpt_refuses_wrong_magic", refused(f, n, "byte 0: not a dlc checkpoint", err), "%s", err);
  check("ckpt_refuses_short_junk", refused((const unsigned char *)"hi", 2, "wrong magic", err),
        "%s", err);
  f[1] = 'D';
  f[8] = 2;
  recrc(f, n);
  check("ckpt_refuses_version",
        refused(f, n, "byte 8: unsupported checkpoint version 2", err), "%s", err);
  f[8] = 1;
  f[12] = 4;
  recrc(f, n);
  check("ckpt_refuses_flags", refused(f, n, "byte 12: unknown flags", err), "%s", err);
  f[12] = 0;
  memset(f + 24, 0xff, 4);
  recrc(f, n);
  check("ckpt_refuses_absurd_array_count",
        refused(f, n, "more than the file can hold", err), "%s", err);
  free(f);
  dlrt_ckpt c;
  check("ckpt_refuses_missing_file", !dlrt_ckpt_load(tpath("none.ckpt"), &c, err) &&
        strstr(err, "none.ckpt: cannot open"), "%s", err);
  check("ckpt_refuses_directory", !dlrt_ckpt_load(t_dir, &c, err) &&
        strstr(err, "not a regular file"), "%s", err);
}

/* A small file: model "m", arrays "a" and (if two) "b", f32 [2, 3], no
 * metadata. Layout: array "a" name at 37, dtype 42, rank 46, dims 50 and
 * 58, byte count 66, padding 74..128, data 128..152; "b" from 152. */
static unsigned char *small(bool two, size_t *n) {
  static float d[6] = {1, 2, 3, 4, 5, 6};
  dlrt_array a[2] = {
    {.name = "a", .dtype = DLRT_F32, .rank = 2, .dim = {2, 3}, .data = d},
    {.name = "b", .dtype = DLRT_F32, .rank = 2, .dim = {2, 3}, .data = d},
  };
  dlrt_ckpt c = {.model = "m", .arrays = a, .narrays = two ? 2 : 1};
  char err[DLRT_ERR_LEN];
  dlrt_ckpt_save(tpath("small.ckpt"), &c, err);
  return read_file(tpath("small.ckpt"), n);
}

static void put64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

typedef struct Craft {
  const char *name;
  bool two;
  size_t at;          /* where to patch */
  int width;          /* 1, 4 or 8 bytes (little-endian) */
  uint64_t value;
  const char *want;   /* substring of the message */
} Craft;

static const Craft crafts[] = {
  {"ckpt_refuses_unknown_dtype", false, 42, 4, 7, "byte 42: array 'a': unknown dtype 7"},
  {"ckpt_refuses_big_rank", false, 46, 4, 9, "byte 46: array 'a': rank 9 exceeds 6"},
  {"ckpt_refuses_dims_vs_byte_count", false, 50, 8, 3, "byte 66: array 'a': byte count 24"},
  {"ckpt_refuses_overflowing_dims", false, 50, 8, (uint64_t)1 << 62, "does not match"},
  {"ckpt_refuses_negative_dim", false, 50, 8, UINT64_MAX, "does not match"},
  {"ckpt_refuses_nonzero_padding", false, 100, 1, 1, "byte 100: array 'a': nonzero padding"},
  {"ckpt_refuses_nul_in_name", false, 41, 1, 0, "byte 37: array name contains a NUL"},
  {"ckpt_refuses_long_name", false, 37, 4, 64, "array name length 64 is out of range 1..63"},
  {"ckpt_refuses_empty_name", false, 37, 4, 0, "out of range 1..63"},
  {"ckpt_refuses_huge_name", false, 37, 4, 0xffffffff, "out of range"},
  {"ckpt_refuses_absurd_meta_count", false, 28, 4, 0x7fffffff, "metadata count"},
  {"ckpt_refuses_extra_array_count", false, 24, 4, 2, "truncated"},
  {"ckpt_refuses_duplicate_names", true, 156, 1, 'a', "byte 152: duplicate array name 'a'"},
};

static void test_crafted(void) {
  char err[DLRT_ERR_LEN] = "";
  for (size_t i = 0; i < sizeof crafts / sizeof crafts[0]; i++) {
    const Craft *k = &crafts[i];
    size_t n;
    unsigned char *f = small(k->two, &n);
    if (k->width == 8)
      put64(f + k->at, k->value);
    else
      for (int j = 0; j < k->width; j++)
        f[k->at + (size_t)j] = (unsigned char)(k->value >> (8 * j));
    recrc(f, n);
    check(k->name, refused(f, n, k->want, err), "got \"%s\", want \"%s\"", err, k->want);
    free(f);
  }
  /* A huge byte count that matches huge dims: refused as truncated before
   * any allocation (ASan would report an allocation of 2^62 bytes). */
  size_t n;
  unsigned char *f = small(false, &n);
  put64(f + 50, (uint64_t)1 << 30);
  put64(f + 58, (uint64_t)1 << 30);
  put64(f + 66, (uint64_t)1 << 62);
  recrc(f, n);
  check("ckpt_refuses_huge_array_without_allocating",
        refused(f, n, "truncated: array 'a' data needs 4611686018427387904 bytes", err),
        "%s", err);
  /* Duplicate metadata keys (the writer refuses them, so patch a file). */
  dlrt_kv kv[2] = {{"ka", "1"}, {"kb", "2"}};
  dlrt_ckpt cm = {.model = "m", .meta = kv, .nmeta = 2};
  dlrt_ckpt_save(tpath("meta.ckpt"), &cm, err);
  unsigned char *h = read_file(tpath("meta.ckpt"), &n);
  ((unsigned char *)memmem(h, n, "kb", 2))[1] = 'a';
  recrc(h, n);
  check("ckpt_refuses_duplicate_meta_keys",
        refused(h, n, "byte 37: duplicate metadata key 'ka'", err), "%s", err);
  free(h);
  /* Extra bytes between the last array and the checksum. */
  free(f);
  f = small(false, &n);
  unsigned char *g = malloc(n + 8);
  memcpy(g, f, n - 4);
  memset(g + n - 4, 0, 8);
  recrc(g, n + 4);
  check("ckpt_refuses_bytes_before_checksum",
        refused(g, n + 4, "byte 152: 4 unexpected bytes before the checksum", err), "%s", err);
  free(g);
  free(f);
}

static void test_save_refuses(void) {
  char err[DLRT_ERR_LEN] = "";
  const char *path = tpath("refused.ckpt");
  dlrt_ckpt c = sample();
  strcpy(arrays[1].name, "W");
  check("ckpt_save_refuses_duplicate_names", !dlrt_ckpt_save(path, &c, err) &&
        strstr(err, "duplicate array name 'W'") && access(path, F_OK) != 0, "%s", err);
  c = sample();
  memset(arrays[0].name, 'x', sizeof arrays[0].name);
  check("ckpt_save_refuses_unterminated_name", !dlrt_ckpt_save(path, &c, err), "accepted");
  c = sample();
  arrays[1].data = NULL;
  check("ckpt_save_refuses_missing_data", !dlrt_ckpt_save(path, &c, err) &&
        strstr(err, "array 'b'"), "%s", err);
  c = sample();
  arrays[1].dim[0] = -5;
  check("ckpt_save_refuses_negative_dim", !dlrt_ckpt_save(path, &c, err), "accepted");
  c = sample();
  strcpy(meta[1].key, "seed");
  check("ckpt_save_refuses_duplicate_meta", !dlrt_ckpt_save(path, &c, err) &&
        strstr(err, "duplicate metadata key 'seed'"), "%s", err);
  strcpy(meta[1].key, "step");
}

/* Names in the scratch folder that contain ".tmp." (leftovers). */
static int leftovers(void) {
  DIR *d = opendir(t_dir);
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));)
    n += strstr(e->d_name, ".tmp.") != NULL;
  if (d)
    closedir(d);
  return n;
}

/* In a child process (as user nobody when running as root, since root
 * writes into any folder): saving into a read-only folder must fail and
 * leave the old file. Exit status 0: as expected, 1: not, 3: cannot drop
 * privileges. */
static int readonly_child(const char *path, const unsigned char *f0, size_t n0) {
  if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
    return 3;
  if (access(path, R_OK) != 0)   /* e.g. TMPDIR under a private folder */
    return 3;
  char err[DLRT_ERR_LEN] = "";
  dlrt_ckpt c = sample();
  size_t n1;
  bool failed = !dlrt_ckpt_save(path, &c, err);
  unsigned char *f1 = read_file(path, &n1);
  bool ok = failed && f1 && n1 == n0 && memcmp(f0, f1, n0) == 0;
  if (!ok)
    printf("    save %s: %s\n", failed ? "failed" : "succeeded", err);
  return ok ? 0 : 1;
}

static void test_readonly_folder(const unsigned char *f0, size_t n0) {
  char dir[600], path[700];
  snprintf(dir, sizeof dir, "%s/ro", t_dir);
  snprintf(path, sizeof path, "%s/old.ckpt", dir);
  mkdir(dir, 0755);
  write_file(path, f0, n0);
  chmod(path, 0644);
  chmod(dir, 0555);
  chmod(t_dir, 0711);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0)
    _exit(readonly_child(path, f0, n0));
  int st = 0;
  waitpid(pid, &st, 0);
  chmod(t_dir, 0700);
  chmod(dir, 0755);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
    skip("ckpt_atomic_readonly_folder_keeps_old",
         "cannot run as user nobody, or nobody cannot reach the scratch folder");
  else
    check("ckpt_atomic_readonly_folder_keeps_old", WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "child status %d", st);
}

/* Save over an existing checkpoint in a way that fails; the old file must
 * be byte-identical afterwards and no temporary file left behind. */
static void test_atomic(void) {
  char err[DLRT_ERR_LEN] = "", tmp[600];
  const char *path = tpath("keep.ckpt");
  size_t n0, n1;
  unsigned char *f0 = small(false, &n0);
  write_file(path, f0, n0);
  dlrt_ckpt c = sample();
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  mkdir(tmp, 0700);   /* the temporary name is taken by a folder */
  bool failed = !dlrt_ckpt_save(path, &c, err);
  unsigned char *f1 = read_file(path, &n1);
  check("ckpt_atomic_tmp_blocked_keeps_old", failed && f1 && n1 == n0 &&
        memcmp(f0, f1, n0) == 0, "save %s: %s", failed ? "failed" : "succeeded", err);
  free(f1);
  rmdir(tmp);
  /* A file size limit makes the write fail halfway (like a full disk). */
  static float big[1 << 18];
  dlrt_array a = {.name = "big", .dtype = DLRT_F32, .rank = 1, .dim = {1 << 18}, .data = big};
  dlrt_ckpt cb = {.model = "m", .arrays = &a, .narrays = 1};
  struct rlimit old, lim;
  getrlimit(RLIMIT_FSIZE, &old);
  lim = old;
  lim.rlim_cur = 100000;
  signal(SIGXFSZ, SIG_IGN);
  setrlimit(RLIMIT_FSIZE, &lim);
  failed = !dlrt_ckpt_save(path, &cb, err);
  setrlimit(RLIMIT_FSIZE, &old);
  f1 = read_file(path, &n1);
  check("ckpt_atomic_write_error_keeps_old", failed && strstr(err, "cannot write") &&
        f1 && n1 == n0 && memcmp(f0, f1, n0) == 0 && leftovers() == 0,
        "save %s: %s; %d leftovers", failed ? "failed" : "succeeded", err, leftovers());
  free(f1);
  check("ckpt_save_into_missing_folder", !dlrt_ckpt_save(tpath("no/such/x.ckpt"), &c, err) &&
        strstr(err, "cannot create"), "%s", err);
  test_readonly_folder(f0, n0);
  dlrt_ckpt back;
  bool ok = dlrt_ckpt_save(path, &c, err) && dlrt_ckpt_load(path, &back, err);
  check("ckpt_save_replaces_old", ok && same_ckpt(&c, &back) && leftovers() == 0, "%s", err);
  if (ok)
    dlrt_ckpt_free(&back);
  free(f0);
}

/* Random files and random damage: always refused, never a crash. */
static void test_fuzz(void) {
  size_t n;
  unsigned char *f = sample_bytes(&n), *g = malloc(n + 64);
  char err[DLRT_ERR_LEN] = "";
  dlrt_rng r;
  dlrt_rng_seed(&r, 17);
  int accepted = 0;
  for (int it = 0; it < 3000; it++) {
    size_t len = it < 1000 ? dlrt_rng_next(&r) % (n + 64) : n;
    if (it < 1000)
      for (size_t i = 0; i < len; i++)
        g[i] = (unsigned char)dlrt_rng_next(&r);
    else
      memcpy(g, f, n);
    if (it % 3 == 0)
      memcpy(g, f, len < 40 ? len : 40);  /* a valid header, random rest */
    for (int e = 0; it >= 1000 && e < 1 + it % 5; e++)
      g[dlrt_rng_next(&r) % n] = (unsigned char)dlrt_rng_next(&r);
    if (it >= 1000 && memcmp(f, g, n) == 0)
      continue;
    accepted += !refused(g, len, NULL, err);
  }
  check("ckpt_fuzz_refused", accepted == 0, "%d damaged files accepted: %s", accepted, err);
  free(f);
  free(g);
}

int main(void) {
  t_begin();
  test_round_trip();
  test_truncated();
  test_flipped();
  test_header_errors();
  test_crafted();
  test_save_refuses();
  test_atomic();
  test_fuzz();
  return t_end();
}
