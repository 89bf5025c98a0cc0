# dropout2d drops whole channels: the image times the dropout of a
# constant 1 of shape [N,C,1,1], a mask the training step draws once and
# the backward pass reuses. Outside training the dropout is the identity,
# so the mask is 1 and fold removes the product.
#
# RUN: %dlc dump %s | %FileCheck %s
# RUN: %dlc dump %s --after dce | %FileCheck %s --check-prefix=INFER
# RUN: %dlc dump %s --after dce --graph train | %FileCheck %s --check-prefix=TRAIN
input x: f32[N, 3, 4, 4]
label y: i32[N] classes 2
logits = dense(flatten(dropout2d(x, 0.25)), 2)
output p = softmax(logits)
train {
  loss = cross_entropy(logits, y)
}

# CHECK:      [[ONE:%[0-9]+]] = const value=1 : f32[N,3,1,1]
# CHECK-NEXT: [[MASK:%[0-9]+]] = dropout [[ONE]] salt=1 rate=0.25 : f32[N,3,1,1]
# CHECK-NEXT: = mul %0, [[MASK]] : f32[N,3,4,4]

# INFER-NOT: = dropout
# INFER:     = reshape %0 : f32[N,48]
# INFER-NOT: = mul

# TRAIN:     [[MASK:%[0-9]+]] = dropout {{%[0-9]+}} salt=1 rate=0.25 : f32[N,3,1,1]
# TRAIN:     = mul {{%[0-9]+}}, [[MASK]] : f32[N,3,4,4]
