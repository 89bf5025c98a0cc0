# A model must declare at least one output.
input image: f32[N, 784]
h = relu(dense(image, 128))
logits = dense(h, 10)
