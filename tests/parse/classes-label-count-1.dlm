# The kept classes are relabelled 0, 1, ...: an i32 label must declare
# as many classes as are kept.
input image: f32[N, 1, 28, 28]
label y: i32[N] classes 10
logits = dense(flatten(image), 10)
output probs = softmax(logits)
train {
  loss = cross_entropy(logits, y)
  data = idx("x.idx", "y.idx", classes = [2, 4])
}
