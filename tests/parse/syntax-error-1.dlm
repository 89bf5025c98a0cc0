# A missing comma between arguments.
input image: f32[N, 784]
h = dense(image 128)
output probs = softmax(h)
