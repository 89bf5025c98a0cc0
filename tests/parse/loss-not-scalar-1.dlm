# The loss is one number: the per-sample values must be reduced.
input x: f32[N, 784]
label y: f32[N, 10]
logits = dense(x, 10)
output probs = softmax(logits)
train {
  loss = (logits - y) * (logits - y)
}
