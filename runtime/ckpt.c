/* ckpt.c — checkpoint files: named arrays, metadata and a checksum.
 *
 * The one idea: a checkpoint is trusted input only after every byte of it
 * has been accounted for. The reader walks the file with a cursor that
 * knows how many bytes remain before the trailing CRC-32, so no length
 * field can make it read past the end or allocate more than the file
 * holds; it then compares the checksum. Saving goes through a temporary
 * file that is renamed over the target only when completely written and
 * synced, so a crash or a full disk never leaves a half-written
 * checkpoint under the real name. The format is doc/checkpoint.txt.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "dlrt.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ckpt.c stores array data in host order, which must be little-endian"
#endif

static const unsigned char magic[8] = {0x89, 'D', 'L', 'C', '\r', '\n', 0x1a, '\n'};

enum {
  DATA_ALIGN = 64,          /* array data starts at a multiple of this */
  NAME_MAX_LEN = 63,        /* dlrt_array.name, dlrt_kv.key, model */
  VALUE_MAX_LEN = 255,      /* dlrt_kv.value */
  MIN_ARRAY_RECORD = 4 + 1 + 4 + 4 + 8,   /* name len, 1 char, dtype, rank, nbytes */
  MIN_META_RECORD = 4 + 1 + 4,
};

static uint32_t crc_update(uint32_t crc, const void *p, uint64_t n) {
  const unsigned char *b = p;
  while (n > 0) {
    uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
    crc = (uint32_t)crc32(crc, b, k);
    b += k;
    n -= k;
  }
  return crc;
}

static uint32_t get_u32(const unsigned char *b) {
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
         (uint32_t)b[3] << 24;
}

static uint64_t get_u64(const unsigned char *b) {
  return (uint64_t)get_u32(b) | (uint64_t)get_u32(b + 4) << 32;
}

static void put_u32(unsigned char *b, uint32_t v) {
  for (int i = 0; i < 4; i++)
    b[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *b, uint64_t v) {
  put_u32(b, (uint32_t)v);
  put_u32(b + 4, (uint32_t)(v >> 32));
}

/* 4 * product(dim), false on overflow or a negative dimension. */
static bool array_bytes(int rank, const int64_t *dim, uint64_t *out) {
  int64_t n = 4;
  for (int i = 0; i < rank; i++)
    if (dim[i] < 0 || __builtin_mul_overflow(n, dim[i], &n))
      return false;
  *out = (uint64_t)n;
  return true;
}

static int cmp_name(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Index of a name that occurs twice among the n names at base, base +
 * stride, ..., or -1. Sorting keeps this O(n log n) for big files. */
static int find_duplicate(const char *base, int n, size_t stride) {
  if (n < 2)
    return -1;
  const char **v = malloc(sizeof *v * (size_t)n);
  if (!v)
    return -1;
  for (int i = 0; i < n; i++)
    v[i] = base + stride * (size_t)i;
  qsort(v, (size_t)n, sizeof *v, cmp_name);
  int dup = -1;
  for (int i = 1; i < n && dup < 0; i++)
    if (strcmp(v[i - 1], v[i]) == 0)
      dup = (int)((size_t)(v[i] - base) / stride);
  free(v);
  return dup;
}

/* ---- reading ----------------------------------------------------------- */

/* A cursor over the file: off bytes consumed, crc of them; limit is where
 * the trailing checksum starts (file size - 4). */
typedef struct Rd {
  FILE *f;
  const char *path;
  char *err;
  uint64_t off, limit;
  uint32_t crc;
  uint64_t meta_at;     /* where the metadata starts, for messages */
  uint64_t *array_at;   /* where each array record starts, for messages */
} Rd;

__attribute__((format(printf, 3, 4)))
static bool rfail(Rd *r, uint64_t at, const char *fmt, ...) {
  va_list ap;
  int n = snprintf(r->err, DLRT_ERR_LEN, "%s: byte %llu: ", r->path,
                   (unsigned long long)at);
  va_start(ap, fmt);
  if (n >= 0 && n < DLRT_ERR_LEN)
    vsnprintf(r->err + n, DLRT_ERR_LEN - (size_t)n, fmt, ap);
  va_end(ap);
  return false;
}

static uint64_t remaining(const Rd *r) {
  return r->off < r->limit ? r->limit - r->off : 0;
}

static bool rd(Rd *r, void *buf, uint64_t n, const char *what) {
  if (n > remaining(r))
    return rfail(r, r->off, "truncated: %s needs %llu bytes, %llu remain "
                 "before the checksum", what, (unsigned long long)n,
                 (unsigned long long)remaining(r));
  if (n > 0 && fread(buf, 1, n, r->f) != n)
    return rfail(r, r->off, "read error in %s (file changed while read?)", what);
  r->crc = crc_update(r->crc, buf, n);
  r->off += n;
  return true;
}

static bool rd_u32(Rd *r, uint32_t *v, const char *what) {
  unsigned char b[4];
  if (!rd(r, b, 4, what))
    return false;
  *v = get_u32(b);
  return true;
}

static bool rd_u64(Rd *r, uint64_t *v, const char *what) {
  unsigned char b[8];
  if (!rd(r, b, 8, what))
    return false;
  *v = get_u64(b);
  return true;
}

/* A string: u32 length, bytes; min_len..max_len bytes, no NUL inside. dst
 * has room for max_len + 1. */
static bool rd_string(Rd *r, char *dst, uint32_t min_len, uint32_t max_len,
                      const char *what) {
  uint64_t at = r->off;
  uint32_t n;
  if (!rd_u32(r, &n, what))
    return false;
  if (n < min_len || n > max_len)
    return rfail(r, at, "%s length %u is out of range %u..%u", what, n,
                 min_len, max_len);
  if (!rd(r, dst, n, what))
    return false;
  dst[n] = 0;
  if (strlen(dst) != n)
    return rfail(r, at, "%s contains a NUL byte", what);
  return true;
}

static bool read_meta(Rd *r, dlrt_ckpt *c) {
  r->meta_at = r->off;
  for (int i = 0; i < c->nmeta; i++) {
    dlrt_kv *kv = &c->meta[i];
    if (!rd_string(r, kv->key, 1, NAME_MAX_LEN, "metadata key") ||
        !rd_string(r, kv->value, 0, VALUE_MAX_LEN, "metadata value"))
      return false;
  }
  return true;
}

/* One array record (see doc/checkpoint.txt). */
static bool read_array(Rd *r, dlrt_array *a) {
  uint32_t dtype, rank;
  uint64_t nbytes, want, at;
  unsigned char pad[DATA_ALIGN];
  if (!rd_string(r, a->name, 1, NAME_MAX_LEN, "array name"))
    return false;
  at = r->off;
  if (!rd_u32(r, &dtype, "dtype"))
    return false;
  if (dtype > DLRT_I32)
    return rfail(r, at, "array '%s': unknown dtype %u", a->name, dtype);
  a->dtype = (dlrt_dtype)dtype;
  at = r->off;
  if (!rd_u32(r, &rank, "rank"))
    return false;
  if (rank > DLRT_MAX_RANK)
    return rfail(r, at, "array '%s': rank %u exceeds %d", a->name, rank, DLRT_MAX_RANK);
  a->rank = (int)rank;
  for (int i = 0; i < a->rank; i++)
    if (!rd_u64(r, (uint64_t *)&a->dim[i], "dimension"))
      return false;
  at = r->off;
  if (!rd_u64(r, &nbytes, "byte count"))
    return false;
  if (!array_bytes(a->rank, a->dim, &want) || nbytes != want)
    return rfail(r, at, "array '%s': byte count %llu does not match its "
                 "dimensions", a->name, (unsigned long long)nbytes);
  uint64_t npad = (DATA_ALIGN - r->off % DATA_ALIGN) % DATA_ALIGN;
  at = r->off;
  if (!rd(r, pad, npad, "padding"))
    return false;
  for (uint64_t i = 0; i < npad; i++)
    if (pad[i])
      return rfail(r, at + i, "array '%s': nonzero padding byte", a->name);
  if (nbytes > remaining(r))   /* refuse before allocating */
    return rfail(r, r->off, "truncated: array '%s' data needs %llu bytes, "
                 "%llu remain before the checksum", a->name,
                 (unsigned long long)nbytes, (unsigned long long)remaining(r));
  a->data = malloc(nbytes ? nbytes : 1);
  if (!a->data)
    return rfail(r, r->off, "out of memory for array '%s' (%llu bytes)",
                 a->name, (unsigned long long)nbytes);
  return rd(r, a->data, nbytes, "array data");
}

/* Magic, version, flags, signature, counts, model name. */
static bool read_header(Rd *r, dlrt_ckpt *c, uint64_t size) {
  unsigned char b[8];
  uint64_t n = size < 8 ? size : 8;
  if (n > 0 && fread(b, 1, n, r->f) != n)
    return rfail(r, 0, "read error");
  if (memcmp(b, magic, n) != 0)
    return rfail(r, 0, "not a dlc checkpoint (wrong magic bytes)");
  if (n < 8)
    return rfail(r, n, "truncated: the file has only %llu bytes",
                 (unsigned long long)size);
  r->crc = crc_update(r->crc, b, 8);
  r->off = 8;
  uint32_t version, flags, narrays, nmeta;
  if (!rd_u32(r, &version, "version"))
    return false;
  if (version != DLRT_CKPT_VERSION)
    return rfail(r, 8, "unsupported checkpoint version %u (this program "
                 "reads version %d)", version, DLRT_CKPT_VERSION);
  if (!rd_u32(r, &flags, "flags"))
    return false;
  if (flags != 0)
    return rfail(r, 12, "unknown flags 0x%x (version %d has none)", flags,
                 DLRT_CKPT_VERSION);
  if (!rd_u64(r, &c->signature, "signature") ||
      !rd_u32(r, &narrays, "array count") || !rd_u32(r, &nmeta, "metadata count"))
    return false;
  if (narrays > remaining(r) / MIN_ARRAY_RECORD || narrays > INT32_MAX)
    return rfail(r, 24, "array count %u is more than the file can hold", narrays);
  if (nmeta > remaining(r) / MIN_META_RECORD)
    return rfail(r, 28, "metadata count %u is more than the file can hold", nmeta);
  if (!rd_string(r, c->model, 0, NAME_MAX_LEN, "model name"))
    return false;
  c->arrays = calloc(narrays ? narrays : 1, sizeof *c->arrays);
  c->meta = calloc(nmeta ? nmeta : 1, sizeof *c->meta);
  r->array_at = calloc(narrays ? narrays : 1, sizeof *r->array_at);
  if (!c->arrays || !c->meta || !r->array_at)
    return rfail(r, r->off, "out of memory");
  c->narrays = (int)narrays;
  c->nmeta = (int)nmeta;
  return true;
}

/* After the structure is read: nothing left before the checksum, the
 * checksum matches, and names are unique. */
static bool read_trailer(Rd *r, dlrt_ckpt *c) {
  unsigned char b[4];
  if (r->off != r->limit)
    return rfail(r, r->off, "%llu unexpected bytes before the checksum",
                 (unsigned long long)(r->limit - r->off));
  if (fread(b, 1, 4, r->f) != 4)
    return rfail(r, r->off, "read error in the checksum");
  if (get_u32(b) != r->crc)
    return rfail(r, r->off, "checksum mismatch (stored 0x%08x, computed "
                 "0x%08x): the file is corrupted", get_u32(b), r->crc);
  int d = find_duplicate(c->arrays[0].name, c->narrays, sizeof c->arrays[0]);
  if (d >= 0)
    return rfail(r, r->array_at[d], "duplicate array name '%s'", c->arrays[d].name);
  d = find_duplicate(c->meta[0].key, c->nmeta, sizeof c->meta[0]);
  if (d >= 0)
    return rfail(r, r->meta_at, "duplicate metadata key '%s'", c->meta[d].key);
  return true;
}

/* Whether the last 4 bytes of the file are the CRC-32 of the others. Used
 * to explain a structural error: damage or a writer's bug. */
static bool file_crc_ok(FILE *f, uint64_t size) {
  unsigned char buf[1 << 16];
  uint32_t crc = 0;
  if (size < 4 || fseeko(f, 0, SEEK_SET) != 0)
    return false;
  for (uint64_t left = size - 4; left > 0;) {
    size_t n = left < sizeof buf ? (size_t)left : sizeof buf;
    if (fread(buf, 1, n, f) != n)
      return false;
    crc = crc_update(crc, buf, n);
    left -= n;
  }
  return fread(buf, 1, 4, f) == 4 && get_u32(buf) == crc;
}

static bool read_all(Rd *r, dlrt_ckpt *c, uint64_t size) {
  if (!read_header(r, c, size) || !read_meta(r, c))
    return false;
  for (int i = 0; i < c->narrays; i++) {
    r->array_at[i] = r->off;
    if (!read_array(r, &c->arrays[i]))
      return false;
  }
  return read_trailer(r, c);
}

/* Contract in dlrt.h. On failure c is empty. Messages: "PATH: byte OFF:
 * what is wrong"; a structural error in a file whose checksum does not
 * match either says so (damage rather than a writer's bug). */
bool dlrt_ckpt_load(const char *path, dlrt_ckpt *c, char *err) {
  memset(c, 0, sizeof *c);
  Rd r = {.path = path, .err = err};
  struct stat st;
  r.f = fopen(path, "rb");
  if (!r.f) {
    snprintf(err, DLRT_ERR_LEN, "%s: cannot open: %s", path, strerror(errno));
    return false;
  }
  if (fstat(fileno(r.f), &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(err, DLRT_ERR_LEN, "%s: not a regular file", path);
    fclose(r.f);
    return false;
  }
  uint64_t size = (uint64_t)st.st_size;
  r.limit = size >= 4 ? size - 4 : 0;
  bool ok = read_all(&r, c, size);
  free(r.array_at);
  if (!ok && r.off > 12 && size >= 4 && !strstr(err, "checksum mismatch") &&
      !file_crc_ok(r.f, size)) {
    size_t n = strlen(err);
    snprintf(err + n, DLRT_ERR_LEN - n, " (the checksum does not match "
             "either: the file is truncated or damaged)");
  }
  fclose(r.f);
  if (!ok)
    dlrt_ckpt_free(c);
  return ok;
}

void dlrt_ckpt_free(dlrt_ckpt *c) {
  for (int i = 0; i < c->narrays; i++)
    free(c->arrays[i].data);
  free(c->arrays);
  free(c->meta);
  memset(c, 0, sizeof *c);
}

const dlrt_array *dlrt_ckpt_find(const dlrt_ckpt *c, const char *name) {
  for (int i = 0; i < c->narrays; i++)
    if (strcmp(c->arrays[i].name, name) == 0)
      return &c->arrays[i];
  return NULL;
}

/* ---- writing ----------------------------------------------------------- */

typedef struct Wr {
  FILE *f;
  uint64_t off;
  uint32_t crc;
  bool ok;
} Wr;

static void wr(Wr *w, const void *p, uint64_t n) {
  if (!w->ok || n == 0)
    return;
  if (fwrite(p, 1, n, w->f) != n)
    w->ok = false;
  w->crc = crc_update(w->crc, p, n);
  w->off += n;
}

static void wr_u32(Wr *w, uint32_t v) {
  unsigned char b[4];
  put_u32(b, v);
  wr(w, b, 4);
}

static void wr_u64(Wr *w, uint64_t v) {
  unsigned char b[8];
  put_u64(b, v);
  wr(w, b, 8);
}

static void wr_string(Wr *w, const char *s) {
  uint32_t n = (uint32_t)strlen(s);
  wr_u32(w, n);
  wr(w, s, n);
}

static void write_array(Wr *w, const dlrt_array *a) {
  static const unsigned char zeros[DATA_ALIGN];
  uint64_t nbytes = 0;
  array_bytes(a->rank, a->dim, &nbytes);  /* checked by check_save */
  wr_string(w, a->name);
  wr_u32(w, (uint32_t)a->dtype);
  wr_u32(w, (uint32_t)a->rank);
  for (int i = 0; i < a->rank; i++)
    wr_u64(w, (uint64_t)a->dim[i]);
  wr_u64(w, nbytes);
  wr(w, zeros, (DATA_ALIGN - w->off % DATA_ALIGN) % DATA_ALIGN);
  wr(w, a->data, nbytes);
}

static void write_all(Wr *w, const dlrt_ckpt *c) {
  wr(w, magic, sizeof magic);
  wr_u32(w, DLRT_CKPT_VERSION);
  wr_u32(w, 0);
  wr_u64(w, c->signature);
  wr_u32(w, (uint32_t)c->narrays);
  wr_u32(w, (uint32_t)c->nmeta);
  wr_string(w, c->model);
  for (int i = 0; i < c->nmeta; i++) {
    wr_string(w, c->meta[i].key);
    wr_string(w, c->meta[i].value);
  }
  for (int i = 0; i < c->narrays; i++)
    write_array(w, &c->arrays[i]);
  wr_u32(w, w->crc);
}

__attribute__((format(printf, 2, 3)))
static bool sfail(char *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, DLRT_ERR_LEN, fmt, ap);
  va_end(ap);
  return false;
}

/* Refuse what the reader would refuse, before touching any file. */
static bool check_save(const char *path, const dlrt_ckpt *c, char *err) {
  uint64_t nbytes;
  if (strnlen(c->model, sizeof c->model) > NAME_MAX_LEN || c->narrays < 0 || c->nmeta < 0)
    return sfail(err, "%s: cannot save: bad model name or counts", path);
  for (int i = 0; i < c->nmeta; i++) {
    const dlrt_kv *kv = &c->meta[i];
    size_t nk = strnlen(kv->key, sizeof kv->key);
    if (nk < 1 || nk > NAME_MAX_LEN || strnlen(kv->value, sizeof kv->value) > VALUE_MAX_LEN)
      return sfail(err, "%s: cannot save: bad metadata entry %d", path, i);
  }
  for (int i = 0; i < c->narrays; i++) {
    const dlrt_array *a = &c->arrays[i];
    size_t nn = strnlen(a->name, sizeof a->name);
    if (nn < 1 || nn > NAME_MAX_LEN)
      return sfail(err, "%s: cannot save: array %d has an empty or unterminated name", path, i);
    if ((a->dtype != DLRT_F32 && a->dtype != DLRT_I32) || a->rank < 0 ||
        a->rank > DLRT_MAX_RANK || !array_bytes(a->rank, a->dim, &nbytes) ||
        (nbytes > 0 && !a->data))
      return sfail(err, "%s: cannot save: array '%s' has a bad dtype, shape or no data", path, a->name);
  }
  int d = c->narrays ? find_duplicate(c->arrays[0].name, c->narrays, sizeof c->arrays[0]) : -1;
  if (d >= 0)
    return sfail(err, "%s: cannot save: duplicate array name '%s'", path, c->arrays[d].name);
  d = c->nmeta ? find_duplicate(c->meta[0].key, c->nmeta, sizeof c->meta[0]) : -1;
  if (d >= 0)
    return sfail(err, "%s: cannot save: duplicate metadata key '%s'", path, c->meta[d].key);
  return true;
}

/* fsync the folder that holds path, so that the rename is durable. Best
 * effort: some file systems refuse to sync a directory (EINVAL), and the
 * new file is already in place when this runs. */
static void sync_dir(const char *path) {
  char dir[4096];
  const char *slash = strrchr(path, '/');
  size_t n = slash ? (size_t)(slash - path) : 0;
  if (n >= sizeof dir)
    return;
  memcpy(dir, path, n);
  strcpy(dir + n, slash ? (n ? "" : "/") : ".");
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

/* Write c to tmp and sync it. */
static bool write_tmp(const char *tmp, const dlrt_ckpt *c, char *err) {
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0)
    return sfail(err, "%s: cannot create: %s", tmp, strerror(errno));
  Wr w = {.f = fdopen(fd, "wb"), .ok = true};
  if (!w.f) {
    int e = errno;
    close(fd);
    return sfail(err, "%s: cannot write: %s", tmp, strerror(e));
  }
  write_all(&w, c);
  bool ok = w.ok && fflush(w.f) == 0 && fsync(fd) == 0;
  int e = errno;
  if (fclose(w.f) != 0 && ok) {
    ok = false;
    e = errno;
  }
  if (!ok)
    return sfail(err, "%s: cannot write: %s", tmp, strerror(e));
  return true;
}

/* Contract in dlrt.h. The temporary file is "<path>.tmp.<pid>" in the
 * same folder (a rename does not cross file systems); it is removed on
 * failure. */
bool dlrt_ckpt_save(const char *path, const dlrt_ckpt *c, char *err) {
  char tmp[4200];
  if (!check_save(path, c, err))
    return false;
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
    return sfail(err, "%s: path too long", path);
  if (!write_tmp(tmp, c, err)) {
    unlink(tmp);
    return false;
  }
  if (rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return sfail(err, "%s: cannot rename %s over it: %s", path, tmp, strerror(e));
  }
  sync_dir(path);
  return true;
}
