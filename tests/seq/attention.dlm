# scaled dot-product attention, plain and causal, over [N, T, D]
input x: f32[N, 4, 6]
label t: f32[N, 4, 6]
param Wq: f32[6, 6]
param Wk: f32[6, 6]
param Wv: f32[6, 6]
q = matmul(x, Wq) * 2
k = matmul(x, Wk) * 2
v = matmul(x, Wv)
output y = attention(q, k, v) + attention(q, k, v, causal = true)
train { loss = mse(y, t) }
