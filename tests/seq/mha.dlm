# multi-head self-attention (2 heads, causal) after both positional encodings
input x: f32[N, 5, 8]
label t: f32[N, 5, 8]
h = learned_positions(sinusoidal_positions(x), init = normal(0, 0.5))
output y = multihead_attention(h, 2, causal = true)
train { loss = mse(y, t) }
