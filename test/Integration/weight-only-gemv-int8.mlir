// JIT execution of the int8-activation weight-only GEMV kernels through
// -quantx-cpu-pipeline="weight-only-activations=int8" against hand-computed
// results. The activations of every group are integers with max |x| = 127
// (d = 1) or twice that (d = 2, all even), so their int8 form is exact and
// so is every result.
// RUN: quantx-opt %s -quantx-cpu-pipeline="weight-only-activations=int8" | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils | FileCheck %s
// The generated int8 kernels replace the matmuls.
// RUN: quantx-opt %s -quantx-pack-weight-only="activations=int8 target-features=+avx2,+fma" | FileCheck %s --check-prefix=IR
// IR-NOT: quantx.matmul
// IR-COUNT-2: func.func private @__quantx_wo_gemv_{{.+}}_a8
// The pipeline generates int8 kernels only for AVX2 targets; the f32
// kernels otherwise.
// RUN: quantx-opt %s -quantx-cpu-pipeline="target-features=+avx2,+fma weight-only-activations=int8" | FileCheck %s --check-prefix=AVX2
// AVX2: llvm.func{{.*}} @__quantx_wo_gemv_m2_n2_k12_g8_i4_f32_a8(
// AVX2: llvm.x86.avx2.pmadd.ub.sw
// RUN: quantx-opt %s -quantx-cpu-pipeline="target-features=+avx,+fma weight-only-activations=int8" | FileCheck %s --check-prefix=NOAVX2
// NOAVX2: llvm.func{{.*}} @__quantx_wo_gemv_m2_n2_k12_g8_i4_f32(
// NOAVX2-NOT: llvm.x86.avx2

func.func private @printMemrefF32(memref<*xf32>) attributes {llvm.emit_c_interface}

func.func @pf(%t: tensor<2x2xf32>) {
  %m = bufferization.to_buffer %t : tensor<2x2xf32> to memref<2x2xf32>
  %u = memref.cast %m : memref<2x2xf32> to memref<*xf32>
  call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  return
}

!g = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 8}>
!z = !quantx.uniform<u4:f32, blocks = {0 : 1, 1 : 8}, offset = zero_point, scale_type = f16>

func.func @main() {
  // Row 0: group 0 has max |x| = 127 (d = 1), group 1 (k 8..11, a partial
  // group) max 254 (d = 2).
  %a = arith.constant dense<[[127.0, 0.0, -1.0, 2.0, 0.0, 0.0, 0.0, 3.0, 254.0, -2.0, 0.0, 4.0],
                             [1.0, -127.0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0, -254.0, 0.0]]> : tensor<2x12xf32>

  // Signed 4-bit, groups of 8: w0 = 0.5 * [1, -2, 3, 0, 1, 1, 1, 1 | 2, 0,
  // 0, 1], w1 = 0.25 * [-8, 7, 0, 0, 0, 0, 0, 2 | 0, 0, 4, 0] (scale of
  // group 1 of row 1: 2.0, so w1[10] = 8):
  // x0.w0 = 0.5*(127 - 3 + 3) + 0.5*(508 + 4) = 63.5 + 256 = 319.5
  // x0.w1 = 0.25*(-1016 + 6) + 0 = -252.5
  // x1.w0 = 0.5*(1 + 254 + 5) = 130; x1.w1 = 0.25*(-8 - 889) - 2032 = -2256.25
  %gi = arith.constant dense<[[1, -2, 3, 0, 1, 1, 1, 1, 2, 0, 0, 1], [-8, 7, 0, 0, 0, 0, 0, 2, 0, 0, 4, 0]]> : tensor<2x12xi4>
  %g = quantx.scast %gi : tensor<2x12xi4> -> tensor<2x12x!g>
  %gs = arith.constant dense<[[0.5, 0.5], [0.25, 2.0]]> : tensor<2x2xf32>
  %o = quantx.matmul %a, %g rhs_scale(%gs : tensor<2x2xf32>) {transpose_rhs} : tensor<2x12xf32>, tensor<2x12x!g> -> tensor<2x2xf32>
  // CHECK: [319.5,   -252.5]
  // CHECK-NEXT: [130,   -2256.25]
  call @pf(%o) : (tensor<2x2xf32>) -> ()

  // Unsigned 4-bit with zero points (f16 scales): row 0 = 1 * (u - 8),
  // row 1 = 0.5 * (u - 3) in group 0 and 2 * (u - 1) in group 1, with
  // u0 = [9, 8, 8, 10, 8, 8, 8, 9 | 8, 8, 8, 9] (w0 = [1, 0, 0, 2, 0, 0, 0,
  // 1 | 0, 0, 0, 1]) and u1 = [3, 3, 3, 3, 5, 3, 3, 3 | 1, 1, 0, 1]
  // (w1 = [0, 0, 0, 0, 1, 0, 0, 0 | 0, 0, -2, 0]):
  // x0.w0 = 127 + 4 + 3 + 4 = 138; x0.w1 = 0 + 0 = 0
  // x1.w0 = 1; x1.w1 = 5 + 508 = 513
  %zi = arith.constant dense<[[9, 8, 8, 10, 8, 8, 8, 9, 8, 8, 8, 9], [3, 3, 3, 3, 5, 3, 3, 3, 1, 1, 0, 1]]> : tensor<2x12xi4>
  %z = quantx.scast %zi : tensor<2x12xi4> -> tensor<2x12x!z>
  %zs = arith.constant dense<[[1.0, 1.0], [0.5, 2.0]]> : tensor<2x2xf16>
  %zz = arith.constant dense<[[8, 8], [3, 1]]> : tensor<2x2xi32>
  %zo = quantx.matmul %a, %z rhs_scale(%zs : tensor<2x2xf16>) rhs_offset(%zz : tensor<2x2xi32>) {transpose_rhs} : tensor<2x12xf32>, tensor<2x12x!z> -> tensor<2x2xf32>
  // CHECK: [138,   0]
  // CHECK-NEXT: [1,   513]
  call @pf(%zo) : (tensor<2x2xf32>) -> ()
  return
}
