# decode is a statement of the model, not of a block
input src: i32[N, 5]
input prev: i32[N, 6]
label y: i32[N, 6] classes 12
h = lstm(embedding(prev, 12, 8), 16)
block head(x) {
  decode answer = greedy(x, feed = prev, target = y, start = 10)
  return dense(x, 12)
}
output logits = head(h)
