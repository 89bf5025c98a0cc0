# Parameters are shared by the whole batch.
input x: f32[N, 784]
param b: f32[N, 10]
output y = dense(x, 10) + b
