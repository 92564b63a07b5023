// RUN: quantx-opt %s -split-input-file -quantx-ptq='mode=dynamic-int8' | FileCheck %s

// A zero pad that differs between the spatial dimensions (a 1x5 kernel
// with padding (0, 2), and an uneven one) becomes quantx.conv2d's padding
// in its order: top, bottom, left, right.

// CHECK-LABEL: func.func @padding
// CHECK: quantx.conv2d {{.*}} {padding = array<i64: 0, 0, 2, 2>}
// CHECK-SAME: tensor<1x2x1x8x!quantx.uniform<u8:f32, offset = zero_point>>
// CHECK-SAME: -> tensor<1x3x1x8xf32>
// CHECK: quantx.conv2d {{.*}} {padding = array<i64: 1, 0, 0, 3>}
// CHECK-SAME: -> tensor<1x3x2x10xf32>
func.func @padding(%x: tensor<1x2x1x8xf32>) -> (tensor<1x3x1x8xf32>, tensor<1x3x2x10xf32>) {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<0.5> : tensor<3x2x1x5xf32>
  %p = tensor.pad %x low[0, 0, 0, 2] high[0, 0, 0, 2] {
  ^bb0(%i0: index, %i1: index, %i2: index, %i3: index):
    tensor.yield %zero : f32
  } : tensor<1x2x1x8xf32> to tensor<1x2x1x12xf32>
  %e = tensor.empty() : tensor<1x3x1x8xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x3x1x8xf32>) -> tensor<1x3x1x8xf32>
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%p, %w : tensor<1x2x1x12xf32>, tensor<3x2x1x5xf32>) outs(%f : tensor<1x3x1x8xf32>) -> tensor<1x3x1x8xf32>
  %w2 = arith.constant dense<0.25> : tensor<3x2x1x2xf32>
  %p2 = tensor.pad %x low[0, 0, 1, 0] high[0, 0, 0, 3] {
  ^bb0(%i0: index, %i1: index, %i2: index, %i3: index):
    tensor.yield %zero : f32
  } : tensor<1x2x1x8xf32> to tensor<1x2x2x11xf32>
  %e2 = tensor.empty() : tensor<1x3x2x10xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<1x3x2x10xf32>) -> tensor<1x3x2x10xf32>
  %y2 = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%p2, %w2 : tensor<1x2x2x11xf32>, tensor<3x2x1x2xf32>) outs(%f2 : tensor<1x3x2x10xf32>) -> tensor<1x3x2x10xf32>
  return %y, %y2 : tensor<1x3x1x8xf32>, tensor<1x3x2x10xf32>
}

// -----

// Strides and dilations left to their defaults (absent attributes), plain
// and grouped.
// CHECK-LABEL: func.func @default_strides
// CHECK: quantx.conv2d {{.*}} -> tensor<1x3x4x4xf32>
// CHECK: quantx.conv2d {{.*}} {groups = 2 : i64} : {{.*}} -> tensor<1x2x4x4xf32>
func.func @default_strides(%x: tensor<1x2x6x6xf32>) -> (tensor<1x3x4x4xf32>, tensor<1x2x4x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<0.5> : tensor<3x2x3x3xf32>
  %e = tensor.empty() : tensor<1x3x4x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
  %y = linalg.conv_2d_nchw_fchw ins(%x, %w : tensor<1x2x6x6xf32>, tensor<3x2x3x3xf32>) outs(%f : tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
  %wg = arith.constant dense<0.25> : tensor<2x1x1x3x3xf32>
  %xg = tensor.expand_shape %x [[0], [1, 2], [3], [4]] output_shape [1, 2, 1, 6, 6] : tensor<1x2x6x6xf32> into tensor<1x2x1x6x6xf32>
  %eg = tensor.empty() : tensor<1x2x1x4x4xf32>
  %fg = linalg.fill ins(%zero : f32) outs(%eg : tensor<1x2x1x4x4xf32>) -> tensor<1x2x1x4x4xf32>
  %g = linalg.conv_2d_ngchw_gfchw ins(%xg, %wg : tensor<1x2x1x6x6xf32>, tensor<2x1x1x3x3xf32>) outs(%fg : tensor<1x2x1x4x4xf32>) -> tensor<1x2x1x4x4xf32>
  %gc = tensor.collapse_shape %g [[0], [1, 2], [3], [4]] : tensor<1x2x1x4x4xf32> into tensor<1x2x4x4xf32>
  return %y, %gc : tensor<1x3x4x4xf32>, tensor<1x2x4x4xf32>
}
