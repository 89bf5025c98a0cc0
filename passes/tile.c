/* tile.c — sample tiling: the training step and inference run chains of
 * per-sample kernels a few samples at a time.
 *
 * The one idea: a convolutional net's kernels each sweep the whole batch
 * (im2col writes 5 MB for LeNet-5's first layer at batch 64, and the
 * product after it reads them back from the last-level cache). When
 * consecutive kernels each work sample by sample (Kernel.per_sample), the
 * CPU backend runs them together on a few samples at a time instead, so
 * what one writes the next reads from L2. Which kernels qualify, and
 * whether the memory plan lets them run interleaved, is decided in
 * codegen/tile.c, where the kernels exist. This pass switches it on for a
 * graph (so that --disable-pass tile measures it) before convgemm, which
 * then builds a convolution's weight gradient its own columns, beside it
 * in the backward group, instead of keeping the forward's in memory.
 */
#include "passes.h"

void pass_tile(Graph *g) { g->tile = true; }
