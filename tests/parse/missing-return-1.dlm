# A block's value is what it returns.
input x: f32[N, 64]
block res(v) {
  h = relu(dense(v, 64))
  h = v + h
}
output y = res(x)
