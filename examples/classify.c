/* classify.c — a C program with a trained network inside: it includes the
 * header that `dlc header` wrote for models/mlp.dlm and classifies
 * Fashion-MNIST test images with it. No runtime, no allocation for the
 * network, no files but the images.
 *
 *   dlc header models/mlp.dlm --weights mlp.ckpt -o mlp.h
 *   cc -std=c99 -O2 -I. examples/classify.c -o classify -lm
 *   ./classify t10k-images-idx3-ubyte t10k-labels-idx1-ubyte 10
 *
 * The image and label files are uncompressed IDX (gzip -dc the data set's
 * .gz files). `make demo` runs it on the model it has just trained.
 */
#include "mlp.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const class_name[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                           "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                                           "Ankle boot"};

/* The header's network: one image in, ten class probabilities out. */
enum { PIXELS = MLP_IN_SIZE / MLP_BATCH, CLASSES = MLP_OUT_SIZE / MLP_BATCH };

static FILE *open_idx(const char *path, long header) {
  FILE *f = fopen(path, "rb");
  if (!f || fseek(f, header, SEEK_SET) != 0) {
    fprintf(stderr, "classify: cannot read %s\n", path);
    exit(1);
  }
  return f;
}

int main(int argc, char **argv) {
  static mlp_ctx ctx; /* the network's working memory, MLP_CTX_BYTES bytes */
  float x[MLP_IN_SIZE] = {0}, p[MLP_OUT_SIZE];
  unsigned char pixels[PIXELS], label;
  long n = argc > 3 ? atol(argv[3]) : 10, i, correct = 0;
  FILE *fi, *fl;
  int j, best;
  if (argc < 3 || MLP_BATCH != 1 || CLASSES != 10) {
    fprintf(stderr, "usage: classify IMAGES.idx LABELS.idx [COUNT] (a header of batch 1)\n");
    return 2;
  }
  fi = open_idx(argv[1], 16); /* IDX headers: 16 bytes for images, 8 for labels */
  fl = open_idx(argv[2], 8);
  printf("model %s (dlc %s), %d weight bytes, %d bytes of working memory\n", MLP_SIGNATURE,
         MLP_DLC_VERSION, MLP_WEIGHT_BYTES, MLP_CTX_BYTES);
  for (i = 0; i < n; i++) {
    if (fread(pixels, 1, PIXELS, fi) != PIXELS || fread(&label, 1, 1, fl) != 1) break;
    for (j = 0; j < PIXELS; j++) x[j] = (float)(pixels[j] * MLP_INPUT_SCALE); /* as in training */
    if (mlp_predict(&ctx, x, p) != 0) return 1;
    for (best = 0, j = 1; j < CLASSES; j++)
      if (p[j] > p[best]) best = j;
    correct += best == label;
    printf("image %2ld: %-11s %5.1f%%   true: %s%s\n", i, class_name[best], 100.0 * p[best],
           class_name[label], best == label ? "" : "  (wrong)");
  }
  printf("%ld of %ld right\n", correct, i);
  fclose(fi);
  fclose(fl);
  return 0;
}
