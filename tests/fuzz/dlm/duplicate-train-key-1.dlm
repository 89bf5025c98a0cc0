# Each train key is given once.
input image: f32[N, 784]
label y: i32[N] classes 10
logits = dense(image, 10)
output probs = softmax(logits)
train {
  loss = cross_entropy(logits, y)
  batch = 64
  epochs = 5
  batch = 128
}
