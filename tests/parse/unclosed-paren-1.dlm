# A call left open: the error is reported where the line ends, with a
# note at the bracket that was never closed.
input image: f32[N, 784]
h = relu(dense(image, 128)
output probs = softmax(h)
