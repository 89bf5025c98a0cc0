# The CUDA backend runs a kernel whose parallel loop is the batch with a
# thread per iteration of its perfect loop nest when it can prove that the
# iterations touch disjoint elements: pooling and im2col get a thread per
# output element (N * 6 * 14 * 14, N * 1 * 5 * 5 * 28), and a recurrent
# cell a thread per (sample, unit) although it writes each unit's gates H
# apart. col2im, whose windows overlap (it adds into the same elements
# from several taps), keeps a thread per sample, and so do softmax rows.
#
# RUN: %dlc dump %s --emit cuda --graph forward | %FileCheck %s
# RUN: %dlc dump %s --emit cuda --graph train | %FileCheck %s --check-prefix=TRAIN
input image: f32[N, 1, 28, 28]
label y: i32[N] classes 10
h = maxpool(relu(conv2d(image, 6, 5, pad = 2)), 2)
h = relu(conv2d(h, 4, 3))
s = lstm(reshape(h, [N, 4, 144]), 8, last = true)
logits = dense(s, 10)
output p = softmax(logits)
train {
  loss = cross_entropy(logits, y)
}

# CHECK: /* k0_im2col: %{{[0-9]+}} @ {{.*}}cuda-nest.dlm:13:18
# CHECK-NEXT: launch: grid ((((f.N * 700LL) + 255LL) / 256LL), 1LL, 1LL) x 256 threads */
# CHECK: const long long v0 = t / 700LL;
# CHECK-NEXT: v1 = t / 700LL % 1LL;
# CHECK-NEXT: v2 = t / 140LL % 5LL;
# CHECK-NEXT: v3 = t / 28LL % 5LL;
# CHECK-NEXT: v4 = t / 1LL % 28LL;
# CHECK: max_pool2d: %{{[0-9]+}}
# CHECK-NEXT: launch: grid (((((f.N * 6LL) * 196LL) + 255LL) / 256LL), 1LL, 1LL) x 256 threads */
# CHECK: lstm_cell: %{{[0-9]+}}
# CHECK-NEXT: launch: grid ((((f.N * 8LL) + 255LL) / 256LL), 1LL, 1LL) x 256 threads */
# CHECK: softmax: %{{[0-9]+}}
# CHECK-NEXT: launch: grid (((f.N + 255LL) / 256LL), 1LL, 1LL) x 256 threads */

# TRAIN: col2im: %{{[0-9]+}}
# TRAIN-NEXT: launch: grid (((f.N + 255LL) / 256LL), 1LL, 1LL) x 256 threads */
