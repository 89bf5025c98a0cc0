# The logits must have one score per class the label declares.
input image: f32[N, 784]
label y: i32[N] classes 10
logits = dense(image, 5)
output probs = softmax(logits)
train {
  loss = cross_entropy(logits, y)
}
