# the feed holds tokens: i32
input src: i32[N, 5]
input prev: f32[N, 6, 1]
label y: i32[N, 6] classes 12
output logits = dense(lstm(prev, 16), 12)
decode answer = greedy(logits, feed = prev, target = y, start = 10)
