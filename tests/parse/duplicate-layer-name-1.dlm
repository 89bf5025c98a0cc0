# Two layers named alike would own the same parameters.
input x: f32[N, 784]
h = relu(dense(x, 128, name = "fc"))
output y = dense(h, 10, name = "fc")
