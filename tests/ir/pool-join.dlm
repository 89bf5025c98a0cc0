# Kernels on the pool are started with dlrt_parallel_async: the next kernel
# on the pool meets them at a barrier. Before anything the entry's thread
# does alone (a kernel too small to share, a numerics check, returning)
# it joins the pool. Here the first product (8 panels) is shared and the
# second (one panel) runs on the entry's thread.
#
# RUN: %dlc dump %s --emit llvm | %FileCheck %s
input x: f32[N, 784]
h = relu(dense(x, 256))
output y = sigmoid(dense(h, 10))

# CHECK-LABEL: define void @dlrt_forward(
# CHECK: call void @dlrt_parallel_async({{.*}}@forward.k0_matmul_relu, {{.*}}, i64 8)
# CHECK-NOT: @forward.k1_matmul_sigmoid
# CHECK: call void @dlrt_pool_join()
# CHECK: call void @dlrt_check_numerics(
# CHECK: call void @dlrt_pool_join()
# CHECK-NEXT: call {{.*}}void @forward.k1_matmul_sigmoid(
# CHECK: call void @dlrt_check_numerics(
# CHECK: call void @dlrt_pool_join()
# CHECK-NEXT: ret void
