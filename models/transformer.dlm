# transformer.dlm — a Transformer encoder that classifies Fashion-MNIST
# images read as sequences: each of the 28 rows of pixels is a token of 28
# features, projected to d_model = 64. Two pre-norm encoder layers (the
# layer is one block, used twice), 4 heads of 16 features, a GELU
# feed-forward of 128, sinusoidal positions, then the mean over the tokens
# into a linear classifier.
#
#   dlc build models/transformer.dlm -o transformer && ./transformer train
#
# The full recipe (60000 images, 3 epochs, Adam 1e-3) reaches about 86%
# test accuracy (README, "Sequence models"); tests/e2e/seq_models.sh
# trains it on a subset with a bar.

input image: f32[N, 1, 28, 28]          # grey pixels, scaled to [0, 1)
label y: i32[N] classes 10              # the class of each image

# x [N, T, d] -> [N, T, d]: self-attention, then a position-wise
# feed-forward network, each around a residual connection
block encoder(x, d, heads, ff) {
  h = x + multihead_attention(layernorm(x), heads)
  return h + dense(gelu(dense(layernorm(h), ff)), d)
}

x = reshape(image, [N, 28, 28])         # 28 tokens of 28 pixels
h = sinusoidal_positions(dense(x, 64))  # [N, 28, 64]
h = encoder(h, 64, 4, 128)              # [N, 28, 64]   params encoder1.*
h = encoder(h, 64, 4, 128)              # [N, 28, 64]   params encoder2.*
h = layernorm(h)
logits = dense(mean(h, axis = 1), 10)   # [N, 10]
output probs = softmax(logits)

train {
  loss = cross_entropy(logits, y)
  optimizer = adam(lr = 0.001)
  batch = 64
  epochs = 3
  seed = 1
  data = idx("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz",
             "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz",
             scale = 1/255)
  test = idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
             "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz",
             scale = 1/255)
}
