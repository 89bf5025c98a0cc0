# Augmentation transforms images: the first input must be f32[N, C, H, W].
input x: f32[N, 784]
label y: i32[N] classes 10
logits = dense(x, 10)
output probs = softmax(logits)
train {
  loss = cross_entropy(logits, y)
  augment = [crop(pad = 2), flip]
}
