# A text source feeds characters, i32[N, T], and their successors, a
# label i32[N, T] classes V: a model of images cannot read it.
input image: f32[N, 1, 28, 28]
label y: i32[N] classes 10
logits = dense(flatten(image), 10)
output probs = softmax(logits)
train {
  loss = cross_entropy(logits, y)
  data = text("corpus.txt")
}
