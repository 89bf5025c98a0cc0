# A result has at most 2^40 elements per sample too.
input x: f32[N, 2000000]
output y = matmul(reshape(x, [N, 2000000, 1]), reshape(x, [N, 1, 2000000]))
