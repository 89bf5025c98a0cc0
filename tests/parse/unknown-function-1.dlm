# A misspelt function.
input image: f32[N, 784]
h = rellu(dense(image, 128))
output probs = softmax(dense(h, 10))
