// RUN: quantx-opt %s -quantx-pack-weight-only | FileCheck %s

// What PTQ's weight-only modes emit: a quantx.constant (one integer per
// element) whose scales are in its type, K-major ([K, N] = [4, 2], groups
// of 2 along K), with a bias and ReLU. The same bytes and scales as
// constant-weights.mlir (the weights there transposed), packed from the
// type's scales; the constant is dropped, and the epilogue follows the
// kernel.
!g = !quantx.uniform<i4:f32, blocks = {0 : 2, 1 : 1}, scales = dense<[[0.5, 0.25], [1.0, 2.0]]> : tensor<2x2xf64>>
// CHECK-LABEL: func.func @f
// CHECK-DAG: %[[W:.+]] = arith.constant dense_resource<quantx_wo_weights> : tensor<16xi8>
// CHECK-DAG: %[[S:.+]] = arith.constant dense_resource<quantx_wo_scales> : tensor<16xf32>
// CHECK-NOT: quantx.constant
// CHECK-NOT: quantx.matmul
// CHECK: call @__quantx_wo_gemv_m2_n2_k4_g2_i4_f32(
// CHECK: %[[R:.+]] = bufferization.to_tensor {{.+}} : memref<2x8xf32> to tensor<2x8xf32>
// CHECK: %[[RS:.+]] = tensor.extract_slice %[[R]][0, 0] [2, 2] [1, 1]
// CHECK: linalg.generic {{.+}} ins(%[[RS]], %{{.+}} : tensor<2x2xf32>, tensor<2xf32>)
// CHECK: arith.addf
// CHECK: arith.maximumf
// CHECK: quantx_wo_weights: "0x4000000069AA0000000000008BC7000000000000"
// CHECK: quantx_wo_scales: "0x40000000
// CHECK-SAME: 0000003F0000803E000000000000000000000000000000000000000000000000
// CHECK-SAME: 0000803F00000040
func.func @f(%a: tensor<2x4xf32>) -> tensor<2x2xf32> {
  %g = quantx.constant dense<[[1, 2], [-2, 2], [3, -1], [0, 4]]> : tensor<4x2xi4> -> tensor<4x2x!g>
  %b = arith.constant dense<[0.5, -0.5]> : tensor<2xf32>
  %o = quantx.matmul %a, %g bias(%b : tensor<2xf32>) {relu} : tensor<2x4xf32>, tensor<4x2x!g> -> tensor<2x2xf32>
  return %o : tensor<2x2xf32>
}
