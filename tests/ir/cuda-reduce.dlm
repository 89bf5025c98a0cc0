# Reductions whose reduced range is long run on the CUDA target as block
# reductions, from the KReduce description lowering attaches to every
# sum, mean and max kernel (the kernel IR shows it in one line; its loops
# stay as they were, for the CPU):
#   - the bias gradient of the 48-unit dense layer, [N, 48] summed over N:
#     a block per 32 columns, thread (c, g) adding rows g, g + 8, ... of
#     column c, the 8 partials of a column combined in order after one
#     __syncthreads;
#   - the loss, the mean over N of [N], the bias gradient of the last
#     layer ([N, 10] over N: too few columns to fill a block) and that of
#     the convolution ([N, 4, 10, 10] over axes 0, 2, 3): a block per
#     output, thread t combining elements t, t + 256, ..., then 16
#     threads combining every 16th partial and thread 0 those 16, in order;
#   - the max over the 10 x 10 of each map, 100 values while the outputs,
#     N x 4, grow with N, keeps a thread per output and no barrier.
#
# RUN: %dlc dump %s --emit cuda | %FileCheck %s
# RUN: %dlc dump %s --emit kir --graph train | %FileCheck %s --check-prefix=KIR
input image: f32[N, 1, 12, 12]
label y: i32[N] classes 10
h = relu(conv2d(image, 4, 3))
s = max(h, axes = [2, 3])
h = relu(dense(s, 48))
logits = dense(h, 10)
output p = softmax(logits)
train {
  loss = cross_entropy(logits, y)
}

# CHECK-LABEL: ---- entry forward:
# CHECK: /* k{{[0-9]+}}_max: %{{[0-9]+}} @ {{.*}}cuda-reduce.dlm:22:5
# CHECK-NEXT: launch: grid ((((f.N * 4LL) + 255LL) / 256LL), 1LL, 1LL) x 256 threads */
# CHECK-NOT: __syncthreads
# CHECK-NOT: DLC_BLOCK_SYNC(forward_k{{[0-9]+}}_max)
# CHECK: ---- entry eval:
# CHECK-LABEL: ---- entry train:

# The loss.
# CHECK: /* k{{[0-9]+}}_mean (a block per output): %{{[0-9]+}} @ {{.*}}cuda-reduce.dlm:27:10
# CHECK-NEXT: launch: grid (1LL, 1LL, 1LL) x 256 threads */
# CHECK-NEXT: extern "C" __global__ void __launch_bounds__(256) [[MEAN:train_k[0-9]+_mean]](const dlc_frame f) {
# CHECK-NEXT: __shared__ float part[256];
# CHECK: const int t = threadIdx.x;
# CHECK-NEXT: float acc = 0.0f;
# CHECK-NEXT: const long long o = blockIdx.x, count = f.N;
# CHECK-NEXT: const float *const x = b0 + 0LL;
# CHECK-NEXT: for (long long j = t; j < count; j += 256)
# CHECK-NEXT: acc = acc + x[j];
# CHECK-NEXT: part[t] = acc;
# CHECK-NEXT: __syncthreads();
# CHECK-NEXT: if (t < 16) {
# CHECK-NEXT: for (int i = 16; i < 256; i += 16)
# CHECK-NEXT: acc = acc + part[t + i];
# CHECK-NEXT: part[t] = acc;
# CHECK-NEXT: }
# CHECK-NEXT: __syncthreads();
# CHECK-NEXT: if (t == 0) {
# CHECK-NEXT: for (int i = 1; i < 16; i++)
# CHECK-NEXT: acc = acc + part[i];
# CHECK-NEXT: b1[o] = acc / (float)count;
# CHECK-NEXT: }
# CHECK-NEXT: }
# CHECK-NEXT: DLC_BLOCK_SYNC([[MEAN]])

# The last layer's bias gradient: 10 columns, a block each.
# CHECK: /* k{{[0-9]+}}_sum (a block per output): %{{[0-9]+}} @ {{.*}}cuda-reduce.dlm:24:10
# CHECK-NEXT: launch: grid (10LL, 1LL, 1LL) x 256 threads */
# CHECK: const long long o = blockIdx.x, count = f.N;
# CHECK-NEXT: const float *const x = b0 + o;
# CHECK-NEXT: for (long long j = t; j < count; j += 256)
# CHECK-NEXT: acc = acc + x[j * 10LL];

# The dense layer's bias gradient: 48 columns, 2 blocks.
# CHECK: /* k{{[0-9]+}}_sum_rows (a block per 32 columns): %{{[0-9]+}} @ {{.*}}cuda-reduce.dlm:23:10
# CHECK-NEXT: launch: grid (2LL, 1LL, 1LL) x 256 threads */
# CHECK-NEXT: extern "C" __global__ void __launch_bounds__(256) [[ROWS:train_k[0-9]+_sum_rows]](const dlc_frame f) {
# CHECK-NEXT: __shared__ float part[256];
# CHECK: const int t = threadIdx.x;
# CHECK-NEXT: float acc = 0.0f;
# CHECK-NEXT: const int c = t % 32, g = t / 32;
# CHECK-NEXT: const long long rows = f.N, col = blockIdx.x % 2LL * 32 + c;
# CHECK-NEXT: if (col < 48LL) {
# CHECK-NEXT: const float *const x = b{{[0-9]}} + col;
# CHECK-NEXT: for (long long i = g; i < rows; i += 8)
# CHECK-NEXT: acc = acc + x[i * 48LL];
# CHECK-NEXT: }
# CHECK-NEXT: part[t] = acc;
# CHECK-NEXT: __syncthreads();
# CHECK-NEXT: if (g == 0 && col < 48LL) {
# CHECK-NEXT: for (int i = 1; i < 8; i++)
# CHECK-NEXT: acc = acc + part[c + i * 32];
# CHECK-NEXT: b{{[0-9]}}[col] = acc;
# CHECK-NEXT: }
# CHECK-NEXT: }
# CHECK-NEXT: DLC_BLOCK_SYNC([[ROWS]])

# The convolution's bias gradient: over N and the 10 x 10 of each map.
# CHECK: /* k{{[0-9]+}}_sum (a block per output): %{{[0-9]+}} @ {{.*}}cuda-reduce.dlm:21:10
# CHECK-NEXT: launch: grid (4LL, 1LL, 1LL) x 256 threads */
# CHECK: const long long o = blockIdx.x, count = (f.N * 100LL);
# CHECK-NEXT: const float *const x = b0 + o * 100LL;
# CHECK-NEXT: for (long long j = t; j < count; j += 256)
# CHECK-NEXT: acc = acc + x[(j / 100LL) * 400LL + (j % 100LL)];

# KIR: kernel k{{[0-9]+}}_max
# KIR: reduce b1 = max b0 f32[N,4,10,10] over axes (2, 3)
# KIR-NEXT: parallel v0 in [0, N) {
# KIR: kernel k{{[0-9]+}}_mean
# KIR: reduce b1 = mean b0 f32[N] over axes (0)
# KIR-NEXT: parallel v0 in [0, 1) {
# KIR: kernel k{{[0-9]+}}_sum
# KIR: reduce b1 = sum b0 f32[N,10] over axes (0)
# KIR: kernel k{{[0-9]+}}_sum_rows
# KIR: reduce b0 = sum b1 f32[N,48] over axes (0)
# KIR-NEXT: parallel v0 in [0, 1) {
# KIR: kernel k{{[0-9]+}}_sum
# KIR: reduce b1 = sum b0 f32[N,4,10,10] over axes (0, 2, 3)
# KIR-NEXT: parallel v0 in [0, 4) {
