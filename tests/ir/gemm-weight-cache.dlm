# Matrix products whose B is a weight read it from a cache of packed panels
# (codegen/llvm_vec.c, "matrix products") in the entries that do not write
# weights: each such kernel has its zero-initialised panels and stamps,
# compares the stamp of a panel with the frame's weights version (field 6
# of dlrt_frame) and packs the panel when they differ. The training step
# writes the weights, so it keeps packing per call and, before it returns,
# gives the frame a new version (dlrt_params_changed). A thread that
# computes some of the 8 panels of a product of at most 12 rows first
# copies A's rows to its stack.
#
# RUN: %dlc dump %s --emit llvm | %FileCheck %s
input x: f32[N, 784]
label y: i32[N] classes 10
h = relu(dense(x, 256))
logits = dense(h, 10)
output probs = softmax(logits)
train {
  loss = cross_entropy(logits, y)
  optimizer = sgd(lr = 0.1)
}

# CHECK-DAG: @forward.k0_matmul_relu.panels = internal global [{{[0-9]+}} x float] zeroinitializer, align 64
# CHECK-DAG: @forward.k0_matmul_relu.stamps = internal {{.*}}global [{{4|8}} x i64] zeroinitializer
# CHECK-DAG: @forward.k1_matmul_add.panels = internal global
# CHECK-DAG: @eval.k0_matmul_relu.panels = internal global
# CHECK-DAG: @eval.k1_matmul_add.panels = internal global
# CHECK-NOT: @train.{{.*}}.panels

# CHECK-LABEL: define internal void @forward.k0_matmul_relu(
# CHECK: [[V:%[^ ]+]] = getelementptr {{.*}}%dlrt_frame, %dlrt_frame* %0, i64 0, i32 6
# CHECK: [[VERSION:%[^ ]+]] = load i64, i64* [[V]]
# CHECK: call void @llvm.memcpy.{{[^(]*}}(i8* nonnull align 64
# CHECK: [[STAMP:%[^ ]+]] = load i64, i64* {{%[^ ]+}}
# CHECK: icmp eq i64 [[STAMP]], [[VERSION]]
# CHECK: store i64 [[VERSION]], i64* {{.*}}

# CHECK-LABEL: define void @dlrt_forward(
# CHECK-NOT: @dlrt_params_changed
# CHECK-LABEL: define void @dlrt_eval(
# CHECK-NOT: @dlrt_params_changed
# CHECK-LABEL: define void @dlrt_train_step(
# CHECK: call void @dlrt_params_changed(%dlrt_frame* {{.*}}%0)
# CHECK-NEXT: ret void
