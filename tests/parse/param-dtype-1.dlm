# Parameters are trained, so they are f32.
input x: f32[N, 784]
param W: i32[784, 10]
output logits = matmul(x, W)
