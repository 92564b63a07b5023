// RUN: quantx-opt %s -quantx-pack-weight-only | FileCheck %s

// Constant weights are packed at compile time into dense_resource blobs in
// the n8 layout: rows [1, -2, 3, 0] and [2, 2, -1, 4] as u = q + 8 nibbles
// (byte 0 = 9 | 6 << 4 = 0x69, byte 1 = 10 | 10 << 4 = 0xAA, bytes 2..7
// padding rows; group 1: 0x8B, 0xC7), scales interleaved per tile.
!g = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 2}>
// CHECK-LABEL: func.func @f
// CHECK-DAG: %[[W:.+]] = arith.constant dense_resource<quantx_wo_weights> : tensor<16xi8>
// CHECK-DAG: %[[S:.+]] = arith.constant dense_resource<quantx_wo_scales> : tensor<16xf32>
// CHECK-NOT: quantx.scast
// CHECK-NOT: quantx.matmul
// CHECK: call @__quantx_wo_gemv_m2_n2_k4_g2_i4_f32(
// The blobs start with their alignment (64, little-endian i32).
// CHECK: quantx_wo_weights: "0x4000000069AA0000000000008BC7000000000000"
// CHECK: quantx_wo_scales: "0x40000000
// CHECK-SAME: 0000003F0000803E000000000000000000000000000000000000000000000000
// CHECK-SAME: 0000803F00000040
func.func @f(%a: tensor<2x4xf32>) -> tensor<2x2xf32> {
  %gi = arith.constant dense<[[1, -2, 3, 0], [2, 2, -1, 4]]> : tensor<2x4xi4>
  %g = quantx.scast %gi : tensor<2x4xi4> -> tensor<2x4x!g>
  %gs = arith.constant dense<[[0.5, 1.0], [0.25, 2.0]]> : tensor<2x2xf32>
  %o = quantx.matmul %a, %g rhs_scale(%gs : tensor<2x2xf32>) {transpose_rhs} : tensor<2x4xf32>, tensor<2x4x!g> -> tensor<2x2xf32>
  return %o : tensor<2x2xf32>
}
