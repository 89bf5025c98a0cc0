# mlp_explicit.dlm — the network of mlp.dlm written one level down:
# explicit parameters and matmul, in a block that is used three times.
# Each call of the block owns its parameters: linear1.W, linear1.b,
# linear2.W, ... (same shapes and initialisation as dense1.W, ... in
# mlp.dlm).

input image: f32[N, 1, 28, 28]
label y: i32[N] classes 10

# x[N, n_in] -> [N, n_out]
block linear(x, n_in, n_out) {
  param W: f32[n_in, n_out] init xavier   # fan_in = n_in, fan_out = n_out
  param b: f32[n_out] init zeros
  return matmul(x, W) + b
}

x = reshape(image, [N, 28 * 28])          # [N, 784]
h = relu(linear(x, 784, 256))             # [N, 256]
h = relu(linear(h, 256, 128))             # [N, 128]
logits = linear(h, 128, 10)               # [N, 10]
output probs = softmax(logits)            # [N, 10]

train {
  loss = cross_entropy(logits, y)
  optimizer = sgd(lr = 0.01, momentum = 0.9)
  batch = 64
  epochs = 5
  data = idx("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz",
             "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz",
             scale = 1/255)
  test = idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
             "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz",
             scale = 1/255)
}
