# mse compares element by element; it does not broadcast [N, 1] and [N].
input x: f32[N, 8]
label t: f32[N]
output pred = dense(x, 1)
train {
  loss = mse(pred, t)
}
