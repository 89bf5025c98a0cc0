# The CPU backend vectorizes for the host: the MLP's matrix products use the
# register-blocked micro-kernel (fused multiply-adds on <8 x float> with
# AVX2, <16 x float> with AVX-512: vfmadd on ymm or zmm registers), and the
# elementwise kernels (bias + relu, fused) vectorize too.
#
# RUN: %dlc dump %s --emit llvm | %FileCheck %s --check-prefix=IR
# RUN: %dlc build %s -o %t.exe --keep-obj %t.o && objdump -d --no-show-raw-insn %t.o | %FileCheck %s --check-prefix=ASM
input x: f32[N, 784]
h = relu(dense(x, 256))
output y = sigmoid(dense(h, 10))

# IR-DAG: define void @dlrt_forward(
# IR-DAG: call void @dlrt_parallel_async(
# IR-DAG: define internal {{.*}}void @dlc.ukr{{[1-6]}}(
# IR-DAG: call <{{8|16}} x float> @llvm.fmuladd.v{{8|16}}f32(<{{8|16}} x float>
# ASM-DAG: vmaxps {{.*}}%{{[yz]}}mm
# ASM-DAG: vfmadd231ps {{.*}}%{{[yz]}}mm
