/* header_ops.c — the header of models/ops.dlm (every operator once, three
 * inputs, one of them i32 labels, four outputs, one of them a scalar), as
 * `dlc header --batch 4` writes it (tests/e2e/header.sh).
 *
 *   header_ops DIR
 *
 * fills the inputs with fixed values, writes them to DIR/x.npy, seq.npy and
 * y.npy for `./ops predict`, runs ops_predict once and writes each output
 * to DIR/got_<name>.npy.
 */
#include "ops.h"

#include <stdio.h>
#include <string.h>

/* An NPY v1.0 file of n 4-byte values of type descr ("<f4", "<i4"). */
static int write_npy(const char *dir, const char *name, const char *descr, const void *v,
                     const int *shape, int rank) {
  char path[512], head[160], dims[64] = "";
  int i, n = 1, len, pad;
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
  FILE *f;
  for (i = 0; i < rank; i++) { /* (), (4,), (4, 8) */
    n *= shape[i];
    snprintf(dims + strlen(dims), sizeof dims - strlen(dims), "%s%d%s", i ? ", " : "", shape[i],
             rank == 1 ? "," : "");
  }
  len = snprintf(head, sizeof head, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                 descr, dims);
  pad = (64 - (10 + len + 1) % 64) % 64;
  snprintf(path, sizeof path, "%s/%s.npy", dir, name);
  f = fopen(path, "wb");
  if (!f) return 1;
  pre[8] = (unsigned char)((len + pad + 1) & 0xff);
  pre[9] = (unsigned char)((len + pad + 1) >> 8);
  fwrite(pre, 1, 10, f);
  fwrite(head, 1, (size_t)len, f);
  while (pad--) fputc(' ', f);
  fputc('\n', f);
  fwrite(v, 4, (size_t)n, f);
  return fclose(f) != 0;
}

int main(int argc, char **argv) {
  static ops_ctx ctx;
  float x[OPS_IN_X_SIZE], seq[OPS_IN_SEQ_SIZE];
  int32_t y[OPS_IN_Y_SIZE];
  float probs[OPS_OUT_PROBS_SIZE], logp[OPS_OUT_LOGP_SIZE], stats[OPS_OUT_STATS_SIZE];
  float losses[OPS_OUT_LOSSES_SIZE];
  const int sx[] = OPS_IN_X_SHAPE, sseq[] = OPS_IN_SEQ_SHAPE, sy[] = OPS_IN_Y_SHAPE;
  const int sprobs[] = OPS_OUT_PROBS_SHAPE, slogp[] = OPS_OUT_LOGP_SHAPE;
  const int sstats[] = OPS_OUT_STATS_SHAPE;
  int i, rc = 0;
  if (argc != 2) return 2;
  for (i = 0; i < OPS_IN_X_SIZE; i++) x[i] = (float)(i * 37 % 100) / 100.0f;
  for (i = 0; i < OPS_IN_SEQ_SIZE; i++) seq[i] = (float)(i * 53 % 97) / 97.0f;
  for (i = 0; i < OPS_IN_Y_SIZE; i++) y[i] = i % 6;
  if (ops_predict(&ctx, x, seq, y, probs, logp, stats, losses) != 0) return 1;
  rc |= write_npy(argv[1], "x", "<f4", x, sx, OPS_IN_X_RANK);
  rc |= write_npy(argv[1], "seq", "<f4", seq, sseq, OPS_IN_SEQ_RANK);
  rc |= write_npy(argv[1], "y", "<i4", y, sy, OPS_IN_Y_RANK);
  rc |= write_npy(argv[1], "got_probs", "<f4", probs, sprobs, OPS_OUT_PROBS_RANK);
  rc |= write_npy(argv[1], "got_logp", "<f4", logp, slogp, OPS_OUT_LOGP_RANK);
  rc |= write_npy(argv[1], "got_stats", "<f4", stats, sstats, OPS_OUT_STATS_RANK);
  rc |= write_npy(argv[1], "got_losses", "<f4", losses, NULL, OPS_OUT_LOSSES_RANK);
  return rc;
}
