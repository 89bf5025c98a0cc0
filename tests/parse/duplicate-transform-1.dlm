# Each augmentation transform at most once.
input image: f32[N, 1, 28, 28]
label y: i32[N] classes 10
logits = dense(flatten(image), 10)
output probs = softmax(logits)
train {
  loss = cross_entropy(logits, y)
  augment = [rotate(degrees = 10), flip, rotate(degrees = 5)]
}
