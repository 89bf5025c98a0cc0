# A parameter declared twice.
input x: f32[N, 784]
param W: f32[784, 10]
param W: f32[784, 10] init zeros
output logits = matmul(x, W)
