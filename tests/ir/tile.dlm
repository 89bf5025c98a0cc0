# Sample tiling (passes/tile.c, codegen/tile.c): the kernels that work
# sample by sample say so ([per sample U]: units of the parallel loop per
# sample); runs of them become groups that the CPU backend runs a few
# samples at a time, one parallel job per group, with the batch sums
# between them (bias gradients) deferred to after it. A tensor that only
# one group's members touch (the columns of im2col, forward and, built
# again by convgemm, for the weight gradient) lives in the group's
# per-thread scratch (region tile) instead of the batch's arena; with
# --disable-pass tile the weight gradient reads the forward's columns
# (one im2col per convolution) and nothing is in tile. An im2col with unit
# column stride carries a KCols description (codegen/codegen.h), which the
# LLVM backend runs as masked vector runs instead of a copy call per run.
#
# RUN: %dlc dump %s --graph train --emit kir | %FileCheck %s
# RUN: %dlc dump %s --graph train --emit llvm | %FileCheck %s --check-prefix=LLVM
# RUN: %dlc dump %s --graph train --emit kir --disable-pass tile | %FileCheck %s --check-prefix=OFF
input image: f32[N, 1, 28, 28]
label y: i32[N] classes 10
h = maxpool(relu(conv2d(image, 6, 5, pad = 2)), 2)
h = maxpool(relu(conv2d(h, 8, 3)), 2)
logits = dense(flatten(h), 10)
output p = softmax(logits)
train {
  loss = cross_entropy(logits, y)
  optimizer = sgd(lr = 0.01)
  batch = 8
  epochs = 1
}

# CHECK: kernel k0_im2col {{.*}} [per sample 1]
# CHECK-NEXT: b0: f32 %[[COL:[0-9]+]] tile+0 (out)
# CHECK: columns b0 = b1: vector runs of 28
# CHECK: kernel k1_matmul_relu {{.*}} [per sample 25]
# CHECK: b{{[0-9]}}: f32 %[[COL]] tile+0
# CHECK: kernel k2_max_pool2d {{.*}} [per sample 6]
# CHECK: max_pool2d_grad {{.*}} [per sample 8]
# CHECK: _sum {{.*}}
# CHECK: im2col {{.*}} [per sample 1]
# CHECK-NEXT: b0: f32 %{{[0-9]+}} tile+{{[0-9]+}} (out)
# CHECK: im2col {{.*}} [per sample 1]
# CHECK-NEXT: b0: f32 %{{[0-9]+}} tile+{{[0-9]+}} (out)

# LLVM: call void @dlrt_parallel({{.*}} @dlrt_train_step.tile0,
# LLVM: call void @dlrt_parallel({{.*}} @dlrt_train_step.tile{{[0-9]+}},
# LLVM: define internal void @dlrt_train_step.tile0(
# LLVM: call i8* @dlrt_tile_scratch(i64

# OFF-NOT: tile+
# OFF: max_pool2d_grad
# OFF-NOT: im2col
# OFF-NOT: tile+
