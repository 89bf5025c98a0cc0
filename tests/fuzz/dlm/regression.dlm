# regression.dlm — a small MLP regressor, 8 features -> 1 value, trained
# with the mean squared error on a CSV file: one sample per row, the
# features in the first 8 columns, the target in the last.
#
#   dlc build models/regression.dlm -o regression && ./regression train

input x: f32[N, 8]                      # the features of a sample
label t: f32[N, 1]                      # its target: the CSV's last column

h = relu(dense(x, 32))                  # [N, 32]
h = relu(dense(h, 16))                  # [N, 16]
output pred = dense(h, 1)               # [N, 1]

train {
  loss = mse(pred, t)
  optimizer = adam(lr = 0.01)
  lr_schedule = step(every = 20, gamma = 0.5)
  batch = 32
  epochs = 60
  validation_split = 0.2
  early_stopping = 10                   # epochs without a better validation loss
  seed = 1
  data = csv("regression.csv", label_column = -1)
}
