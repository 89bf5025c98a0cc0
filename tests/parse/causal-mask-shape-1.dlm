# a causal mask pairs query i with keys 0..i: as many queries as keys
input q: f32[N, 4, 8]
input k: f32[N, 6, 8]
output y = attention(q, k, k, causal = true)
