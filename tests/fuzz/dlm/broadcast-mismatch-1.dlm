# A bias must match the last dimension.
input x: f32[N, 784]
param W: f32[784, 10]
param b: f32[20]
output logits = matmul(x, W) + b
