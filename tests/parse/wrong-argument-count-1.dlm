# relu takes one argument.
input image: f32[N, 784]
h = relu(dense(image, 128), 0.1)
output probs = softmax(dense(h, 10))
