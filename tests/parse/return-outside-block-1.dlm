# Results of the model are outputs.
input x: f32[N, 784]
h = relu(dense(x, 10))
return h
