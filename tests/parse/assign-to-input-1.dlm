# Inputs cannot be rebound; choose a new name.
input x: f32[N, 784]
x = relu(x)
output y = x
