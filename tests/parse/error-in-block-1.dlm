# A shape error inside a block is reported once, with the call that led
# to it.
input x: f32[N, 64]
block res(v, width) {
  return v + dense(relu(v), width)
}
h = res(x, 64)
h = res(h, 32)
output y = h
