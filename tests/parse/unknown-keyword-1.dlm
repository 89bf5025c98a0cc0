# softmax takes one axis, not axes.
input image: f32[N, 784]
logits = dense(image, 10)
output probs = softmax(logits, axes = 1)
