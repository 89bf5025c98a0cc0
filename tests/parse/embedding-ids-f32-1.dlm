# token ids must be integers
input tokens: f32[N, 16]
output e = embedding(tokens, 100, 8)
