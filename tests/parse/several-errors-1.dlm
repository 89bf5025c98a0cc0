# Several independent mistakes: each is reported once, and statements that
# depend on a broken one report nothing more.
input image: f32[N, 1, 28, 28]
label y: i32[N] classes 10

h = flatten(image)
g = relu(dense(h 256))                # syntax error: missing comma
g = relu(dense(g, 128))               # uses g: nothing more to say
x = sigmoid(imag)                     # unknown name
h = relu(dense(h, 128))
logits = dense(h, 10)
bad = logits + dense(h, 20)           # broadcast mismatch
output probs = softmax(logits, axis = 3)   # axis out of range

train {
  loss = cross_entropy(logits, y)
  batch = 0                           # must be positive
  epohcs = 5                          # unknown key
}
