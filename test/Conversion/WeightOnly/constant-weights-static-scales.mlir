// RUN: quantx-opt %s -quantx-pack-weight-only | FileCheck %s

// One scale per output feature (PTQ's weight-int8 without a group size):
// a single group of all of K, here [K, N] = [4, 2] of int8 (f32 kernel).
!c = !quantx.uniform<i8<-127:127>:f32, axis = 1, scales = dense<[0.5, 0.25]> : tensor<2xf64>>
// CHECK-LABEL: func.func @per_channel
// CHECK-NOT: quantx.matmul
// CHECK: call @__quantx_wo_gemv_m3_n2_k4_g4_i8_f32(
func.func @per_channel(%a: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %c = quantx.constant dense<[[1, 2], [-2, 2], [3, -1], [0, 4]]> : tensor<4x2xi8> -> tensor<4x2x!c>
  %o = quantx.matmul %a, %c : tensor<3x4xf32>, tensor<4x2x!c> -> tensor<3x2xf32>
  return %o : tensor<3x2xf32>
}

// What PTQ's weight-only modes emit: a quantx.constant (one integer per
// element) whose scales are in its type, K-major ([K, N] = [4, 2], groups
// of 2 along K), with a bias and ReLU. The same bytes and scales as
// constant-weights.mlir (the weights there transposed), packed from the
// type's scales; the constant is dropped, and the epilogue follows the
// kernel.
!g = !quantx.uniform<i4:f32, blocks = {0 : 2, 1 : 1}, scales = dense<[[0.5, 0.25], [1.0, 2.0]]> : tensor<2x2xf64>>
// CHECK-LABEL: func.func @f
// CHECK-DAG: %[[W:.+]] = arith.constant dense_resource<[[WR:quantx_wo_weights[_0-9]*]]> : tensor<16xi8>
// CHECK-DAG: %[[S:.+]] = arith.constant dense_resource<[[SR:quantx_wo_scales[_0-9]*]]> : tensor<16xf32>
// CHECK-NOT: quantx.constant
// CHECK-NOT: quantx.matmul
// CHECK: call @__quantx_wo_gemv_m2_n2_k4_g2_i4_f32(
// CHECK: %[[R:.+]] = bufferization.to_tensor {{.+}} : memref<2x8xf32> to tensor<2x8xf32>
// CHECK: %[[RS:.+]] = tensor.extract_slice %[[R]][0, 0] [2, 2] [1, 1]
// CHECK: linalg.generic {{.+}} ins(%[[RS]], %{{.+}} : tensor<2x2xf32>, tensor<2xf32>)
// CHECK: arith.addf
// CHECK: arith.maximumf
// CHECK-DAG: [[WR]]: "0x4000000069AA0000000000008BC7000000000000"
// CHECK-DAG: [[SR]]: "0x400000000000003F0000803E0000000000000000000000000000000000000000000000000000803F00000040
func.func @f(%a: tensor<2x4xf32>) -> tensor<2x2xf32> {
  %g = quantx.constant dense<[[1, 2], [-2, 2], [3, -1], [0, 4]]> : tensor<4x2xi4> -> tensor<4x2x!g>
  %b = arith.constant dense<[0.5, -0.5]> : tensor<2xf32>
  %o = quantx.matmul %a, %g bias(%b : tensor<2xf32>) {relu} : tensor<2x4xf32>, tensor<4x2x!g> -> tensor<2x2xf32>
  return %o : tensor<2x2xf32>
}
