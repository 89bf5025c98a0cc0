# Every dimension is at least 1.
input x: f32[N, 784]
param W: f32[784, 0]
output y = matmul(x, W)
