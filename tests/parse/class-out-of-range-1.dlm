# The classes a data source keeps are labels: whole numbers >= 0.
input image: f32[N, 1, 28, 28]
label t: f32[N, 1]
logit = dense(flatten(image), 1)
output p = sigmoid(logit)
train {
  loss = binary_cross_entropy(logit, t)
  data = idx("x.idx", "y.idx", classes = [0, -6])
}
