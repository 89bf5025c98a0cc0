# the feed has a token for each position of the logits
input src: i32[N, 5]
input prev: i32[N, 6]
label y: i32[N, 6] classes 12
output logits = dense(lstm(embedding(src, 12, 8), 16), 12)
decode answer = greedy(logits, feed = prev, target = y, start = 10)
