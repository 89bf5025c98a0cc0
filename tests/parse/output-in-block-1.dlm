# Outputs belong to the model, not to a block.
input x: f32[N, 784]
block head(v) {
  output p = softmax(dense(v, 10))
  return p
}
output probs = head(x)
