# A value that is computed must be bound to a name.
input x: f32[N, 784]
h = dense(x, 10)
softmax(h)
output y = h
