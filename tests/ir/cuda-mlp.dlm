# The CUDA backend: each kernel becomes an extern "C" __global__ function
# taking the frame by value; a dense layer's product is the tiled shared-
# memory gemm (its bias + relu epilogue a second function, a thread per
# panel and row of C); elementwise kernels take a thread per element of
# their parallel loop; buffers are the frame's region bases plus the
# planner's offsets (per sample, times N, in the batch region); each
# function states its launch, grid sizes as expressions of N.
#
# RUN: %dlc dump %s --emit cuda | %FileCheck %s
# RUN: %dlc dump %s --emit cuda | %FileCheck %s --check-prefix=TRAIN
input x: f32[N, 784]
label y: i32[N] classes 10
h = relu(dense(x, 64))
logits = dense(h, 10)
output p = softmax(logits)
train {
  loss = cross_entropy(logits, y)
  optimizer = sgd(lr = 0.1, momentum = 0.9)
  batch = 32
}

# CHECK: typedef struct dlc_frame {
# CHECK-NEXT: char *base[6];
# CHECK-NEXT: long long N;
# CHECK-NEXT: float hyper[16];
# CHECK: __device__ void dlc_gemm_tile(float *C, const float *A, const float *B
# CHECK: __shared__ float As[TK][TM + 4];
# CHECK: __syncthreads();
# CHECK-LABEL: ---- entry forward:
# CHECK: /* k0_matmul_relu (product): %{{[0-9]+}} @ {{.*}}cuda-mlp.dlm:13:5
# CHECK-NEXT: launch: grid (((f.N + 63LL) / 64LL), (127LL / 64LL), dlc_min(1LL, 65535LL)) x 256 threads */
# CHECK-NEXT: extern "C" __global__ void __launch_bounds__(256) forward_k0_matmul_relu(const dlc_frame f) {
# CHECK: const long long M = f.N;
# CHECK-NEXT: const long long N = 64LL;
# CHECK-NEXT: const long long K = 784LL;
# CHECK: for (long long bt = blockIdx.z; bt < batch; bt += gridDim.z)
# CHECK-NEXT: dlc_gemm_tile(b0 + bt * sc, b1 + bt * sa, b2 + bt * sb, M, N, K, ars, aks, ldb, bns, ldc);
# CHECK: __global__ void __launch_bounds__(256) forward_k0_matmul_relu_epi(const dlc_frame f) {
# CHECK-NEXT: const long long t = (long long)blockIdx.x * 256 + threadIdx.x;
# CHECK: const long long rows = f.N;
# CHECK-NEXT: const long long v0 = t / rows;
# CHECK: = dlc_max((b0[v{{[0-9]+}}] + b{{[0-9]}}[v{{[0-9]+}}]), 0.0f);
# CHECK: forward_k{{[0-9]+}}_softmax(const dlc_frame f) {
# CHECK: expf(

# The training step: momentum reads the learning rate from the frame, the
# update writes the weights region (base[1]) in place; a flat elementwise
# kernel (blocks of 4096 elements on the CPU) takes a thread per element.
# TRAIN-LABEL: ---- entry train:
# TRAIN: const long long v0 = t / 4096LL;
# TRAIN-NEXT: (void)v0;
# TRAIN-NEXT: v{{[0-9]+}} = t;
# TRAIN: __global__ void __launch_bounds__(256) train_k{{[0-9]+}}_
# TRAIN: f.hyper[{{[0-9]+}}]
# TRAIN: float *const b{{[0-9]}} = (float *)(f.base[1] +
