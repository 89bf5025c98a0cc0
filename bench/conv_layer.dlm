# conv_layer.dlm — the convolution of `make bench`: batch 64, 32 -> 64
# channels, 3x3, padding 1, 28x28. The input is scaled by a parameter so
# that the training step computes the input's gradient too: forward,
# weight gradient and input gradient, as PyTorch's forward + backward with
# x.requires_grad.
input x: f32[N, 32, 28, 28]
param s: f32[32, 1, 1] init ones
y = conv2d(x * s, 64, kernel = 3, pad = 1)
output out = y

train {
  loss = mean(y * y)
  optimizer = sgd(lr = 1e-9)
  batch = 64
}
