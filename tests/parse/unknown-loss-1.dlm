# A loss function that does not exist.
input image: f32[N, 784]
label y: i32[N] classes 10
logits = dense(image, 10)
output probs = softmax(logits)
train {
  loss = crossentropy(logits, y)
}
