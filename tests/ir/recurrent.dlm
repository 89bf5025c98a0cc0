# A recurrent layer is one op over the whole sequence: the input
# projection of every step is one matmul before it, the training graph has
# its _grad op (a second loop, backwards), given the gradient of h alone
# [N, T, H] rather than of every column, and the gradient of Whh is one
# matmul over all N*T rows of h shifted by a step. The kernels are the
# first step, then a repeat of T-1 iterations of the step's product (a
# gemm with offsets that depend on the iteration) and the cell; in CUDA C
# the iteration is the frame's iter.
#
# RUN: %dlc dump %s | %FileCheck %s
# RUN: %dlc dump %s --after dce --graph train | %FileCheck %s --check-prefix=TRAIN
# RUN: %dlc dump %s --emit kir | %FileCheck %s --check-prefix=KIR
# RUN: %dlc dump %s --emit cuda | %FileCheck %s --check-prefix=CUDA
input x: f32[N, 6, 3]
label y: i32[N] classes 2
logits = dense(lstm(x, 4, last = true), 2)
output p = softmax(logits)
train {
  loss = cross_entropy(logits, y)
}

# CHECK:      [[XP:%[0-9]+]] = matmul %0, %2 : f32[N,6,16]
# CHECK-NEXT: [[XB:%[0-9]+]] = add [[XP]], %4 : f32[N,6,16]
# CHECK-NEXT: [[S:%[0-9]+]] = lstm [[XB]], %3 reverse=0 : f32[N,6,24]
# CHECK-NEXT: = slice [[S]] axis=2 start=20 end=24 : f32[N,6,4]

# TRAIN:      [[S:%[0-9]+]] = lstm {{%[0-9]+}}, [[WHH:%[0-9]+]] reverse=0 : f32[N,6,24]
# TRAIN:      [[DH:%[0-9]+]] = concat {{%[0-9]+}}, {{%[0-9]+}} axis=1 : f32[N,6,4]
# TRAIN-NEXT: [[R:%[0-9]+]] = lstm_grad [[DH]], [[S]], [[WHH]] reverse=0 : f32[N,6,24]
# TRAIN:      [[DHP:%[0-9]+]] = slice [[R]] axis=2 start=0 end=16 : f32[N,6,16]
# TRAIN:      = concat {{%[0-9]+}}, {{%[0-9]+}} axis=1 : f32[N,6,4]
# TRAIN:      = matmul {{%[0-9]+}}, {{%[0-9]+}} : f32[4,16]

# KIR:      kernel k{{[0-9]+}}_lstm_cell
# KIR:      repeat iter in [0, 5) {
# KIR:      kernel k{{[0-9]+}}_lstm_product
# KIR:      gemm b0 = b0 x b1: M=N N=16 K=4
# KIR-SAME: a_off=((((iter + 1) + -1) * 24) + 20) c_off=((iter + 1) * 24)
# KIR:      kernel k{{[0-9]+}}_lstm_cell
# KIR:      }  # repeat

# CUDA:      void __launch_bounds__(256) forward_k{{[0-9]+}}_lstm_product(const dlc_frame f) {
# CUDA:        const long long oc = ((f.iter + 1LL) * 24LL);
# CUDA-NEXT:   const long long oa = ((((f.iter + 1LL) + (-1LL)) * 24LL) + 20LL);
# CUDA:        dlc_gemm_tile(b0 + oc + bt * sc, b0 + oa + bt * sa, b1 + bt * sb, M, N, K, ars, aks, ldb, bns, ldc);
# CUDA:      forward_k{{[0-9]+}}_lstm_cell(const dlc_frame f) {
# CUDA:      b1[((((v0 * 6LL) + (f.iter + 1LL)) * 24LL) + v1)]
