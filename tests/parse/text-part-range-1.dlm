# part is a range of fractions of every file: [lo, hi], 0 <= lo < hi <= 1.
input text: i32[N, 16]
label next: i32[N, 16] classes 128
logits = dense(embedding(text, 128, 8), 128)
output probs = softmax(logits)
train {
  loss = cross_entropy(logits, next)
  data = text("corpus.txt", part = [0.9, 0.1])
}
