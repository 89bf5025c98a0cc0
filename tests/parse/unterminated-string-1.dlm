# A string must end on the line where it starts.
input image: f32[N, 784]
label y: i32[N] classes 10
logits = dense(image, 10)
output probs = softmax(logits)
train {
  loss = cross_entropy(logits, y)
  data = idx("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz)
}
