# A crop's padding must be smaller than the image.
input image: f32[N, 3, 8, 8]
label y: i32[N] classes 10
logits = dense(flatten(image), 10)
output probs = softmax(logits)
train {
  loss = cross_entropy(logits, y)
  augment = [flip, crop(pad = 8)]
}
