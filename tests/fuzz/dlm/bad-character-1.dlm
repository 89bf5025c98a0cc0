# There is no matrix-product operator.
input x: f32[N, 784]
param W: f32[784, 10]
output y = x @ W
