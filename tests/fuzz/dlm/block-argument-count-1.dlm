# res takes one tensor and an optional width.
input x: f32[N, 64]
block res(v, width = 64) {
  return v + dense(relu(v), width)
}
h = res(x, 64, 2)
output y = h
