# cross_entropy takes class indices (i32), not float targets.
input image: f32[N, 784]
label y: f32[N]
logits = dense(image, 10)
output probs = softmax(logits)
train {
  loss = cross_entropy(logits, y)
}
