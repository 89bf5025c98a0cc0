# A layer that does not exist.
input image: f32[N, 784]
h = relu(dens(image, 128))
output probs = softmax(dense(h, 10))
