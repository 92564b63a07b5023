// RUN: quantx-opt %s -split-input-file -quantx-insert-observers | FileCheck %s
// RUN: quantx-opt %s -split-input-file -quantx-insert-observers='kind=percentile percentile=99.9 num-bins=512 observe-outputs=false' | FileCheck %s --check-prefix=PCT
// RUN: quantx-opt %s -split-input-file -quantx-insert-observers='kind=moving_average_min_max momentum=0.1' | FileCheck %s --check-prefix=MA
// RUN: not quantx-opt %s -split-input-file -quantx-insert-observers='kind=hessian' 2>&1 | FileCheck %s --check-prefix=BADKIND

// BADKIND: unknown observer kind 'hessian'

#id2 = affine_map<(d0, d1) -> (d0, d1)>
#ch2 = affine_map<(d0, d1) -> (d1)>

// A Linear layer (weight [N, K]) with bias and ReLU: the input and the
// output after the ReLU are observed, the constant weight is not. The name
// comes from the NameLoc.
// CHECK-LABEL: func.func @linear
// CHECK-SAME: (%[[X:.*]]: tensor<4x8xf32>)
// CHECK: %[[OX:.*]] = quantx.observe %[[X]] {kind = #quantx.observer<min_max>, name = "fc1.input"}
// CHECK: linalg.matmul {{.*}} ins(%[[OX]],
// CHECK: linalg.generic
// CHECK: arith.addf
// CHECK: %[[R:.*]] = linalg.generic
// CHECK: arith.maximumf
// CHECK: %[[OY:.*]] = quantx.observe %[[R]] {kind = #quantx.observer<min_max>, name = "fc1.output"}
// CHECK: return %[[OY]]
// CHECK-NOT: quantx.observe
// PCT-LABEL: func.func @linear
// PCT: quantx.observe %{{.*}} {kind = #quantx.observer<percentile>, name = "fc1.input", num_bins = 512 : i64, percentile = 9.990000e+01 : f64}
// PCT-NOT: quantx.observe
// MA-LABEL: func.func @linear
// MA: quantx.observe %{{.*}} {kind = #quantx.observer<moving_average_min_max>, momentum = 1.000000e-01 : f64, name = "fc1.input"}
func.func @linear(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<0.5> : tensor<2x8xf32>
  %b = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %e = tensor.empty() : tensor<4x2xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4x2xf32>) -> tensor<4x2xf32>
  %mm = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
         ins(%x, %w : tensor<4x8xf32>, tensor<2x8xf32>) outs(%f : tensor<4x2xf32>) -> tensor<4x2xf32> loc("fc1")
  %y = linalg.generic {indexing_maps = [#id2, #ch2, #id2], iterator_types = ["parallel", "parallel"]}
         ins(%mm, %b : tensor<4x2xf32>, tensor<2xf32>) outs(%e : tensor<4x2xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<4x2xf32>
  %r = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
         ins(%y : tensor<4x2xf32>) outs(%e : tensor<4x2xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.maximumf %a, %zero : f32
    linalg.yield %m : f32
  } -> tensor<4x2xf32>
  return %r : tensor<4x2xf32>
}

// -----

// Two chained matmuls without names: deterministic names in walk order;
// the second layer's input is the first one's observed output, not
// observed twice. A weight that is not a constant (here the right operand
// of W @ x, W constant) is observed per output channel (axis 1 of a
// [K, N] weight) with min/max.
// CHECK-LABEL: func.func @chain
// CHECK-SAME: (%[[X:.*]]: tensor<8x3xf32>)
// CHECK-DAG: %[[W:.*]] = arith.constant dense<5.000000e-01> : tensor<4x8xf32>
// CHECK-DAG: %[[OW:.*]] = quantx.observe %[[W]] {kind = #quantx.observer<min_max>, name = "matmul_0.input"}
// CHECK-DAG: %[[OX:.*]] = quantx.observe %[[X]] {axis = 1 : i64, kind = #quantx.observer<min_max>, name = "matmul_0.weight"}
// CHECK: %[[M0:.*]] = linalg.matmul ins(%[[OW]], %[[OX]] :
// CHECK: %[[O0:.*]] = quantx.observe %[[M0]] {kind = #quantx.observer<min_max>, name = "matmul_0.output"}
// CHECK: %[[M1:.*]] = linalg.matmul ins(%[[O0]], %{{.*}} :
// CHECK: quantx.observe %[[M1]] {kind = #quantx.observer<min_max>, name = "matmul_1.output"}
// CHECK-NOT: quantx.observe
// PCT-LABEL: func.func @chain
// PCT-DAG: quantx.observe %{{.*}} {axis = 1 : i64, kind = #quantx.observer<min_max>, name = "matmul_0.weight"}
func.func @chain(%x: tensor<8x3xf32>) -> tensor<4x2xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<0.5> : tensor<4x8xf32>
  %w1 = arith.constant dense<0.25> : tensor<3x2xf32>
  %e0 = tensor.empty() : tensor<4x3xf32>
  %f0 = linalg.fill ins(%zero : f32) outs(%e0 : tensor<4x3xf32>) -> tensor<4x3xf32>
  %m0 = linalg.matmul ins(%w, %x : tensor<4x8xf32>, tensor<8x3xf32>) outs(%f0 : tensor<4x3xf32>) -> tensor<4x3xf32>
  %e1 = tensor.empty() : tensor<4x2xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<4x2xf32>) -> tensor<4x2xf32>
  %m1 = linalg.matmul ins(%m0, %w1 : tensor<4x3xf32>, tensor<3x2xf32>) outs(%f1 : tensor<4x2xf32>) -> tensor<4x2xf32>
  return %m1 : tensor<4x2xf32>
}

// -----

// A product of two tensors computed at run time (attention's Q K^T) has no
// weights to quantize: nothing is observed.
// CHECK-LABEL: func.func @activation_product
// CHECK-NOT: quantx.observe
func.func @activation_product(%q: tensor<4x8xf32>, %k: tensor<8x4xf32>) -> tensor<4x4xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4x4xf32>) -> tensor<4x4xf32>
  %s = linalg.matmul ins(%q, %k : tensor<4x8xf32>, tensor<8x4xf32>) outs(%f : tensor<4x4xf32>) -> tensor<4x4xf32>
  return %s : tensor<4x4xf32>
}

// -----

// A padded convolution: the observer goes on the unpadded input (the pad
// becomes the quantized conv's padding). Pooling is not a layer.
// CHECK-LABEL: func.func @conv
// CHECK-SAME: (%[[X:.*]]: tensor<1x1x4x4xf32>)
// CHECK: %[[OX:.*]] = quantx.observe %[[X]] {kind = #quantx.observer<min_max>, name = "conv.input"}
// CHECK: tensor.pad %[[OX]]
// CHECK: %[[C:.*]] = linalg.conv_2d_nchw_fchw
// CHECK: quantx.observe %[[C]] {kind = #quantx.observer<min_max>, name = "conv.output"}
// CHECK: linalg.pooling_nchw_max
// CHECK-NOT: quantx.observe
func.func @conv(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x2x2xf32> {
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<0.5> : tensor<2x1x3x3xf32>
  %p = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x1x4x4xf32> to tensor<1x1x6x6xf32>
  %e = tensor.empty() : tensor<1x2x4x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %c = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
         ins(%p, %w : tensor<1x1x6x6xf32>, tensor<2x1x3x3xf32>) outs(%f : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32> loc("conv")
  %win = tensor.empty() : tensor<2x2xf32>
  %e2 = tensor.empty() : tensor<1x2x2x2xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %mp = linalg.pooling_nchw_max {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>}
         ins(%c, %win : tensor<1x2x4x4xf32>, tensor<2x2xf32>) outs(%f2 : tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  return %mp : tensor<1x2x2x2xf32>
}
