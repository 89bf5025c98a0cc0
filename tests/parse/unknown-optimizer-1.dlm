# An optimizer the training code does not know.
input image: f32[N, 784]
label y: i32[N] classes 10
logits = dense(image, 10)
output probs = softmax(logits)
train {
  loss = cross_entropy(logits, y)
  optimizer = nadam(lr = 0.001)
}
