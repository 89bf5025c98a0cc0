# ncf.dlm — neural collaborative filtering, the dot-product form (matrix
# factorisation): a rating is the dot product of a user's and an item's
# learned embedding, plus a bias for each and a global offset.
#
# Data: tests/tools/seqdata writes a synthetic low-rank rating matrix (300
# users, 200 items, rank 4) with Gaussian noise of standard deviation 0.5,
# so the best possible test RMSE (the noise floor) is 0.5:
#
#   build/tools/seqdata ncf .
#   dlc build models/ncf.dlm -o ncf && ./ncf train
#
# tests/e2e/seq_models.sh trains it and asks for a test RMSE within 10% of
# the noise floor.

input pair: i32[N, 2]                   # (user, item) ids
label rating: f32[N, 1]

user = slice(pair, axis = 1, start = 0, end = 1)         # [N, 1]
item = slice(pair, axis = 1, start = 1, end = 2)         # [N, 1]
u = reshape(embedding(user, 300, 8, init = normal(0, 0.1)), [N, 8])
v = reshape(embedding(item, 200, 8, init = normal(0, 0.1)), [N, 8])
bu = reshape(embedding(user, 300, 1, init = zeros), [N, 1])
bv = reshape(embedding(item, 200, 1, init = zeros), [N, 1])
param mu: f32[1]
output pred = sum(u * v, axis = 1, keepdims = true) + bu + bv + mu   # [N, 1]

train {
  loss = mse(pred, rating)
  optimizer = adam(lr = 0.001)
  batch = 64
  epochs = 20
  seed = 1
  data = npy("ncf_train_pairs.npy", "ncf_train_ratings.npy")
  test = npy("ncf_test_pairs.npy", "ncf_test_ratings.npy")
}
