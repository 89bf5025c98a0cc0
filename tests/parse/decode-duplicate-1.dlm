# one decode statement per model
input src: i32[N, 5]
input prev: i32[N, 6]
label y: i32[N, 6] classes 12
h = lstm(embedding(prev, 12, 8), 16)
output logits = dense(h, 12)
decode answer = greedy(logits, feed = prev, target = y, start = 10)
decode again = greedy(logits, feed = prev, target = y, start = 10)
