# A convolution (a product per image after convgemm), its bias and relu
# are one kernel in inference and in the training step: the product's
# panels get bias + relu in place. Pooling reads that output directly.
#
# RUN: %dlc dump %s --emit kir | %FileCheck %s
# RUN: %dlc dump %s --graph train --after fuse | %FileCheck %s --check-prefix=TRAIN
input x: f32[N, 2, 8, 8]
label t: i32[N] classes 3
h = relu(conv2d(x, 4, kernel = 3, pad = 1))
logits = dense(flatten(maxpool(h, 2)), 3)
output y = softmax(logits)

train {
  loss = cross_entropy(logits, t)
  optimizer = sgd(lr = 0.1)
}

# CHECK: kernel k0_im2col
# CHECK: kernel k1_matmul_relu
# CHECK: gemm [[C:b[0-9]]] = b{{[0-9]}} x b{{[0-9]}}: M=4 N=64 K=18 {{.*}} batch=N
# CHECK: after panel v0 {
# CHECK: [[C]][[[E:v[0-9]+]]] = max(([[C]][[[E]]] + b{{[0-9]}}[{{v[0-9]+}}]), 0)
# CHECK: kernel k2_max_pool2d

# TRAIN: [[MM:%[0-9]+]] = matmul {{%[0-9]+}}, {{%[0-9]+}} : f32[N,4,64] {{.*}}# into [[A:%[0-9]+]]
# TRAIN: [[V:%[0-9]+]] = reshape [[MM]] : f32[N,4,8,8]
# TRAIN: [[A]] = add [[V]], {{.*}}# into [[R:%[0-9]+]]
# TRAIN: [[R]] = relu {{.*}}9:5{{$}}
