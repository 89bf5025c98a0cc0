# mlp_dropout.dlm — the MLP of mlp.dlm (784-256-128-10) regularised with
# dropout 0.2 after each hidden ReLU and a little L2, trained with Adam,
# gradient clipping and a cosine learning-rate schedule.
#
#   dlc build models/mlp_dropout.dlm -o mlp_dropout && ./mlp_dropout train

input image: f32[N, 1, 28, 28]          # grey pixels, scaled to [0, 1)
label y: i32[N] classes 10              # the class of each image

# A hidden layer: dense, ReLU, then dropout (the identity outside
# training). Each call has its own weights and its own dropout mask.
block hidden(x, units, rate = 0.2) {
  return dropout(relu(dense(x, units)), rate = rate)
}

h = flatten(image)                      # [N, 784]
h = hidden(h, 256)                      # [N, 256]   params hidden1.dense1.W, .b
h = hidden(h, 128)                      # [N, 128]   params hidden2.dense1.W, .b
logits = dense(h, 10)                   # [N, 10]    params dense1.W, dense1.b
output probs = softmax(logits)          # [N, 10]

train {
  loss = cross_entropy(logits, y)
  optimizer = adam(lr = 0.001)
  lr_schedule = cosine                  # from lr down to 0 over the epochs
  l2 = 1e-5                             # on the weights (rank >= 2), not biases
  clip_norm = 5                         # global norm of all gradients
  batch = 64
  epochs = 10
  seed = 1
  data = idx("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz",
             "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz",
             scale = 1/255)
  test = idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
             "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz",
             scale = 1/255)
}
