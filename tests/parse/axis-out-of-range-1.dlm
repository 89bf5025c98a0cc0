# A [N, 10] tensor has axes 0 and 1 (or -2 and -1).
input image: f32[N, 784]
logits = dense(image, 10)
output probs = softmax(logits, axis = 2)
