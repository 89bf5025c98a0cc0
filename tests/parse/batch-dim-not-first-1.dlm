# The batch dimension N comes first.
input image: f32[784, N]
output y = image
