# A tensor has at most 2^40 elements (per sample), so sizes cannot overflow.
input x: f32[N, 3037000500, 3037000500]
output y = relu(x)
