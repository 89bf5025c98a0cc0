# Max pooling whose windows tile each plane in pairs of columns (kernel
# KH x 2, stride KH x 2, no padding) is lowered parallel over the N*C
# planes with a KPool description, forward and gradient, in the training
# step (the inference graph keeps its pooling blocked). The LLVM backend
# runs it as whole-row vector loads split into even and odd columns by
# shuffles, where the loops would have been vectorized with gathers.
#
# RUN: %dlc dump %s --emit kir --graph train | %FileCheck %s
# RUN: %dlc dump %s --emit llvm --graph train | %FileCheck %s --check-prefix=LLVM
input image: f32[N, 1, 28, 28]
label y: i32[N] classes 10
h = maxpool(relu(conv2d(image, 4, 3, pad = 1)), 2)
h = maxpool(h, [3, 2])
logits = dense(flatten(h), 10)
output p = softmax(logits)
train {
  loss = cross_entropy(logits, y)
  optimizer = sgd(lr = 0.01)
  batch = 8
  epochs = 1
}

# CHECK: kernel k2_max_pool2d
# CHECK: pool b1 = b0: windows 2x2 of planes 28x28
# CHECK-NEXT: parallel v0 in [0, (N * 4))
# CHECK: kernel k3_max_pool2d
# CHECK: pool b1 = b0: windows 3x2 of planes 14x14
# CHECK: max_pool2d_grad
# CHECK: pool gradient b0 = b2 at the first maximum of b1: windows 3x2 of planes 14x14
# CHECK: max_pool2d_grad
# CHECK: pool gradient b0 = b2 at the first maximum of b1: windows 2x2 of planes 28x28
# CHECK-NEXT: parallel v0 in [0, (N * 4))

# LLVM-LABEL: define internal {{.*}}void @train.k2_max_pool2d(
# LLVM-NOT: gather
# LLVM: shufflevector {{.*}} <i32 0, i32 2, i32 4, i32 6,
# LLVM: shufflevector {{.*}} <i32 1, i32 3, i32 5, i32 7,
# LLVM-NOT: gather
# LLVM: {{^}$}}
