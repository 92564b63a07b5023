// RUN: quantx-opt %s -split-input-file -quantx-pack-weight-only | FileCheck %s
// RUN: quantx-opt %s -split-input-file -quantx-pack-weight-only=f32-max-rows=2 | FileCheck %s --check-prefix=TWO
// RUN: quantx-opt %s -split-input-file -quantx-pack-weight-only='f32-max-rows=2 activations=int8 target-features=+avx2,+fma' | FileCheck %s --check-prefix=INT8

// An f32 kernel takes up to f32-max-rows rows (256 by default); more go to
// the GEMM (the quantx.matmul is left for convert-quantx-to-linalg). The
// int8-activation kernel (4-bit weights, groups of a multiple of 8) stays
// at any row count.
!c = !quantx.uniform<i8<-127:127>:f32, axis = 1, scales = dense<[0.5, 0.25]> : tensor<2xf64>>
// CHECK-LABEL: func.func @int8_weights
// CHECK: call @__quantx_wo_gemv_m3_n2_k4_g4_i8_f32(
// TWO-LABEL: func.func @int8_weights
// TWO: quantx.matmul
// TWO-NOT: call @__quantx_wo_gemv
// INT8-LABEL: func.func @int8_weights
// INT8: quantx.matmul
func.func @int8_weights(%a: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %c = quantx.constant dense<[[1, 2], [-2, 2], [3, -1], [0, 4]]> : tensor<4x2xi8> -> tensor<4x2x!c>
  %o = quantx.matmul %a, %c : tensor<3x4xf32>, tensor<4x2x!c> -> tensor<3x2xf32>
  return %o : tensor<3x2xf32>
}

// -----

!g = !quantx.uniform<i4:f32, blocks = {0 : 8, 1 : 1}, scales = dense<[[0.5, 0.25]]> : tensor<1x2xf64>>
// TWO-LABEL: func.func @int4_groups_of_8
// TWO: quantx.matmul
// INT8-LABEL: func.func @int4_groups_of_8
// INT8-NOT: quantx.matmul
// INT8: call @__quantx_wo_gemv_{{.*}}i4
func.func @int4_groups_of_8(%a: tensor<3x8xf32>) -> tensor<3x2xf32> {
  %g = quantx.constant dense<[[1, 2], [-2, 2], [3, -1], [0, 4], [1, 1], [2, 2], [3, 3], [4, 4]]> : tensor<8x2xi4> -> tensor<8x2x!g>
  %o = quantx.matmul %a, %g : tensor<3x8xf32>, tensor<8x2x!g> -> tensor<3x2xf32>
  return %o : tensor<3x2xf32>
}
