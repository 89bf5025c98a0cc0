# A misspelt name.
input image: f32[N, 784]
h = relu(dense(imgae, 128))
output probs = softmax(dense(h, 10))
