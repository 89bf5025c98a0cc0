# Batch norm outside training is a fixed per-channel affine map, and
# bnfold folds it into the conv2d or matmul before it: the weights are
# scaled per output channel by s = gamma / sqrt(running_var + eps), and the
# conv's bias, the running mean and beta become one add. A batch norm after
# a relu stays as it is. --disable-pass bnfold keeps every batch norm; the
# training step uses the batch statistics and writes the running averages.
#
# RUN: %dlc dump %s --after bnfold --verify-each | %FileCheck %s
# RUN: %dlc dump %s --after dce | %FileCheck %s --check-prefixes=DCE,CLEAN
# RUN: %dlc dump %s --after dce --graph eval | %FileCheck %s --check-prefixes=DCE,CLEAN
# RUN: %dlc dump %s --after dce --disable-pass bnfold | %FileCheck %s --check-prefix=OFF
# RUN: %dlc dump %s --after dce --graph train | %FileCheck %s --check-prefix=TRAIN
input x: f32[N, 3, 8, 8]
label y: i32[N] classes 4
h = relu(batchnorm(conv2d(x, 4, pad = 1)))       # folds: conv + bias + bn
h = flatten(maxpool(h, 2))                       # [N, 64]
h = batchnorm(dense(h, 16, bias = false))        # folds: matmul + bn
h = batchnorm(relu(h), momentum = 0.5)           # stays: relu before it
logits = dense(h, 4)
output p = softmax(logits)
train {
  loss = cross_entropy(logits, y)
}

# The new nodes take the place of the chain's last node (beta's add); the
# old chain is left for dce.
# CHECK:      # after bnfold
# CHECK:      [[B:%[0-9]+]] = reshape %4 : f32[4,1,1]
# CHECK:      [[RM:%[0-9]+]] = reshape %9 : f32[4,1,1]
# CHECK:      [[S:%[0-9]+]] = reshape {{%[0-9]+}} : f32[4,1,1]
# CHECK:      [[BETA:%[0-9]+]] = reshape %8 : f32[4,1,1]
# CHECK:      [[T1:%[0-9]+]] = sub [[B]], [[RM]] : f32[4,1,1]
# CHECK-NEXT: [[T2:%[0-9]+]] = mul [[T1]], [[S]] : f32[4,1,1]
# CHECK-NEXT: [[T:%[0-9]+]] = add [[T2]], [[BETA]] : f32[4,1,1] @"{{.*}}bnfold.dlm":15:10
# CHECK-NEXT: [[S4:%[0-9]+]] = reshape [[S]] : f32[4,1,1,1]
# CHECK-NEXT: [[W:%[0-9]+]] = mul %2, [[S4]] : f32[4,3,3,3]
# CHECK-NEXT: [[C:%[0-9]+]] = conv2d %0, [[W]] stride=[1,1] pad=[1,1] dilation=[1,1] groups=1 : f32[N,4,8,8] @"{{.*}}bnfold.dlm":15:20
# CHECK-NEXT: [[Y:%[0-9]+]] = add [[C]], [[T]] : f32[N,4,8,8]
# CHECK-NEXT: relu [[Y]]

# After the cleanup passes: one conv2d and one matmul with scaled weights,
# no batch statistics; the third batch norm is still there.
# DCE:      = mul %2, {{%[0-9]+}} : f32[4,3,3,3]
# DCE-NEXT: = conv2d %0, {{%[0-9]+}}
# DCE-NOT:  conv2d
# DCE:      [[S:%[0-9]+]] = div {{%[0-9]+}}, {{%[0-9]+}} : f32[16] @"{{.*}}bnfold.dlm":17:5
# DCE:      [[W2:%[0-9]+]] = mul {{%[0-9]+}}, [[S]] : f32[64,16]
# DCE-NEXT: [[M:%[0-9]+]] = matmul {{%[0-9]+}}, [[W2]] : f32[N,16]
# DCE-NEXT: = add [[M]], {{%[0-9]+}} : f32[N,16]
# DCE:      [[R:%[0-9]+]] = relu
# DCE:      = sub [[R]], {{%[0-9]+}} : f32[N,16] @"{{.*}}bnfold.dlm":18:5
# CLEAN-NOT: running_stat
# CLEAN-NOT: batch_size
# CLEAN-NOT: = mean {{.*}} : f32[{{4|16}}]

# OFF-NOT: = mul %2,
# OFF:     [[C:%[0-9]+]] = conv2d %0, %2
# OFF:     = add [[C]], {{%[0-9]+}} : f32[N,4,8,8]
# OFF:     = sub {{%[0-9]+}}, {{%[0-9]+}} : f32[N,4,8,8]
# OFF-NOT: running_stat

# TRAIN:     [[M:%[0-9]+]] = mean {{%[0-9]+}} keepdims=0 axes=[0,2,3] : f32[4]
# TRAIN-NEXT: [[MR:%[0-9]+]] = reshape [[M]] : f32[4,1,1]
# TRAIN-NEXT: = sub {{%[0-9]+}}, [[MR]] : f32[N,4,8,8]
# TRAIN-NOT: running_stat
# TRAIN:     = const value=0.9 : f32[]
# TRAIN:     = assign %9, {{%[0-9]+}} : f32[4]
# TRAIN:     = assign %10, {{%[0-9]+}} : f32[4]
# TRAIN:     = const value=0.5 : f32[]
# TRAIN:     = assign %{{[0-9]+}}, {{%[0-9]+}} : f32[16] @"{{.*}}bnfold.dlm":18:5
