# gru_bidir.dlm — Fashion-MNIST images as 28-step sequences of rows through
# a bidirectional GRU of 64 units each way: the forward pass's last step
# beside the reverse pass's last (which reads the image bottom-up), then a
# dense layer to the 10 classes.
#
#   dlc build models/gru_bidir.dlm -o gru_bidir && ./gru_bidir train

input image: f32[N, 28, 28]             # rows of grey pixels in [0, 1)
label y: i32[N] classes 10

h = gru(image, 64, bidirectional = true, last = true)   # [N, 128]
logits = dense(h, 10)                   # [N, 10]
output probs = softmax(logits)

train {
  loss = cross_entropy(logits, y)
  optimizer = sgd(lr = 0.01, momentum = 0.9)
  batch = 64
  epochs = 3
  data = idx("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz",
             "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz",
             scale = 1/255)
  test = idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
             "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz",
             scale = 1/255)
}
