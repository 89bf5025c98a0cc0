# The inner dimensions of a matrix product must agree.
input x: f32[N, 784]
param W1: f32[784, 128] init he
param W2: f32[256, 10]
h = relu(matmul(x, W1))
output logits = matmul(h, W2)
