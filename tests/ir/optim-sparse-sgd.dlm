# Plain SGD updates an embedding table sparsely (passes/optim.c): the new
# table is p - lr * scatter_add(dy, ids), written as scatter_update(p,
# -lr * dy, ids), which touches only the rows the ids name. No [1000, 8]
# value is computed: neither the dense gradient nor a dense assign. The
# dense layer after it keeps its ordinary update.
#
# RUN: %dlc dump %s --after dce --graph train | %FileCheck %s
input ids: i32[N, 6]
label y: i32[N] classes 3
logits = dense(mean(embedding(ids, 1000, 8), axis = 1), 3)
output p = softmax(logits)
train {
  loss = cross_entropy(logits, y)
  optimizer = sgd(lr = 0.1)
}

# CHECK:     [[T:%[0-9]+]] = param "embedding1.table" {{.*}} : f32[1000,8]
# CHECK:     = gather [[T]], %0 : f32[N,6,8]
# CHECK-NOT: 1000,8]
# CHECK:     [[D:%[0-9]+]] = broadcast {{%[0-9]+}} : f32[N,6,8]
# CHECK-NOT: 1000,8]
# CHECK:     [[LR:%[0-9]+]] = hyper "lr" slot=0 : f32[]
# CHECK-NOT: 1000,8]
# CHECK:     [[NEG:%[0-9]+]] = neg [[LR]] : f32[]
# CHECK-NEXT: [[X:%[0-9]+]] = mul [[NEG]], [[D]] : f32[N,6,8]
# CHECK-NEXT: = scatter_update [[T]], [[X]], %0 : f32[1000,8]
# CHECK-NOT: 1000,8]
# CHECK:     = assign {{%[0-9]+}}, {{%[0-9]+}} : f32[8,3]
