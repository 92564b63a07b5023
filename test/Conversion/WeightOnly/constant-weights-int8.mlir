// RUN: quantx-opt %s -split-input-file -quantx-pack-weight-only="activations=int8 target-features=+avx2,+fma" | FileCheck %s

// int8 activations: constant weights are packed in the n8k8 layout (8 k of
// the 8 rows of a tile per 32 bytes; here K = 8: one group, one octet).
// Row 0 = [1..7, -8], row 1 = [-8..-1], u = q + 8: lane 0 holds
// u[0][b] | u[0][4 + b] << 4 for b = 0..3 (0xD9, 0xEA, 0xFB, 0x0C), lane 1
// the same for row 1 (0x40, 0x51, 0x62, 0x73), lanes 2..7 padding rows.
!g = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 8}>
// CHECK-LABEL: func.func @int8_activations
// CHECK: call @__quantx_wo_gemv_m1_n2_k8_g8_i4_f32_a8(
// CHECK: quantx_wo_weights: "0x40000000D9EAFB0C40516273000000000000000000000000000000000000000000000000"
func.func @int8_activations(%a: tensor<1x8xf32>) -> tensor<1x2xf32> {
  %gi = arith.constant dense<[[1, 2, 3, 4, 5, 6, 7, -8], [-8, -7, -6, -5, -4, -3, -2, -1]]> : tensor<2x8xi4>
  %g = quantx.scast %gi : tensor<2x8xi4> -> tensor<2x8x!g>
  %gs = arith.constant dense<[[0.5], [0.25]]> : tensor<2x1xf32>
  %o = quantx.matmul %a, %g rhs_scale(%gs : tensor<2x1xf32>) {transpose_rhs} : tensor<1x8xf32>, tensor<2x8x!g> -> tensor<1x2xf32>
  return %o : tensor<1x2xf32>
}

// -----

// 8-bit constant weights keep the f32 kernel.
!e = !quantx.uniform<i8:f32, blocks = {0 : 1, 1 : 8}>
// CHECK-LABEL: func.func @negative_eight_bit
// CHECK: call @__quantx_wo_gemv_m1_n2_k8_g8_i8_f32(
func.func @negative_eight_bit(%a: tensor<1x8xf32>) -> tensor<1x2xf32> {
  %gi = arith.constant dense<3> : tensor<2x8xi8>
  %g = quantx.scast %gi : tensor<2x8xi8> -> tensor<2x8x!e>
  %gs = arith.constant dense<0.5> : tensor<2x1xf32>
  %o = quantx.matmul %a, %g rhs_scale(%gs : tensor<2x1xf32>) {transpose_rhs} : tensor<1x8xf32>, tensor<2x8x!e> -> tensor<1x2xf32>
  return %o : tensor<1x2xf32>
}
