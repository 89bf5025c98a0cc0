# The blocked convolution's code: a first layer reads its plain image with
# one lane (no padding channels: [N,1,28,28,1]), the second its blocked
# input; the bias, relu and pooling run on blocked values, and one
# from_blocked feeds the flatten. In the LLVM IR, each conv2d_blocked
# kernel multiply-adds whole blocks of 8 output channels as <8 x float>
# vectors, several output columns at once (one accumulator vector each;
# two blocks' worth for the 16 channels of the second layer),
# and the KIR shows the tiles: a loop over the inside tiles of a row
# (every tap in the image) between tiles checked for padding.
# RUN: %dlc dump %s --after layout | %FileCheck %s
# RUN: %dlc dump %s --emit kir | %FileCheck %s --check-prefix=KIR
# RUN: %dlc dump %s --emit llvm | %FileCheck %s --check-prefix=IR
# The CUDA target leaves the layout pass out, and its kernels are dumped
# as that target builds them: im2col and products, no blocked kernels.
# RUN: %dlc dump %s --emit kir --target cuda | %FileCheck %s --check-prefix=CUDA
# RUN: %dlc dump %s --after layout --target cuda 2>&1 | %FileCheck %s --check-prefix=NOLAYOUT
input x: f32[N, 1, 28, 28]
h = maxpool(relu(conv2d(x, 8, kernel = 3, pad = 1)), 2)    # [N, 8, 14, 14]
h = relu(conv2d(h, 16, kernel = 3, pad = 1))               # [N, 16, 14, 14]
output y = dense(flatten(h), 10)

# CHECK:     # after layout
# CHECK:     [[X1:%[0-9]+]] = reshape %0 : f32[N,1,28,28,1]
# CHECK:     conv2d_blocked [[X1]], {{%[0-9]+}} stride=[1,1] pad=[1,1] dilation=[1,1] : f32[N,1,28,28,8]
# CHECK:     max_pool2d {{%[0-9]+}} kernel=[2,2] stride=[2,2] pad=[0,0] : f32[N,1,14,14,8]
# CHECK:     conv2d_blocked {{%[0-9]+}}, {{%[0-9]+}} stride=[1,1] pad=[1,1] dilation=[1,1] : f32[N,2,14,14,8]
# CHECK:     from_blocked {{%[0-9]+}} axis=1 channels=16 : f32[N,16,14,14]
# CHECK-NOT: blocked

# KIR:     kernel k{{[0-9]+}}_conv2d_blocked
# (one block of 8 channels, 28 columns: tiles of 10, 10 and 8, the
# middle one without padding taps)
# KIR:     for v{{[0-9]+}} in [1, 2) {
# KIR:     kernel k{{[0-9]+}}_conv2d_blocked

# IR-LABEL: define internal void @forward.k{{[0-9]+}}_conv2d_blocked(
# IR:       phi <8 x float>
# IR:       call <8 x float> @llvm.fmuladd.v8f32(<8 x float>
# IR-LABEL: define internal void @forward.k{{[0-9]+}}_conv2d_blocked(
# IR:       call <8 x float> @llvm.fmuladd.v8f32(<8 x float>

# CUDA-NOT: blocked
# CUDA:     kernel k0_im2col
# CUDA-NOT: blocked
# NOLAYOUT: warning: --after layout: the pass is disabled (by --disable-pass or by the target); nothing is dumped
# NOLAYOUT-NOT: # after
