# vgg_small.dlm — a small VGG-style network for Fashion-MNIST: stacks of
# 3x3 convolutions, each followed by batch norm and ReLU, max pooling
# between the stages, then dropout and a dense head. Batch norm uses the
# batch's statistics while training and its running averages in eval and
# predict, where it is folded into the convolution before it (the bnfold
# pass).
#
#   dlc build models/vgg_small.dlm -o vgg_small && ./vgg_small train

input image: f32[N, 1, 28, 28]          # grey pixels, scaled to [0, 1)
label y: i32[N] classes 10              # the class of each image

# A 3x3 convolution (no bias: batch norm's beta is one), batch norm, ReLU.
block conv_bn(x, channels) {
  return relu(batchnorm(conv2d(x, channels, kernel = 3, pad = 1, bias = false)))
}

h = maxpool(conv_bn(image, 8), 2)       # [N, 8, 14, 14]
h = conv_bn(h, 16)                      # [N, 16, 14, 14]
h = maxpool(conv_bn(h, 16), 2)          # [N, 16, 7, 7]
h = conv_bn(h, 32)                      # [N, 32, 7, 7]
h = maxpool(conv_bn(h, 32), 2)          # [N, 32, 3, 3]
h = dropout(flatten(h), 0.25)           # [N, 288]
h = relu(dense(h, 64))                  # [N, 64]
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
