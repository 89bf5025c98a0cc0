# mlp.dlm — a multilayer perceptron for Fashion-MNIST: 784-256-128-10 with
# ReLU, trained with SGD and momentum.
#
#   dlc build models/mlp.dlm -o mlp && ./mlp train

input image: f32[N, 1, 28, 28]          # grey pixels, scaled to [0, 1)
label y: i32[N] classes 10              # the class of each image

h = flatten(image)                      # [N, 784]
h = relu(dense(h, 256))                 # [N, 256]   params dense1.W, dense1.b
h = relu(dense(h, 128))                 # [N, 128]   params dense2.W, dense2.b
logits = dense(h, 10)                   # [N, 10]    params dense3.W, dense3.b
output probs = softmax(logits)          # [N, 10]

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
