# The gradient of an embedding table is a scatter_add of the gradient of
# the looked-up rows into the rows the ids name: work in proportion to the
# ids used, never a one-hot [N, T, V] product with the table. The ids are
# integers and get no gradient. With momentum the update itself is dense
# (every row's momentum moves); tests/ir/optim-sparse-sgd.dlm has the
# sparse update of plain SGD.
#
# RUN: %dlc dump %s | %FileCheck %s
# RUN: %dlc dump %s --after dce --graph train | %FileCheck %s --check-prefix=TRAIN
input ids: i32[N, 6]
label y: i32[N] classes 3
logits = dense(mean(embedding(ids, 1000, 8), axis = 1), 3)
output p = softmax(logits)
train {
  loss = cross_entropy(logits, y)
  optimizer = sgd(lr = 0.1, momentum = 0.9)
}

# CHECK:      [[T:%[0-9]+]] = param "embedding1.table" init=normal a=0 b=1 {{.*}} : f32[1000,8]
# CHECK-NEXT: = gather [[T]], %0 : f32[N,6,8]

# TRAIN:     [[T:%[0-9]+]] = param "embedding1.table" {{.*}} : f32[1000,8]
# TRAIN:     = gather [[T]], %0 : f32[N,6,8]
# TRAIN-NOT: 1000]
# TRAIN:     [[D:%[0-9]+]] = broadcast {{%[0-9]+}} : f32[N,6,8]
# TRAIN-NOT: 1000]
# TRAIN:     [[G:%[0-9]+]] = scatter_add [[D]], %0 rows=1000 : f32[1000,8]
# TRAIN:     = assign {{%[0-9]+}}, {{%[0-9]+}} : f32[1000,8]
# TRAIN:     = assign [[T]], {{%[0-9]+}} : f32[1000,8]
