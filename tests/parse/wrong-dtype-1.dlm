# Labels are class indices (i32); the loss uses them, not matmul.
input image: f32[N, 784]
label y: i32[N] classes 10
param W: f32[10, 10]
logits = dense(image, 10)
h = matmul(y, W)
output probs = softmax(logits)
