// RUN: quantx-opt %s -split-input-file -quantx-insert-observers -quantx-apply-calibration=stats-file=%S/Inputs/avg-pool-multiplier-stats.json -quantx-ptq | FileCheck %s

// A sum pooling whose reader multiplies it by a constant in (0, 1] is an
// average pooling (static int8 pools the uint8 storage, then requantizes);
// by anything else (NaN, 0, a negative, more than 1) it is some
// other computation and stays float: before, its scale became
// s_in * multiplier, an invalid (NaN, zero or negative) quantized type.
// CHECK-LABEL: func.func @average
// CHECK: quantx.requantize
// CHECK-NOT: linalg.pooling_nchw_sum
// CHECK: return
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
func.func @average(%x: tensor<1x1x4x4xf32>) -> tensor<1x3xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<[[[[0.5]]], [[[-0.25]]]]> : tensor<2x1x1x1xf32>
  %e = tensor.empty() : tensor<1x2x4x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %c = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x, %w : tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) outs(%f : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("conv")
  %k = tensor.empty() : tensor<2x2xf32>
  %pe = tensor.empty() : tensor<1x2x2x2xf32>
  %pf = linalg.fill ins(%zero : f32) outs(%pe : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %sum = linalg.pooling_nchw_sum {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%c, %k : tensor<1x2x4x4xf32>, tensor<2x2xf32>) outs(%pf : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> loc("pool")
  %avg = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%sum : tensor<1x2x2x2xf32>) outs(%pe : tensor<1x2x2x2xf32>) {
  ^bb0(%in: f32, %o: f32):
    %q = arith.constant 0.25 : f32
    %m = arith.mulf %in, %q : f32
    linalg.yield %m : f32
  } -> tensor<1x2x2x2xf32>
  %flat = tensor.collapse_shape %avg [[0], [1, 2, 3]] : tensor<1x2x2x2xf32> into tensor<1x8xf32>
  %w2 = arith.constant dense<0.125> : tensor<8x3xf32>
  %e2 = tensor.empty() : tensor<1x3xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<1x3xf32>) -> tensor<1x3xf32>
  %o = linalg.matmul ins(%flat, %w2 : tensor<1x8xf32>, tensor<8x3xf32>) outs(%f2 : tensor<1x3xf32>) -> tensor<1x3xf32> loc("fc")
  return %o : tensor<1x3xf32>
}

// -----

// CHECK-LABEL: func.func @nan
// CHECK: linalg.pooling_nchw_sum {{.*}} -> tensor<1x2x2x2xf32>
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
func.func @nan(%x: tensor<1x1x4x4xf32>) -> tensor<1x3xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<[[[[0.5]]], [[[-0.25]]]]> : tensor<2x1x1x1xf32>
  %e = tensor.empty() : tensor<1x2x4x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %c = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x, %w : tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) outs(%f : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("conv")
  %k = tensor.empty() : tensor<2x2xf32>
  %pe = tensor.empty() : tensor<1x2x2x2xf32>
  %pf = linalg.fill ins(%zero : f32) outs(%pe : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %sum = linalg.pooling_nchw_sum {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%c, %k : tensor<1x2x4x4xf32>, tensor<2x2xf32>) outs(%pf : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> loc("pool")
  %avg = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%sum : tensor<1x2x2x2xf32>) outs(%pe : tensor<1x2x2x2xf32>) {
  ^bb0(%in: f32, %o: f32):
    %q = arith.constant 0x7FC00000 : f32
    %m = arith.mulf %in, %q : f32
    linalg.yield %m : f32
  } -> tensor<1x2x2x2xf32>
  %flat = tensor.collapse_shape %avg [[0], [1, 2, 3]] : tensor<1x2x2x2xf32> into tensor<1x8xf32>
  %w2 = arith.constant dense<0.125> : tensor<8x3xf32>
  %e2 = tensor.empty() : tensor<1x3xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<1x3xf32>) -> tensor<1x3xf32>
  %o = linalg.matmul ins(%flat, %w2 : tensor<1x8xf32>, tensor<8x3xf32>) outs(%f2 : tensor<1x3xf32>) -> tensor<1x3xf32> loc("fc")
  return %o : tensor<1x3xf32>
}

// -----

// CHECK-LABEL: func.func @zero
// CHECK: linalg.pooling_nchw_sum {{.*}} -> tensor<1x2x2x2xf32>
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
func.func @zero(%x: tensor<1x1x4x4xf32>) -> tensor<1x3xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<[[[[0.5]]], [[[-0.25]]]]> : tensor<2x1x1x1xf32>
  %e = tensor.empty() : tensor<1x2x4x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %c = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x, %w : tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) outs(%f : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("conv")
  %k = tensor.empty() : tensor<2x2xf32>
  %pe = tensor.empty() : tensor<1x2x2x2xf32>
  %pf = linalg.fill ins(%zero : f32) outs(%pe : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %sum = linalg.pooling_nchw_sum {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%c, %k : tensor<1x2x4x4xf32>, tensor<2x2xf32>) outs(%pf : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> loc("pool")
  %avg = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%sum : tensor<1x2x2x2xf32>) outs(%pe : tensor<1x2x2x2xf32>) {
  ^bb0(%in: f32, %o: f32):
    %q = arith.constant 0.0 : f32
    %m = arith.mulf %in, %q : f32
    linalg.yield %m : f32
  } -> tensor<1x2x2x2xf32>
  %flat = tensor.collapse_shape %avg [[0], [1, 2, 3]] : tensor<1x2x2x2xf32> into tensor<1x8xf32>
  %w2 = arith.constant dense<0.125> : tensor<8x3xf32>
  %e2 = tensor.empty() : tensor<1x3xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<1x3xf32>) -> tensor<1x3xf32>
  %o = linalg.matmul ins(%flat, %w2 : tensor<1x8xf32>, tensor<8x3xf32>) outs(%f2 : tensor<1x3xf32>) -> tensor<1x3xf32> loc("fc")
  return %o : tensor<1x3xf32>
}

// -----

// CHECK-LABEL: func.func @negative
// CHECK: linalg.pooling_nchw_sum {{.*}} -> tensor<1x2x2x2xf32>
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
func.func @negative(%x: tensor<1x1x4x4xf32>) -> tensor<1x3xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<[[[[0.5]]], [[[-0.25]]]]> : tensor<2x1x1x1xf32>
  %e = tensor.empty() : tensor<1x2x4x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %c = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x, %w : tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) outs(%f : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("conv")
  %k = tensor.empty() : tensor<2x2xf32>
  %pe = tensor.empty() : tensor<1x2x2x2xf32>
  %pf = linalg.fill ins(%zero : f32) outs(%pe : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %sum = linalg.pooling_nchw_sum {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%c, %k : tensor<1x2x4x4xf32>, tensor<2x2xf32>) outs(%pf : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> loc("pool")
  %avg = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%sum : tensor<1x2x2x2xf32>) outs(%pe : tensor<1x2x2x2xf32>) {
  ^bb0(%in: f32, %o: f32):
    %q = arith.constant -0.25 : f32
    %m = arith.mulf %in, %q : f32
    linalg.yield %m : f32
  } -> tensor<1x2x2x2xf32>
  %flat = tensor.collapse_shape %avg [[0], [1, 2, 3]] : tensor<1x2x2x2xf32> into tensor<1x8xf32>
  %w2 = arith.constant dense<0.125> : tensor<8x3xf32>
  %e2 = tensor.empty() : tensor<1x3xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<1x3xf32>) -> tensor<1x3xf32>
  %o = linalg.matmul ins(%flat, %w2 : tensor<1x8xf32>, tensor<8x3xf32>) outs(%f2 : tensor<1x3xf32>) -> tensor<1x3xf32> loc("fc")
  return %o : tensor<1x3xf32>
}

// -----

// CHECK-LABEL: func.func @above_one
// CHECK: linalg.pooling_nchw_sum {{.*}} -> tensor<1x2x2x2xf32>
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
func.func @above_one(%x: tensor<1x1x4x4xf32>) -> tensor<1x3xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<[[[[0.5]]], [[[-0.25]]]]> : tensor<2x1x1x1xf32>
  %e = tensor.empty() : tensor<1x2x4x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %c = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x, %w : tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) outs(%f : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("conv")
  %k = tensor.empty() : tensor<2x2xf32>
  %pe = tensor.empty() : tensor<1x2x2x2xf32>
  %pf = linalg.fill ins(%zero : f32) outs(%pe : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %sum = linalg.pooling_nchw_sum {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%c, %k : tensor<1x2x4x4xf32>, tensor<2x2xf32>) outs(%pf : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> loc("pool")
  %avg = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%sum : tensor<1x2x2x2xf32>) outs(%pe : tensor<1x2x2x2xf32>) {
  ^bb0(%in: f32, %o: f32):
    %q = arith.constant 2.0 : f32
    %m = arith.mulf %in, %q : f32
    linalg.yield %m : f32
  } -> tensor<1x2x2x2xf32>
  %flat = tensor.collapse_shape %avg [[0], [1, 2, 3]] : tensor<1x2x2x2xf32> into tensor<1x8xf32>
  %w2 = arith.constant dense<0.125> : tensor<8x3xf32>
  %e2 = tensor.empty() : tensor<1x3xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<1x3xf32>) -> tensor<1x3xf32>
  %o = linalg.matmul ins(%flat, %w2 : tensor<1x8xf32>, tensor<8x3xf32>) outs(%f2 : tensor<1x3xf32>) -> tensor<1x3xf32> loc("fc")
  return %o : tensor<1x3xf32>
}

