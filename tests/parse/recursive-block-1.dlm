# Blocks are expanded at each call, so they cannot recurse.
input x: f32[N, 64]
block ping(v) {
  return pong(relu(v))
}
block pong(v) {
  return ping(v + 1)
}
output y = ping(x)
