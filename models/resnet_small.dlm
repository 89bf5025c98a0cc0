# resnet_small.dlm — a small ResNet for Fashion-MNIST. The residual block
# is written once and used three times: two 3x3 convolutions with batch
# norm, added to the block's input, then ReLU. Between the two stages a
# reduction block halves the resolution and doubles the channels by
# concatenating the max-pooled input with a strided convolution of it;
# global average pooling and one dense layer classify.
#
#   dlc build models/resnet_small.dlm -o resnet_small && ./resnet_small train

input image: f32[N, 1, 28, 28]          # grey pixels, scaled to [0, 1)
label y: i32[N] classes 10              # the class of each image

# A 3x3 convolution (no bias: batch norm's beta is one) and batch norm.
block conv_bn(x, channels, stride = 1) {
  return batchnorm(conv2d(x, channels, kernel = 3, stride = stride, pad = 1, bias = false))
}

# y = relu(x + F(x)): the shortcut keeps the input's shape.
block residual(x, channels) {
  h = relu(conv_bn(x, channels))
  return relu(x + conv_bn(h, channels))
}

# Half the resolution, twice the channels: [N, C, H, W] -> [N, 2C, H/2, W/2].
block reduce(x, channels) {
  return concat(maxpool(x, 2), relu(conv_bn(x, channels, stride = 2)), axis = 1)
}

h = maxpool(relu(conv_bn(image, 8)), 2) # [N, 8, 14, 14]
h = residual(h, 8)                      # [N, 8, 14, 14]
h = residual(h, 8)                      # [N, 8, 14, 14]
h = reduce(h, 8)                        # [N, 16, 7, 7]
h = residual(h, 16)                     # [N, 16, 7, 7]
h = global_avg_pool(h)                  # [N, 16]
logits = dense(h, 10)                   # [N, 10]
output probs = softmax(logits)          # [N, 10]

train {
  loss = cross_entropy(logits, y)
  optimizer = sgd(lr = 0.05, momentum = 0.9)
  batch = 64
  epochs = 5
  data = idx("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz",
             "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz",
             scale = 1/255)
  test = idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
             "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz",
             scale = 1/255)
}
