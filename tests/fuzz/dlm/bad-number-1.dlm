# A multiple of the batch size is written k*N.
input x: f32[N, 28, 28]
h = reshape(x, [28N, 28])
output y = h
