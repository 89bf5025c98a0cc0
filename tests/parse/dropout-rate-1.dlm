# A dropout rate is a probability below 1.
input x: f32[N, 784]
h = dropout(relu(dense(x, 128)), rate = 1)
output y = dense(h, 10)
