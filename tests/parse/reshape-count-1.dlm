# A reshape keeps the number of elements.
input image: f32[N, 1, 28, 28]
h = reshape(image, [N, 780])
output y = h
