# A misspelt initializer.
input x: f32[N, 784]
param W: f32[784, 10] init xavir
output logits = matmul(x, W)
