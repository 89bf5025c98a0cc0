# greedy decoding reads the logits from the forward pass's outputs
input src: i32[N, 5]
input prev: i32[N, 6]
label y: i32[N, 6] classes 12
h = lstm(embedding(prev, 12, 8), 16)
logits = dense(h, 12)
output probs = softmax(logits)
decode answer = greedy(logits, feed = prev, target = y, start = 10, end = 11)
