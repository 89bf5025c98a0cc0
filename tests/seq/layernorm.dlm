# layer norm over the last axis, with a learned gain and bias
input x: f32[N, 3, 6]
label t: f32[N, 3, 6]
param W: f32[6, 6]
output y = layernorm(matmul(x, W) * 3 + 1)
train { loss = mse(y, t) }
