# dense needs the number of units.
input image: f32[N, 784]
h = relu(dense(image))
output probs = softmax(dense(h, 10))
