# lstm_rows.dlm — Fashion-MNIST images read as sequences: each image is 28
# steps of one 28-pixel row, through an LSTM of 128 units; the last step's
# hidden state is classified by a dense layer. The recurrence is one loop
# in the generated code (the step's product h x Whh is the only matrix work
# inside it; every step's input projection is one product before it).
#
#   dlc build models/lstm_rows.dlm -o lstm_rows && ./lstm_rows train

input image: f32[N, 28, 28]             # rows of grey pixels in [0, 1)
label y: i32[N] classes 10

h = lstm(image, 128, last = true)       # [N, 128]   params lstm1.Wih, lstm1.Whh, lstm1.b
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
