# binary.dlm — logistic regression: 2 features -> the probability of
# class 1, trained with binary cross-entropy on the logit.
#
# binary_cross_entropy takes f32 targets (0 or 1, or any probability), so
# the target is an f32 label; with data = csv(...) the CSV's last column
# (label_column = -1) feeds it and the other columns feed x.
#
#   dlc build models/binary.dlm -o binary && ./binary train

input x: f32[N, 2]                      # the features of a sample
label t: f32[N, 1]                      # 0 or 1: the CSV's last column

param W: f32[2, 1] init zeros
param b: f32[1] init zeros
logit = matmul(x, W) + b                # [N, 1]
output p = sigmoid(logit)               # [N, 1]   P(class 1)

train {
  loss = binary_cross_entropy(logit, t) # on the logit, not on p: stable
  optimizer = sgd(lr = 0.1)
  batch = 32
  epochs = 20
  seed = 1
  data = csv("binary.csv")
}
