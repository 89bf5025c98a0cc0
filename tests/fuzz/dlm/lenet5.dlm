# lenet5.dlm — LeNet-5 for Fashion-MNIST: two convolutions with max
# pooling, then three dense layers, trained with SGD and momentum.
#
#   dlc build models/lenet5.dlm -o lenet5 && ./lenet5 train

input image: f32[N, 1, 28, 28]          # grey pixels, scaled to [0, 1)
label y: i32[N] classes 10              # the class of each image

h = relu(conv2d(image, 6, kernel = 5, pad = 2))   # [N, 6, 28, 28]  conv2d1.W, conv2d1.b
h = maxpool(h, 2)                                 # [N, 6, 14, 14]
h = relu(conv2d(h, 16, kernel = 5))               # [N, 16, 10, 10] conv2d2.W, conv2d2.b
h = maxpool(h, 2)                                 # [N, 16, 5, 5]
h = flatten(h)                                    # [N, 400]
h = relu(dense(h, 120))                           # [N, 120]        dense1.W, dense1.b
h = relu(dense(h, 84))                            # [N, 84]         dense2.W, dense2.b
logits = dense(h, 10)                             # [N, 10]         dense3.W, dense3.b
output probs = softmax(logits)                    # [N, 10]

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
