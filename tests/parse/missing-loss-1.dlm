# Training needs a loss.
input image: f32[N, 784]
label y: i32[N] classes 10
logits = dense(image, 10)
output probs = softmax(logits)
train {
  optimizer = sgd(lr = 0.01)
  epochs = 2
}
