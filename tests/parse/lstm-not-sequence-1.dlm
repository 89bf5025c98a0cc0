# A recurrent layer reads a sequence [N, T, features]: a matrix of
# features has no steps.
input x: f32[N, 28]
output y = lstm(x, 16)
