# Per-channel normalisation gives one mean and one std per channel.
input image: f32[N, 3, 32, 32]
label y: i32[N] classes 10
logits = dense(flatten(image), 10)
output probs = softmax(logits)
train {
  loss = cross_entropy(logits, y)
  data = npy("x.npy", "y.npy", mean = [0.49, 0.48], std = [0.25, 0.24])
}
