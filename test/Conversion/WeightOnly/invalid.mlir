// RUN: quantx-opt %s -split-input-file -verify-diagnostics -quantx-pack-weight-only=pack-arguments=1

!q = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 2}>
func.func @constant_scales(%x: tensor<1x4xf32>, %w: tensor<8x4x!q>) -> tensor<1x8xf32> {
  %s = arith.constant dense<1.0> : tensor<8x2xf32>
  // expected-error @+1 {{cannot pack weight argument #1: its scales and offsets must be function arguments too}}
  %y = quantx.matmul %x, %w rhs_scale(%s : tensor<8x2xf32>) {transpose_rhs} : tensor<1x4xf32>, tensor<8x4x!q> -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

!q = !quantx.uniform<i4:f32, blocks = {0 : 1, 1 : 2}>
func.func @shared_weights(%x: tensor<1x4xf32>, %w: tensor<8x4x!q>, %s: tensor<8x2xf32>) -> (tensor<1x8xf32>, tensor<8x4x!q>) {
  // expected-error @+1 {{cannot pack argument #1: it has other uses than this matmul}}
  %y = quantx.matmul %x, %w rhs_scale(%s : tensor<8x2xf32>) {transpose_rhs} : tensor<1x4xf32>, tensor<8x4x!q> -> tensor<1x8xf32>
  return %y, %w : tensor<1x8xf32>, tensor<8x4x!q>
}

