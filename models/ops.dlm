# ops.dlm — every operator of the language once, on small shapes. A test
# model: for inputs in [0, 1) and labels in 0..5 every output is finite
# (log and sqrt only see arguments >= 1, exp only arguments of moderate
# size).

input x: f32[N, 8]                        # values in [0, 1)
input seq: f32[N, 3, 4]                   # values in [0, 1)
label y: i32[N] classes 6                 # class indices

param W: f32[8, 4] init uniform(-0.5, 0.5)
param b: f32[4] init const(0.1)

# elementwise arithmetic and activations
a = matmul(x, W) + b                      # [N, 4]    matmul, add
a = (a - 0.25) * 2 / 3                    # [N, 4]    sub, mul, div
act = concat(relu(a), leaky_relu(a, alpha = 0.1), sigmoid(a), tanh(-a),
             axis = 1)                    # [N, 16]   neg, concat
pos = exp(a) + log(abs(a) + 1)            # [N, 4]    exp, log, abs
pos = pos * sqrt(sum(x, axis = 1, keepdims = true) + 1)
                                          # [N, 4]    sqrt, sum keepdims
e = embedding(y, 6, 4)                    # [N, 4]    gather (embedding1.table)
clip = maximum(minimum(a + e, 0.5), -0.5) # [N, 4]    maximum, minimum

# a dense layer and the two normalisations
z = dense(concat([act, pos, clip], axis = -1), 6)   # [N, 6]  dense1.W, dense1.b
output probs = softmax(z)                 # [N, 6]
output logp = log_softmax(z, axis = 1)    # [N, 6]

# reductions and data movement
s1 = mean(seq, axes = [1, 2])             # [N]
s2 = max(seq, axis = -1)                  # [N, 3]
t = transpose(seq)                        # [N, 4, 3]
t = transpose(t, perm = [0, 2, 1])        # [N, 3, 4]
h = learned_positions(sinusoidal_positions(seq))      # [N, 3, 4]
h = multihead_attention(h, 2, causal = true) + attention(seq, seq, seq)
h = gelu(layernorm(h))                    # [N, 3, 4] the sequence layers
g = reshape(t, [N, 12]) + flatten(seq) + flatten(h)  # [N, 12]   reshape, flatten
output stats = concat(reshape(s1, [N, 1]), s2, g, axis = 1)   # [N, 16]

# training: dropout, slicing, labels and the three losses (each a scalar)
d = dropout(act, rate = 0.25)             # [N, 16]   dropout (identity outside training)
part = slice(d, 1, 4, 10)                 # [N, 6]    slice
output losses = (cross_entropy(z, y) + mse(part, one_hot(y)) +
                  binary_cross_entropy(z, sigmoid(part)))
                                          # []        cross_entropy, one_hot
