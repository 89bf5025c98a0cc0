# the heads split the features evenly
input x: f32[N, 10, 30]
output y = multihead_attention(x, 4)
