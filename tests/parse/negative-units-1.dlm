# A layer needs a positive number of units.
input image: f32[N, 784]
h = relu(dense(image, -128))
output probs = softmax(dense(h, 10))
