# The weights of a convolution must take the input's channel count.
input image: f32[N, 3, 32, 32]
param W: f32[16, 1, 5, 5] init xavier
output y = conv2d_op(image, W, pad = 2)
