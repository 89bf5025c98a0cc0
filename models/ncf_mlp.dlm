# ncf_mlp.dlm — neural collaborative filtering, the MLP form: the user's
# and the item's embeddings, concatenated, go through a small MLP that
# learns how they interact (instead of fixing it to a dot product as
# models/ncf.dlm does).
#
# Data as for models/ncf.dlm (noise floor 0.5):
#
#   build/tools/seqdata ncf .
#   dlc build models/ncf_mlp.dlm -o ncf_mlp && ./ncf_mlp train
#
# tests/e2e/seq_models.sh trains it and asks for a test RMSE within 10% of
# the noise floor.

input pair: i32[N, 2]                   # (user, item) ids
label rating: f32[N, 1]

user = slice(pair, axis = 1, start = 0, end = 1)         # [N, 1]
item = slice(pair, axis = 1, start = 1, end = 2)         # [N, 1]
u = reshape(embedding(user, 300, 16, init = normal(0, 0.1)), [N, 16])
v = reshape(embedding(item, 200, 16, init = normal(0, 0.1)), [N, 16])
h = relu(dense(concat(u, v, axis = 1), 64))              # [N, 64]
h = relu(dense(h, 32))                                   # [N, 32]
output pred = dense(h, 1)                                # [N, 1]

train {
  loss = mse(pred, rating)
  optimizer = adam(lr = 0.001)
  batch = 64
  epochs = 10
  seed = 1
  data = npy("ncf_train_pairs.npy", "ncf_train_ratings.npy")
  test = npy("ncf_test_pairs.npy", "ncf_test_ratings.npy")
}
