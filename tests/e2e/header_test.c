/* header_test.c — a program that embeds a network through a header from
 * `dlc header --prefix net` (tests/e2e/header.sh compiles it as C99 with
 * gcc and clang and as C++17, with -DNET_HEADER='"file.h"').
 *
 *   header_test IMAGES.idx COUNT OUT.npy [one|two|threads|bench]
 *
 * reads COUNT images from an uncompressed IDX file of bytes, scales them as
 * in training (NET_INPUT_SCALE), runs net_predict on NET_BATCH images per
 * call (the last call padded with zeros) and writes the outputs, one row
 * per image, as an f32 NPY file. Modes: one context for every call (one);
 * two contexts taking turns (two); two threads with a context each
 * (threads); one context, timing the calls (bench, prints microseconds per
 * image). Every mode must write the same bytes.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include NET_HEADER

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { PER_IN = NET_IN_SIZE / NET_BATCH, PER_OUT = NET_OUT_SIZE / NET_BATCH };

typedef struct Job {
  const float *x;               /* the images, scaled, padded to whole batches */
  long count, first, step;      /* batches first, first + step, ... */
  float *out;                   /* COUNT rows of PER_OUT */
  net_ctx *ctx;
  int rc;
} Job;

/* Run batch b with ctx: images [b*NET_BATCH, ...) into out. */
static int run_batch(const Job *j, net_ctx *ctx, long b) {
  float y[NET_OUT_SIZE];
  long i, first = b * NET_BATCH;
  if (net_predict(ctx, j->x + first * PER_IN, y) != 0) return 1;
  for (i = 0; i < NET_BATCH && first + i < j->count; i++)
    memcpy(j->out + (first + i) * PER_OUT, y + i * PER_OUT, sizeof(float) * PER_OUT);
  return 0;
}

static long batches(long count) { return (count + NET_BATCH - 1) / NET_BATCH; }

static void *run_job(void *arg) {
  Job *j = (Job *)arg;
  long b;
  for (b = j->first; b < batches(j->count); b += j->step) j->rc |= run_batch(j, j->ctx, b);
  return NULL;
}

static int write_npy(const char *path, const float *v, long rows, long cols) {
  char head[128];
  int n = snprintf(head, sizeof head, "{'descr': '<f4', 'fortran_order': False, 'shape': (%ld, %ld), }",
                   rows, cols);
  int total = 10 + n + 1, pad = (64 - total % 64) % 64;
  FILE *f = fopen(path, "wb");
  unsigned short hl = (unsigned short)(n + pad + 1);
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
  if (!f) return 1;
  pre[8] = (unsigned char)(hl & 0xff);
  pre[9] = (unsigned char)(hl >> 8);
  fwrite(pre, 1, 10, f);
  fwrite(head, 1, (size_t)n, f);
  while (pad--) fputc(' ', f);
  fputc('\n', f);
  fwrite(v, sizeof(float), (size_t)(rows * cols), f);
  return fclose(f) != 0;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  static net_ctx ctx[2]; /* static: a context may be large for the stack */
  const char *mode = argc > 4 ? argv[4] : "one";
  long count = argc > 2 ? atol(argv[2]) : 0, b;
  unsigned char *pixels;
  float *x, *out;
  long i;
  FILE *f;
  Job j[2];
  int rc = 0;
  if (argc < 4 || count <= 0) {
    fprintf(stderr, "usage: header_test IMAGES.idx COUNT OUT.npy [one|two|threads|bench]\n");
    return 2;
  }
  if (strcmp(NET_SIGNATURE, "") == 0 || strcmp(NET_DLC_VERSION, "") == 0) return 2;
  pixels = (unsigned char *)malloc((size_t)(count * PER_IN));
  out = (float *)calloc((size_t)(count * PER_OUT), sizeof(float));
  f = fopen(argv[1], "rb");
  if (!pixels || !out || !f || fseek(f, 16, SEEK_SET) != 0 ||
      fread(pixels, (size_t)PER_IN, (size_t)count, f) != (size_t)count) {
    fprintf(stderr, "header_test: cannot read %ld images from %s\n", count, argv[1]);
    return 2;
  }
  fclose(f);
  /* as ./m predict scales byte images: (float)(pixel * data.scale) */
  x = (float *)calloc((size_t)(batches(count) * NET_IN_SIZE), sizeof(float));
  if (!x) return 2;
  for (i = 0; i < count * PER_IN; i++) x[i] = (float)((float)pixels[i] * NET_INPUT_SCALE);
  memset(j, 0, sizeof j);
  j[0].x = j[1].x = x;
  j[0].count = j[1].count = count;
  j[0].out = j[1].out = out;
  j[0].ctx = &ctx[0];
  j[1].ctx = &ctx[1];
  if (strcmp(mode, "one") == 0) {
    for (b = 0; b < batches(count); b++) rc |= run_batch(&j[0], &ctx[0], b);
  } else if (strcmp(mode, "two") == 0) {
    for (b = 0; b < batches(count); b++) rc |= run_batch(&j[0], &ctx[b % 2], b);
  } else if (strcmp(mode, "threads") == 0) {
    pthread_t t[2];
    int i;
    for (i = 0; i < 2; i++) {
      j[i].first = i;
      j[i].step = 2;
      if (pthread_create(&t[i], NULL, run_job, &j[i]) != 0) return 2;
    }
    for (i = 0; i < 2; i++) pthread_join(t[i], NULL);
    rc = j[0].rc | j[1].rc;
  } else if (strcmp(mode, "bench") == 0) {
    double t0 = now(), t;
    int r, reps = 0;
    do {
      for (r = 0; r < 10; r++)
        for (b = 0; b < batches(count); b++) rc |= run_batch(&j[0], &ctx[0], b);
      reps += 10;
      t = now() - t0;
    } while (t < 1.0);
    printf("%.2f us per image (batch %d, %d passes over %ld images)\n",
           1e6 * t / ((double)reps * (double)count), NET_BATCH, reps, count);
  } else {
    fprintf(stderr, "header_test: unknown mode '%s'\n", mode);
    return 2;
  }
  if (net_predict(NULL, NULL, NULL) != -1) {
    fprintf(stderr, "header_test: predict accepted NULL pointers\n");
    rc = 1;
  }
  if (rc || write_npy(argv[3], out, count, PER_OUT)) {
    fprintf(stderr, "header_test: failed\n");
    return 1;
  }
  free(pixels);
  free(x);
  free(out);
  return 0;
}
